// CoordinatorLink: the one connection every peer of a coordinator (a client,
// a node, and whatever else calls the coordinator) keeps to it. It owns the
// conversation they all share: HELLO and WELCOME or REJECT, heartbeats both
// ways, noticing a silent coordinator (Liveness), registering again when the
// coordinator restarted or declared us dead, calls that wait for a reply
// (REQUEST / REPLY), and BYE. The peer supplies what it says in HELLO and
// handles every other message.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "link.hpp"
#include "liveness.hpp"

namespace dpool::internal {

class CoordinatorLink {
 public:
  // Makes the transport: what arrives goes to the Receiver; a connection the
  // coordinator refused for good (a failed handshake) is reported through
  // Refused, which in-process links never call.
  using MakeLink = std::function<std::unique_ptr<Link>(Receiver, Refused)>;

  struct Options {
    std::string where;  // the coordinator's address, for messages
    std::string who;    // "this client", "node host:42": for messages
    // Remote coordinators only (an in-process one cannot go silent or restart):
    std::chrono::milliseconds heartbeat{
        0};  // beat this often (or as often as WELCOME asks); 0 = never
    std::chrono::milliseconds timeout{5000};  // silence after which we say HELLO again
    std::chrono::milliseconds grace{0};       // silence after which `lost` runs; 0 = never
  };

  // How a WELCOME relates to the previous one.
  enum class Rejoin {
    kFirst,      // the first registration
    kRestarted,  // a new coordinator instance: it knows nothing of us
    kForgotten,  // the same instance had declared us dead and forgotten our work
  };

  // Called on the loop thread. Only `hello` is required.
  struct Events {
    std::function<wire::Hello()> hello;  // what each HELLO says (the link sets `instance`)
    std::function<void(const wire::Welcome&, Rejoin)> welcomed;
    std::function<void(const std::string& reason)> refused;  // REJECT, or a refused handshake
    std::function<void()> lost;                    // silent for longer than Options::grace
    std::function<void(wire::Message&&)> message;  // every other kind the coordinator sends
    std::function<wire::Heartbeat()> beat;         // what each heartbeat says; unset: nothing
  };

  // A call's outcome: the reply, or a failure made here when the link lost
  // the coordinator or was closed first.
  using Done = std::function<void(wire::Reply&&, Payload&&)>;

  CoordinatorLink(asio::io_context& io, Options options, Events events);
  // Closes (see close()) if still open. Loop thread.
  ~CoordinatorLink();
  CoordinatorLink(const CoordinatorLink&) = delete;
  CoordinatorLink& operator=(const CoordinatorLink&) = delete;

  // Connects through `make` (on the loop thread), says HELLO and starts the
  // heartbeats. Loop thread.
  void open(const MakeLink& make);
  // Waits for the first WELCOME. Throws ConnectionError when the coordinator
  // refuses us, or does not answer within `timeout` (the message says what
  // to check). Any thread but the loop's.
  void wait_welcome(std::chrono::milliseconds timeout, const std::string& hint);

  // Sends a message to the coordinator; dropped after close(). Loop thread.
  void send(wire::Message&& message);
  // Sends a call; `done` runs once, on the loop thread. Calls made during one
  // turn of the loop travel in one REQUEST. Loop thread.
  void call(wire::Request request, Payload args, Done done);
  // Says BYE and stops: no more messages, heartbeats or callbacks; calls
  // still waiting fail. Loop thread.
  void close(const std::string& reason);

  bool welcomed() const;
  // The heartbeat interval in use, after WELCOME (0 for an in-process coordinator).
  std::chrono::milliseconds heartbeat() const noexcept { return beat_; }

 private:
  enum class Peer { kCoordinator };
  struct Call {
    std::uint64_t caller_id;  // the id the caller gave
    Done done;
  };

  void on_receive(Received&& m);
  void on_welcome(const wire::Welcome& welcome);
  void on_refused(const std::string& reason);
  void on_replies(wire::Replies&& replies, Payloads&& payloads);
  void say_hello();
  void on_beat();
  void flush_calls();
  void fail_calls(const std::string& why);

  asio::io_context& io_;
  Options options_;
  Events events_;
  std::unique_ptr<Link> link_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::steady_timer beat_timer_;
  std::chrono::milliseconds beat_{0};
  Liveness<Peer> liveness_;
  std::chrono::steady_clock::time_point lost_since_{};
  bool lost_ = false;
  bool hello_pending_ = false;  // a HELLO is on its way: a BYE needs no other
  std::uint64_t instance_ = 0;  // ours, random per link
  std::uint64_t coordinator_instance_ = 0;

  std::uint64_t next_call_ = 1;
  std::unordered_map<std::uint64_t, Call> calls_;  // by our id
  wire::Requests outgoing_;
  Payloads outgoing_args_;
  bool calls_flush_posted_ = false;

  mutable std::mutex mu_;  // guards what wait_welcome() reads
  std::condition_variable cv_;
  bool welcomed_ = false;
  bool refused_ = false;
  std::string refusal_;
};

}  // namespace dpool::internal
