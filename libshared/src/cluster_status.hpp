// ClusterStatus (dpool/status.hpp) on the wire: the answer to calls::Op::kStatus,
// with every string and list bounded like the protocol's own.
#pragma once

#include <dpool/status.hpp>
#include <string_view>

#include "protocol.hpp"

namespace dpool::internal {
namespace wire {
constexpr std::uint32_t kMaxStatusPeers = 1u << 20;  // nodes or clients in one answer
constexpr std::uint32_t kMaxStatusTasks = 1024;      // running or failed tasks in one answer
}  // namespace wire

// How a client that only asks for the status (dpool::cluster_status) names
// itself in HELLO: "status:PID". The coordinator logs its coming and going
// at debug level, so that `dpool status --watch` does not fill its log.
inline constexpr std::string_view kStatusClientPrefix = "status:";
}  // namespace dpool::internal

namespace dpool {

template <class Ar>
void serialize(Ar& ar, NodeStatus& n) {
  using internal::wire::kMaxName;
  internal::wire::text(ar, n.name, kMaxName);
  internal::wire::text(ar, n.address, kMaxName);
  ar(n.pid, n.executors, n.busy, n.waiting, n.done, n.failed, n.retried, n.heartbeat_age_ms,
     n.processes);
}

template <class Ar>
void serialize(Ar& ar, ClientStatus& c) {
  using internal::wire::kMaxName;
  internal::wire::text(ar, c.name, kMaxName);
  internal::wire::text(ar, c.address, kMaxName);
  ar(c.queued, c.running, c.done);
}

template <class Ar>
void serialize(Ar& ar, RunningTask& t) {
  using internal::wire::kMaxName;
  internal::wire::text(ar, t.task, kMaxName);
  internal::wire::text(ar, t.node, kMaxName);
  internal::wire::text(ar, t.client, kMaxName);
  ar(t.running_ms);
}

template <class Ar>
void serialize(Ar& ar, FailedTask& t) {
  using internal::wire::kMaxName;
  internal::wire::text(ar, t.task, kMaxName);
  internal::wire::text(ar, t.node, kMaxName);
  internal::wire::enumeration(ar, t.code);
  internal::wire::text(ar, t.message, kMaxName);
  ar(t.age_ms);
}

// Protocol version 5 as the rest of the status answer: both came in the same
// unreleased version.
template <class Ar>
void serialize(Ar& ar, ClusterStatus& s) {
  using internal::wire::kMaxName;
  using internal::wire::kMaxStatusPeers;
  internal::wire::text(ar, s.coordinator, kMaxName);
  internal::wire::text(ar, s.endpoint, kMaxName);
  ar(s.uptime_ms);
  internal::wire::list(ar, s.nodes, kMaxStatusPeers);
  internal::wire::list(ar, s.clients, kMaxStatusPeers);
  ar(s.objects, s.object_bytes, s.queued, s.running, s.submitted, s.done, s.failed, s.retried,
     s.throughput);
  internal::wire::list(ar, s.longest_running, internal::wire::kMaxStatusTasks);
  internal::wire::list(ar, s.failures, internal::wire::kMaxStatusTasks);
}

}  // namespace dpool
