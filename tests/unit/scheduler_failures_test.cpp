// Failure handling of the coordinator's scheduler (coordinator/scheduler.hpp),
// row by row: what it does when a node is lost, a task is handed back, a
// result arrives stale or a client goes away. The node's side of failures is
// in supervisor_failures_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "payloads.hpp"
#include "scheduler.hpp"
#include "text.hpp"
#include "vector_printing.hpp"

namespace {

using namespace dpool::internal;
using dpool::ErrorCode;
using test_support::payload;

using test_support::contains;

constexpr PeerId kClientA = 1;
constexpr PeerId kNode1 = 101, kNode2 = 102;

struct Spec {
  std::uint64_t id;           // the client's id
  std::uint32_t retries = 0;  // TaskOptions::retries; 0 = the scheduler's default
};

void submit(Scheduler& s, PeerId client, std::vector<Spec> specs) {
  std::vector<wire::Task> tasks;
  Payloads payloads;
  for (auto& spec : specs) {
    wire::Task t;
    t.id = spec.id;
    t.name = "task-" + std::to_string(spec.id);
    t.fingerprint = 77;
    t.retries = spec.retries;
    tasks.push_back(std::move(t));
    payloads.push_back(payload("args-" + std::to_string(spec.id)));
  }
  s.submit(client, std::move(tasks), std::move(payloads));
}

// The envelopes in `out` for `peer` carrying a message of kind B.
template <class B>
std::vector<const Envelope*> to(const std::vector<Envelope>& out, PeerId peer) {
  std::vector<const Envelope*> r;
  for (auto& e : out)
    if (std::holds_alternative<B>(e.message.body) && e.to == peer) r.push_back(&e);
  return r;
}

// How many envelopes in `out` carry a message of kind B.
template <class B>
std::size_t count_kind(const std::vector<Envelope>& out) {
  return static_cast<std::size_t>(std::count_if(out.begin(), out.end(), [](const Envelope& e) {
    return std::holds_alternative<B>(e.message.body);
  }));
}

// The body of an envelope that must carry kind B.
template <class B>
const B& body(const Envelope& e) {
  REQUIRE(std::holds_alternative<B>(e.message.body));
  return std::get<B>(e.message.body);
}

// Tasks dispatched to `node` in `out`, by name (empty if none).
std::map<std::string, wire::Task> dispatched(const std::vector<Envelope>& out, PeerId node) {
  std::map<std::string, wire::Task> r;
  for (auto* e : to<wire::Dispatch>(out, node))
    for (auto& t : body<wire::Dispatch>(*e).tasks) r[t.name] = t;
  return r;
}

std::vector<wire::Result> delivered(const std::vector<Envelope>& out, PeerId client) {
  std::vector<wire::Result> r;
  for (auto* e : to<wire::Deliver>(out, client))
    for (auto& res : body<wire::Deliver>(*e).results) r.push_back(res);
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
  Payloads frames;
  for (auto& r : results) frames.push_back(payload("out-" + std::to_string(r.id)));
  s.results(node, std::move(results), std::move(frames));
}

}  // namespace

// ===========================================================================
// Lost nodes

TEST_CASE("a lost node's running tasks are requeued with one more attempt and run elsewhere") {
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 3});
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
  CHECK(count_kind<wire::Dispatch>(out) == 0);

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
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 3});
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
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 1});
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
  CHECK(count_kind<wire::Dispatch>(out) == 0);
}

TEST_CASE("a task's own retries limit replaces the scheduler's node_loss_retries") {
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 1});
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
// Handed-back and stale results

TEST_CASE("a task handed back by a draining node is requeued unchanged and runs on another node") {
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 1});
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}});
  auto out = s.take_outbox();
  auto first = dispatched(out, kNode1);
  REQUIRE(first.size() == 1);
  auto id = first["task-1000"].id;

  s.node_joined(kNode2, "node-two", 1, 1);
  s.credit(kNode1, 0, 1);  // draining: takes no more
  report(s, kNode1, {node_result(id, wire::kReturned)});
  out = s.take_outbox();
  CHECK(delivered(out, kClientA).empty());
  CHECK(to<wire::Dispatch>(out, kNode1).empty());
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
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 1});
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node-one", 1, 1);
  submit(s, kClientA, {{1000}});
  auto id = dispatched(s.take_outbox(), kNode1)["task-1000"].id;
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    report(s, kNode1, {node_result(id, wire::kReturned)});
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
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 3});
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
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 3});
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
// A client goes away

TEST_CASE("after a client leaves its task index is empty: a later cancel refuses every id") {
  Scheduler s(Scheduler::Options{.max_queued = 1000, .node_loss_retries = 3});
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
  auto stops = to<wire::Cancel>(out, kNode1);
  REQUIRE(stops.size() == 1);
  auto& stop = body<wire::Cancel>(*stops[0]);
  CHECK(stop.ids == std::vector<std::uint64_t>{running_id});
  CHECK(stop.kill_running);
  CHECK(count_kind<wire::Dispatch>(out) == 0);
  CHECK(count_kind<wire::Deliver>(out) == 0);

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
  CHECK(count_kind<wire::Deliver>(out) == 0);
  CHECK(to<wire::Cancel>(out, kNode1).empty());
  auto answers = to<wire::Cancel>(out, kClientA);
  REQUIRE(answers.size() == 1);
  auto& answer = body<wire::Cancel>(*answers[0]);
  CHECK(answer.request == 42);
  auto refused = answer.ids;
  std::sort(refused.begin(), refused.end());
  CHECK(refused == std::vector<std::uint64_t>{1000, 1001, 1002});
}

// ===========================================================================
// Heartbeats that do not list a task

TEST_CASE("a task its node received but does not list runs elsewhere after the window") {
  using namespace std::chrono_literals;
  const auto t0 = Scheduler::TimePoint{} + 1h;
  const auto window = 5s;
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "silent", 2, 2);
  s.heartbeat(kNode1, {}, 0, t0, window);
  submit(s, kClientA, {{1}, {2}});
  auto out = s.take_outbox();
  auto given = dispatched(out, kNode1);
  REQUIRE(given.size() == 2);
  auto dispatches = to<wire::Dispatch>(out, kNode1);
  REQUIRE(dispatches.size() == 1);
  const auto seq = body<wire::Dispatch>(*dispatches[0]).seq;
  CHECK(seq == 1);
  auto id1 = given["task-1"].id, id2 = given["task-2"].id;
  s.node_joined(kNode2, "honest", 2, 2);
  s.take_outbox();

  // Until the DISPATCH arrives, its tasks need not be listed.
  for (auto t = t0 + 1s; t < t0 + window; t += 1s)
    CHECK(s.heartbeat(kNode1, {}, 0, t, window).requeued == 0);
  // It arrived: task 1 is listed, task 2 is not, and is lost a window later.
  const auto t1 = t0 + window;
  for (auto t = t1; t < t1 + window; t += 1s) {
    auto lost = s.heartbeat(kNode1, {id1}, seq, t, window);
    CHECK(lost.requeued == 0);
  }
  auto lost = s.heartbeat(kNode1, {id1, id1}, seq, t1 + window, window);  // a duplicate counts once
  CHECK(lost.requeued == 1);
  CHECK(lost.failed == 0);
  out = s.take_outbox();
  auto cancels = to<wire::Cancel>(out, kNode1);
  REQUIRE(cancels.size() == 1);
  CHECK(body<wire::Cancel>(*cancels[0]).ids == std::vector<std::uint64_t>{id2});
  CHECK(body<wire::Cancel>(*cancels[0]).kill_running);
  auto again = dispatched(out, kNode2);
  REQUIRE(again.size() == 1);
  CHECK(again["task-2"].attempt == 1);

  // The node that lost it gets no new work until it answers.
  submit(s, kClientA, {{3}});
  CHECK(dispatched(s.take_outbox(), kNode1).empty());

  // Task 1, listed in every heartbeat, stays; a late result for task 2 from
  // the silent node is stale.
  CHECK(s.heartbeat(kNode1, {id1}, seq, t1 + window + 10s, window).requeued == 0);
  report(s, kNode1, {node_result(id2)});
  CHECK(s.stats().stale_results == 1);
  report(s, kNode1, {node_result(id1)});
  CHECK(delivered(s.take_outbox(), kClientA).size() == 1);
}

TEST_CASE("a node that lists everything it was given loses nothing, however slow") {
  using namespace std::chrono_literals;
  const auto t0 = Scheduler::TimePoint{} + 1h;
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "slow", 1, 4);
  submit(s, kClientA, {{1}, {2}, {3}});
  auto given = dispatched(s.take_outbox(), kNode1);
  REQUIRE(given.size() == 3);
  std::vector<std::uint64_t> all;
  for (auto& [name, t] : given) all.push_back(t.id);
  for (int i = 1; i <= 100; ++i) {
    auto lost = s.heartbeat(kNode1, all, 1, t0 + i * 1s, 5s);
    CHECK(lost.requeued + lost.failed == 0);
  }
  CHECK(s.running() == 3);
}

TEST_CASE("large arguments may take their time to arrive; a node that never says so loses them") {
  using namespace std::chrono_literals;
  const auto t0 = Scheduler::TimePoint{} + 1h;
  const auto window = 5s;
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "node", 1, 1);
  s.heartbeat(kNode1, {}, 0, t0, window);
  std::vector<wire::Task> tasks(1);
  tasks[0].id = 1;
  tasks[0].name = "big";
  Payloads args;
  args.push_back(payload(std::string(20'000'000, 'x')));  // 20 MB: 20 s at 1 MB/s
  s.submit(kClientA, std::move(tasks), std::move(args));
  REQUIRE(dispatched(s.take_outbox(), kNode1).size() == 1);
  // The first heartbeat after it starts its clock; for 5 s + 20 s it is on its way.
  for (auto t = t0 + 1s; t < t0 + 1s + window + 20s; t += 1s)
    CHECK(s.heartbeat(kNode1, {}, 0, t, window).requeued == 0);
  // Then it counts as arrived: unlisted for another window, it is lost.
  const auto arrived = t0 + 1s + window + 20s;
  for (auto t = arrived; t < arrived + window; t += 1s)
    CHECK(s.heartbeat(kNode1, {}, 0, t, window).requeued == 0);
  CHECK(s.heartbeat(kNode1, {}, 0, arrived + window, window).requeued == 1);
}
