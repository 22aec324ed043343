// Failure handling of the two pure cores, row by row: what the coordinator's
// scheduler (coordinator/scheduler.hpp) does when a node is lost, a task is
// handed back or a client goes away, and what a node's supervisor
// (worker/supervisor.hpp) does on timeouts, crashes, drain, abandon and reset.
// Time is a fake clock (TimePoint{} + offsets); nothing sleeps.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "scheduler.hpp"
#include "supervisor.hpp"
#include "vector_printing.hpp"

namespace {

using namespace dpool::internal;
using namespace std::chrono_literals;
using dpool::ErrorCode;
using wire::Kind;

zmq::message_t msg(std::string_view s) {
  return zmq::message_t(s.data(), s.size());
}
std::string str(const zmq::message_t& m) {
  return std::string(m.to_string_view());
}
bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------
// Scheduler helpers

constexpr PeerId kClientA = 1;
constexpr PeerId kNode1 = 101, kNode2 = 102;

struct Spec {
  std::uint64_t id;           // the client's id
  std::uint32_t retries = 0;  // TaskOptions::retries; 0 = the scheduler's default
};

void submit(Scheduler& s, PeerId client, std::vector<Spec> specs) {
  std::vector<wire::Task> tasks;
  Frames payloads;
  for (auto& spec : specs) {
    wire::Task t;
    t.id = spec.id;
    t.name = "task-" + std::to_string(spec.id);
    t.fingerprint = 77;
    t.retries = spec.retries;
    tasks.push_back(std::move(t));
    payloads.push_back(msg("args-" + std::to_string(spec.id)));
  }
  s.submit(client, std::move(tasks), std::move(payloads));
}

std::vector<const Envelope*> to(const std::vector<Envelope>& out, PeerId peer, Kind kind) {
  std::vector<const Envelope*> r;
  for (auto& e : out)
    if (e.kind == kind && e.to == peer) r.push_back(&e);
  return r;
}

std::size_t count_kind(const std::vector<Envelope>& out, Kind kind) {
  return static_cast<std::size_t>(
      std::count_if(out.begin(), out.end(), [&](const Envelope& e) { return e.kind == kind; }));
}

// Tasks dispatched to `node` in `out`, by name (empty if none).
std::map<std::string, wire::Task> dispatched(const std::vector<Envelope>& out, PeerId node) {
  std::map<std::string, wire::Task> r;
  for (auto* e : to(out, node, Kind::kDispatch)) {
    REQUIRE(std::holds_alternative<wire::TaskBatch>(e->body));
    for (auto& t : std::get<wire::TaskBatch>(e->body).tasks) r[t.name] = t;
  }
  return r;
}

std::vector<wire::Result> delivered(const std::vector<Envelope>& out, PeerId client) {
  std::vector<wire::Result> r;
  for (auto* e : to(out, client, Kind::kDeliver)) {
    REQUIRE(std::holds_alternative<wire::ResultBatch>(e->body));
    for (auto& res : std::get<wire::ResultBatch>(e->body).results) r.push_back(res);
  }
  return r;
}

wire::Result node_result(std::uint64_t id, ErrorCode code = ErrorCode::kNone) {
  wire::Result r;
  r.id = id;
  r.node = "node";
  r.pid = 321;
  r.attempts = 1;
  r.failure.code = code;
  return r;
}

void report(Scheduler& s, PeerId node, std::vector<wire::Result> results) {
  Frames frames;
  for (auto& r : results) frames.push_back(msg("out-" + std::to_string(r.id)));
  s.results(node, std::move(results), std::move(frames));
}

// ---------------------------------------------------------------------------
// Supervisor helpers

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
  Frames payloads;
  for (auto& j : jobs) {
    wire::Task task;
    task.id = j.id;
    task.name = "task";
    task.timeout_ms = j.timeout_ms;
    task.retries = j.retries;
    tasks.push_back(task);
    payloads.push_back(msg("args-" + std::to_string(j.id)));
  }
  s.tasks(std::move(tasks), std::move(payloads), now);
}

void done(Supervisor& s, Slot slot, std::uint64_t id, Supervisor::TimePoint now,
          std::int64_t run_us = 100) {
  wire::Result r;
  r.id = id;
  r.started_us = 1'000'000;
  r.finished_us = 1'000'000 + run_us;
  s.executor_done(slot, std::move(r), msg("out-" + std::to_string(id)), now);
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
// Scheduler: lost nodes

TEST_CASE("a lost node's running tasks are requeued with one more attempt and run elsewhere") {
  Scheduler s(1000, 3);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 2, 2);
  submit(s, kClientA, {{1000}, {1001}});
  auto out = s.take_outbox();
  auto first = dispatched(out, kNode1);
  REQUIRE(first.size() == 2);
  CHECK(first["task-1000"].attempt == 0);
  CHECK(s.running() == 2);

  auto lost = s.node_left(kNode1);
  CHECK(lost.requeued == 2);
  CHECK(lost.failed == 0);
  CHECK(s.queued() == 2);
  CHECK(s.running() == 0);
  CHECK(s.stats().requeued == 2);
  CHECK(s.nodes() == 0);
  out = s.take_outbox();
  CHECK(delivered(out, kClientA).empty());
  CHECK(count_kind(out, Kind::kDispatch) == 0);

  s.node_joined(kNode2, "node-two", 2, 2);
  out = s.take_outbox();
  auto second = dispatched(out, kNode2);
  REQUIRE(second.size() == 2);
  CHECK(second["task-1000"].attempt == 1);
  CHECK(second["task-1001"].attempt == 1);
  // The same task under the same scheduler id, with its arguments.
  CHECK(second["task-1000"].id == first["task-1000"].id);
  CHECK(delivered(out, kClientA).empty());
}

TEST_CASE("a node that leaves twice returns empty-handed the second time") {
  Scheduler s(1000, 3);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}});
  s.take_outbox();
  CHECK(s.node_left(kNode1).requeued == 1);
  auto again = s.node_left(kNode1);
  CHECK(again.requeued == 0);
  CHECK(again.failed == 0);
  CHECK(s.queued() == 1);
  CHECK(s.stats().requeued == 1);
}

TEST_CASE("with node_loss_retries 1 a task lost twice fails with WorkerLost naming the node") {
  Scheduler s(1000, 1);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}});
  REQUIRE(dispatched(s.take_outbox(), kNode1).size() == 1);

  auto lost = s.node_left(kNode1);
  CHECK(lost.requeued == 1);
  CHECK(lost.failed == 0);
  s.node_joined(kNode2, "node-two", 1, 1);
  auto out = s.take_outbox();
  REQUIRE(dispatched(out, kNode2).size() == 1);
  CHECK(dispatched(out, kNode2)["task-1000"].attempt == 1);

  lost = s.node_left(kNode2);
  CHECK(lost.requeued == 0);
  CHECK(lost.failed == 1);
  CHECK(s.queued() == 0);
  CHECK(s.running() == 0);
  out = s.take_outbox();
  auto results = delivered(out, kClientA);
  REQUIRE(results.size() == 1);
  CHECK(results[0].id == 1000);  // the client's own id
  CHECK(results[0].failure.code == ErrorCode::kWorkerLost);
  CHECK(results[0].attempts == 2);
  CHECK(contains(results[0].failure.message, "node-two"));
  CHECK(count_kind(out, Kind::kDispatch) == 0);
}

TEST_CASE("a task's own retries limit replaces the scheduler's node_loss_retries") {
  Scheduler s(1000, 1);
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {{1000, 3}, {1001}});
  // Expected {requeued, failed} for each successive node loss.
  const std::vector<std::pair<std::size_t, std::size_t>> expected{{2, 0}, {1, 1}, {1, 0}, {0, 1}};
  std::vector<wire::Result> results;
  for (std::size_t round = 0; round < expected.size(); ++round) {
    CAPTURE(round);
    PeerId node = 200 + round;
    s.node_joined(node, "node-" + std::to_string(round), 2, 2);
    auto out = s.take_outbox();
    auto d = dispatched(out, node);
    REQUIRE(d.count("task-1000") == 1);
    CHECK(d["task-1000"].attempt == round);
    auto lost = s.node_left(node);
    CHECK(lost.requeued == expected[round].first);
    CHECK(lost.failed == expected[round].second);
    for (auto& r : delivered(s.take_outbox(), kClientA)) results.push_back(r);
  }
  REQUIRE(results.size() == 2);
  CHECK(results[0].id == 1001);
  CHECK(results[0].failure.code == ErrorCode::kWorkerLost);
  CHECK(results[0].attempts == 2);
  CHECK(contains(results[0].failure.message, "node-1"));
  CHECK(results[1].id == 1000);
  CHECK(results[1].failure.code == ErrorCode::kWorkerLost);
  CHECK(results[1].attempts == 4);
  CHECK(contains(results[1].failure.message, "node-3"));
  CHECK(s.queued() == 0);
  CHECK(s.running() == 0);
}

// ===========================================================================
// Scheduler: handed-back and stale results

TEST_CASE("a task handed back by a draining node is requeued unchanged and runs on another node") {
  Scheduler s(1000, 1);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}});
  auto out = s.take_outbox();
  auto first = dispatched(out, kNode1);
  REQUIRE(first.size() == 1);
  auto id = first["task-1000"].id;

  s.node_joined(kNode2, "node-two", 1, 1);
  s.credit(kNode1, 0, 1);  // draining: takes no more
  report(s, kNode1, {node_result(id, ErrorCode::kReturned)});
  out = s.take_outbox();
  CHECK(delivered(out, kClientA).empty());
  CHECK(to(out, kNode1, Kind::kDispatch).empty());
  auto second = dispatched(out, kNode2);
  REQUIRE(second.size() == 1);
  CHECK(second["task-1000"].id == id);
  CHECK(second["task-1000"].attempt == 0);  // handed back, not lost: no attempt used
  CHECK(s.stats().requeued == 1);
  CHECK(s.stats().completed == 0);
  CHECK(s.stats().stale_results == 0);

  // It still has its full retry budget: a node loss now requeues instead of failing.
  auto lost = s.node_left(kNode2);
  CHECK(lost.requeued == 1);
  CHECK(lost.failed == 0);
}

TEST_CASE("a result handed back repeatedly never reaches the client and never fails the task") {
  Scheduler s(1000, 1);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}});
  auto id = dispatched(s.take_outbox(), kNode1)["task-1000"].id;
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    report(s, kNode1, {node_result(id, ErrorCode::kReturned)});
    auto out = s.take_outbox();
    CHECK(delivered(out, kClientA).empty());
    auto d = dispatched(out, kNode1);
    REQUIRE(d.size() == 1);
    CHECK(d["task-1000"].attempt == 0);
  }
  report(s, kNode1, {node_result(id)});
  auto results = delivered(s.take_outbox(), kClientA);
  REQUIRE(results.size() == 1);
  CHECK(results[0].id == 1000);
  CHECK(results[0].failure.code == ErrorCode::kNone);
}

TEST_CASE("count_stale adds to the stale results counter") {
  Scheduler s;
  CHECK(s.stats().stale_results == 0);
  s.count_stale(3);
  CHECK(s.stats().stale_results == 3);
  s.count_stale(0);
  s.count_stale(2);
  CHECK(s.stats().stale_results == 5);
  CHECK(s.stats().completed == 0);
}

TEST_CASE("a result from a node after it was declared lost is stale and not delivered") {
  Scheduler s(1000, 3);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}});
  auto id = dispatched(s.take_outbox(), kNode1)["task-1000"].id;
  REQUIRE(s.node_left(kNode1).requeued == 1);
  s.node_joined(kNode2, "node-two", 1, 1);
  REQUIRE(dispatched(s.take_outbox(), kNode2).size() == 1);

  // The lost node was only slow: its answer arrives late.
  report(s, kNode1, {node_result(id)});
  auto out = s.take_outbox();
  CHECK(delivered(out, kClientA).empty());
  CHECK(s.stats().stale_results == 1);
  CHECK(s.stats().completed == 0);
  CHECK(s.running() == 1);

  // The re-run's answer is the one the client gets, once.
  report(s, kNode2, {node_result(id)});
  auto results = delivered(s.take_outbox(), kClientA);
  REQUIRE(results.size() == 1);
  CHECK(results[0].id == 1000);
  CHECK(s.stats().completed == 1);
  CHECK(s.running() == 0);
}

TEST_CASE("a result from a node other than the one running the task is stale") {
  Scheduler s(1000, 3);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  s.node_joined(kNode2, "node-two", 1, 1);
  submit(s, kClientA, {{1000}});
  auto out = s.take_outbox();
  auto d = dispatched(out, kNode1);
  REQUIRE(d.size() == 1);
  report(s, kNode2, {node_result(d["task-1000"].id)});
  CHECK(delivered(s.take_outbox(), kClientA).empty());
  CHECK(s.stats().stale_results == 1);
  CHECK(s.running() == 1);
}

// ===========================================================================
// Scheduler: a client goes away

TEST_CASE("after a client leaves its task index is empty: a later cancel refuses every id") {
  Scheduler s(1000, 3);
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}, {1001}, {1002}});
  auto out = s.take_outbox();
  auto d = dispatched(out, kNode1);
  REQUIRE(d.size() == 1);
  auto running_id = d.begin()->second.id;
  CHECK(s.queued() == 2);

  CHECK(s.client_left(kClientA) == 3);
  CHECK(s.queued() == 0);
  CHECK(s.running() == 0);
  out = s.take_outbox();
  // The running task is stopped on its node.
  auto stops = to(out, kNode1, Kind::kCancel);
  REQUIRE(stops.size() == 1);
  auto& stop = std::get<wire::Cancel>(stops[0]->body);
  CHECK(stop.ids == std::vector<std::uint64_t>{running_id});
  CHECK(stop.kill_running);
  CHECK(count_kind(out, Kind::kDispatch) == 0);
  CHECK(count_kind(out, Kind::kDeliver) == 0);

  // The node's late answer for it is stale.
  report(s, kNode1, {node_result(running_id)});
  CHECK(s.stats().stale_results == 1);
  CHECK(s.take_outbox().empty());

  // The same peer id comes back and asks about its old tasks: none are known.
  s.client_joined(kClientA, "a");
  s.take_outbox();
  wire::Cancel ask;
  ask.request = 42;
  ask.ids = {1000, 1001, 1002};
  ask.kill_running = true;
  s.cancel(kClientA, ask);
  out = s.take_outbox();
  CHECK(count_kind(out, Kind::kDeliver) == 0);
  CHECK(to(out, kNode1, Kind::kCancel).empty());
  auto answers = to(out, kClientA, Kind::kCancel);
  REQUIRE(answers.size() == 1);
  auto& answer = std::get<wire::Cancel>(answers[0]->body);
  CHECK(answer.request == 42);
  auto refused = answer.ids;
  std::sort(refused.begin(), refused.end());
  CHECK(refused == std::vector<std::uint64_t>{1000, 1001, 1002});
}

// ===========================================================================
// Supervisor: timeouts

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
// Supervisor: crashes, retries and poison tasks

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
// Supervisor: drain and abandon

TEST_CASE(
    "drain hands queued tasks back as Returned, drops credit to zero, lets running ones finish") {
  auto s = started(2);
  give(s, {{1}, {2}, {3}, {4}}, t(0ms));
  CHECK(runs(s.take_actions()) == RunMap{{0, {1}}, {1, {2}}});

  s.drain();
  CHECK(s.draining());
  auto a = s.take_actions();
  CHECK(result_ids(a) == std::vector<std::uint64_t>{3, 4});
  for (auto& r : a.results.results) CHECK(r.failure.code == ErrorCode::kReturned);
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
  for (auto& r : a.results.results) CHECK(r.failure.code == ErrorCode::kReturned);
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
  for (auto& r : a.results.results) CHECK(r.failure.code == ErrorCode::kReturned);
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
// Supervisor: reset

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
