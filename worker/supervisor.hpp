// The node's pool supervisor: which executor runs which task, what happens
// when one dies, how much credit to advertise. Pure: events in, actions out,
// no processes, sockets or clocks of its own. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol.hpp"

namespace dpool::internal {

class Supervisor {
 public:
  using Slot = std::size_t;
  using Args = std::shared_ptr<const Payload>;
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  struct Options {
    unsigned processes = 1;
    unsigned max_tasks_per_child = 0;  // 0 = unlimited
    std::string node;                  // name for results and errors
    unsigned poison_crashes = 2;       // a task that killed this many executors is not retried
  };
  // What the shell must do next.
  struct Actions {
    std::vector<Slot> spawn;   // start an executor in the slot
    std::vector<Slot> kill;    // SIGKILL the slot's executor
    std::vector<Slot> retire;  // close its socket; it exits by itself
    std::vector<std::pair<Slot, std::vector<std::pair<wire::Task, Args>>>>
        run;                // write RUN records
    wire::Results results;  // for the coordinator
    Payloads result_payloads;
    std::optional<wire::Credit> credit;  // advertise when set
    bool empty() const {
      return spawn.empty() && kill.empty() && retire.empty() && run.empty() &&
             results.results.empty() && !credit;
    }
  };
  struct Stats {
    std::uint64_t completed = 0, crashed = 0, spawned = 0, respawned = 0, cancelled = 0;
  };

  explicit Supervisor(Options options);

  void start();
  // Tasks of `pool` (wire::Task::pool) recycle their executor after this many
  // tasks: an executor retires once it has run the smallest limit among the
  // pools it served (and the node's own), counting all its tasks.
  void pool_limit(std::uint64_t pool, unsigned max_tasks_per_child);
  // Times are the shell's clock; they start the timeouts of the tasks that
  // begin running as a result of the event.
  void tasks(std::vector<wire::Task>&& tasks, Payloads&& payloads, TimePoint now);
  void executor_ready(Slot slot, int pid, TimePoint now);
  // A DONE record; payload is the serialized result.
  void executor_done(Slot slot, wire::Result&& result, Payload&& payload, TimePoint now);
  // Fails with TaskTimeout (and kills the executor of) every running task
  // whose timeout has passed.
  void tick(TimePoint now);
  // When tick() next has something to do, if ever.
  std::optional<TimePoint> next_deadline() const;
  // The executor's process is gone: killed by `signal`, or exited with `exit_code`.
  void executor_died(Slot slot, int signal, int exit_code, TimePoint now);
  void cancel(const std::vector<std::uint64_t>& ids, bool kill_running);
  // Forgets every task (the coordinator no longer knows them: it restarted or
  // declared this node dead): running ones are stopped, nothing is reported.
  void reset();
  // Hands back up to `max` queued tasks that no executor has been given, the
  // last ones first (those that would have waited longest here); they are
  // forgotten here. For the coordinator's RECLAIM.
  std::vector<std::uint64_t> reclaim(std::size_t max);
  // Takes no more tasks: queued ones go back to the coordinator at once
  // (wire::kReturned), running ones may finish. Credit drops to zero.
  void drain();
  // After the drain grace: stops what still runs and hands it back too.
  void abandon();
  bool draining() const noexcept { return draining_; }

  // Replaces every executor with a new one (started by the shell's spawn
  // spec as it is now): each takes no more tasks, finishes what it has and
  // retires; one still starting retires once READY.
  void recycle();
  // Drops every task without a result (the coordinator has given up on them)
  // and stops all executors.
  void shutdown();

  Actions take_actions();

  const Options& options() const noexcept { return options_; }
  unsigned processes() const noexcept { return options_.processes; }
  std::size_t queued() const noexcept { return queue_.size(); }
  std::size_t unfinished() const noexcept { return tasks_.size(); }
  // The ids of every task it holds, queued or running (for the heartbeat).
  std::vector<std::uint64_t> held() const;
  const Stats& stats() const noexcept { return stats_; }
  int pid_of(Slot slot) const { return slots_.at(slot).pid; }
  // The task the slot's executor is running now, if any (the first of those
  // written to it); what a call made by that executor is on behalf of.
  std::optional<std::uint64_t> running_task(Slot slot) const;
  // How long tasks of `name` run, learned from the executors' reports (a
  // moving average); nullopt until one has finished here.
  std::optional<double> expected_us(const std::string& name) const;

 private:
  enum class State { kStarting, kReady, kRetiring, kKilled, kDown };
  static bool running(State s) { return s == State::kReady || s == State::kRetiring; }
  struct Assigned {
    std::uint64_t id;
    double expected_us;  // its expected run time when it was written; < 0: unknown
  };
  struct SlotRec {
    State state = State::kDown;
    int pid = 0;
    std::deque<Assigned> assigned;  // written to the executor, in order; front is running
    double ahead_us = 0;            // expected run time of those after the front
    TimePoint front_since{};        // when the front task started running
    unsigned done = 0;              // tasks completed by this process
    unsigned limit = 0;             // retire after this many; 0 = never
    unsigned failed_starts = 0;     // consecutive deaths before READY
    bool was_ready = false;         // has been READY at least once
    std::uint64_t generation = 0;   // recycle()s before it was spawned
  };
  struct TaskRec {
    wire::Task spec;
    Args args;
    bool cancelled = false;
    unsigned crashes = 0;  // executors this task has killed
  };

  void spawn(Slot slot);
  void requeue_assigned(SlotRec& s);
  void pump(TimePoint now);
  // The first queued task still wanted, or nullptr (cancelled ones are dropped).
  TaskRec* next_queued();
  // Whether the slot's executor, busy already, may be written `next` to run
  // after what it has: only when the work ahead of it is known to end soon.
  bool may_write_ahead(const SlotRec& s, double next_us, TimePoint now) const;
  void assign(Slot slot, TaskRec& t, double expected, TimePoint now,
              std::vector<std::vector<std::pair<wire::Task, Args>>>& batches);
  void learn(const std::string& name, double run_us);
  void finish(std::uint64_t id, wire::Result&& result, Payload&& payload);
  void fail(std::uint64_t id, const detail::Failure& failure, int pid);
  void update_credit();
  void settle_first_start(SlotRec& s);  // READY at last, or given up on
  // With every executor down for good (broken_ says why), the queued tasks
  // can never run: fail them, with how the last executor ended.
  void fail_queue_if_none_alive(int exit_code, int signal);
  std::size_t depth() const;

  Options options_;
  std::vector<SlotRec> slots_;
  std::deque<std::uint64_t> queue_;
  std::unordered_map<std::uint64_t, TaskRec> tasks_;
  std::unordered_map<std::uint64_t, unsigned> pool_limits_;
  Actions actions_;
  Stats stats_;
  std::size_t never_ready_ = 0;  // slots not yet READY since start()
  double mean_run_us_ = -1;      // moving average of task run time; < 0 until measured
  std::unordered_map<std::string, double> expected_us_;  // moving average per task name
  std::uint32_t advertised_ = 0;
  std::string broken_;  // set when executors keep dying at start-up
  bool draining_ = false;
  std::uint64_t generation_ = 0;  // recycle()s so far
};

}  // namespace dpool::internal
