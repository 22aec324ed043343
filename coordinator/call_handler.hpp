// Answers the calls that running tasks (through their nodes) and clients make
// to the coordinator (REQUEST -> REPLY). A task's call is answered only when
// it comes from the node the scheduler gave that task to, so what a call is
// tied to (a lock's lease) is always a task that really runs there. Calls on
// hosted objects go to the ObjectStore, which answers them (at once or after
// they wait) through its own outbox.
// Pure: requests in, replies out, no sockets or clocks. Loop thread only.
#pragma once

#include <dpool/status.hpp>
#include <functional>

#include "code_shelf.hpp"
#include "object_store.hpp"
#include "scheduler.hpp"

namespace dpool::internal {

class CallHandler {
 public:
  // The cluster's state as `asking` should see it (calls::Op::kStatus).
  using StatusSource = std::function<ClusterStatus(PeerId asking)>;
  // Why client `asking` may not push code; empty if it may (calls::Op::kPush).
  using PushPolicy = std::function<std::string(PeerId asking)>;
  // A ticket for a direct line of client `asking`; none if the coordinator
  // has no port for them (calls::Op::kDirect).
  using DirectLines = std::function<std::optional<calls::DirectTicket>(PeerId asking)>;

  // `scheduler`, `store` and `code` must outlive the handler. Without
  // `status`, a status call is refused; without `code` or `may_push`, a push;
  // without `direct`, a direct line.
  CallHandler(const Scheduler& scheduler, ObjectStore& store, StatusSource status = {},
              CodeShelf* code = nullptr, PushPolicy may_push = {}, DirectLines direct = {})
      : scheduler_(scheduler),
        store_(store),
        status_(std::move(status)),
        code_(code),
        may_push_(std::move(may_push)),
        direct_(std::move(direct)) {}

  // The REPLY to one REQUEST from `peer` (`is_node`: a node forwarding its
  // tasks' calls; else a client's own). Every request gets exactly one
  // reply: in the envelope returned (which may hold none), or, for a call
  // on a hosted object, from the store, and for a push, from the code shelf.
  Envelope answer(PeerId peer, bool is_node, wire::Requests&& batch, Payloads&& args,
                  ObjectStore::TimePoint now);

  struct Stats {
    std::uint64_t answered = 0, refused = 0;
  };
  const Stats& stats() const noexcept { return stats_; }

 private:
  wire::Reply task_info(PeerId peer, bool is_node, const wire::Request& r, Payload& answer);
  // Hands the call to the store; a failure when it cannot go there.
  std::optional<wire::Reply> object(PeerId peer, bool is_node, const wire::Request& r,
                                    Payload& args, ObjectStore::TimePoint now);

  wire::Reply status(PeerId peer, bool is_node, const wire::Request& r, Payload& answer);
  wire::Reply direct(PeerId peer, bool is_node, const wire::Request& r, Payload& answer);
  // Hands a push to the code shelf; a refusal when it cannot go there.
  std::optional<wire::Reply> push(PeerId peer, bool is_node, const wire::Request& r, Payload& args,
                                  ObjectStore::TimePoint now);

  const Scheduler& scheduler_;
  ObjectStore& store_;
  StatusSource status_;
  CodeShelf* code_;
  PushPolicy may_push_;
  DirectLines direct_;
  Stats stats_;
};

}  // namespace dpool::internal
