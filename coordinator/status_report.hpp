// The cluster's state for `dpool status` (calls::Op::kStatus): what the
// Scheduler and the ObjectStore count, and what the server knows of its
// peers (addresses, pids, when each was last heard from).
// Pure: the caller passes the time and the peers. Loop thread only.
#pragma once

#include <chrono>
#include <dpool/status.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "object_store.hpp"
#include "scheduler.hpp"

namespace dpool::internal {

struct StatusInputs {
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Peer {
    std::string address;             // empty in-process
    std::uint32_t pid = 0;           // from its HELLO
    std::optional<TimePoint> heard;  // its last message; none in-process
  };
  std::string name, endpoint;
  TimePoint started, now;
  double throughput = 0;
  PeerId asking = 0;  // left out of the clients
  std::unordered_map<PeerId, Peer> peers;
};

// How many of the longest-running tasks it lists.
inline constexpr std::size_t kLongestRunningShown = 10;

ClusterStatus status_report(const Scheduler& scheduler, const ObjectStore& store,
                            const StatusInputs& in);

}  // namespace dpool::internal
