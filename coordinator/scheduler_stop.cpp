// Stopping tasks on a client's word: CANCEL for pool tasks, SIGNAL for
// Processes, and the result of a Process that ends before a node ran it.
#include <map>
#include <vector>

#include "scheduler.hpp"

namespace dpool::internal {

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

void Scheduler::send_cancel(PeerId node, std::vector<std::uint64_t>&& ids) {
  wire::Cancel m;
  m.ids = std::move(ids);
  m.kill_running = true;
  outbox_.push_back(Envelope{node, {std::move(m)}});
}

}  // namespace dpool::internal
