// The coordinator's loop: its sockets and in-process links, each message to
// its handler, the scheduler's and the object store's answers sent out.
#include "coordinator_server.hpp"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <random>

#include "cluster_status.hpp"
#include "coordinator_access.hpp"
#include "status_report.hpp"

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
      scheduler_({options_.max_queued, options_.node_loss_retries,
                  std::random_device{}() | std::uint64_t{std::random_device{}()} << 32}),
      store_({options_.manager_max_objects, options_.manager_max_bytes}),
      object_deadline_(loop_.io()),
      instance_(std::random_device{}() | 1),
      rejections_({.drop_after = options_.drop_after_refusals}),
      heartbeat_(loop_.io()),
      liveness_(options_.peer_timeout),
      snapshot_timer_(loop_.io()) {
  if (!options_.state_dir.empty()) keep_state();
  // The HTTP port is bound first: a bad address or a taken port stops the
  // start before any peer can connect.
  std::string token_from;
  if (!options_.http.empty()) serve_http(token_from);
  if (!options_.bind.empty()) {
    loop_.call([this] {
      router_ = std::make_unique<CoordinatorEndpoint>(
          loop_.io(), options_, [this](Payloads&& f) { on_router(std::move(f)); });
      endpoint_ = router_->address();
      serve_direct();
      arm_heartbeat();
    });
    spdlog::info("coordinator listening on {}", endpoint_);
  }
  if (http_) start_snapshots(token_from);
}

// Makes the kept objects again and keeps every change from now on.
void CoordinatorServer::keep_state() {
  journal_ = std::make_unique<ObjectJournal>(options_.state_dir);
  auto kept = journal_->load();
  loop_.call([&] {
    for (auto& [name, image] : kept) store_.restore(name, std::move(image));
    store_.keep_changes();
  });
  spdlog::info("coordinator: Manager state in {}: {} object(s), {} byte(s)", journal_->path(),
               kept.size(), store_.bytes());
}

CoordinatorServer::~CoordinatorServer() {
  stop();
  if (http_) http_->stop();  // no request waits on the loop from here on
  loop_.call([this] {
    snapshot_timer_.cancel();
    http_.reset();
    heartbeat_.cancel();
    object_deadline_.cancel();
    direct_.reset();
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

// Frame 0 is the routing id the ROUTER added; the message follows. Every
// message of a connection carries the key it authenticated with.
void CoordinatorServer::on_router(Payloads&& frames) {
  std::string rid(frames[0].view());
  if (muted_.ignore(rid)) return;
  std::string key(frames.size() > 1 ? metadata(frames[1], "User-Id") : "");
  auto it = by_routing_id_.find(rid);
  PeerId id;
  if (it == by_routing_id_.end()) {
    id = next_peer_++;
    by_routing_id_.emplace(rid, id);
    auto& p = peers_[id];
    p.routing_id = rid;
    p.key = key;
    if (frames.size() > 1) p.address = metadata(frames[1], "Peer-Address");
  } else {
    id = it->second;
  }
  liveness_.seen(id, std::chrono::steady_clock::now());
  if (frames.size() < 2) return refuse(id, "an empty message, or one of too many frames");
  if (key != peers_[id].key)
    return refuse(id, "a message under the key " + key + ", not its connection's");
  frames.erase(frames.begin());
  on_message(id, wire::decode(std::move(frames)));
}

void CoordinatorServer::on_message(PeerId peer_id, Received&& decoded) {
  auto pit = peers_.find(peer_id);
  if (pit == peers_.end()) return;  // already gone
  scheduler_.set_time(ObjectStore::Clock::now());
  auto& peer = pit->second;
  if (!decoded) {
    auto& err = decoded.error();
    if (err.reason != wire::DecodeError::Reason::kBadVersion) return refuse(peer_id, err.detail);
    refuse(peer_id, err.detail, false);
    send(peer_id, {wire::Reject{err.detail}});
    peer_gone(peer_id);
    return;
  }
  auto& m = *decoded;
  if (auto* hello = std::get_if<wire::Hello>(&m.body)) return on_hello(peer_id, *hello);
  if (!peer.welcomed) {
    // A peer we do not know (we restarted, or declared it dead): tell it to
    // register again. What it sent is dropped; it will send it again.
    if (auto* r = std::get_if<wire::Results>(&m.body)) scheduler_.count_stale(r->results.size());
    if (!std::holds_alternative<wire::Bye>(m.body)) {
      refuse(peer_id, std::string(m.kind().name) + " before HELLO; asked it to say HELLO", false);
      send(peer_id, {wire::Bye{"unknown peer: send HELLO"}});
    }
    peer_gone(peer_id);
    return;
  }
  if (!(m.kind().senders & wire::sender_bit(peer.role)) ||
      !wire::dispatch(*this, std::move(m), peer_id)) {
    return refuse(peer_id, std::string("a ") + m.kind().name + ", which " +
                               (peer.role == wire::Role::kNode ? "a node" : "a client") +
                               " may not send");
  }
  schedule_flush();
}

void CoordinatorServer::on(PeerId peer, wire::Submit&& batch, Payloads&& args) {
  scheduler_.submit(peer, std::move(batch.tasks), std::move(args));
}

void CoordinatorServer::on(PeerId peer, wire::Results&& batch, Payloads&& payloads) {
  auto before = scheduler_.totals().done;
  scheduler_.results(peer, std::move(batch.results), std::move(payloads));
  throughput_.add(scheduler_.totals().done - before, ObjectStore::Clock::now());
}

void CoordinatorServer::on(PeerId peer, wire::Credit&& credit) {
  scheduler_.credit(peer, credit.slots, credit.executors);
}

void CoordinatorServer::on(PeerId peer, wire::Cancel&& cancel) {
  scheduler_.cancel(peer, cancel);
}

void CoordinatorServer::on(PeerId peer, wire::Signal&& signal) {
  scheduler_.signal(peer, signal);
}

void CoordinatorServer::on(PeerId peer, wire::Requests&& batch, Payloads&& args) {
  bool is_node = peers_.at(peer).role == wire::Role::kNode;
  const auto parked = store_.parked();
  auto env =
      calls_.answer(peer, is_node, std::move(batch), std::move(args), ObjectStore::Clock::now());
  if (store_.parked() > parked)
    spdlog::debug("coordinator: {} call(s) of peer {} wait on hosted objects",
                  store_.parked() - parked, peer);
  if (!std::get<wire::Replies>(env.message.body).replies.empty())
    send(env.to, std::move(env.message));
  send_code();
}

void CoordinatorServer::on(PeerId peer, wire::Returned&& returned) {
  scheduler_.returned(peer, returned.ids);
}

ClusterStatus CoordinatorServer::status(PeerId asking) const {
  auto now = ObjectStore::Clock::now();
  StatusInputs in{options_.name, endpoint_, started_, now, throughput_.per_second(now), asking, {}};
  for (auto& [id, p] : peers_)
    if (p.welcomed) in.peers[id] = {p.address, p.pid, liveness_.last_seen(id)};
  return status_report(scheduler_, store_, in);
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
  Payloads frames;
  frames.reserve(3 + m.payloads.size());
  frames.emplace_back(peer.routing_id);
  for (auto& f : wire::encode(std::move(m))) frames.push_back(std::move(f));
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
  scheduler_.set_time(ObjectStore::Clock::now());  // dispatches happen now
  for (auto& env : scheduler_.take_outbox()) send(env.to, std::move(env.message));
  send_object_answers();
}

// What the store did that an operator should hear of.
void CoordinatorServer::log_object_events() {
  for (auto& e : store_.take_events()) {
    // A client's pid is one of its local Processes (whose calls it relays).
    auto client = scheduler_.client_name(e.holder.peer);
    std::string who = e.holder.pid == 0 ? "client " + client
                      : client != "?"
                          ? "Process " + std::to_string(e.holder.pid) + " of client " + client
                          : "executor " + std::to_string(e.holder.pid) + " of node " +
                                scheduler_.node_name(e.holder.peer);
    if (e.warning)
      spdlog::warn("coordinator: {} held by {}: {}", e.what, who, e.how);
    else
      spdlog::info("coordinator: {} of {}: {}", e.what, who, e.how);
  }
}

// The store's answers, one REPLY message per peer.
void CoordinatorServer::send_object_answers() {
  log_object_events();
  // What the answers acknowledge is kept before they leave.
  if (journal_) journal_->write(store_.take_changes());
  std::unordered_map<PeerId, wire::Message> out;
  auto answers = store_.take_answers();
  answer_direct(answers);
  for (auto& a : answers) {
    auto& m = out.try_emplace(a.peer, wire::Message{wire::Replies{}}).first->second;
    auto& replies = std::get<wire::Replies>(m.body).replies;
    bool ok = a.failure.code == ErrorCode::kNone;
    replies.push_back(wire::Reply{a.request, std::move(a.failure)});
    m.payloads.push_back(ok ? Payload::adopt(wire::encode_meta(a.answer)) : Payload());
  }
  for (auto& [peer, m] : out) send(peer, std::move(m));
  arm_object_deadline();
}

// Wakes the loop when the earliest parked call on an object times out.
void CoordinatorServer::arm_object_deadline() {
  auto next = store_.next_deadline().value_or(ObjectStore::TimePoint::max());
  if (next == object_deadline_at_) return;
  object_deadline_at_ = next;
  object_deadline_.cancel();
  if (next == ObjectStore::TimePoint::max()) return;
  object_deadline_.expires_at(next);
  object_deadline_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    object_deadline_at_ = ObjectStore::TimePoint::max();
    store_.expire(ObjectStore::Clock::now());
    send_object_answers();
  });
}

}  // namespace dpool::internal

namespace dpool {

Coordinator::Coordinator(CoordinatorOptions options)
    : server_(std::make_unique<internal::CoordinatorServer>(std::move(options))) {}
Coordinator::~Coordinator() = default;
std::string Coordinator::endpoint() const {
  return server_->endpoint();
}
std::string Coordinator::http_url() const {
  return server_->http_url();
}
void Coordinator::wait() {
  server_->wait();
}
void Coordinator::stop() {
  server_->stop();
}

namespace internal {
Hub& CoordinatorAccess::hub(Coordinator& c) {
  return *c.server_;
}
}  // namespace internal

}  // namespace dpool
