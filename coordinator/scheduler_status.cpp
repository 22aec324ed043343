// Read-only views of the scheduler for status reports and the dashboard, and
// the upkeep of the dispatch order that the longest-running view reads.
#include "scheduler.hpp"

namespace dpool::internal {

std::optional<Scheduler::Running> Scheduler::running_on(PeerId node, std::uint64_t id) const {
  auto t = tasks_.find(id);
  if (t == tasks_.end() || t->second.node != node) return std::nullopt;
  auto n = nodes_.find(node);
  auto c = clients_.find(t->second.client);
  if (n == nodes_.end() || c == clients_.end()) return std::nullopt;
  return Running{t->second.spec, c->second.name, n->second.name, t->second.client,
                 t->second.client_id};
}

std::vector<Scheduler::NodeLoad> Scheduler::node_loads() const {
  std::vector<NodeLoad> out;
  out.reserve(nodes_.size());
  for (auto& [id, n] : nodes_)
    out.push_back({id, n.name, n.executors, n.running, n.counts, n.processes});
  return out;
}

std::vector<Scheduler::ClientLoad> Scheduler::client_loads() const {
  std::vector<ClientLoad> out;
  out.reserve(clients_.size());
  for (auto& [id, c] : clients_)
    out.push_back({id, c.name, c.queued, c.ids.size() - c.queued, c.done});
  return out;
}

void Scheduler::trim_dispatch_order() {
  auto stale = [this](const std::pair<std::uint64_t, std::uint64_t>& e) {
    auto t = tasks_.find(e.second);
    return t == tasks_.end() || t->second.node == 0 || t->second.dispatch != e.first;
  };
  while (!dispatch_order_.empty() && stale(dispatch_order_.front())) dispatch_order_.pop_front();
  if (dispatch_order_.size() > 2 * running() + 64) std::erase_if(dispatch_order_, stale);
}

std::vector<Scheduler::Dispatched> Scheduler::longest_running(std::size_t n) const {
  std::vector<Dispatched> out;
  for (auto& [dispatch, id] : dispatch_order_) {
    if (out.size() == n) break;
    auto t = tasks_.find(id);
    if (t == tasks_.end() || t->second.node == 0 || t->second.dispatch != dispatch) continue;
    auto node = nodes_.find(t->second.node);
    auto client = clients_.find(t->second.client);
    out.push_back({t->second.spec.name, node == nodes_.end() ? "?" : node->second.name,
                   client == clients_.end() ? "?" : client->second.name, t->second.dispatched});
  }
  return out;
}

}  // namespace dpool::internal
