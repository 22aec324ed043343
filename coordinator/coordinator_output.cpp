// What nodes' tasks printed (OUTPUT), forwarded to the clients that
// submitted them and asked for it, within a byte budget per node.
#include <chrono>
#include <unordered_map>

#include "coordinator_server.hpp"

namespace dpool::internal {

void CoordinatorServer::on(PeerId peer, wire::Output&& output) {
  // Four times what an honest node sends at most (TaskOutput's limits):
  // more is refused and counted, not forwarded.
  constexpr double kBytesPerSecond = 4 << 20;
  auto now = std::chrono::steady_clock::now();
  auto& node = peers_.at(peer);
  if (!node.output_budget) node.output_budget.emplace(kBytesPerSecond, 2 * kBytesPerSecond, now);
  double bytes = 0;
  for (auto& l : output.lines) bytes += static_cast<double>(l.text.size());
  if (!node.output_budget->take(bytes, now))
    return refuse(peer, "task output beyond 4 MiB a second; dropped", false);
  std::unordered_map<PeerId, wire::Output> to;
  for (auto& l : output.lines) {
    auto task = scheduler_.running_on(peer, l.task);
    if (!task) continue;  // cancelled or lost meanwhile: nobody waits for it
    auto client = peers_.find(task->client_peer);
    if (client == peers_.end() || !client->second.output) continue;
    auto& out = to[task->client_peer];
    if (out.node.empty()) out.node = task->node;
    l.task = task->client_id;
    out.lines.push_back(std::move(l));
  }
  // Sent now, so ahead of the results that follow (DELIVER leaves at the flush).
  for (auto& [client, out] : to) send(client, {std::move(out)});
}

}  // namespace dpool::internal
