#include "coordinator_server.hpp"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <dpool/coordinator.hpp>
#include <random>

namespace dpool::internal {

class CoordinatorServer::LocalLink final : public Link {
 public:
  LocalLink(CoordinatorServer& server, PeerId peer) : server_(server), peer_(peer) {}
  ~LocalLink() override {
    asio::post(server_.io(), [&server = server_, peer = peer_] { server.peer_gone(peer); });
  }
  void send(wire::Message&& m) override {
    asio::post(server_.io(), [&server = server_, peer = peer_, m = std::move(m)]() mutable {
      server.on_message(peer, std::move(m));
    });
  }

 private:
  CoordinatorServer& server_;
  PeerId peer_;
};

CoordinatorServer::CoordinatorServer(CoordinatorOptions options)
    : options_(std::move(options)),
      loop_("coordinator"),
      scheduler_(options_.max_queued, options_.node_loss_retries),
      instance_(std::random_device{}() | 1),
      heartbeat_(loop_.io()),
      liveness_(options_.peer_timeout) {
  if (options_.bind.empty()) return;
  loop_.call([this] {
    router_ = std::make_unique<ZmqSocket>(loop_.io(), zmq::socket_type::router,
                                          [this](Frames&& f) { on_router(std::move(f)); });
    try {
      router_->socket().bind(options_.bind);
    } catch (const zmq::error_t& e) {
      router_.reset();
      throw Error("the coordinator could not bind " + options_.bind + ": " + e.what() +
                  "; pick another address or port (tcp://127.0.0.1:* picks a free one)");
    }
    endpoint_ = router_->socket().get(zmq::sockopt::last_endpoint);
    router_->start();
    arm_heartbeat();
  });
  spdlog::info("coordinator listening on {}", endpoint_);
}

CoordinatorServer::~CoordinatorServer() {
  stop();
  loop_.call([this] {
    heartbeat_.cancel();
    router_.reset();
    peers_.clear();
  });
  loop_.stop();
}

void CoordinatorServer::wait() {
  std::unique_lock lock(stop_mu_);
  stop_cv_.wait(lock, [this] { return stopped_; });
}

void CoordinatorServer::stop() {
  std::lock_guard lock(stop_mu_);
  stopped_ = true;
  stop_cv_.notify_all();
}

std::unique_ptr<Link> CoordinatorServer::attach(Receiver receive) {
  PeerId id = next_peer_++;
  peers_[id].local = std::make_shared<Receiver>(std::move(receive));
  return std::make_unique<LocalLink>(*this, id);
}

void CoordinatorServer::on_router(Frames&& frames) {
  if (frames.size() < 2) {
    ++rejected_;
    return;
  }
  std::string rid = frames[0].to_string();
  auto it = by_routing_id_.find(rid);
  PeerId id;
  if (it == by_routing_id_.end()) {
    id = next_peer_++;
    by_routing_id_.emplace(rid, id);
    peers_[id].routing_id = rid;
  } else {
    id = it->second;
  }
  frames.erase(frames.begin());
  liveness_.seen(id, std::chrono::steady_clock::now());
  on_message(id, wire::decode(std::move(frames)));
}

void CoordinatorServer::arm_heartbeat() {
  heartbeat_.expires_after(options_.heartbeat);
  heartbeat_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    on_heartbeat_timer();
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
    send(id, {wire::Kind::kHeartbeat, wire::Heartbeat{}});
  }
  if (scheduler_.stats().stale_results > stale_reported_) {
    spdlog::info(
        "coordinator: dropped {} late result(s) of tasks already re-run or cancelled ({} in all)",
        scheduler_.stats().stale_results - stale_reported_, scheduler_.stats().stale_results);
    stale_reported_ = scheduler_.stats().stale_results;
  }
}

void CoordinatorServer::on_message(PeerId peer_id, Received&& decoded) {
  auto pit = peers_.find(peer_id);
  if (pit == peers_.end()) return;  // already gone
  auto& peer = pit->second;
  if (!decoded) {
    ++rejected_;
    auto& err = decoded.error();
    spdlog::warn("coordinator: rejected a message from peer {}: {} ({} rejected so far)", peer_id,
                 err.detail, rejected_);
    if (err.reason == wire::DecodeError::Reason::kBadVersion) {
      send(peer_id, {wire::Kind::kReject, wire::Reject{err.detail}});
      peer_gone(peer_id);
    }
    return;
  }
  auto& m = *decoded;
  if (m.kind == wire::Kind::kHello) return on_hello(peer_id, std::get<wire::Hello>(m.body));
  if (!peer.welcomed) {
    // A peer we do not know (we restarted, or declared it dead): tell it to
    // register again. What it sent is dropped; it will send it again.
    ++rejected_;
    if (m.kind == wire::Kind::kResult)
      scheduler_.count_stale(std::get<wire::ResultBatch>(m.body).results.size());
    spdlog::info("coordinator: {} from an unregistered peer {}; asked it to say HELLO",
                 wire::kind_name(m.kind), peer_id);
    if (m.kind != wire::Kind::kBye)
      send(peer_id, {wire::Kind::kBye, wire::Bye{"unknown peer: send HELLO"}});
    peer_gone(peer_id);
    return;
  }
  bool is_client = peer.role == wire::Role::kClient;
  switch (m.kind) {
    case wire::Kind::kSubmit:
      if (is_client)
        scheduler_.submit(peer_id, std::move(std::get<wire::TaskBatch>(m.body).tasks),
                          std::move(m.payloads));
      break;
    case wire::Kind::kResult:
      if (!is_client)
        scheduler_.results(peer_id, std::move(std::get<wire::ResultBatch>(m.body).results),
                           std::move(m.payloads));
      break;
    case wire::Kind::kCredit:
      if (!is_client) {
        auto& c = std::get<wire::Credit>(m.body);
        scheduler_.credit(peer_id, c.slots, c.executors);
      }
      break;
    case wire::Kind::kCancel:
      if (is_client) scheduler_.cancel(peer_id, std::get<wire::Cancel>(m.body));
      break;
    case wire::Kind::kBye:
      peer_gone(peer_id);
      break;
    case wire::Kind::kHeartbeat:
      break;
    default:
      ++rejected_;
      spdlog::warn("coordinator: unexpected {} from peer {}; dropped", wire::kind_name(m.kind),
                   peer_id);
      return;
  }
  schedule_flush();
}

void CoordinatorServer::on_hello(PeerId peer_id, const wire::Hello& hello) {
  auto& p = peers_[peer_id];
  if (p.welcomed) {  // a second HELLO: the peer started over; forget its old session
    if (p.role == wire::Role::kNode)
      scheduler_.node_left(peer_id);
    else
      scheduler_.client_left(peer_id);
  }
  p.role = hello.role;
  p.welcomed = true;
  if (hello.role == wire::Role::kNode) {
    scheduler_.node_joined(peer_id, hello.name, hello.executors, hello.slots);
    spdlog::info("coordinator: node {} joined with {} executors (pid {})", hello.name,
                 hello.executors, hello.pid);
  } else {
    scheduler_.client_joined(peer_id, hello.name, hello.pool);
    spdlog::info("coordinator: client {} joined as peer {}", hello.name, peer_id);
  }
  // Remote peers must beat at least as often as we expect.
  auto beat = p.routing_id.empty() ? 0u : static_cast<std::uint32_t>(options_.heartbeat.count());
  send(peer_id, {wire::Kind::kWelcome,
                 wire::Welcome{instance_, options_.name, scheduler_.executors(), beat}});
  schedule_flush();
}

void CoordinatorServer::peer_gone(PeerId peer_id) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return;
  if (it->second.welcomed) {
    if (it->second.role == wire::Role::kNode) {
      auto name = scheduler_.node_name(peer_id);
      auto lost = scheduler_.node_left(peer_id);
      spdlog::info(
          "coordinator: node {} left: {} unfinished task(s) requeued, {} failed with "
          "WorkerLost (past their retries)",
          name, lost.requeued, lost.failed);
    } else {
      auto had = scheduler_.client_left(peer_id);
      spdlog::info("coordinator: client (peer {}) left: dropped its {} unfinished task(s)", peer_id,
                   had);
    }
  }
  liveness_.forget(peer_id);
  if (!it->second.routing_id.empty()) by_routing_id_.erase(it->second.routing_id);
  peers_.erase(it);
  schedule_flush();
}

void CoordinatorServer::send(PeerId peer_id, wire::Message&& m) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return;
  auto& peer = it->second;
  if (peer.local) {
    asio::post(io(),
               [r = peer.local, m = std::move(m)]() mutable { (*r)(Received(std::move(m))); });
    return;
  }
  if (!router_) return;
  Frames frames;
  frames.reserve(2 + m.payloads.size());
  frames.emplace_back(peer.routing_id.data(), peer.routing_id.size());
  for (auto& f : wire::encode(m.kind, m.body, std::move(m.payloads)))
    frames.push_back(std::move(f));
  if (!router_->send(frames)) spdlog::debug("coordinator: peer {} unreachable", peer_id);
}

void CoordinatorServer::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io(), [this] {
    flush_posted_ = false;
    flush();
  });
}

void CoordinatorServer::flush() {
  for (auto& env : scheduler_.take_outbox())
    send(env.to, {env.kind, std::move(env.body), std::move(env.payloads)});
}

}  // namespace dpool::internal

namespace dpool {

Coordinator::Coordinator(CoordinatorOptions options)
    : server_(std::make_unique<internal::CoordinatorServer>(std::move(options))) {}
Coordinator::~Coordinator() = default;
std::string Coordinator::endpoint() const {
  return server_->endpoint();
}
void Coordinator::wait() {
  server_->wait();
}
void Coordinator::stop() {
  server_->stop();
}
internal::Hub& Coordinator::hub() {
  return *server_;
}

}  // namespace dpool
