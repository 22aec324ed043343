#include "scheduler.hpp"

#include <algorithm>

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

std::string Scheduler::node_name(PeerId node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? "?" : it->second.name;
}

std::string Scheduler::client_name(PeerId client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? "?" : it->second.name;
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

void Scheduler::end_process(std::uint64_t id, const detail::Failure& failure) {
  auto& t = tasks_.at(id);
  if (t.node == 0) std::erase(waiting_processes_, id);
  wire::Result r;
  r.id = t.client_id;
  r.attempts = 1;
  r.failure = failure;
  auto client = t.client;
  forget(id);
  deliver(client, std::move(r), Payload());
}

void Scheduler::signal(PeerId client, const wire::Signal& signal) {
  auto c = clients_.find(client);
  if (c == clients_.end()) return;
  std::map<PeerId, std::vector<std::uint64_t>> to_signal;
  for (auto cid : signal.ids) {
    auto f = c->second.ids.find(cid);
    if (f == c->second.ids.end()) continue;  // ended already
    auto& t = tasks_.at(f->second);
    if (t.spec.process.empty()) continue;  // a pool task is cancelled, not signalled
    if (t.node) {
      to_signal[t.node].push_back(f->second);
      continue;
    }
    detail::Failure killed;
    killed.code = ErrorCode::kWorkerCrashed;
    killed.signal = signal.signal;
    killed.message = "Process " + t.spec.process + " was sent signal " +
                     std::to_string(signal.signal) + " before any node started it";
    end_process(f->second, killed);
  }
  for (auto& [node, ids] : to_signal)
    outbox_.push_back(Envelope{node, {wire::Signal{std::move(ids), signal.signal}}});
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

void Scheduler::credit(PeerId node, std::uint32_t slots, std::uint32_t executors) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  it->second.slots = slots;
  if (executors != it->second.executors) {
    update_node(it->second, it->second.running, executors);
    capacity_changed_ = true;
  }
}

void Scheduler::cancel(PeerId client, const wire::Cancel& cancel) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  auto& c = it->second;
  std::vector<std::uint64_t> selected, refused;
  if (cancel.all) {
    for (auto& [cid, id] : c.ids) selected.push_back(id);
  } else {
    for (auto cid : cancel.ids) {
      auto f = c.ids.find(cid);
      if (f == c.ids.end())
        refused.push_back(cid);  // finished already, or unknown
      else
        selected.push_back(f->second);
    }
  }
  std::map<PeerId, std::vector<std::uint64_t>> to_stop;
  for (auto id : selected) {
    auto& t = tasks_.at(id);
    const bool process = !t.spec.process.empty();
    if (t.node == 0) {
      if (process) {
        std::erase(waiting_processes_, id);
      } else {
        --c.queued;
        --queued_;
      }
    } else if (cancel.kill_running) {
      to_stop[t.node].push_back(id);
      auto& n = nodes_[t.node];
      if (process)
        --n.processes;
      else
        update_node(n, n.running - 1, n.executors);
    } else {
      refused.push_back(t.client_id);
      continue;
    }
    if (cancel.request) {
      wire::Result r;
      r.id = t.client_id;
      r.failure.code = ErrorCode::kCancelled;
      r.failure.message =
          t.node ? "stopped while running, on request" : "cancelled before it started";
      deliver(client, std::move(r), Payload());
    }
    forget(id);
    ++stats_.dropped;
  }
  if (c.queued == 0) {
    c.queue.clear();
    std::erase(ready_clients_, client);
  }
  for (auto& [node, ids] : to_stop) send_cancel(node, std::move(ids));
  if (cancel.request) {
    wire::Cancel answer;
    answer.request = cancel.request;
    answer.ids = std::move(refused);
    outbox_.push_back(Envelope{client, {std::move(answer)}});
  }
}

void Scheduler::forget(std::uint64_t id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  auto c = clients_.find(it->second.client);
  if (c != clients_.end()) c->second.ids.erase(it->second.client_id);
  tasks_.erase(it);
}

void Scheduler::send_cancel(PeerId node, std::vector<std::uint64_t>&& ids) {
  wire::Cancel m;
  m.ids = std::move(ids);
  m.kill_running = true;
  outbox_.push_back(Envelope{node, {std::move(m)}});
}

template <class B>
Envelope& Scheduler::batch(std::unordered_map<PeerId, std::size_t>& index, PeerId to) {
  auto [it, fresh] = index.try_emplace(to, outbox_.size());
  if (fresh) outbox_.push_back(Envelope{to, {B{}}});
  return outbox_[it->second];
}

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

void Scheduler::record_failure(const TaskRec& task, const std::string& node,
                               const detail::Failure& f) {
  if (failures_.size() == kFailuresKept) failures_.pop_front();
  failures_.push_back({task.spec.name, node, f.code, f.message.substr(0, kFailureText), now_});
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
