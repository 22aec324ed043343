// The scheduler's side of membership: clients and nodes joining and leaving,
// and what a node's heartbeats and credit tell it.
#include <algorithm>
#include <vector>

#include "scheduler.hpp"

namespace dpool::internal {

void Scheduler::client_joined(PeerId client, std::string name, wire::PoolSettings pool) {
  auto& c = clients_[client];
  c.name = std::move(name);
  c.pool = std::move(pool);
  c.pool.key = 0;
  while (!c.pool.empty() && c.pool.key == 0) c.pool.key = pool_keys_();
  capacity_changed_ = true;  // tell the newcomer the cluster's size
}

std::size_t Scheduler::client_left(PeerId client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return 0;
  std::size_t had = it->second.ids.size();
  wire::Cancel all;
  all.all = true;
  all.kill_running = true;
  cancel(client, all);
  clients_.erase(client);
  std::erase(ready_clients_, client);
  return had;
}

void Scheduler::node_joined(PeerId node, std::string name, std::uint32_t executors,
                            std::uint32_t slots) {
  auto& n = nodes_[node];
  n.name = std::move(name);
  update_node(n, n.running, executors);
  n.slots = slots;
  capacity_changed_ = true;
}

Scheduler::Lost Scheduler::node_left(PeerId node) {
  Lost lost;
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return lost;
  // A scan rather than a per-node index: node loss is rare, and an index
  // costs an allocation per dispatched task. Highest id first, so that
  // requeueing each at the front keeps the original order.
  std::vector<std::uint64_t> lost_ids;
  if (it->second.running || it->second.processes)
    for (auto& [id, t] : tasks_)
      if (t.node == node) lost_ids.push_back(id);
  std::sort(lost_ids.begin(), lost_ids.end(), std::greater<>());
  for (auto id : lost_ids) {
    bool requeued = lose(id, it->second.name, "was lost");
    ++(requeued ? lost.requeued : lost.failed);
  }
  update_node(it->second, 0, 0);
  nodes_.erase(it);
  capacity_changed_ = true;
  return lost;
}

Scheduler::Lost Scheduler::heartbeat(PeerId node, const std::vector<std::uint64_t>& holding,
                                     std::uint64_t received, TimePoint now,
                                     std::chrono::steady_clock::duration window) {
  Lost lost;
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return lost;
  auto& n = it->second;
  const auto beat = ++n.beats;
  // Arrived: what it says it received, and what has had time enough to.
  n.arrived = std::max(n.arrived, received);
  for (auto& d : n.transit) {
    if (d.noticed == TimePoint{}) d.noticed = now;
    if (d.seq > n.arrived && now - d.noticed >= window + std::chrono::microseconds(d.bytes))
      n.arrived = d.seq;
  }
  while (!n.transit.empty() && n.transit.front().seq <= n.arrived) {
    n.in_transit -= n.transit.front().tasks;
    n.transit.pop_front();
  }
  std::size_t listed = 0;
  for (auto id : holding) {
    auto t = tasks_.find(id);
    if (t == tasks_.end() || t->second.node != node) continue;  // finished, or taken back
    if (t->second.listed_beat == beat) continue;                // listed twice
    t->second.listed_beat = beat;
    t->second.listed_at = now;
    ++listed;
  }
  // What is still on its way need not be listed; the rest must all be. Only
  // when some are not is a scan worth its cost, and only once the first of
  // those can have reached the window.
  if (listed + n.in_transit >= n.running + n.processes || now < n.rescan_at) return lost;
  std::vector<std::uint64_t> unlisted;
  n.rescan_at = TimePoint::max();
  for (auto& [id, t] : tasks_) {
    if (t.node != node || t.listed_beat == beat || t.dispatch_seq > n.arrived) continue;
    if (t.listed_at == TimePoint{}) t.listed_at = now;  // arrived, and never listed
    if (now - t.listed_at >= window)
      unlisted.push_back(id);
    else
      n.rescan_at = std::min(n.rescan_at, t.listed_at + window);
  }
  if (n.rescan_at == TimePoint::max()) n.rescan_at = now;
  if (unlisted.empty()) return lost;
  std::sort(unlisted.begin(), unlisted.end(), std::greater<>());
  for (auto id : unlisted) {
    if (tasks_.at(id).spec.process.empty())
      update_node(n, n.running - 1, n.executors);
    else
      --n.processes;
    bool requeued = lose(id, n.name, "did not list it in its heartbeats");
    ++(requeued ? lost.requeued : lost.failed);
  }
  send_cancel(node, std::move(unlisted));  // if it has them after all, it stops them
  n.suspect = true;
  return lost;
}

void Scheduler::credit(PeerId node, std::uint32_t slots, std::uint32_t executors) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  it->second.slots = slots;
  if (executors != it->second.executors) {
    update_node(it->second, it->second.running, executors);
    capacity_changed_ = true;
  }
}

std::string Scheduler::node_name(PeerId node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? "?" : it->second.name;
}

std::string Scheduler::client_name(PeerId client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? "?" : it->second.name;
}

}  // namespace dpool::internal
