// The node's pool core: executors' lives (start, ready, done, died, recycled),
// deadlines, cancel, drain and shutdown. Placement is supervisor_placement.cpp.
#include "supervisor.hpp"

#include <algorithm>

namespace dpool::internal {
namespace {
constexpr unsigned kMaxFailedStarts = 3;
}  // namespace

Supervisor::Supervisor(Options options) : options_(std::move(options)) {
  options_.processes = std::max(1u, options_.processes);
  slots_.resize(options_.processes);
}

void Supervisor::start() {
  never_ready_ = slots_.size();
  for (Slot s = 0; s < slots_.size(); ++s) spawn(s);
  update_credit();
}

void Supervisor::spawn(Slot slot) {
  slots_[slot].state = State::kStarting;
  slots_[slot].pid = 0;
  slots_[slot].done = 0;
  slots_[slot].limit = options_.max_tasks_per_child;
  slots_[slot].generation = generation_;
  actions_.spawn.push_back(slot);
  ++stats_.spawned;
}

void Supervisor::pool_limit(std::uint64_t pool, unsigned max_tasks_per_child) {
  if (max_tasks_per_child) pool_limits_[pool] = max_tasks_per_child;
}

void Supervisor::tasks(std::vector<wire::Task>&& tasks, Payloads&& payloads, TimePoint now) {
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto id = tasks[i].id;
    if (tasks_.contains(id)) continue;  // sent again before our re-registration: have it
    auto& t = tasks_[id];
    t.spec = std::move(tasks[i]);
    t.args = std::make_shared<const Payload>(std::move(payloads[i]));
    queue_.push_back(id);
  }
  if (draining_) return drain();  // sent before the coordinator saw our zero credit
  pump(now);
}

void Supervisor::executor_ready(Slot slot, int pid, TimePoint now) {
  auto& s = slots_.at(slot);
  s.state = State::kReady;
  s.pid = pid;
  s.failed_starts = 0;
  settle_first_start(s);
  if (s.generation < generation_) {  // started before recycle(): replaced at once
    s.state = State::kRetiring;
    actions_.retire.push_back(slot);
  }
  pump(now);
}

void Supervisor::recycle() {
  ++generation_;
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    auto& s = slots_[slot];
    if (s.state != State::kReady) continue;  // starting ones retire when READY
    s.state = State::kRetiring;              // takes no more; replaced when it exits
    if (s.assigned.empty()) actions_.retire.push_back(slot);
  }
}

void Supervisor::executor_done(Slot slot, wire::Result&& result, Payload&& payload, TimePoint now) {
  auto& s = slots_.at(slot);
  if (s.assigned.empty() || s.assigned.front().id != result.id) {
    // Out of order: the executor does not follow the protocol. Replace it.
    actions_.kill.push_back(slot);
    return;
  }
  s.assigned.pop_front();
  s.front_since = now;  // the next one, if any, starts now
  if (!s.assigned.empty()) s.ahead_us = std::max(0.0, s.ahead_us - s.assigned.front().expected_us);
  ++s.done;
  double run = static_cast<double>(result.finished_us - result.started_us);
  mean_run_us_ = mean_run_us_ < 0 ? run : 0.8 * mean_run_us_ + 0.2 * run;
  if (auto it = tasks_.find(result.id); it != tasks_.end()) learn(it->second.spec.name, run);
  result.pid = static_cast<std::uint32_t>(s.pid);
  finish(result.id, std::move(result), std::move(payload));
  if (s.limit && s.done >= s.limit && s.state == State::kReady) {
    s.state = State::kRetiring;  // takes no more; exits when its socket closes
  }
  if (s.state == State::kRetiring && s.assigned.empty()) actions_.retire.push_back(slot);
  pump(now);
}

void Supervisor::executor_died(Slot slot, int signal, int exit_code, TimePoint now) {
  auto& s = slots_.at(slot);
  bool expected =
      s.state == State::kRetiring || s.state == State::kKilled || s.state == State::kDown;
  bool during_start = s.state == State::kStarting;
  if (s.state == State::kKilled) requeue_assigned(s);  // we killed it: nothing else failed
  if (!s.assigned.empty()) {
    auto running = s.assigned.front().id;
    s.assigned.pop_front();
    detail::Failure f;
    f.code = ErrorCode::kWorkerCrashed;
    f.signal = signal;
    f.exit_code = exit_code;
    auto it = tasks_.find(running);
    if (it != tasks_.end()) {
      ++stats_.crashed;
      auto& t = it->second;
      ++t.crashes;
      if (t.spec.attempt < t.spec.retries && t.crashes < options_.poison_crashes) {
        ++t.spec.attempt;  // retried on request; it goes first
        s.assigned.push_front(Assigned{running, -1});
      } else {
        if (t.crashes >= options_.poison_crashes && t.spec.retries > 0)
          f.message = "the task has killed " + std::to_string(t.crashes) +
                      " executors and is not retried again (a poison task)";
        fail(running, f, s.pid);
      }
    }
    requeue_assigned(s);  // the rest were only waiting on that executor
  }
  if (during_start && ++s.failed_starts >= kMaxFailedStarts && broken_.empty()) {
    broken_ =
        "every executor on node " + options_.node + " dies while starting (" +
        (signal ? "signal " + std::to_string(signal) : "exit code " + std::to_string(exit_code)) +
        "); if the node runs a program with --exec, its main() must begin with "
        "dpool::init(argc, argv)";
  }
  if (!broken_.empty()) {
    s.state = State::kDown;
    settle_first_start(s);  // it will not start: stop waiting for it
    fail_queue_if_none_alive(exit_code, signal);
  } else if (s.state != State::kDown || !expected) {
    if (!expected) ++stats_.respawned;
    spawn(slot);
  }
  pump(now);
}

// Puts a dead executor's tasks back at the front of the queue, in order,
// dropping the cancelled ones.
void Supervisor::requeue_assigned(SlotRec& s) {
  for (auto i = s.assigned.rbegin(); i != s.assigned.rend(); ++i) {
    auto t = tasks_.find(i->id);
    if (t == tasks_.end()) continue;
    if (t->second.cancelled)
      tasks_.erase(t);
    else
      queue_.push_front(i->id);
  }
  s.assigned.clear();
  s.ahead_us = 0;
}

void Supervisor::fail_queue_if_none_alive(int exit_code, int signal) {
  bool any_alive = std::any_of(slots_.begin(), slots_.end(),
                               [](const SlotRec& r) { return r.state != State::kDown; });
  if (any_alive) return;
  detail::Failure f;
  f.code = ErrorCode::kWorkerCrashed;
  f.message = broken_;
  f.exit_code = exit_code;
  f.signal = signal;
  for (auto id : std::exchange(queue_, {})) fail(id, f, 0);
}

void Supervisor::tick(TimePoint now) {
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    auto& s = slots_[slot];
    if (!running(s.state) || s.assigned.empty()) continue;
    auto it = tasks_.find(s.assigned.front().id);
    if (it == tasks_.end() || it->second.spec.timeout_ms == 0) continue;
    auto limit = std::chrono::milliseconds(it->second.spec.timeout_ms);
    if (now < s.front_since + limit) continue;
    detail::Failure f;
    f.code = ErrorCode::kTaskTimeout;
    f.message =
        "it ran longer than its timeout of " + std::to_string(it->second.spec.timeout_ms) + " ms";
    s.assigned.pop_front();
    fail(it->first, f, s.pid);
    s.state = State::kKilled;  // its death requeues the rest and respawns it
    actions_.kill.push_back(slot);
  }
}

std::optional<Supervisor::TimePoint> Supervisor::next_deadline() const {
  std::optional<TimePoint> next;
  for (auto& s : slots_) {
    if (!running(s.state) || s.assigned.empty()) continue;
    auto it = tasks_.find(s.assigned.front().id);
    if (it == tasks_.end() || it->second.spec.timeout_ms == 0) continue;
    auto at = s.front_since + std::chrono::milliseconds(it->second.spec.timeout_ms);
    if (!next || at < *next) next = at;
  }
  return next;
}

void Supervisor::cancel(const std::vector<std::uint64_t>& ids, bool kill_running) {
  for (auto id : ids) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) continue;
    it->second.cancelled = true;
    ++stats_.cancelled;
  }
  std::erase_if(queue_, [&](std::uint64_t id) {
    auto it = tasks_.find(id);
    if (it == tasks_.end() || !it->second.cancelled) return false;
    tasks_.erase(it);
    return true;
  });
  if (!kill_running) return;
  // Only the task at the front is running; one waiting behind it on the
  // executor is dropped when its result comes back.
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    auto& s = slots_[slot];
    if (s.assigned.empty()) continue;
    auto it = tasks_.find(s.assigned.front().id);
    if (it == tasks_.end() || !it->second.cancelled) continue;
    tasks_.erase(it);
    s.state = State::kKilled;
    actions_.kill.push_back(slot);  // its death requeues the others and respawns it
  }
}

void Supervisor::reset() {
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    auto& s = slots_[slot];
    if (s.assigned.empty()) continue;
    if (running(s.state)) {
      s.state = State::kKilled;
      actions_.kill.push_back(slot);
    }
  }
  tasks_.clear();  // the killed executors' deaths requeue nothing
  queue_.clear();
  advertised_ = 0;  // advertise our credit again to the new registration
  update_credit();
}

namespace {
wire::Result returned(std::uint64_t id) {
  wire::Result r;
  r.id = id;
  r.failure.code = wire::kReturned;
  return r;
}
}  // namespace

void Supervisor::drain() {
  draining_ = true;
  for (auto id : std::exchange(queue_, {})) {
    tasks_.erase(id);
    actions_.results.results.push_back(returned(id));
    actions_.result_payloads.emplace_back();
  }
  update_credit();
}

void Supervisor::abandon() {
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    auto& s = slots_[slot];
    for (auto& a : s.assigned) {
      if (!tasks_.erase(a.id)) continue;
      actions_.results.results.push_back(returned(a.id));
      actions_.result_payloads.emplace_back();
    }
    if (running(s.state) && !s.assigned.empty()) {
      s.state = State::kKilled;
      actions_.kill.push_back(slot);
    }
  }
  for (auto id : std::exchange(queue_, {})) {
    tasks_.erase(id);
    actions_.results.results.push_back(returned(id));
    actions_.result_payloads.emplace_back();
  }
}

void Supervisor::shutdown() {
  queue_.clear();
  tasks_.clear();
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].state != State::kDown) actions_.kill.push_back(slot);
    slots_[slot].state = State::kDown;
    slots_[slot].assigned.clear();
    slots_[slot].ahead_us = 0;
  }
}

void Supervisor::settle_first_start(SlotRec& s) {
  if (s.was_ready) return;
  s.was_ready = true;
  --never_ready_;
}

void Supervisor::finish(std::uint64_t id, wire::Result&& result, Payload&& payload) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  if (it->second.cancelled) {  // nobody waits for it any more
    tasks_.erase(it);
    return;
  }
  result.node = options_.node;
  result.attempts = it->second.spec.attempt + 1;
  tasks_.erase(it);
  ++stats_.completed;
  actions_.results.results.push_back(std::move(result));
  actions_.result_payloads.push_back(std::move(payload));
}

void Supervisor::fail(std::uint64_t id, const detail::Failure& failure, int pid) {
  wire::Result r;
  r.id = id;
  r.failure = failure;
  r.pid = static_cast<std::uint32_t>(pid);
  finish(id, std::move(r), Payload());
}

std::vector<std::uint64_t> Supervisor::held() const {
  std::vector<std::uint64_t> ids;
  ids.reserve(tasks_.size());
  for (auto& [id, t] : tasks_)
    if (!t.cancelled) ids.push_back(id);
  return ids;
}

std::optional<std::uint64_t> Supervisor::running_task(Slot slot) const {
  auto& s = slots_.at(slot);
  if (!running(s.state) || s.assigned.empty() || !tasks_.contains(s.assigned.front().id))
    return std::nullopt;
  return s.assigned.front().id;
}

Supervisor::Actions Supervisor::take_actions() {
  return std::exchange(actions_, {});
}

}  // namespace dpool::internal
