// The node's I/O shell: executor processes, their socketpairs and pidfds, and
// the link to the coordinator, all on one event loop, around the Supervisor.
#pragma once

#include <asio/local/stream_protocol.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <condition_variable>
#include <dpool/options.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "event_loop.hpp"
#include "exec_channel.hpp"
#include "executor_process.hpp"
#include "link.hpp"
#include "supervisor.hpp"

namespace dpool::internal {

class NodeDaemon {
 public:
  // Standalone: its own loop, a DEALER to options.connect. Throws
  // ConnectionError if the coordinator does not welcome it in time.
  explicit NodeDaemon(NodeOptions options);
  // Embedded: runs on the hub's loop, linked in-process.
  NodeDaemon(Hub& hub, NodeOptions options);
  ~NodeDaemon();

  unsigned processes() const noexcept { return supervisor_.processes(); }
  void wait();
  void stop();
  bool stopped();
  // Takes no new tasks, hands queued ones back, lets running ones finish
  // (up to options.drain_grace), then stops.
  void drain();

 private:
  struct Exec;
  using Slot = Supervisor::Slot;

  void init_spawn_spec();
  void start(std::function<std::unique_ptr<Link>(Receiver)> make_link);
  void on_message(Received&& m);
  void send_hello();
  void on_beat();
  void spawn(Slot slot);
  void watch(const std::shared_ptr<Exec>& e);
  void reap_exited();
  void poll_exit(const std::shared_ptr<Exec>& e, Supervisor::TimePoint since);
  void read(const std::shared_ptr<Exec>& e);
  void write(const std::shared_ptr<Exec>& e);
  void on_record(const std::shared_ptr<Exec>& e, Record&& r);
  void apply();
  void queue_record(Exec& e, RecordKind kind, const wire::Task& task, Supervisor::Args args);
  // Before an executor's first task of `pool`: an INIT record, if the pool
  // has an initializer. Pool 0 is the node's own, given at spawn.
  void init_pool(Exec& e, std::uint64_t pool);
  void arm_deadline();  // the timer for the nearest task timeout
  void shutdown_on_loop();
  void set_stopped(std::string why);

  NodeOptions options_;
  std::unique_ptr<EventLoop> own_loop_;
  asio::io_context& io_;
  Supervisor supervisor_;
  asio::steady_timer deadline_;
  bool deadline_armed_ = false;
  Supervisor::TimePoint deadline_at_{};
  asio::steady_timer beat_;
  asio::steady_timer drain_timer_;
  Supervisor::TimePoint last_seen_{};
  std::uint64_t instance_ = 0;
  std::uint64_t coordinator_instance_ = 0;
  bool warned_no_pidfd_ = false;
  bool hello_pending_ = false;  // a HELLO is on its way: further BYEs need no other
  SpawnSpec spawn_spec_;
  std::unordered_map<std::uint64_t, wire::PoolSettings>
      pools_;  // by key: 0 ours, others from DISPATCH
  std::unique_ptr<Link> link_;
  std::vector<std::shared_ptr<Exec>> execs_;
  bool welcomed_ = false;
  bool shut_down_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::string stop_reason_;
};

}  // namespace dpool::internal
