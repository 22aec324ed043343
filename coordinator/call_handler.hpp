// Answers the calls that running tasks (through their nodes) and clients make
// to the coordinator (REQUEST -> REPLY). A task's call is answered only when
// it comes from the node the scheduler gave that task to, so what a call is
// tied to (later: a lock's lease) is always a task that really runs there.
// Pure: requests in, replies out, no sockets or clocks. Loop thread only.
#pragma once

#include "scheduler.hpp"

namespace dpool::internal {

class CallHandler {
 public:
  // `scheduler` must outlive the handler.
  explicit CallHandler(const Scheduler& scheduler) : scheduler_(scheduler) {}

  // The REPLY to one REQUEST from `peer` (`is_node`: a node forwarding its
  // tasks' calls; else a client's own). Every request gets exactly one
  // reply: an answer, or a failure saying why not.
  Envelope answer(PeerId peer, bool is_node, wire::Requests&& batch, Payloads&& args);

  struct Stats {
    std::uint64_t answered = 0, refused = 0;
  };
  const Stats& stats() const noexcept { return stats_; }

 private:
  wire::Reply task_info(PeerId peer, bool is_node, const wire::Request& r, Payload& answer);

  const Scheduler& scheduler_;
  Stats stats_;
};

}  // namespace dpool::internal
