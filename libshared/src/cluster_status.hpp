// ClusterStatus (dpool/status.hpp) on the wire: the answer to calls::Op::kStatus,
// with every string and list bounded like the protocol's own.
#pragma once

#include <dpool/status.hpp>
#include <string_view>

#include "protocol.hpp"

namespace dpool::internal {
namespace wire {
constexpr std::uint32_t kMaxStatusPeers = 1u << 20;  // nodes or clients in one answer
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
}

}  // namespace dpool
