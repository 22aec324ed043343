// The coordinator's I/O shell: a ROUTER socket (when bound) and in-process
// peers, all on one event loop, feeding the Scheduler (tasks), the
// CallHandler (calls) and the ObjectStore (hosted objects), and sending what
// they say.
#pragma once

#include <asio/steady_timer.hpp>
#include <dpool/options.hpp>
#include <memory>
#include <optional>
#include <unordered_map>

#include "call_handler.hpp"
#include "code_shelf.hpp"
#include "coordinator_endpoint.hpp"
#include "direct_endpoint.hpp"
#include "event_loop.hpp"
#include "http_endpoint.hpp"
#include "link.hpp"
#include "liveness.hpp"
#include "muted.hpp"
#include "object_journal.hpp"
#include "rejections.hpp"
#include "scheduler.hpp"
#include "throughput.hpp"
#include "token_bucket.hpp"

namespace dpool::internal {

class CoordinatorServer final : public Hub {
 public:
  explicit CoordinatorServer(CoordinatorOptions options);
  ~CoordinatorServer() override;

  std::string endpoint() const { return endpoint_; }
  // The HTTP endpoint's address (http://HOST:PORT/); empty without one.
  std::string http_url() const { return http_ ? http_->url() : std::string(); }
  void wait();
  void stop();

  asio::io_context& io() override { return loop_.io(); }
  std::unique_ptr<Link> attach(Receiver receive) override;

  // Messages refused since start: malformed, forbidden, or from an
  // unregistered peer (loop thread).
  std::uint64_t rejected() const noexcept { return rejections_.total(); }

  // Messages from registered peers (loop thread), through wire::dispatch;
  // the kind table has already checked that the peer's role may send each.
  void on(PeerId peer, wire::Submit&& batch, Payloads&& args);
  void on(PeerId peer, wire::Results&& batch, Payloads&& payloads);
  void on(PeerId peer, wire::Credit&& credit);
  void on(PeerId peer, wire::Cancel&& cancel);
  void on(PeerId peer, wire::Signal&& signal);
  void on(PeerId peer, wire::Requests&& batch, Payloads&& args);
  void on(PeerId peer, wire::Returned&& returned);
  void on(PeerId peer, wire::Bye&& bye);
  void on(PeerId peer, wire::Heartbeat&& beat);
  // What a node's tasks printed: to each task's client, if it asked for it.
  void on(PeerId peer, wire::Output&& output);
  // A node's answer to a pushed library (coordinator_code.cpp).
  void on(PeerId peer, wire::Loaded&& loaded);

 private:
  struct Peer {
    wire::Role role{};
    bool welcomed = false;
    std::string routing_id;  // remote peers
    std::string key;         // remote peers: the ZAP user id of their key
    std::string address;     // remote peers: their IP address
    std::uint32_t pid = 0;   // from its HELLO
    bool quiet = false;      // a status client: its coming and going is logged at debug
    bool output = false;     // a client: wants what its tasks print (Hello::output)
    std::optional<TokenBucket> output_budget;  // a node: bytes of OUTPUT it may send
    std::shared_ptr<Receiver> local;           // in-process peers
  };
  class LocalLink;

  void on_router(Payloads&& frames);
  void on_message(PeerId peer, Received&& message);
  void on_hello(PeerId peer, const wire::Hello& hello);
  void peer_gone(PeerId peer);
  // Counts and logs (at a bounded rate) a message refused from `peer`;
  // `hostile` ones drop the peer once it has sent too many.
  void refuse(PeerId peer, const std::string& why, bool hostile = true);
  // Forgets the peer and ignores its connection from now on.
  void drop(PeerId peer);
  std::string describe(PeerId peer) const;
  // The cluster's state, as `asking` (a client) sees it: calls::Op::kStatus.
  ClusterStatus status(PeerId asking) const;
  // The HTTP endpoint (CoordinatorOptions::http; coordinator_http.cpp).
  // serve_http binds it, before the router; `token_from`: where its token
  // came from, empty if it needs none. start_snapshots posts it the first
  // snapshot, then one every second, and logs where it is. Constructor only.
  void serve_http(std::string& token_from);
  void start_snapshots(const std::string& token_from);
  // Posts a snapshot to the HTTP endpoint (loop thread).
  void post_snapshot();
  void arm_snapshot_timer();
  void report_refusals();
  // Pushed code (coordinator_code.cpp): why client `peer` may not push
  // (empty if it may), and sending what the code shelf has to send.
  std::string may_push(PeerId peer) const;
  void send_code();
  // Direct lines (coordinator_direct.cpp): listening beside the router, a
  // ticket for client `peer`, its calls, and the answers that go back on them.
  void serve_direct();
  std::optional<calls::DirectTicket> direct_ticket(PeerId peer);
  void on_direct_call(std::uint64_t line, PeerId client, std::string call);
  // Takes the answers to calls made on direct lines out of `answers`.
  void answer_direct(std::vector<ObjectStore::Answer>& answers);
  void on_heartbeat_timer();
  void arm_heartbeat();
  void send(PeerId peer, wire::Message&& message);
  void schedule_flush();
  void flush();
  void send_object_answers();
  void keep_state();
  void log_object_events();
  void arm_object_deadline();

  CoordinatorOptions options_;
  EventLoop loop_;
  std::unique_ptr<CoordinatorEndpoint> router_;
  std::unique_ptr<DirectEndpoint> direct_;  // with a tcp:// router
  std::string endpoint_;
  Scheduler scheduler_;
  ObjectStore store_;
  CodeShelf code_;
  std::unique_ptr<ObjectJournal> journal_;  // with --state
  ObjectStore::TimePoint started_ = ObjectStore::Clock::now();
  Throughput throughput_{started_};  // tasks finished, for status
  CallHandler calls_{scheduler_,
                     store_,
                     [this](PeerId asking) { return status(asking); },
                     &code_,
                     [this](PeerId asking) { return may_push(asking); },
                     [this](PeerId asking) { return direct_ticket(asking); }};
  asio::steady_timer object_deadline_;
  ObjectStore::TimePoint object_deadline_at_ = ObjectStore::TimePoint::max();
  std::unordered_map<PeerId, Peer> peers_;
  std::unordered_map<std::string, PeerId> by_routing_id_;
  PeerId next_peer_ = 1;
  std::uint64_t instance_;
  Rejections rejections_;
  Muted muted_;  // connections dropped for what they sent
  asio::steady_timer heartbeat_;
  Liveness<PeerId> liveness_;  // remote peers only: in-process ones cannot go silent
  std::uint64_t stale_reported_ = 0;
  std::uint64_t reclaimed_reported_ = 0;
  bool flush_posted_ = false;
  // Made before the loop first posts to it, stopped (its threads joined)
  // before the loop stops; between, its threads only read what the loop
  // posts and ask it for more through asio::post.
  std::unique_ptr<HttpEndpoint> http_;
  asio::steady_timer snapshot_timer_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
};

}  // namespace dpool::internal
