#include "scheduler.hpp"

#include <algorithm>

namespace dpool::internal {

void Scheduler::client_joined(PeerId client, std::string name) {
  clients_[client].name = std::move(name);
  capacity_changed_ = true;  // tell the newcomer the cluster's size
}

void Scheduler::client_left(PeerId client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  for (auto& [prio, q] : it->second.queue)
    for (auto id : q) {
      tasks_.erase(id);
      --queued_;
      ++stats_.dropped;
    }
  std::map<PeerId, std::vector<std::uint64_t>> to_cancel;
  for (auto id : it->second.running) {
    auto t = tasks_.find(id);
    if (t == tasks_.end()) continue;
    to_cancel[t->second.node].push_back(id);
    nodes_[t->second.node].running.erase(id);
    tasks_.erase(t);
    ++stats_.dropped;
  }
  for (auto& [node, ids] : to_cancel) send_cancel(node, std::move(ids));
  clients_.erase(it);
  std::erase(ready_clients_, client);
}

void Scheduler::node_joined(PeerId node, std::string name, std::uint32_t executors,
                            std::uint32_t slots) {
  auto& n = nodes_[node];
  n.name = std::move(name);
  executors_ += executors - n.executors;
  n.executors = executors;
  n.slots = slots;
  capacity_changed_ = true;
}

void Scheduler::node_left(PeerId node) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  executors_ -= it->second.executors;
  for (auto id : it->second.running) {
    auto& t = tasks_.at(id);
    clients_[t.client].running.erase(id);
    t.node = 0;
    ++t.spec.attempt;
    ++stats_.requeued;
    enqueue(id, true);
  }
  nodes_.erase(it);
  capacity_changed_ = true;
}

void Scheduler::submit(PeerId client, std::vector<wire::Task>&& tasks, Frames&& payloads) {
  if (!clients_.contains(client)) return;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto id = next_id_++;
    auto& t = tasks_[id];
    t.client = client;
    t.client_id = tasks[i].id;
    t.spec = std::move(tasks[i]);
    t.spec.id = id;
    t.args = std::move(payloads[i]);
    enqueue(id, false);
  }
  stats_.submitted += tasks.size();
}

void Scheduler::enqueue(std::uint64_t id, bool front) {
  auto& t = tasks_.at(id);
  auto& c = clients_[t.client];
  auto& q = c.queue[t.spec.priority];
  front ? q.push_front(id) : q.push_back(id);
  if (c.queued++ == 0) ready_clients_.push_back(t.client);
  ++queued_;
}

std::uint64_t Scheduler::pop_task(ClientRec& client) {
  auto level = client.queue.begin();
  auto id = level->second.front();
  level->second.pop_front();
  if (level->second.empty()) client.queue.erase(level);
  --client.queued;
  --queued_;
  return id;
}

void Scheduler::pump() {
  // One task per node with free credit per pass, so a short queue spreads
  // over every node before any node gets a second task.
  for (bool progress = true; progress && !ready_clients_.empty();) {
    progress = false;
    for (auto& [node_id, node] : nodes_) {
      if (ready_clients_.empty()) break;
      if (node.running.size() >= node.slots) continue;
      PeerId client_id = ready_clients_.front();
      ready_clients_.pop_front();
      auto& client = clients_[client_id];
      auto id = pop_task(client);
      if (client.queued > 0) ready_clients_.push_back(client_id);
      auto& t = tasks_.at(id);
      t.node = node_id;
      node.running.insert(id);
      client.running.insert(id);
      auto& env = batch(dispatch_index_, node_id, wire::Kind::kDispatch);
      std::get<wire::TaskBatch>(env.body).tasks.push_back(t.spec);
      zmq::message_t copy;
      copy.copy(t.args);  // shares large buffers; kept for a re-run elsewhere
      env.payloads.push_back(std::move(copy));
      ++stats_.dispatched;
      progress = true;
    }
  }
}

void Scheduler::results(PeerId node, std::vector<wire::Result>&& results, Frames&& payloads) {
  auto n = nodes_.find(node);
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto it = tasks_.find(results[i].id);
    if (n == nodes_.end() || it == tasks_.end() || it->second.node != node) {
      ++stats_.stale_results;  // cancelled, or already re-run elsewhere
      continue;
    }
    n->second.running.erase(it->first);
    auto client = it->second.client;
    clients_[client].running.erase(it->first);
    results[i].id = it->second.client_id;
    tasks_.erase(it);
    ++stats_.completed;
    deliver(client, std::move(results[i]), std::move(payloads[i]));
  }
}

void Scheduler::deliver(PeerId client, wire::Result&& result, zmq::message_t&& payload) {
  auto& env = batch(deliver_index_, client, wire::Kind::kDeliver);
  std::get<wire::ResultBatch>(env.body).results.push_back(std::move(result));
  env.payloads.push_back(std::move(payload));
}

void Scheduler::credit(PeerId node, std::uint32_t slots, std::uint32_t executors) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  it->second.slots = slots;
  if (executors != it->second.executors) {
    executors_ += executors - it->second.executors;
    it->second.executors = executors;
    capacity_changed_ = true;
  }
}

void Scheduler::cancel(PeerId client, const wire::Cancel& cancel) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  auto& c = it->second;
  std::unordered_set<std::uint64_t> wanted(cancel.ids.begin(), cancel.ids.end());
  auto selected = [&](std::uint64_t id) {
    return cancel.all || wanted.contains(tasks_.at(id).client_id);
  };
  for (auto level = c.queue.begin(); level != c.queue.end();) {
    auto& q = level->second;
    for (auto i = q.begin(); i != q.end();) {
      if (!selected(*i)) {
        ++i;
        continue;
      }
      tasks_.erase(*i);
      i = q.erase(i);
      --c.queued;
      --queued_;
      ++stats_.dropped;
    }
    level = q.empty() ? c.queue.erase(level) : std::next(level);
  }
  if (c.queued == 0) std::erase(ready_clients_, client);
  if (!cancel.kill_running) return;
  std::map<PeerId, std::vector<std::uint64_t>> to_cancel;
  for (auto i = c.running.begin(); i != c.running.end();) {
    if (!selected(*i)) {
      ++i;
      continue;
    }
    auto& t = tasks_.at(*i);
    to_cancel[t.node].push_back(*i);
    nodes_[t.node].running.erase(*i);
    tasks_.erase(*i);
    i = c.running.erase(i);
    ++stats_.dropped;
  }
  for (auto& [node, ids] : to_cancel) send_cancel(node, std::move(ids));
}

void Scheduler::send_cancel(PeerId node, std::vector<std::uint64_t>&& ids) {
  wire::Cancel m;
  m.ids = std::move(ids);
  m.kill_running = true;
  outbox_.push_back(Envelope{node, wire::Kind::kCancel, std::move(m), {}});
}

Envelope& Scheduler::batch(std::unordered_map<PeerId, std::size_t>& index, PeerId to,
                           wire::Kind kind) {
  auto [it, fresh] = index.try_emplace(to, outbox_.size());
  if (fresh) {
    Envelope env{to, kind, {}, {}};
    if (kind == wire::Kind::kDispatch)
      env.body = wire::TaskBatch{};
    else
      env.body = wire::ResultBatch{};
    outbox_.push_back(std::move(env));
  }
  return outbox_[it->second];
}

std::vector<Envelope> Scheduler::take_outbox() {
  pump();
  if (capacity_changed_) {
    capacity_changed_ = false;
    for (auto& [id, c] : clients_)
      outbox_.push_back(Envelope{id, wire::Kind::kStatus,
                                 wire::Status{executors_, static_cast<std::uint32_t>(nodes_.size())},
                                 {}});
  }
  dispatch_index_.clear();
  deliver_index_.clear();
  return std::exchange(outbox_, {});
}

}  // namespace dpool::internal
