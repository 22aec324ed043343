// Who is connected to the coordinator: HELLO and the welcome, heartbeats and
// liveness, a peer leaving or declared dead, refusals and their reports.
#include <spdlog/spdlog.h>

#include "cluster_status.hpp"
#include "coordinator_server.hpp"

namespace dpool::internal {

void CoordinatorServer::arm_heartbeat() {
  heartbeat_.expires_after(options_.heartbeat);
  heartbeat_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    on_heartbeat_timer();
    report_refusals();
    arm_heartbeat();
  });
}

// Every interval: one HEARTBEAT to each remote peer (so traffic grows with
// the number of peers, not with their work), and peers silent past the
// timeout are declared dead.
void CoordinatorServer::on_heartbeat_timer() {
  for (auto id : liveness_.expire(std::chrono::steady_clock::now())) {
    auto it = peers_.find(id);
    if (it == peers_.end()) continue;
    spdlog::warn("coordinator: {} (peer {}) silent for more than {} ms: declared dead",
                 it->second.role == wire::Role::kNode ? "node " + scheduler_.node_name(id)
                                                      : std::string("client"),
                 id, options_.peer_timeout.count());
    peer_gone(id);
  }
  for (auto& [id, peer] : peers_) {
    if (peer.routing_id.empty() || !peer.welcomed) continue;
    send(id, {wire::Heartbeat{}});
  }
  code_.expire(std::chrono::steady_clock::now());  // pushes whose nodes did not all answer
  send_code();
  if (scheduler_.stats().stale_results > stale_reported_) {
    spdlog::info(
        "coordinator: dropped {} late result(s) of tasks already re-run or cancelled ({} in all)",
        scheduler_.stats().stale_results - stale_reported_, scheduler_.stats().stale_results);
    stale_reported_ = scheduler_.stats().stale_results;
  }
  if (auto reclaimed = scheduler_.stats().reclaimed; reclaimed > reclaimed_reported_) {
    spdlog::info("coordinator: moved {} task(s) that waited on busy nodes to idle ones ({} in all)",
                 reclaimed - reclaimed_reported_, reclaimed);
    reclaimed_reported_ = reclaimed;
  }
}

void CoordinatorServer::on(PeerId peer, wire::Heartbeat&& beat) {
  if (peers_.at(peer).role != wire::Role::kNode) return;
  // A node's heartbeat is proof of life for the tasks it lists, not for
  // the others: those it has not listed for a node timeout run elsewhere.
  auto lost = scheduler_.heartbeat(peer, beat.holding, beat.received,
                                   std::chrono::steady_clock::now(), options_.peer_timeout);
  if (lost.requeued || lost.failed)
    spdlog::warn(
        "coordinator: node {} has not listed {} task(s) it was given in its heartbeats for {} ms; "
        "{} run again elsewhere, {} failed (past their retries, or Processes)",
        scheduler_.node_name(peer), lost.requeued + lost.failed, options_.peer_timeout.count(),
        lost.requeued, lost.failed);
}

void CoordinatorServer::on(PeerId peer, wire::Bye&&) {
  peer_gone(peer);
}

void CoordinatorServer::on_hello(PeerId peer_id, const wire::Hello& hello) {
  auto& p = peers_[peer_id];
  std::string_view role = hello.role == wire::Role::kNode ? kNodeRole : kClientRole;
  if (router_ && router_->secure() && !p.routing_id.empty() && role_of(p.key) != role) {
    // The key decides the role: a client key cannot register as a node.
    std::string has(role_of(p.key));
    std::string wants(role);
    send(peer_id, {wire::Reject{"its key (" + p.key + ") is on its allow-list of " + has +
                                "s, so it cannot register as a " + wants + "; give the " + wants +
                                " a " + wants + " key (" + wants + ".key in its key directory)"}});
    return refuse(peer_id, "HELLO as a " + wants + " with a " + has + " key");
  }
  if (p.welcomed) {  // a second HELLO: the peer started over; forget its old session
    if (p.role == wire::Role::kNode) {
      scheduler_.node_left(peer_id);
      code_.node_left(peer_id);
    } else {
      scheduler_.client_left(peer_id);
      code_.client_left(peer_id);
    }
  }
  p.role = hello.role;
  p.welcomed = true;
  p.pid = hello.pid;
  std::string key = p.key.empty() ? "" : " with the key " + p.key;
  if (hello.role == wire::Role::kNode) {
    scheduler_.node_joined(peer_id, hello.name, hello.executors, hello.slots);
    spdlog::info("coordinator: node {} joined with {} executors (pid {}){}", hello.name,
                 hello.executors, hello.pid, key);
  } else {
    scheduler_.client_joined(peer_id, hello.name, hello.pool);
    p.quiet = hello.name.starts_with(kStatusClientPrefix);
    p.output = hello.output;
    spdlog::log(p.quiet ? spdlog::level::debug : spdlog::level::info,
                "coordinator: client {} joined as peer {}{}", hello.name, peer_id, key);
  }
  // Remote peers must beat at least as often as we expect.
  auto beat = p.routing_id.empty() ? 0u : static_cast<std::uint32_t>(options_.heartbeat.count());
  send(peer_id, {wire::Welcome{instance_, options_.name, scheduler_.executors(), beat}});
  if (hello.role == wire::Role::kNode) {  // the libraries pushed so far, after its welcome
    code_.node_joined(peer_id, hello.name);
    send_code();
  }
  schedule_flush();
}

void CoordinatorServer::peer_gone(PeerId peer_id) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return;
  // What it held is given back (and logged) while its name is still known.
  scheduler_.set_time(ObjectStore::Clock::now());
  store_.gone(peer_id);
  if (direct_) direct_->client_gone(peer_id);
  log_object_events();
  if (it->second.welcomed) {
    if (it->second.role == wire::Role::kNode) {
      auto name = scheduler_.node_name(peer_id);
      auto lost = scheduler_.node_left(peer_id);
      code_.node_left(peer_id);
      spdlog::info(
          "coordinator: node {} left: {} unfinished task(s) requeued, {} failed with "
          "WorkerLost (past their retries)",
          name, lost.requeued, lost.failed);
    } else {
      auto had = scheduler_.client_left(peer_id);
      code_.client_left(peer_id);
      spdlog::log(it->second.quiet ? spdlog::level::debug : spdlog::level::info,
                  "coordinator: client (peer {}) left: dropped its {} unfinished task(s)", peer_id,
                  had);
    }
  }
  liveness_.forget(peer_id);
  rejections_.forget(peer_id);
  if (!it->second.routing_id.empty()) by_routing_id_.erase(it->second.routing_id);
  peers_.erase(it);
  send_code();  // the pushes that waited only for it are answered
  schedule_flush();
}

void CoordinatorServer::refuse(PeerId peer_id, const std::string& why, bool hostile) {
  auto verdict = rejections_.refuse(peer_id, describe(peer_id), why, hostile);
  if (!verdict.line.empty())
    spdlog::log(hostile ? spdlog::level::warn : spdlog::level::info, "coordinator: {}",
                verdict.line);
  if (verdict.drop) drop(peer_id);
}

void CoordinatorServer::drop(PeerId peer_id) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end() || it->second.routing_id.empty()) return;  // in-process peers stay
  auto rid = it->second.routing_id;
  peer_gone(peer_id);
  muted_.add(rid);
}

std::string CoordinatorServer::describe(PeerId peer_id) const {
  std::string s = "peer " + std::to_string(peer_id);
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return s;
  const auto& p = it->second;
  std::string more;
  if (p.welcomed)
    more = p.role == wire::Role::kNode ? "node " + scheduler_.node_name(peer_id) : "a client";
  if (!p.key.empty()) more += (more.empty() ? "key " : ", key ") + p.key;
  if (!p.address.empty()) more += (more.empty() ? "at " : ", at ") + p.address;
  return more.empty() ? s : s + " (" + more + ")";
}

// Once per heartbeat: what was refused and not logged yet, and peers whose
// key was taken off the allow-lists.
void CoordinatorServer::report_refusals() {
  for (auto& line : rejections_.report()) spdlog::warn("coordinator: {}", line);
  if (direct_)
    for (auto& line : direct_->report()) spdlog::warn("coordinator: {}", line);
  if (auto n = muted_.take_new())
    spdlog::warn(
        "coordinator: ignored {} message(s) from dropped connections; {} refused or ignored since "
        "start",
        n, rejections_.total() + muted_.ignored());
  bool changed = false;
  for (auto& line : router_->tick(changed)) spdlog::warn("coordinator: {}", line);
  if (!changed) return;
  std::vector<PeerId> revoked;
  for (auto& [id, p] : peers_)
    if (!p.key.empty() && !router_->allows(p.key)) revoked.push_back(id);
  for (auto id : revoked) {
    spdlog::warn("coordinator: the key of {} is no longer on the allow-lists: dropped it",
                 describe(id));
    send(id, {wire::Reject{"its key (" + peers_[id].key +
                           ") was taken off the coordinator's allow-lists"}});
    drop(id);
  }
}

}  // namespace dpool::internal
