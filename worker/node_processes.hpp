// The Processes a node runs for pool.process: each in a process of its own,
// started like an executor but outside the pool's slots, running its one
// task and exiting. The node reports when one starts (wire::kStarted, with
// its pid) and how it ended: its exit status, as Python reports it. A
// Process is never re-run here: a crash is its result.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "executor_set.hpp"
#include "protocol.hpp"

namespace dpool::internal {

// How a Process ended, from what the node saw: its DONE record (if it got
// that far) and how its process exited. Pure; for the final RESULT.
//   f returned, exit 0                    -> kNone, exit_code 0
//   f threw (DONE failed), exit 0         -> kWorkerCrashed, exit_code 1, the error's text
//   exit(n) or died before DONE, no signal -> exit_code n (kNone when n == 0)
//   killed by signal N                    -> kWorkerCrashed, signal N
detail::Failure process_exit(const detail::Failure* done, int signal, int exit_code);

// Loop thread only. The io_context and everything the hooks reach must
// outlive it; destroying it (or clear()) kills and reaps every Process.
class NodeProcesses {
 public:
  using Answer = std::function<void(wire::Reply&&, Payload&&)>;
  struct Hooks {
    std::function<void(wire::Results&&)> report;  // results for the coordinator
    // A call from a Process to the coordinator, its identity filled in;
    // `answer` runs with the reply on the loop.
    std::function<void(const wire::Request&, Payload&&, Answer)> call;
    // Bytes a Process wrote on stdout or stderr (an OUTPUT record), as its
    // task's (`task`), whatever the record says.
    std::function<void(std::uint64_t task, wire::Lines&&)> output;
    std::function<void(int pid)> exited;  // for the leases its calls took
    std::function<void()> settled;        // after each burst of events
  };

  NodeProcesses(asio::io_context& io, std::string node, SpawnSpec spec, Hooks hooks);

  // Processes started from now on run `spec`.
  void respec(SpawnSpec spec) { set_.respec(std::move(spec)); }
  // Starts the Process task `task` (its process name set) with `args`.
  void start(wire::Task&& task, Payload&& args);
  // Sends `signal` to the Processes among `ids` (the coordinator's).
  void signal(const std::vector<std::uint64_t>& ids, int signal);
  // Kills them and forgets them: the coordinator wants no result.
  void cancel(const std::vector<std::uint64_t>& ids);
  // Kills every Process and forgets it (the coordinator no longer knows them).
  void reset();
  // Kills every Process; each reports its end (-9) as usual.
  void kill_all();
  // Kills and reaps every Process; nothing more is reported.
  void clear();
  std::size_t running() const noexcept { return procs_.size(); }
  // Appends the ids of the Processes it runs and reports on.
  void add_ids(std::vector<std::uint64_t>& ids) const;

 private:
  using Slot = ExecutorSet::Slot;
  struct Proc {
    std::uint64_t id = 0;
    std::string name;
    int pid = 0;
    bool forgotten = false;  // no result is wanted
    std::optional<detail::Failure> done;
  };

  ExecutorSet::Events events();
  void on_record(Slot slot, Record&& r);
  void on_exit(Slot slot, int pid, int signal, int exit_code);
  void forward_call(Slot slot, Record&& r);
  Proc* find(std::uint64_t id, Slot* slot);

  std::string node_;
  Hooks hooks_;
  ExecutorSet set_;
  std::unordered_map<Slot, Proc> procs_;
};

}  // namespace dpool::internal
