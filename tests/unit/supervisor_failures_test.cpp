// Failure handling of a node's supervisor (worker/supervisor.hpp), row by
// row: what it does on timeouts, crashes, poison tasks, drain, abandon and
// reset. Time is a fake clock (TimePoint{} + offsets); nothing sleeps. The
// coordinator's side of failures is in scheduler_failures_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "payloads.hpp"
#include "supervisor.hpp"
#include "text.hpp"
#include "vector_printing.hpp"

namespace {

using namespace dpool::internal;
using namespace std::chrono_literals;
using dpool::ErrorCode;
using test_support::payload;
using test_support::str;

using test_support::contains;

using Slot = Supervisor::Slot;
using Actions = Supervisor::Actions;
using RunMap = std::map<Slot, std::vector<std::uint64_t>>;

constexpr int kSigKill = 9;
constexpr int kSigSegv = 11;

// The fake clock: `t(ms)` is ms after an arbitrary origin.
Supervisor::TimePoint t(std::chrono::milliseconds ms) {
  return Supervisor::TimePoint{} + 1000ms + ms;
}

int pid_for(Slot slot, int generation = 0) {
  return 1000 + 100 * generation + static_cast<int>(slot);
}

Supervisor started(unsigned processes) {
  Supervisor s(Supervisor::Options{processes, 0, "node-x"});
  s.start();
  for (Slot i = 0; i < processes; ++i) s.executor_ready(i, pid_for(i), t(0ms));
  s.take_actions();
  return s;
}

struct Job {
  std::uint64_t id;
  std::uint32_t timeout_ms = 0;
  std::uint32_t retries = 0;
};

void give(Supervisor& s, std::vector<Job> jobs, Supervisor::TimePoint now) {
  std::vector<wire::Task> tasks;
  Payloads payloads;
  for (auto& j : jobs) {
    wire::Task task;
    task.id = j.id;
    task.name = "task";
    task.timeout_ms = j.timeout_ms;
    task.retries = j.retries;
    tasks.push_back(task);
    payloads.push_back(payload("args-" + std::to_string(j.id)));
  }
  s.tasks(std::move(tasks), std::move(payloads), now);
}

void done(Supervisor& s, Slot slot, std::uint64_t id, Supervisor::TimePoint now,
          std::int64_t run_us = 100) {
  wire::Result r;
  r.id = id;
  r.started_us = 1'000'000;
  r.finished_us = 1'000'000 + run_us;
  s.executor_done(slot, std::move(r), payload("out-" + std::to_string(id)), now);
}

RunMap runs(const Actions& a) {
  RunMap r;
  for (auto& [slot, batch] : a.run)
    for (auto& [task, args] : batch) r[slot].push_back(task.id);
  return r;
}

const wire::Result* result_for(const Actions& a, std::uint64_t id) {
  for (auto& r : a.results.results)
    if (r.id == id) return &r;
  return nullptr;
}

std::vector<std::uint64_t> result_ids(const Actions& a) {
  std::vector<std::uint64_t> ids;
  for (auto& r : a.results.results) ids.push_back(r.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

// ===========================================================================
// Timeouts

TEST_CASE("tick fails a running task past its timeout with TaskTimeout and kills its executor") {
  auto s = started(2);
  give(s, {{1, 100}, {2, 300}}, t(0ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}, {1, {2}}});
  REQUIRE(s.next_deadline().has_value());
  CHECK(*s.next_deadline() == t(100ms));

  s.tick(t(99ms));
  CHECK(s.take_actions().empty());

  s.tick(t(100ms));
  auto a = s.take_actions();
  CHECK(a.kill == std::vector<Slot>{0});
  REQUIRE(a.results.results.size() == 1);
  auto& r = a.results.results[0];
  CHECK(r.id == 1);
  CHECK(r.failure.code == ErrorCode::kTaskTimeout);
  CHECK(contains(r.failure.message, "100 ms"));
  CHECK(r.node == "node-x");
  CHECK(r.pid == static_cast<std::uint32_t>(pid_for(0)));
  // Only the other task's deadline is left.
  REQUIRE(s.next_deadline().has_value());
  CHECK(*s.next_deadline() == t(300ms));
  // A second tick at the same time reports nothing new.
  s.tick(t(100ms));
  CHECK(s.take_actions().empty());
}

TEST_CASE("next_deadline is the earliest deadline over all executors, none without timeouts") {
  auto s = started(3);
  CHECK_FALSE(s.next_deadline().has_value());
  give(s, {{1, 0}}, t(0ms));
  CHECK_FALSE(s.next_deadline().has_value());
  give(s, {{2, 500}}, t(10ms));
  give(s, {{3, 200}}, t(20ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}, {1, {2}}, {2, {3}}});
  REQUIRE(s.next_deadline().has_value());
  CHECK(*s.next_deadline() == t(220ms));
  done(s, 2, 3, t(50ms));
  REQUIRE(s.next_deadline().has_value());
  CHECK(*s.next_deadline() == t(510ms));
}

TEST_CASE("a task's timeout starts when it reaches the front of its executor, not when queued") {
  auto s = started(1);
  give(s, {{1, 100}, {2, 100}}, t(0ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});
  done(s, 0, 1, t(80ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {2}}});
  REQUIRE(s.next_deadline().has_value());
  CHECK(*s.next_deadline() == t(180ms));
  s.tick(t(150ms));
  CHECK(s.take_actions().results.results.empty());
  s.tick(t(180ms));
  auto a = s.take_actions();
  REQUIRE(result_for(a, 2) != nullptr);
  CHECK(result_for(a, 2)->failure.code == ErrorCode::kTaskTimeout);
}

TEST_CASE("a timed-out executor's death reports no crash and reruns the tasks prefetched behind") {
  auto s = started(1);
  // Measure a short task so that several tasks are prefetched onto the executor.
  give(s, {{999}}, t(0ms));
  done(s, 0, 999, t(1ms), 100);
  REQUIRE(s.take_actions().results.results.size() == 1);

  give(s, {{1, 50}, {2, 50}, {3, 50}}, t(10ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1, 2, 3}}});
  s.tick(t(60ms));
  auto a = s.take_actions();
  CHECK(a.kill == std::vector<Slot>{0});
  CHECK(result_ids(a) == std::vector<std::uint64_t>{1});
  CHECK(result_for(a, 1)->failure.code == ErrorCode::kTaskTimeout);

  s.executor_died(0, kSigKill, -1, t(61ms));
  a = s.take_actions();
  CHECK(a.results.results.empty());  // no WorkerCrashed for anyone
  CHECK(a.spawn == std::vector<Slot>{0});
  CHECK(s.stats().crashed == 0);
  CHECK(s.unfinished() == 2);

  s.executor_ready(0, pid_for(0, 1), t(70ms));
  a = s.take_actions();
  CHECK(runs(a) == RunMap{{0, {2, 3}}});
  // Task 2's timeout restarts with the new executor.
  REQUIRE(s.next_deadline().has_value());
  CHECK(*s.next_deadline() == t(120ms));

  done(s, 0, 2, t(80ms));
  done(s, 0, 3, t(90ms));
  a = s.take_actions();
  REQUIRE(a.results.results.size() == 2);
  for (auto& r : a.results.results) {
    CHECK(r.failure.code == ErrorCode::kNone);
    CHECK(r.attempts == 1);
    CHECK(r.pid == static_cast<std::uint32_t>(pid_for(0, 1)));
  }
  CHECK(s.unfinished() == 0);
}

// ===========================================================================
// Crashes, retries and poison tasks

TEST_CASE("a task with retries 5 that kills its executor twice fails as a poison task") {
  auto s = started(1);
  give(s, {{1, 0, 5}}, t(0ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});

  s.executor_died(0, kSigSegv, -1, t(10ms));
  auto a = s.take_actions();
  CHECK(a.results.results.empty());  // retried
  CHECK(a.spawn == std::vector<Slot>{0});
  s.executor_ready(0, pid_for(0, 1), t(20ms));
  a = s.take_actions();
  REQUIRE(a.run.size() == 1);
  REQUIRE(a.run[0].second.size() == 1);
  CHECK(a.run[0].second[0].first.id == 1);
  CHECK(a.run[0].second[0].first.attempt == 1);

  s.executor_died(0, kSigSegv, -1, t(30ms));
  a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  auto& r = a.results.results[0];
  CHECK(r.id == 1);
  CHECK(r.failure.code == ErrorCode::kWorkerCrashed);
  CHECK(r.failure.signal == kSigSegv);
  CHECK(contains(r.failure.message, "poison"));
  CHECK(r.attempts == 2);
  CHECK(r.pid == static_cast<std::uint32_t>(pid_for(0, 1)));
  CHECK(s.stats().crashed == 2);
  CHECK(s.unfinished() == 0);
  // The executor itself is replaced, but the task is not run a third time.
  s.executor_ready(0, pid_for(0, 2), t(40ms));
  CHECK(s.take_actions().run.empty());
}

TEST_CASE("a task with retries 1 that crashes once runs again and reports attempts 2") {
  auto s = started(1);
  give(s, {{1, 0, 1}}, t(0ms));
  s.take_actions();
  s.executor_died(0, kSigSegv, -1, t(10ms));
  auto a = s.take_actions();
  CHECK(a.results.results.empty());
  s.executor_ready(0, pid_for(0, 1), t(20ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});
  done(s, 0, 1, t(30ms));
  a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  auto& r = a.results.results[0];
  CHECK(r.id == 1);
  CHECK(r.failure.code == ErrorCode::kNone);
  CHECK(r.attempts == 2);
  REQUIRE(a.result_payloads.size() == 1);
  CHECK(str(a.result_payloads[0]) == "out-1");
}

TEST_CASE("a task without retries that crashes fails at once with WorkerCrashed, not as poison") {
  auto s = started(1);
  give(s, {{1}}, t(0ms));
  s.take_actions();
  s.executor_died(0, kSigSegv, -1, t(10ms));
  auto a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  CHECK(a.results.results[0].failure.code == ErrorCode::kWorkerCrashed);
  CHECK_FALSE(contains(a.results.results[0].failure.message, "poison"));
  CHECK(a.results.results[0].attempts == 1);
}

// ===========================================================================
// Drain and abandon

TEST_CASE(
    "drain hands queued tasks back as Returned, drops credit to zero, lets running ones finish") {
  auto s = started(2);
  give(s, {{1}, {2}, {3}, {4}}, t(0ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}, {1, {2}}});

  s.drain();
  CHECK(s.draining());
  auto a = s.take_actions();
  CHECK(result_ids(a) == std::vector<std::uint64_t>{3, 4});
  for (auto& r : a.results.results) CHECK(r.failure.code == wire::kReturned);
  CHECK(a.result_payloads.size() == 2);
  REQUIRE(a.credit.has_value());
  CHECK(a.credit->slots == 0);
  CHECK(a.kill.empty());
  CHECK(s.queued() == 0);
  CHECK(s.unfinished() == 2);

  // Sent by the coordinator before it saw the zero credit: handed back too.
  give(s, {{5}, {6}}, t(5ms));
  a = s.take_actions();
  CHECK(a.run.empty());
  CHECK(result_ids(a) == std::vector<std::uint64_t>{5, 6});
  for (auto& r : a.results.results) CHECK(r.failure.code == wire::kReturned);
  CHECK((!a.credit || a.credit->slots == 0));

  // The running ones finish normally, and the executors get nothing new.
  done(s, 0, 1, t(10ms));
  done(s, 1, 2, t(11ms));
  a = s.take_actions();
  CHECK(result_ids(a) == std::vector<std::uint64_t>{1, 2});
  for (auto& r : a.results.results) CHECK(r.failure.code == ErrorCode::kNone);
  CHECK(a.run.empty());
  CHECK((!a.credit || a.credit->slots == 0));
  CHECK(s.unfinished() == 0);
}

TEST_CASE("abandon hands running tasks back as Returned and kills their executors") {
  auto s = started(3);
  give(s, {{1}, {2}, {3}, {4}}, t(0ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}, {1, {2}}, {2, {3}}});
  s.drain();
  CHECK(result_ids(s.take_actions()) == std::vector<std::uint64_t>{4});
  done(s, 2, 3, t(5ms));  // one finishes in the grace period
  CHECK(result_ids(s.take_actions()) == std::vector<std::uint64_t>{3});

  s.abandon();
  auto a = s.take_actions();
  CHECK(result_ids(a) == std::vector<std::uint64_t>{1, 2});
  for (auto& r : a.results.results) CHECK(r.failure.code == wire::kReturned);
  auto killed = a.kill;
  std::sort(killed.begin(), killed.end());
  CHECK(killed == std::vector<Slot>{0, 1});  // the idle executor is left alone
  CHECK(s.unfinished() == 0);

  // Their deaths report nothing more.
  s.executor_died(0, kSigKill, -1, t(10ms));
  s.executor_died(1, kSigKill, -1, t(10ms));
  a = s.take_actions();
  CHECK(a.results.results.empty());
  CHECK(s.stats().crashed == 0);
}

// ===========================================================================
// Reset

TEST_CASE(
    "reset kills running executors, reports nothing for the forgotten tasks, re-advertises "
    "credit") {
  auto s = started(2);
  give(s, {{1, 100}, {2}, {3}}, t(0ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}, {1, {2}}});

  s.reset();
  auto a = s.take_actions();
  auto killed = a.kill;
  std::sort(killed.begin(), killed.end());
  CHECK(killed == std::vector<Slot>{0, 1});
  CHECK(a.results.results.empty());
  REQUIRE(a.credit.has_value());
  CHECK(a.credit->slots > 0);
  CHECK(a.credit->executors == 2);
  CHECK(s.unfinished() == 0);
  CHECK(s.queued() == 0);
  CHECK_FALSE(s.next_deadline().has_value());

  // A result that raced the kill, then the deaths: nothing is reported.
  done(s, 0, 1, t(5ms));
  s.tick(t(500ms));
  s.executor_died(0, kSigKill, -1, t(10ms));
  s.executor_died(1, kSigKill, -1, t(10ms));
  a = s.take_actions();
  CHECK(a.results.results.empty());
  CHECK(s.stats().crashed == 0);
  auto spawned = a.spawn;
  std::sort(spawned.begin(), spawned.end());
  CHECK(spawned == std::vector<Slot>{0, 1});

  // Fresh executors run nothing old, and new tasks run normally.
  s.executor_ready(0, pid_for(0, 1), t(20ms));
  s.executor_ready(1, pid_for(1, 1), t(20ms));
  a = s.take_actions();
  CHECK(a.run.empty());
  CHECK(a.results.results.empty());
  give(s, {{1}}, t(30ms));
  a = s.take_actions();
  REQUIRE(a.run.size() == 1);
  done(s, a.run[0].first, 1, t(40ms));
  a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  CHECK(a.results.results[0].failure.code == ErrorCode::kNone);
  CHECK(a.results.results[0].attempts == 1);
}
