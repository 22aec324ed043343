// The calls a running task (or a client) makes to its coordinator over
// REQUEST / REPLY: each call's number and the bytes of its argument and
// answer. Executors make them (executor_loop.cpp), nodes forward them with
// the caller's identity (worker/node_daemon.cpp), the coordinator answers
// (coordinator/call_handler.cpp).
#pragma once

#include <cstdint>
#include <dpool/this_task.hpp>

#include "protocol.hpp"

namespace dpool::internal::calls {

enum class Op : std::uint32_t {  // on the wire: append, never renumber
  kTaskInfo = 1,                 // who is this task? argument: none; answer: CurrentTask
};

}  // namespace dpool::internal::calls

namespace dpool {

template <class Ar>
void serialize(Ar& ar, CurrentTask& t) {
  using internal::wire::kMaxName;
  internal::wire::text(ar, t.name, kMaxName);
  ar(t.id, t.attempt);
  internal::wire::text(ar, t.node, kMaxName);
  ar(t.pid);
  internal::wire::text(ar, t.client, kMaxName);
}

}  // namespace dpool
