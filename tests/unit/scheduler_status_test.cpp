// What `dpool status` reads from the coordinator's pure cores: the
// scheduler's counts per node, per client and in total, and the
// last-minute throughput ring (coordinator/throughput.hpp), driven with
// explicit times.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "payloads.hpp"
#include "scheduler.hpp"
#include "throughput.hpp"

namespace {

using namespace dpool::internal;
using namespace std::chrono_literals;
using dpool::ErrorCode;
using test_support::payload;

constexpr PeerId kClientA = 1, kClientB = 2;
constexpr PeerId kNode1 = 101, kNode2 = 102;

void submit(Scheduler& s, PeerId client, std::vector<std::uint64_t> ids) {
  std::vector<wire::Task> tasks;
  Payloads payloads;
  for (auto id : ids) {
    wire::Task t;
    t.id = id;
    t.name = "t" + std::to_string(id);
    tasks.push_back(std::move(t));
    payloads.push_back(payload("args"));
  }
  s.submit(client, std::move(tasks), std::move(payloads));
}

// The scheduler's ids of the tasks dispatched to each node in one outbox.
std::vector<std::uint64_t> dispatched_to(const std::vector<Envelope>& out, PeerId node) {
  std::vector<std::uint64_t> ids;
  for (auto& e : out)
    if (auto* d = std::get_if<wire::Dispatch>(&e.message.body); d && e.to == node)
      for (auto& t : d->tasks) ids.push_back(t.id);
  return ids;
}

// `node` sends back results for `ids`; those in `failed` with an error.
void finish(Scheduler& s, PeerId node, const std::vector<std::uint64_t>& ids,
            const std::vector<std::uint64_t>& failed = {}) {
  std::vector<wire::Result> results;
  Payloads payloads;
  for (auto id : ids) {
    wire::Result r;
    r.id = id;
    if (std::find(failed.begin(), failed.end(), id) != failed.end()) {
      r.failure.code = ErrorCode::kTaskRaised;
      r.failure.message = "boom";
    }
    results.push_back(std::move(r));
    payloads.push_back(payload("result"));
  }
  s.results(node, std::move(results), std::move(payloads));
}

const Scheduler::NodeLoad& node_load(const std::vector<Scheduler::NodeLoad>& loads, PeerId peer) {
  for (auto& l : loads)
    if (l.peer == peer) return l;
  FAIL("no such node");
  return loads.front();
}

const Scheduler::ClientLoad& client_load(const std::vector<Scheduler::ClientLoad>& loads,
                                         PeerId peer) {
  for (auto& l : loads)
    if (l.peer == peer) return l;
  FAIL("no such client");
  return loads.front();
}

}  // namespace

TEST_CASE("each node counts the results it sent back, done and failed, and each client its own") {
  Scheduler s;
  s.client_joined(kClientA, "client:1");
  s.client_joined(kClientB, "client:2");
  s.node_joined(kNode1, "node-1", 2, 2);
  submit(s, kClientA, {1, 2, 3});
  submit(s, kClientB, {4});
  auto ran = dispatched_to(s.take_outbox(), kNode1);
  REQUIRE(ran.size() == 2);

  auto clients = s.client_loads();
  auto queued = client_load(clients, kClientA).queued + client_load(clients, kClientB).queued;
  auto running = client_load(clients, kClientA).running + client_load(clients, kClientB).running;
  CHECK(queued == 2);
  CHECK(running == 2);
  auto node = node_load(s.node_loads(), kNode1);
  CHECK(node.name == "node-1");
  CHECK(node.executors == 2);
  CHECK(node.running == 2);
  CHECK(node.counts.done == 0);

  finish(s, kNode1, ran, {ran[1]});
  node = node_load(s.node_loads(), kNode1);
  CHECK(node.counts.done == 2);
  CHECK(node.counts.failed == 1);
  CHECK(node.counts.retried == 0);
  CHECK(s.totals().done == 2);
  CHECK(s.totals().failed == 1);
  clients = s.client_loads();
  CHECK(client_load(clients, kClientA).done + client_load(clients, kClientB).done == 2);

  // The rest run; every client's tasks are done.
  for (int round = 0; round < 2; ++round) finish(s, kNode1, dispatched_to(s.take_outbox(), kNode1));
  clients = s.client_loads();
  CHECK(client_load(clients, kClientA).done == 3);
  CHECK(client_load(clients, kClientA).queued == 0);
  CHECK(client_load(clients, kClientA).running == 0);
  CHECK(client_load(clients, kClientB).done == 1);
  CHECK(s.totals().done == 4);
}

TEST_CASE(
    "a task re-run after its node was lost counts as retried on the node that ran it, and the "
    "totals keep what a departed node did") {
  Scheduler s;
  s.client_joined(kClientA, "client:1");
  s.node_joined(kNode1, "node-1", 1, 1);
  submit(s, kClientA, {1, 2});
  auto first = dispatched_to(s.take_outbox(), kNode1);
  REQUIRE(first.size() == 1);
  finish(s, kNode1, first);
  auto second = dispatched_to(s.take_outbox(), kNode1);
  REQUIRE(second.size() == 1);

  s.node_joined(kNode2, "node-2", 1, 1);
  CHECK(s.node_left(kNode1).requeued == 1);
  auto rerun = dispatched_to(s.take_outbox(), kNode2);
  REQUIRE(rerun == second);
  finish(s, kNode2, rerun);

  auto loads = s.node_loads();
  REQUIRE(loads.size() == 1);
  CHECK(loads[0].counts.done == 1);
  CHECK(loads[0].counts.retried == 1);
  CHECK(s.totals().done == 2);
  CHECK(s.totals().retried == 1);
  CHECK(client_load(s.client_loads(), kClientA).done == 2);
}

TEST_CASE(
    "a task failed with WorkerLost past its retries counts as done and failed in the totals") {
  Scheduler s({.node_loss_retries = 0});
  s.client_joined(kClientA, "client:1");
  s.node_joined(kNode1, "node-1", 1, 1);
  submit(s, kClientA, {1});
  REQUIRE(dispatched_to(s.take_outbox(), kNode1).size() == 1);
  CHECK(s.node_left(kNode1).failed == 1);
  CHECK(s.totals().done == 1);
  CHECK(s.totals().failed == 1);
  CHECK(client_load(s.client_loads(), kClientA).done == 1);
}

TEST_CASE("throughput is the tasks finished over the last minute, per second") {
  const Throughput::TimePoint t0{std::chrono::hours(5)};
  Throughput rate(t0);
  CHECK(rate.per_second(t0) == 0.0);

  // 120 tasks spread over the first minute: 2 a second.
  for (int i = 0; i < 60; ++i) rate.add(2, t0 + std::chrono::seconds(i) + 500ms);
  CHECK(rate.per_second(t0 + 60s) == doctest::Approx(2.0));

  // Half a minute later, only the last half of those is in the window.
  CHECK(rate.per_second(t0 + 90s) == doctest::Approx(1.0));
  // A minute of silence: nothing.
  CHECK(rate.per_second(t0 + 121s) == 0.0);

  // Counting again after the silence: the old buckets were emptied.
  rate.add(600, t0 + 200s);
  CHECK(rate.per_second(t0 + 200s) == doctest::Approx(10.0));
}

TEST_CASE("throughput asked for before a minute has passed is over the time since start") {
  const Throughput::TimePoint t0{std::chrono::hours(1)};
  Throughput rate(t0);
  rate.add(10, t0 + 500ms);
  rate.add(10, t0 + 1500ms);
  CHECK(rate.per_second(t0 + 2s) == doctest::Approx(10.0));
  // Within the first second the divisor is one second, not a fraction of one.
  Throughput fresh(t0);
  fresh.add(5, t0 + 100ms);
  CHECK(fresh.per_second(t0 + 200ms) == doctest::Approx(5.0));
}

TEST_CASE("a time earlier than one already counted counts in the newest second") {
  const Throughput::TimePoint t0{std::chrono::hours(1)};
  Throughput rate(t0);
  rate.add(30, t0 + 30s);
  rate.add(30, t0 + 10s);
  CHECK(rate.per_second(t0 + 60s) == doctest::Approx(1.0));
  CHECK(rate.per_second(t0 + 89s) == doctest::Approx(1.0));  // second 30 is still in the window
  CHECK(rate.per_second(t0 + 91s) == 0.0);
}

TEST_CASE(
    "the longest-running tasks are those dispatched earliest and not finished, oldest first, "
    "with the time of their dispatch") {
  const Scheduler::TimePoint t0{std::chrono::hours(2)};
  Scheduler s;
  s.client_joined(kClientA, "client:1");
  s.node_joined(kNode1, "node-1", 1, 1);
  s.node_joined(kNode2, "node-2", 2, 2);
  submit(s, kClientA, {1, 2, 3, 4});
  s.set_time(t0);
  auto out = s.take_outbox();
  auto on1 = dispatched_to(out, kNode1);
  auto on2 = dispatched_to(out, kNode2);
  REQUIRE(on1.size() == 1);
  REQUIRE(on2.size() == 2);
  CHECK(s.longest_running(10).size() == 3);

  // node-1 finishes; the fourth task goes there 5 s later.
  s.set_time(t0 + 5s);
  finish(s, kNode1, on1);
  auto later = dispatched_to(s.take_outbox(), kNode1);
  REQUIRE(later.size() == 1);

  auto longest = s.longest_running(10);
  REQUIRE(longest.size() == 3);
  CHECK(longest[0].node == "node-2");
  CHECK(longest[0].since == t0);
  CHECK(longest[0].client == "client:1");
  CHECK(longest[1].since == t0);
  CHECK(longest[2].node == "node-1");
  CHECK(longest[2].since == t0 + 5s);
  CHECK(longest[2].task == "t4");
  // At most n.
  CHECK(s.longest_running(1).size() == 1);
  CHECK(s.longest_running(0).empty());

  // A time earlier than the last is ignored: the clock does not go back.
  s.set_time(t0);
  finish(s, kNode2, on2);
  s.take_outbox();
  longest = s.longest_running(10);
  REQUIRE(longest.size() == 1);
  CHECK(longest[0].since == t0 + 5s);
}

TEST_CASE("a task requeued after its node was lost counts from its new dispatch, once") {
  const Scheduler::TimePoint t0{std::chrono::hours(3)};
  Scheduler s;
  s.client_joined(kClientA, "client:1");
  s.node_joined(kNode1, "node-1", 1, 1);
  submit(s, kClientA, {1});
  s.set_time(t0);
  REQUIRE(dispatched_to(s.take_outbox(), kNode1).size() == 1);
  s.set_time(t0 + 10s);
  s.node_joined(kNode2, "node-2", 1, 1);
  REQUIRE(s.node_left(kNode1).requeued == 1);
  REQUIRE(dispatched_to(s.take_outbox(), kNode2).size() == 1);
  auto longest = s.longest_running(10);
  REQUIRE(longest.size() == 1);
  CHECK(longest[0].node == "node-2");
  CHECK(longest[0].since == t0 + 10s);
}

TEST_CASE("finished tasks do not pile up behind one that runs for ever") {
  Scheduler s;
  s.client_joined(kClientA, "client:1");
  s.node_joined(kNode1, "node-1", 2, 2);
  submit(s, kClientA, {1});
  auto forever = dispatched_to(s.take_outbox(), kNode1);
  REQUIRE(forever.size() == 1);
  for (std::uint64_t id = 2; id < 5000; ++id) {
    submit(s, kClientA, {id});
    auto ran = dispatched_to(s.take_outbox(), kNode1);
    REQUIRE(ran.size() == 1);
    finish(s, kNode1, ran);
  }
  auto longest = s.longest_running(10);
  REQUIRE(longest.size() == 1);
  CHECK(longest[0].task == "t1");
}

TEST_CASE(
    "the recent failures keep the last 20 tasks that failed, with node, error and time, and "
    "cut long messages") {
  const Scheduler::TimePoint t0{std::chrono::hours(4)};
  Scheduler s({.node_loss_retries = 0});
  s.client_joined(kClientA, "client:1");
  s.node_joined(kNode1, "node-1", 1, 1);
  CHECK(s.recent_failures().empty());
  for (std::uint64_t id = 1; id <= 25; ++id) {
    submit(s, kClientA, {id});
    s.set_time(t0 + std::chrono::seconds(id));
    auto ran = dispatched_to(s.take_outbox(), kNode1);
    REQUIRE(ran.size() == 1);
    finish(s, kNode1, ran, id % 2 ? ran : std::vector<std::uint64_t>{});  // odd ones fail
  }
  auto& failures = s.recent_failures();
  CHECK(failures.size() == 13);  // 1, 3, ..., 25
  CHECK(failures.back().task == "t25");
  CHECK(failures.back().node == "node-1");
  CHECK(failures.back().code == ErrorCode::kTaskRaised);
  CHECK(failures.back().message == "boom");
  CHECK(failures.back().at == t0 + 25s);

  // More than 20: the oldest go.
  for (std::uint64_t id = 26; id <= 40; ++id) {
    submit(s, kClientA, {id});
    auto ran = dispatched_to(s.take_outbox(), kNode1);
    REQUIRE(ran.size() == 1);
    finish(s, kNode1, ran, ran);
  }
  CHECK(failures.size() == Scheduler::kFailuresKept);
  CHECK(failures.front().task == "t17");  // 13 + 15 failed: the 8 oldest went
  CHECK(failures.back().task == "t40");

  // WorkerLost past the retries is a failure of the node that was lost.
  submit(s, kClientA, {41});
  s.set_time(t0 + 100s);
  REQUIRE(dispatched_to(s.take_outbox(), kNode1).size() == 1);
  s.node_left(kNode1);
  CHECK(failures.back().task == "t41");
  CHECK(failures.back().node == "node-1");
  CHECK(failures.back().code == ErrorCode::kWorkerLost);
  CHECK(failures.back().at == t0 + 100s);

  // A long message is cut.
  s.node_joined(kNode2, "node-2", 1, 1);
  submit(s, kClientA, {42});
  auto ran = dispatched_to(s.take_outbox(), kNode2);
  REQUIRE(ran.size() == 1);
  wire::Result r;
  r.id = ran[0];
  r.failure.code = ErrorCode::kTaskRaised;
  r.failure.message = std::string(100000, 'x');
  Payloads payloads;
  payloads.push_back(payload("result"));
  s.results(kNode2, {std::move(r)}, std::move(payloads));
  CHECK(failures.back().message.size() == Scheduler::kFailureText);
}
