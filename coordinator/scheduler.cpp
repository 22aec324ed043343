// The scheduler's task flow: submissions queued per client, dispatch to nodes
// within their credit, work taken back from busy nodes, results delivered.
#include "scheduler.hpp"

#include <algorithm>

namespace dpool::internal {

bool Scheduler::lose(std::uint64_t id, const std::string& node, const std::string& why) {
  auto& t = tasks_.at(id);
  t.node = 0;
  if (!t.spec.process.empty()) {
    detail::Failure f;
    f.code = ErrorCode::kWorkerLost;
    f.message = "node " + node + " " + why + " while Process " + t.spec.process +
                " ran there; a Process is never started a second time";
    end_process(id, f);
    return false;
  }
  ++t.spec.attempt;
  unsigned limit = t.spec.retries ? t.spec.retries : node_loss_retries_;
  if (t.spec.attempt > limit) {
    wire::Result r;
    r.id = t.client_id;
    r.attempts = t.spec.attempt;
    r.failure.code = ErrorCode::kWorkerLost;
    r.failure.message = "node " + node + " " + why + " while running it, " +
                        std::to_string(t.spec.attempt) + " time(s): past its retry limit of " +
                        std::to_string(limit);
    auto client = t.client;
    record_failure(t, node, r.failure);
    forget(id);
    deliver(client, std::move(r), Payload());
    ++totals_.done;
    ++totals_.failed;
    if (auto c = clients_.find(client); c != clients_.end()) ++c->second.done;
    return false;
  }
  ++stats_.requeued;
  enqueue(id, true);
  return true;
}

void Scheduler::dispatched_to(NodeRec& node, TaskRec& t, wire::Dispatch& message) {
  if (message.seq == 0) message.seq = ++node.sent_seq;  // the first task of this message
  t.dispatch_seq = message.seq;
  t.listed_at = {};
  if (node.transit.empty() || node.transit.back().seq != message.seq)
    node.transit.push_back({message.seq, 0, 0, {}});
  ++node.transit.back().tasks;
  node.transit.back().bytes += t.args.size();
  ++node.in_transit;
}

void Scheduler::submit(PeerId client, std::vector<wire::Task>&& tasks, Payloads&& payloads) {
  auto found = clients_.find(client);
  if (found == clients_.end()) return;
  auto& c = found->second;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const bool process = !tasks[i].process.empty();  // outside the queue and its bound
    if (!process && queued_ >= max_queued_) {
      wire::Result r;
      r.id = tasks[i].id;
      r.failure.code = ErrorCode::kQueueFull;
      r.failure.message = "the coordinator already holds " + std::to_string(queued_) +
                          " queued tasks, its limit (--max-queued); wait for results before "
                          "submitting more, or lower the client's max_in_flight";
      deliver(client, std::move(r), Payload());
      continue;
    }
    auto id = next_id_++;
    auto& t = tasks_[id];
    t.client = client;
    t.client_id = tasks[i].id;
    t.spec = std::move(tasks[i]);
    t.spec.id = id;
    t.spec.pool = process ? 0 : c.pool.key;  // a Process runs no pool initializer
    t.args = std::move(payloads[i]);
    c.ids[t.client_id] = id;
    if (process)
      waiting_processes_.push_back(id);
    else
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
  for (;;) {
    auto level = client.queue.begin();
    auto id = level->second.front();
    level->second.pop_front();
    if (level->second.empty()) client.queue.erase(level);
    if (!tasks_.contains(id)) continue;  // cancelled while queued
    --client.queued;
    --queued_;
    return id;
  }
}

void Scheduler::pump() {
  // Idle executors first, across nodes: no node holds a task ahead while
  // another node has an executor with nothing to do. Then what each node may
  // hold ahead (its prefetch, in its credit). One task per node per pass, so
  // a short queue spreads over every node before any node gets a second.
  place_processes();
  fill([](const NodeRec& n) { return std::min<std::size_t>(n.slots, n.executors); });
  fill([](const NodeRec& n) { return std::size_t{n.slots}; });
  reclaim();
}

template <class Limit>
void Scheduler::fill(Limit limit) {
  for (bool progress = true; progress && !ready_clients_.empty();) {
    progress = false;
    for (auto& [node_id, node] : nodes_) {
      if (ready_clients_.empty()) break;
      if (node.suspect || node.running >= limit(node)) continue;
      dispatch_one(node_id, node);
      progress = true;
    }
  }
}

void Scheduler::place_processes() {
  while (!waiting_processes_.empty()) {
    // A node that takes tasks (a draining one advertises no slots), the one
    // with the least work per executor.
    NodeRec* best = nullptr;
    PeerId best_id = 0;
    double best_load = 0;
    for (auto& [node_id, node] : nodes_) {
      if (node.slots == 0 || node.executors == 0 || node.suspect) continue;
      double load = static_cast<double>(node.running + node.processes) / node.executors;
      if (!best || load < best_load) {
        best = &node;
        best_id = node_id;
        best_load = load;
      }
    }
    if (!best) return;  // they wait for a node
    auto id = waiting_processes_.front();
    waiting_processes_.pop_front();
    auto& t = tasks_.at(id);
    t.node = best_id;
    ++best->processes;
    auto& env = batch<wire::Dispatch>(dispatch_index_, best_id);
    auto& out = std::get<wire::Dispatch>(env.message.body);
    dispatched_to(*best, t, out);
    out.tasks.push_back(t.spec);
    env.message.payloads.push_back(t.args.share());
    ++stats_.dispatched;
  }
}

void Scheduler::dispatch_one(PeerId node_id, NodeRec& node) {
  PeerId client_id = ready_clients_.front();
  ready_clients_.pop_front();
  auto& client = clients_[client_id];
  auto id = pop_task(client);
  if (client.queued > 0) ready_clients_.push_back(client_id);
  auto& t = tasks_.at(id);
  t.node = node_id;
  t.dispatched = now_;
  t.dispatch = next_dispatch_++;
  dispatch_order_.emplace_back(t.dispatch, id);
  update_node(node, node.running + 1, node.executors);
  auto& env = batch<wire::Dispatch>(dispatch_index_, node_id);
  auto& out = std::get<wire::Dispatch>(env.message.body);
  dispatched_to(node, t, out);
  out.tasks.push_back(t.spec);
  if (t.spec.pool && node.pools.insert(t.spec.pool).second) out.pools.push_back(client.pool);
  // Large arguments are shared, not copied; ours are kept for a re-run elsewhere.
  env.message.payloads.push_back(t.args.share());
  ++stats_.dispatched;
}

// Nothing is queued here, some node has an idle executor, and another holds
// more tasks than it has executors: some of those have not started and would
// wait there behind running ones. Ask for them back (work stealing that
// cannot run a task twice: the node hands back only tasks it has not started,
// and says which).
void Scheduler::reclaim() {
  if (queued_ > 0 || idle_executors_ == 0 || holding_nodes_ == 0) return;
  std::size_t want = idle_executors_;
  for (auto& [node_id, node] : nodes_) {
    if (want == 0) break;
    if (!node.holding() || node.reclaiming || node.spent) continue;
    auto count = std::min(want, node.running - node.executors);
    want -= count;
    node.reclaiming = true;
    ++stats_.reclaims;
    outbox_.push_back(Envelope{node_id, {wire::Reclaim{static_cast<std::uint32_t>(count)}}});
  }
}

void Scheduler::returned(PeerId node, const std::vector<std::uint64_t>& ids) {
  auto n = nodes_.find(node);
  if (n == nodes_.end()) return;
  n->second.reclaiming = false;
  n->second.spent = ids.empty();
  for (auto id : ids) {
    auto it = tasks_.find(id);
    if (it == tasks_.end() || it->second.node != node) continue;  // cancelled, or not there
    it->second.node = 0;
    update_node(n->second, n->second.running - 1, n->second.executors);
    enqueue(id, true);
    ++stats_.reclaimed;
  }
}

void Scheduler::update_node(NodeRec& node, std::size_t running, std::uint32_t executors) {
  idle_executors_ -= node.idle();
  holding_nodes_ -= node.holding();
  executors_ += executors - node.executors;
  node.running = running;
  node.executors = executors;
  idle_executors_ += node.idle();
  holding_nodes_ += node.holding();
}

void Scheduler::results(PeerId node, std::vector<wire::Result>&& results, Payloads&& payloads) {
  auto n = nodes_.find(node);
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto it = tasks_.find(results[i].id);
    if (n == nodes_.end() || it == tasks_.end() || it->second.node != node) {
      ++stats_.stale_results;  // cancelled, or already re-run elsewhere
      continue;
    }
    auto client = it->second.client;
    n->second.suspect = false;  // it answers
    if (!it->second.spec.process.empty()) {
      results[i].id = it->second.client_id;
      if (results[i].failure.code != wire::kStarted) {  // it ended
        --n->second.processes;
        forget(it->first);
        ++stats_.completed;
      }
      deliver(client, std::move(results[i]), std::move(payloads[i]));
      continue;
    }
    update_node(n->second, n->second.running - 1, n->second.executors);
    n->second.spent = false;                           // what it holds has changed
    if (results[i].failure.code == wire::kReturned) {  // handed back unstarted: run elsewhere
      it->second.node = 0;
      enqueue(it->first, true);
      ++stats_.requeued;
      continue;
    }
    results[i].id = it->second.client_id;
    bool failed = results[i].failure.code != ErrorCode::kNone;
    bool rerun = it->second.spec.attempt > 0;
    for (auto* c : {&n->second.counts, &totals_}) {
      ++c->done;
      c->failed += failed;
      c->retried += rerun;
    }
    if (auto c = clients_.find(client); c != clients_.end()) ++c->second.done;
    if (failed) record_failure(it->second, n->second.name, results[i].failure);
    forget(it->first);
    ++stats_.completed;
    deliver(client, std::move(results[i]), std::move(payloads[i]));
  }
}

void Scheduler::deliver(PeerId client, wire::Result&& result, Payload&& payload) {
  auto& env = batch<wire::Deliver>(deliver_index_, client);
  std::get<wire::Deliver>(env.message.body).results.push_back(std::move(result));
  env.message.payloads.push_back(std::move(payload));
}

void Scheduler::forget(std::uint64_t id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  auto c = clients_.find(it->second.client);
  if (c != clients_.end()) c->second.ids.erase(it->second.client_id);
  tasks_.erase(it);
}

template <class B>
Envelope& Scheduler::batch(std::unordered_map<PeerId, std::size_t>& index, PeerId to) {
  auto [it, fresh] = index.try_emplace(to, outbox_.size());
  if (fresh) outbox_.push_back(Envelope{to, {B{}}});
  return outbox_[it->second];
}

void Scheduler::record_failure(const TaskRec& task, const std::string& node,
                               const detail::Failure& f) {
  if (failures_.size() == kFailuresKept) failures_.pop_front();
  failures_.push_back({task.spec.name, node, f.code, f.message.substr(0, kFailureText), now_});
}

std::vector<Envelope> Scheduler::take_outbox() {
  pump();
  trim_dispatch_order();
  if (capacity_changed_) {
    capacity_changed_ = false;
    for (auto& [id, c] : clients_)
      outbox_.push_back(
          Envelope{id, {wire::Status{executors_, static_cast<std::uint32_t>(nodes_.size())}}});
  }
  dispatch_index_.clear();
  deliver_index_.clear();
  return std::exchange(outbox_, {});
}

}  // namespace dpool::internal
