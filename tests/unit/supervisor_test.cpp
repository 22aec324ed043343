// The node's pool supervisor (worker/supervisor.hpp), driven event by event:
// which executor gets which task, what a death does, and the actions the
// shell is told to take. Executors are slots; pids are numbers we choose.
#include "supervisor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "payloads.hpp"

namespace {

using namespace dpool::internal;
using Slot = Supervisor::Slot;
using Actions = Supervisor::Actions;
using test_support::payload;
using test_support::str;
using namespace std::chrono_literals;

constexpr int kSigKill = 9;
constexpr int kSigSegv = 11;

// The fake clock's time for every event: no task here has a timeout, so
// time does not matter (timeouts are in supervisor_failures_test.cpp).
constexpr Supervisor::TimePoint kNow = Supervisor::TimePoint{} + 1s;

Supervisor make(unsigned processes, unsigned max_tasks_per_child = 0) {
  return Supervisor(Supervisor::Options{processes, max_tasks_per_child, "node-x"});
}

void give(Supervisor& s, std::vector<std::uint64_t> ids, std::uint32_t attempt = 0,
          std::uint64_t pool = 0, Supervisor::TimePoint now = kNow) {
  std::vector<wire::Task> tasks;
  Payloads payloads;
  for (auto id : ids) {
    wire::Task t;
    t.id = id;
    t.name = "task";
    t.attempt = attempt;
    t.pool = pool;
    tasks.push_back(t);
    payloads.push_back(payload("args-" + std::to_string(id)));
  }
  s.tasks(std::move(tasks), std::move(payloads), now);
}

int pid_for(Slot slot) {
  return 1000 + static_cast<int>(slot);
}

// Starts `processes` executors and reports them all ready; drops the actions.
Supervisor started(unsigned processes, unsigned max_tasks_per_child = 0) {
  auto s = make(processes, max_tasks_per_child);
  s.start();
  for (Slot i = 0; i < processes; ++i) s.executor_ready(i, pid_for(i), kNow);
  s.take_actions();
  return s;
}

// The executor in `slot` finished task `id` after `run_us` microseconds.
void done(Supervisor& s, Slot slot, std::uint64_t id, std::int64_t run_us = 100,
          Supervisor::TimePoint now = kNow) {
  wire::Result r;
  r.id = id;
  r.started_us = 1'000'000;
  r.finished_us = 1'000'000 + run_us;
  s.executor_done(slot, std::move(r), payload("out-" + std::to_string(id)), now);
}

// Task ids handed to each slot by the RUN actions, in order.
std::map<Slot, std::vector<std::uint64_t>> runs(const Actions& a) {
  std::map<Slot, std::vector<std::uint64_t>> r;
  for (auto& [slot, batch] : a.run)
    for (auto& [task, args] : batch) {
      CHECK(str(*args) == "args-" + std::to_string(task.id));
      r[slot].push_back(task.id);
    }
  return r;
}

using RunMap = std::map<Slot, std::vector<std::uint64_t>>;

// Measures a short task in slot 0 so that prefetching (depth > 1) kicks in.
void warm_up(Supervisor& s, std::uint64_t id = 999) {
  give(s, {id});
  done(s, 0, id, 100);
  auto a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
}

const wire::Result* result_for(const Actions& a, std::uint64_t id) {
  for (auto& r : a.results.results)
    if (r.id == id) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("start spawns an executor in every slot and advertises credit for all of them") {
  auto s = make(4);
  s.start();
  auto a = s.take_actions();
  CHECK(a.spawn == std::vector<Slot>{0, 1, 2, 3});
  REQUIRE(a.credit.has_value());
  CHECK(a.credit->executors == 4);
  CHECK(a.credit->slots >= 4);
  CHECK(a.run.empty());
  CHECK(s.stats().spawned == 4);
  CHECK(s.processes() == 4);
  // Nothing changed since: no second credit.
  CHECK(s.take_actions().empty());
}

TEST_CASE("zero processes means one") {
  auto s = make(0);
  s.start();
  CHECK(s.take_actions().spawn == std::vector<Slot>{0});
}

TEST_CASE("tasks wait for a ready executor") {
  auto s = make(2);
  s.start();
  s.take_actions();
  give(s, {1, 2, 3});
  CHECK(s.take_actions().run.empty());
  CHECK(s.queued() == 3);
  s.executor_ready(1, 555, kNow);
  auto a = s.take_actions();
  CHECK(runs(a) == RunMap{{1, {1}}});
  CHECK(s.queued() == 2);
  CHECK(s.unfinished() == 3);
  CHECK(s.pid_of(1) == 555);
}

TEST_CASE("tasks spread one per executor first; none goes behind a task of unknown length") {
  auto s = started(4);
  give(s, {1, 2, 3, 4, 5, 6, 7, 8});
  auto a = s.take_actions();
  // Run time unknown yet: exactly one each.
  CHECK(runs(a) == RunMap{{0, {1}}, {1, {2}}, {2, {3}}, {3, {4}}});
  CHECK(s.queued() == 4);

  // Task 1 took 100 us: the free executor takes the rest, in a batch, rather
  // than leaving them behind tasks 2-4, whose length was unknown when they
  // started (they might run for minutes).
  done(s, 0, 1, 100);
  a = s.take_actions();
  CHECK(runs(a) == RunMap{{0, {5, 6, 7, 8}}});
  CHECK(s.queued() == 0);
}

TEST_CASE("a batch arriving after short tasks goes two by two over four executors") {
  auto s = started(4);
  warm_up(s);
  give(s, {1, 2, 3, 4, 5, 6, 7, 8});
  auto a = s.take_actions();
  CHECK(runs(a) == RunMap{{0, {1, 5}}, {1, {2, 6}}, {2, {3, 7}}, {3, {4, 8}}});
  // One RUN action per executor, not one per task.
  CHECK(a.run.size() == 4);
}

TEST_CASE("a finished task's result names the node, the executor's pid and the attempts") {
  auto s = started(1);
  give(s, {1}, 2);
  give(s, {2});
  s.take_actions();
  done(s, 0, 1);
  auto a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  auto& r = a.results.results[0];
  CHECK(r.id == 1);
  CHECK(r.node == "node-x");
  CHECK(r.pid == static_cast<std::uint32_t>(pid_for(0)));
  CHECK(r.attempts == 3);
  CHECK(r.failure.code == dpool::ErrorCode::kNone);
  REQUIRE(a.result_payloads.size() == 1);
  CHECK(str(a.result_payloads[0]) == "out-1");
  // The next task follows on the same executor.
  CHECK(runs(a) == RunMap{{0, {2}}});
  CHECK(s.stats().completed == 1);
  CHECK(s.unfinished() == 1);
}

TEST_CASE("an executor killed mid-task fails the running task and runs its other tasks elsewhere") {
  auto s = started(2);
  warm_up(s);
  give(s, {1, 2, 3, 4});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1, 3}}, {1, {2, 4}}});

  s.executor_died(0, kSigSegv, -1, kNow);
  auto a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  auto& r = a.results.results[0];
  CHECK(r.id == 1);
  CHECK(r.failure.code == dpool::ErrorCode::kWorkerCrashed);
  CHECK(r.failure.signal == kSigSegv);
  CHECK(r.failure.exit_code == -1);
  CHECK(r.pid == static_cast<std::uint32_t>(pid_for(0)));
  CHECK(r.node == "node-x");
  CHECK(r.attempts == 1);
  REQUIRE(a.result_payloads.size() == 1);
  CHECK(a.result_payloads[0].size() == 0);
  // Task 3 was only waiting behind task 1: it goes to the other executor.
  CHECK(runs(a) == RunMap{{1, {3}}});
  CHECK(a.spawn == std::vector<Slot>{0});
  CHECK(s.stats().crashed == 1);
  CHECK(s.stats().respawned == 1);
  CHECK(s.unfinished() == 3);
}

TEST_CASE("an executor that exits mid-task fails the task with its exit code") {
  auto s = started(1);
  give(s, {1});
  s.take_actions();
  s.executor_died(0, 0, 3, kNow);
  auto a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  CHECK(a.results.results[0].failure.code == dpool::ErrorCode::kWorkerCrashed);
  CHECK(a.results.results[0].failure.signal == 0);
  CHECK(a.results.results[0].failure.exit_code == 3);
  CHECK(a.spawn == std::vector<Slot>{0});
}

TEST_CASE("a task requeued after a death runs on the respawned executor when it is the only one") {
  auto s = started(1);
  warm_up(s);
  give(s, {1, 2});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1, 2}}});
  s.executor_died(0, kSigKill, -1, kNow);
  auto a = s.take_actions();
  CHECK(result_for(a, 1) != nullptr);
  CHECK(result_for(a, 2) == nullptr);
  CHECK(a.run.empty());
  CHECK(s.queued() == 1);
  s.executor_ready(0, 7777, kNow);
  CHECK(runs(s.take_actions()) == RunMap{{0, {2}}});
}

TEST_CASE(
    "executors dying three times at start-up fail the queued tasks, pointing at dpool::init") {
  auto s = make(1);
  s.start();
  s.take_actions();
  give(s, {1, 2});
  for (int i = 0; i < 2; ++i) {
    s.executor_died(0, 0, 1, kNow);
    auto a = s.take_actions();
    CHECK(a.results.results.empty());
    CHECK(a.spawn == std::vector<Slot>{0});
  }
  s.executor_died(0, 0, 1, kNow);
  auto a = s.take_actions();
  CHECK(a.spawn.empty());
  REQUIRE(a.results.results.size() == 2);
  for (auto& r : a.results.results) {
    CHECK(r.failure.code == dpool::ErrorCode::kWorkerCrashed);
    CHECK(r.failure.message.find("dpool::init") != std::string::npos);
    CHECK(r.failure.message.find("node-x") != std::string::npos);
    CHECK(r.failure.exit_code == 1);
  }
  CHECK(result_for(a, 1) != nullptr);
  CHECK(result_for(a, 2) != nullptr);
  CHECK(s.stats().crashed == 0);  // no task was running

  // Later tasks fail at once rather than wait forever.
  give(s, {3});
  a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  CHECK(a.results.results[0].id == 3);
  CHECK(a.results.results[0].failure.message.find("dpool::init") != std::string::npos);
}

TEST_CASE("start-up deaths in one slot leave tasks to the executors that do start") {
  auto s = make(2);
  s.start();
  s.take_actions();
  give(s, {1, 2});
  for (int i = 0; i < 3; ++i) s.executor_died(0, kSigSegv, -1, kNow);
  auto a = s.take_actions();
  CHECK(a.results.results.empty());
  s.executor_ready(1, 42, kNow);
  a = s.take_actions();
  CHECK(runs(a) == RunMap{{1, {1}}});
  done(s, 1, 1);
  a = s.take_actions();
  CHECK(result_for(a, 1) != nullptr);
  CHECK(runs(a) == RunMap{{1, {2}}});
}

TEST_CASE(
    "cancelling a running task with kill_running kills its executor and reports nothing for it") {
  auto s = started(1);
  give(s, {1, 2});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});
  s.cancel({1}, true);
  auto a = s.take_actions();
  CHECK(a.kill == std::vector<Slot>{0});
  CHECK(a.results.results.empty());
  CHECK(s.stats().cancelled == 1);

  s.executor_died(0, kSigKill, -1, kNow);
  a = s.take_actions();
  CHECK(a.results.results.empty());
  CHECK(a.spawn == std::vector<Slot>{0});
  CHECK(s.stats().crashed == 0);
  CHECK(s.unfinished() == 1);

  // The queued task runs on the replacement.
  s.executor_ready(0, 2000, kNow);
  CHECK(runs(s.take_actions()) == RunMap{{0, {2}}});
}

TEST_CASE("a cancelled task's DONE arriving before the kill is not reported") {
  auto s = started(1);
  give(s, {1});
  s.take_actions();
  s.cancel({1}, true);
  s.take_actions();
  done(s, 0, 1);
  CHECK(s.take_actions().results.results.empty());
  CHECK(s.unfinished() == 0);
}

TEST_CASE("cancelling a queued task removes it silently") {
  auto s = started(1);
  give(s, {1, 2, 3});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});
  s.cancel({2}, false);
  s.cancel({3}, true);  // not running anywhere: nothing to kill
  auto a = s.take_actions();
  CHECK(a.kill.empty());
  CHECK(a.results.results.empty());
  CHECK(s.queued() == 0);
  CHECK(s.unfinished() == 1);
  CHECK(s.stats().cancelled == 2);

  done(s, 0, 1);
  a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  CHECK(a.results.results[0].id == 1);
  CHECK(a.run.empty());
}

TEST_CASE("cancelling unknown ids does nothing") {
  auto s = started(1);
  give(s, {1});
  s.take_actions();
  s.cancel({7, 8}, true);
  CHECK(s.take_actions().empty());
  CHECK(s.stats().cancelled == 0);
  CHECK(s.unfinished() == 1);
}

// cancel() kills every executor holding a cancelled task, even when that task
// is only prefetched behind another one. The death then fails the task that
// was running, which nobody cancelled, as kWorkerCrashed (supervisor.cpp,
// cancel(): "its death requeues the others" holds only for the non-front ones).
TEST_CASE("cancelling a prefetched task does not fail the task running before it") {
  auto s = started(2);
  warm_up(s);
  give(s, {1, 2, 3, 4});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1, 3}}, {1, {2, 4}}});

  s.cancel({3}, true);  // 3 waits behind 1 on slot 0
  auto a = s.take_actions();
  if (std::find(a.kill.begin(), a.kill.end(), Slot{0}) != a.kill.end()) {
    s.executor_died(0, kSigKill, -1, kNow);
    a = s.take_actions();
  }
  auto* r = result_for(a, 1);
  CHECK_MESSAGE(r == nullptr,
                "task 1 failed with code " << (r ? static_cast<int>(r->failure.code) : 0));
  CHECK(s.stats().crashed == 0);
  CHECK(result_for(a, 3) == nullptr);
}

TEST_CASE("an out-of-order DONE gets the executor replaced") {
  auto s = started(1);
  warm_up(s);
  give(s, {1, 2});
  s.take_actions();
  done(s, 0, 2);  // 1 is running first
  auto a = s.take_actions();
  CHECK(a.kill == std::vector<Slot>{0});
  CHECK(a.results.results.empty());
}

TEST_CASE(
    "max_tasks_per_child retires an executor after that many tasks and respawns it, no crash") {
  auto s = started(1, 2);
  give(s, {1, 2, 3});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});
  done(s, 0, 1, 100);
  auto a = s.take_actions();
  CHECK(runs(a) == RunMap{{0, {2}}});  // deeper prefetch would exceed the limit
  CHECK(a.retire.empty());
  done(s, 0, 2, 100);
  a = s.take_actions();
  CHECK(result_for(a, 2) != nullptr);
  CHECK(a.retire == std::vector<Slot>{0});
  CHECK(a.run.empty());
  CHECK(s.queued() == 1);

  s.executor_died(0, 0, 0, kNow);  // it exits once its socket closes
  a = s.take_actions();
  CHECK(a.spawn == std::vector<Slot>{0});
  CHECK(a.results.results.empty());
  CHECK(s.stats().crashed == 0);
  CHECK(s.stats().respawned == 0);

  s.executor_ready(0, 3000, kNow);
  CHECK(runs(s.take_actions()) == RunMap{{0, {3}}});
  done(s, 0, 3);
  a = s.take_actions();
  REQUIRE(result_for(a, 3) != nullptr);
  CHECK(result_for(a, 3)->pid == 3000u);
}

TEST_CASE("credit follows the measured task length") {
  auto s = make(2);
  s.start();
  auto a = s.take_actions();
  REQUIRE(a.credit.has_value());
  CHECK(a.credit->executors == 2);
  CHECK(a.credit->slots == 4);  // one running and one waiting per executor
  s.executor_ready(0, 1, kNow);
  s.executor_ready(1, 2, kNow);
  CHECK_FALSE(s.take_actions().credit.has_value());

  // Tasks of 100 us: aim for ~1 ms per hand-off, so 10 deep plus one.
  give(s, {1});
  done(s, 0, 1, 100);
  a = s.take_actions();
  REQUIRE(a.credit.has_value());
  CHECK(a.credit->slots == 22);
  CHECK(a.credit->executors == 2);

  // Long tasks: no prefetch, one per executor.
  for (std::uint64_t id = 2; id < 12; ++id) {
    give(s, {id});
    done(s, 0, id, 1'000'000);
  }
  a = s.take_actions();
  REQUIRE(a.credit.has_value());
  CHECK(a.credit->slots == 2);
}

TEST_CASE("shutdown kills every live executor and none is respawned") {
  auto s = make(3);
  s.start();
  s.executor_ready(0, 10, kNow);
  s.executor_ready(1, 11, kNow);  // slot 2 still starting: live too
  give(s, {1, 2, 3});
  s.take_actions();
  s.shutdown();
  auto a = s.take_actions();
  CHECK(a.kill == std::vector<Slot>{0, 1, 2});
  CHECK(s.unfinished() == 0);
  for (Slot i = 0; i < 3; ++i) s.executor_died(i, kSigKill, -1, kNow);
  a = s.take_actions();
  CHECK(a.spawn.empty());
  CHECK(a.results.results.empty());
  CHECK(s.stats().crashed == 0);
}

TEST_CASE("shutdown does not kill a slot that is already down") {
  auto s = make(2);
  s.start();
  for (int i = 0; i < 3; ++i) s.executor_died(0, 0, 1, kNow);  // slot 0 gives up
  s.take_actions();
  s.shutdown();
  CHECK(s.take_actions().kill == std::vector<Slot>{1});
}

TEST_CASE("shutdown drops every task without a result and stops the executors") {
  auto s = started(1);
  give(s, {1, 2});
  s.take_actions();
  s.shutdown();
  auto a = s.take_actions();
  CHECK(a.results.results.empty());
  CHECK(a.kill == std::vector<Slot>{0});
  CHECK(s.unfinished() == 0);
}

TEST_CASE("a pool's max_tasks_per_child retires the executors that run its tasks") {
  auto s = started(2);
  s.pool_limit(7, 1);
  give(s, {1}, 0, 7);  // pool 7: one task per executor
  give(s, {2, 3}, 0, 0);
  auto first = runs(s.take_actions());
  CHECK(first == RunMap{{0, {1}}, {1, {2}}});
  done(s, 0, 1);
  auto a = s.take_actions();
  CHECK(a.retire == std::vector<Slot>{0});  // ran its one pool-7 task
  auto later = runs(a);
  done(s, 1, 2);
  a = s.take_actions();
  CHECK(a.retire.empty());  // slot 1 ran no pool-7 task: no limit
  for (auto& [slot, ids] : runs(a)) later[slot].insert(later[slot].end(), ids.begin(), ids.end());
  CHECK(later == RunMap{{1, {3}}});  // the retiring executor takes nothing more
}

TEST_CASE("until every executor has started once, each ready one takes one task at a time") {
  auto s = make(2);
  s.start();
  s.executor_ready(0, pid_for(0), kNow);
  s.take_actions();
  warm_up(s);  // short tasks: the prefetch depth would be deep
  give(s, {1, 2, 3, 4});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});  // not all four: slot 1 may start soon
  s.executor_ready(1, pid_for(1), kNow);
  auto a = runs(s.take_actions());
  REQUIRE(a.contains(1));  // the newcomer takes its share at once
  CHECK(a.at(1).size() + (a.contains(0) ? a.at(0).size() : 0) == 3);
}

TEST_CASE("a replacement executor does not hold back the others' prefetch") {
  auto s = started(2);
  warm_up(s);
  s.executor_died(1, kSigKill, -1, kNow);
  s.take_actions();
  give(s, {1, 2, 3});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1, 2, 3}}});
}

TEST_CASE("running_task is the task at the front of a slot, while its executor runs it") {
  auto s = started(2);
  warm_up(s);
  CHECK_FALSE(s.running_task(0).has_value());
  give(s, {1, 2, 3});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1, 3}}, {1, {2}}});
  CHECK(s.running_task(0) == std::optional<std::uint64_t>{1});
  CHECK(s.running_task(1) == std::optional<std::uint64_t>{2});
  done(s, 0, 1);
  s.take_actions();
  CHECK(s.running_task(0) == std::optional<std::uint64_t>{3});
  s.cancel({3}, true);  // cancelled: no longer on anyone's behalf
  s.take_actions();
  CHECK_FALSE(s.running_task(0).has_value());
  s.executor_died(1, kSigKill, -1, kNow);
  s.take_actions();
  CHECK_FALSE(s.running_task(1).has_value());
  CHECK(s.options().node == "node-x");
  CHECK(s.options().processes == 2);
}

TEST_CASE("a task waiting while one executor runs a long task goes to the one that is free") {
  // Pool(2), imap_unordered over {0, 1, 2, 3} where item 0 is slow: items 2
  // and 3 must not wait behind item 0.
  auto s = started(2);
  give(s, {10, 11, 12, 13});
  CHECK(runs(s.take_actions()) == RunMap{{0, {10}}, {1, {11}}});
  done(s, 1, 11, 50, kNow + 1ms);  // item 1 was quick
  CHECK(runs(s.take_actions()) == RunMap{{1, {12, 13}}});
}

TEST_CASE("nothing is written behind a running task that has overrun its expected time") {
  auto s = started(1);
  warm_up(s);  // tasks named "task" take 100 us
  give(s, {1}, 0, 0, kNow);
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});
  // 50 us later it is still expected to end soon: the next one goes behind it.
  give(s, {2}, 0, 0, kNow + 50us);
  CHECK(runs(s.take_actions()) == RunMap{{0, {2}}});
  // Once the front has run 5 ms, fifty times its expected 100 us, it may run
  // much longer: the next task waits here instead, free to go to whichever
  // executor frees first (or back to the coordinator).
  done(s, 0, 1, 100, kNow + 100us);  // task 2 starts now
  give(s, {3}, 0, 0, kNow + 100us + 5ms);
  CHECK(s.take_actions().run.empty());
  CHECK(s.queued() == 1);
}

TEST_CASE("tiny tasks still go in batches of about 1 ms of expected work") {
  auto s = started(1);
  give(s, {9999});
  done(s, 0, 9999, 10);  // tasks named "task" take 10 us
  s.take_actions();
  std::vector<std::uint64_t> ids;
  for (std::uint64_t id = 1; id <= 200; ++id) ids.push_back(id);
  give(s, ids);
  auto a = runs(s.take_actions());
  REQUIRE(a.contains(0));
  CHECK(a.at(0).size() == 64);  // the cap; 1 ms of 10 us tasks would be 100
  CHECK(s.queued() == 200 - 64);
}

TEST_CASE("the expected run time of a name follows its recent runs") {
  auto s = started(1);
  CHECK_FALSE(s.expected_us("task").has_value());
  give(s, {1});
  done(s, 0, 1, 1000);
  CHECK(*s.expected_us("task") == doctest::Approx(1000));
  give(s, {2});
  done(s, 0, 2, 2000);
  auto e = *s.expected_us("task");
  CHECK(e > 1000);
  CHECK(e < 2000);
}

TEST_CASE("reclaim hands back the last queued tasks, never one an executor was given") {
  auto s = started(1);
  give(s, {1, 2, 3, 4});
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}});
  CHECK(s.reclaim(2) == std::vector<std::uint64_t>{4, 3});
  CHECK(s.queued() == 1);
  CHECK(s.unfinished() == 2);
  s.cancel({2}, false);  // cancelled while queued: nothing to hand back
  CHECK(s.reclaim(5).empty());
  // The running task still reports; the handed back ones never do.
  done(s, 0, 1);
  auto a = s.take_actions();
  REQUIRE(a.results.results.size() == 1);
  CHECK(a.results.results[0].id == 1);
  CHECK(a.run.empty());
}
