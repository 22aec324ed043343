// One call to a coordinator as a short-lived client: HELLO, the call, BYE.
// `dpool status` and `dpool push` are made of it. The conversation is the
// CoordinatorLink's, as for a Pool, so its refusals and timeouts read the same.
#pragma once

#include <chrono>
#include <dpool/coordinator.hpp>
#include <dpool/options.hpp>
#include <string>
#include <utility>

#include "calls.hpp"
#include "payload.hpp"

namespace dpool::internal {

struct OneCall {
  std::string client;  // the client's name in the coordinator's log (HELLO), e.g. "status:42"
  calls::Op op{};
  Payload args;
  // How long the answer may take once the coordinator has welcomed us.
  std::chrono::milliseconds answer_timeout{10000};
  std::string what;  // the call, for messages: "status call", "push"
};

// To the coordinator at `where.address` with `where`'s keys and timeouts.
// Returns the answer's bytes; throws ConnectionError when nothing answers in
// time or the coordinator refuses this client, and what throw_call_failure
// makes of a failed call.
Payload call_coordinator_once(const Connect& where, OneCall call);
// To an embedded coordinator, in-process.
Payload call_coordinator_once(Coordinator& coordinator, OneCall call);

}  // namespace dpool::internal
