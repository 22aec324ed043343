// Which executor runs what, and when: idle executors first, write-ahead only
// for tasks known to be tiny, task durations learnt per name, the credit the
// node advertises, and queued tasks handed back to the coordinator.
#include <algorithm>
#include <cmath>

#include "supervisor.hpp"

namespace dpool::internal {
namespace {
constexpr double kBatchUs = 1000;  // aim for ~1 ms of work per executor hand-off
constexpr std::size_t kMaxDepth = 64;
constexpr double kLongTaskUs = 50'000;  // above this, no prefetch: balance matters more
constexpr double kLearnWeight = 0.3;    // of the latest run, in a name's moving average
}  // namespace

std::size_t Supervisor::depth() const {
  if (mean_run_us_ < 0) return 1;
  // While the pool's executors are first starting, a task prefetched by one
  // of them could not move to another once it is ready: until every one has
  // been ready once, each takes one task at a time (replacements later on do
  // not hold the others back).
  if (never_ready_ > 0) return 1;
  return std::clamp<std::size_t>(static_cast<std::size_t>(kBatchUs / std::max(mean_run_us_, 1.0)),
                                 1, kMaxDepth);
}

void Supervisor::pump(TimePoint now) {
  std::vector<std::vector<std::pair<wire::Task, Args>>> batches(slots_.size());
  auto taking = [&](const SlotRec& s) {
    return s.state == State::kReady && !(s.limit && s.done + s.assigned.size() >= s.limit);
  };
  // Idle executors first, round-robin: a task never waits behind a running
  // one while an executor has nothing to do.
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    auto& s = slots_[slot];
    if (!taking(s) || !s.assigned.empty()) continue;
    auto* t = next_queued();
    if (!t) break;
    assign(slot, *t, expected_us(t->spec.name).value_or(-1), now, batches);
  }
  // Then, one task per executor per pass, written ahead to executors that
  // are busy, so that tiny tasks go in batches: only tasks known to be short,
  // to executors whose work ahead is known to end soon (see may_write_ahead).
  // While some executor has yet to start once, nothing is written ahead: a
  // task written to one executor cannot move to a sibling ready a moment later.
  for (bool progress = never_ready_ == 0; progress;) {
    progress = false;
    for (Slot slot = 0; slot < slots_.size(); ++slot) {
      auto& s = slots_[slot];
      if (!taking(s) || s.assigned.empty() || s.assigned.size() >= kMaxDepth) continue;
      auto* t = next_queued();
      if (!t) break;
      auto expected = expected_us(t->spec.name);
      if (!expected || !may_write_ahead(s, *expected, now)) continue;
      assign(slot, *t, *expected, now, batches);
      progress = true;
    }
  }
  for (Slot slot = 0; slot < slots_.size(); ++slot)
    if (!batches[slot].empty()) actions_.run.emplace_back(slot, std::move(batches[slot]));
  if (!broken_.empty() && !queue_.empty()) fail_queue_if_none_alive(0, 0);
  update_credit();
}

Supervisor::TaskRec* Supervisor::next_queued() {
  while (!queue_.empty()) {
    auto it = tasks_.find(queue_.front());
    if (it != tasks_.end()) return &it->second;
    queue_.pop_front();  // cancelled while queued
  }
  return nullptr;
}

bool Supervisor::may_write_ahead(const SlotRec& s, double next_us, TimePoint now) const {
  double front_us = s.assigned.front().expected_us;
  if (front_us < 0) return false;  // the running task's length is unknown
  double elapsed_us = std::chrono::duration<double, std::micro>(now - s.front_since).count();
  double left_us = front_us - elapsed_us;
  // A task running longer than expected may run much longer still (the same
  // name, other arguments): nothing more goes behind it.
  if (left_us < 0) return false;
  return left_us + s.ahead_us + next_us <= kBatchUs;
}

void Supervisor::assign(Slot slot, TaskRec& t, double expected, TimePoint now,
                        std::vector<std::vector<std::pair<wire::Task, Args>>>& batches) {
  auto& s = slots_[slot];
  queue_.pop_front();
  if (s.assigned.empty())
    s.front_since = now;
  else
    s.ahead_us += std::max(0.0, expected);
  s.assigned.push_back(Assigned{t.spec.id, expected});
  if (t.spec.pool && !pool_limits_.empty())
    if (auto pool = pool_limits_.find(t.spec.pool); pool != pool_limits_.end())
      s.limit = s.limit ? std::min(s.limit, pool->second) : pool->second;
  batches[slot].emplace_back(t.spec, t.args);
}

void Supervisor::learn(const std::string& name, double run_us) {
  auto [it, fresh] = expected_us_.try_emplace(name, run_us);
  if (!fresh) it->second = (1 - kLearnWeight) * it->second + kLearnWeight * run_us;
}

std::optional<double> Supervisor::expected_us(const std::string& name) const {
  auto it = expected_us_.find(name);
  if (it == expected_us_.end()) return std::nullopt;
  return it->second;
}

void Supervisor::update_credit() {
  std::size_t per = mean_run_us_ >= kLongTaskUs ? 1 : depth() + 1;
  auto slots = draining_ ? 0u : static_cast<std::uint32_t>(options_.processes * per);
  if (slots != advertised_) {
    advertised_ = slots;
    actions_.credit = wire::Credit{slots, options_.processes};
  }
}

std::vector<std::uint64_t> Supervisor::reclaim(std::size_t max) {
  std::vector<std::uint64_t> ids;
  while (ids.size() < max && !queue_.empty()) {
    auto id = queue_.back();
    queue_.pop_back();
    if (tasks_.erase(id)) ids.push_back(id);  // else cancelled while queued
  }
  return ids;
}

}  // namespace dpool::internal
