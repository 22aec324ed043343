// The node's I/O shell around the Supervisor: the coordinator link (tasks
// in, results and credit out), the executors (ExecutorSet), the Processes
// (NodeProcesses), pool settings and initializers, task deadlines, drain,
// and forwarding the calls running tasks make to the coordinator. All on
// one event loop.
#pragma once

#include <asio/steady_timer.hpp>
#include <condition_variable>
#include <dpool/options.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "coordinator_link.hpp"
#include "event_loop.hpp"
#include "executor_set.hpp"
#include "node_code.hpp"
#include "node_processes.hpp"
#include "supervisor.hpp"
#include "task_output.hpp"

namespace dpool::internal {

// Thread-safe public methods. Standalone, it runs its own loop thread;
// embedded, it runs on the hub's loop, and the hub (the coordinator) must
// outlive it.
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

  // Messages from the coordinator (loop thread), through wire::dispatch.
  void on(wire::Dispatch&& batch, Payloads&& args);
  void on(wire::Cancel&& cancel);
  void on(wire::Reclaim&& reclaim);
  void on(wire::Signal&& signal);
  void on(wire::Code&& code, Payloads&& bytes);  // a pushed library (NodeCode)

 private:
  using Slot = Supervisor::Slot;

  void init_spawn_spec();
  // The pushed libraries changed: new executors and Processes load them, and
  // every executor is replaced as soon as it has finished what it has.
  void adopt_code();
  void start(const CoordinatorLink::MakeLink& make_link);
  CoordinatorLink::Events link_events();
  ExecutorSet::Events executor_events();
  void on_welcome(CoordinatorLink::Rejoin how);
  void on_record(Slot slot, Record&& r);
  // An executor that breaks the record protocol is not trusted: it is
  // killed (and replaced), and the task it ran fails with WorkerCrashed.
  void distrust(Slot slot, const std::string& what);
  // Forwards a call from the slot's executor to the coordinator, with the
  // identity of the task it runs, and its reply back to that same executor.
  void forward_call(Slot slot, Record&& r);
  // Sends a call, its caller's identity filled in; `answer` gets the reply
  // unless the node has shut down meanwhile.
  void call_coordinator(const wire::Request& request, Payload&& args, NodeProcesses::Answer answer);
  NodeProcesses::Hooks process_hooks();
  // Tells the coordinator, which ends the leases and waits of executor `pid`.
  void executor_gone(int pid);
  void reply_to(Slot slot, ExecutorSet::Serial serial, wire::Reply&& reply, Payload&& answer);
  // An OUTPUT record of the slot's executor: the task it names, if that is
  // the one running there (else no task's).
  void on_output(Slot slot, Record&& r);
  // Sends what tasks printed (OUTPUT), ahead of any result that follows;
  // prints here what no task printed. Every send of results calls it first.
  void flush_output();
  void send_results(wire::Results&& results, Payloads&& payloads);
  void apply();
  void check_drained();  // stops once a drain has nothing left to wait for
  void spawn(Slot slot);
  // Before an executor's first task of `pool`: an INIT record, if the pool
  // has an initializer. Pool 0 is the node's own, given at spawn.
  void init_pool(Slot slot, std::uint64_t pool);
  void arm_deadline();  // the timer for the nearest task timeout
  void shutdown_on_loop();
  void set_stopped(std::string why);

  NodeOptions options_;
  std::unique_ptr<EventLoop> own_loop_;
  asio::io_context& io_;
  Supervisor supervisor_;
  std::string name_;
  asio::steady_timer deadline_;
  bool deadline_armed_ = false;
  Supervisor::TimePoint deadline_at_{};
  asio::steady_timer drain_timer_;
  SpawnSpec spawn_spec_;
  // Pool settings by key: 0 is the node's own, the others came with DISPATCH.
  std::unordered_map<std::uint64_t, wire::PoolSettings> pools_;
  std::vector<std::unordered_set<std::uint64_t>> inited_;  // per slot: pools initialized
  std::unique_ptr<CoordinatorLink> link_;
  std::unique_ptr<ExecutorSet> execs_;
  std::unique_ptr<NodeProcesses> processes_;
  std::unique_ptr<TaskOutput> output_;  // forwarding what tasks print (standalone nodes)
  std::unique_ptr<NodeCode> code_;
  std::uint64_t received_dispatch_ = 0;  // the last DISPATCH's seq, for heartbeats
  bool shut_down_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::string stop_reason_;
};

}  // namespace dpool::internal
