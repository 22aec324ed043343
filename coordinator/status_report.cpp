#include "status_report.hpp"

#include <algorithm>

namespace dpool::internal {
namespace {

std::int64_t ms_between(StatusInputs::TimePoint from, StatusInputs::TimePoint to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

}  // namespace

ClusterStatus status_report(const Scheduler& scheduler, const ObjectStore& store,
                            const StatusInputs& in) {
  ClusterStatus s;
  s.coordinator = in.name;
  s.endpoint = in.endpoint;
  s.uptime_ms = ms_between(in.started, in.now);
  auto peer = [&](PeerId id) {
    auto it = in.peers.find(id);
    return it == in.peers.end() ? StatusInputs::Peer{} : it->second;
  };
  for (auto& n : scheduler.node_loads()) {
    auto p = peer(n.peer);
    NodeStatus ns;
    ns.name = n.name;
    ns.address = p.address;
    ns.pid = p.pid;
    ns.executors = n.executors;
    ns.busy = static_cast<std::uint32_t>(std::min<std::size_t>(n.running, n.executors));
    ns.waiting = n.running - ns.busy;
    ns.done = n.counts.done;
    ns.failed = n.counts.failed;
    ns.retried = n.counts.retried;
    ns.processes = static_cast<std::uint32_t>(n.processes);
    ns.heartbeat_age_ms = p.heard ? std::max<std::int64_t>(0, ms_between(*p.heard, in.now)) : -1;
    s.nodes.push_back(std::move(ns));
  }
  for (auto& c : scheduler.client_loads()) {
    if (c.peer == in.asking) continue;
    s.clients.push_back({c.name, peer(c.peer).address, c.queued, c.running, c.done});
  }
  s.objects = store.objects();
  s.object_bytes = store.bytes();
  s.queued = scheduler.queued();
  s.running = scheduler.running();
  s.submitted = scheduler.stats().submitted;
  s.done = scheduler.totals().done;
  s.failed = scheduler.totals().failed;
  s.retried = scheduler.totals().retried;
  s.throughput = in.throughput;
  for (auto& t : scheduler.longest_running(kLongestRunningShown))
    s.longest_running.push_back(
        {t.task, t.node, t.client, std::max<std::int64_t>(0, ms_between(t.since, in.now))});
  auto& failures = scheduler.recent_failures();
  for (auto f = failures.rbegin(); f != failures.rend(); ++f)
    s.failures.push_back({f->task, f->node, f->code, f->message,
                          std::max<std::int64_t>(0, ms_between(f->at, in.now))});
  return s;
}

}  // namespace dpool::internal
