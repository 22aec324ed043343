// What a coordinator says about its cluster (`dpool status`): its nodes and
// clients, the Manager's objects, task counts and throughput, as one
// snapshot taken on the coordinator's loop.
#pragma once

#include <cstdint>
#include <dpool/errors.hpp>
#include <dpool/export.hpp>
#include <dpool/options.hpp>
#include <string>
#include <vector>

namespace dpool {

class Coordinator;

// One worker node, as the coordinator knows it.
struct NodeStatus {
  std::string name;     // `dpool worker --name`, or host:pid
  std::string address;  // its IP address as the coordinator sees it; empty in-process
  std::uint32_t pid = 0;
  std::uint32_t executors = 0;
  std::uint32_t busy = 0;     // executors running one of our tasks
  std::uint64_t waiting = 0;  // tasks it holds ahead of a free executor (prefetch)
  // Results it sent back: all (done), those with an error (failed), and
  // re-runs of tasks whose first node was lost (retried).
  std::uint64_t done = 0, failed = 0, retried = 0;
  std::int64_t heartbeat_age_ms = -1;  // since it was last heard from; -1: in-process
  std::uint32_t processes = 0;         // Processes it runs (pool.process), beside its executors
};

// One client (a Pool) of the coordinator.
struct ClientStatus {
  std::string name;     // "client:PID"
  std::string address;  // its IP address as the coordinator sees it; empty in-process
  std::uint64_t queued = 0, running = 0, done = 0;
};

// A task dispatched to a node and not finished (it may still wait there
// behind others). Processes are left out.
struct RunningTask {
  std::string task;             // its registered name
  std::string node;             // where it was dispatched
  std::string client;           // who submitted it
  std::int64_t running_ms = 0;  // since it was dispatched
};

// A task that failed on a node: with an error its code raised or the node
// reported, or WorkerLost past its retries.
struct FailedTask {
  std::string task, node;
  ErrorCode code = ErrorCode::kNone;
  std::string message;      // the error's text, cut at 512 bytes
  std::int64_t age_ms = 0;  // since it failed
};

struct ClusterStatus {
  std::string coordinator;  // its name (CoordinatorOptions::name)
  std::string endpoint;     // where it listens; empty in-process only
  std::int64_t uptime_ms = 0;
  std::vector<NodeStatus> nodes;
  std::vector<ClientStatus> clients;  // every client but the one that asked
  std::uint64_t objects = 0;          // the Manager's objects and pool.queues
  std::uint64_t object_bytes = 0;     // their keys, values and items
  // Tasks now, and since start (done and failed include WorkerLost).
  std::uint64_t queued = 0, running = 0;
  std::uint64_t submitted = 0, done = 0, failed = 0, retried = 0;
  double throughput = 0;  // tasks finished per second over the last minute
  // The tasks running longest, longest first (at most 10), and the last
  // failures, newest first (at most 20).
  std::vector<RunningTask> longest_running;
  std::vector<FailedTask> failures;
};

// Connects to the coordinator at `where.address` as a client (its keys,
// `insecure` and `connect_timeout` as for Pool(Connect)), asks, and leaves.
// Throws ConnectionError as Pool(Connect) does: nothing answered within the
// timeout, or the coordinator refused the key.
DPOOL_API ClusterStatus cluster_status(const Connect& where);
// The same from an embedded coordinator, in-process.
DPOOL_API ClusterStatus cluster_status(Coordinator& coordinator);

}  // namespace dpool
