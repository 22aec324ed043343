// The coordinator's scheduling core (coordinator/scheduler.hpp), driven
// event by event: what it dispatches where, what it delivers to whom, and
// what it cancels, read back from take_outbox().
#include "scheduler.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "payloads.hpp"
#include "vector_printing.hpp"

namespace {

using namespace dpool::internal;
using test_support::payload;
using test_support::str;

constexpr PeerId kClientA = 1, kClientB = 2;
constexpr PeerId kNode1 = 101, kNode2 = 102, kNode3 = 103;

// Client-side task ids start at 1000 so they cannot be mistaken for the
// scheduler's own numbering (which starts at 1).
std::string label(PeerId client, std::uint64_t id) {
  return "c" + std::to_string(client) + "#" + std::to_string(id);
}

// Submits tasks `ids` of `client`, named and carrying arguments after the client and id.
void submit(Scheduler& s, PeerId client, std::vector<std::uint64_t> ids,
            std::int32_t priority = 0) {
  std::vector<wire::Task> tasks;
  Payloads payloads;
  for (auto id : ids) {
    wire::Task t;
    t.id = id;
    t.name = label(client, id);
    t.fingerprint = 77;
    t.priority = priority;
    t.timeout_ms = 250;
    tasks.push_back(std::move(t));
    payloads.push_back(payload("args:" + label(client, id)));
  }
  s.submit(client, std::move(tasks), std::move(payloads));
}

// The envelopes in `out` carrying a message of kind B.
template <class B>
std::vector<const Envelope*> of_kind(const std::vector<Envelope>& out) {
  std::vector<const Envelope*> r;
  for (auto& e : out)
    if (std::holds_alternative<B>(e.message.body)) r.push_back(&e);
  return r;
}

// The envelopes in `out` for `peer` carrying a message of kind B.
template <class B>
std::vector<const Envelope*> to(const std::vector<Envelope>& out, PeerId peer) {
  std::vector<const Envelope*> r;
  for (auto& e : out)
    if (std::holds_alternative<B>(e.message.body) && e.to == peer) r.push_back(&e);
  return r;
}

// The body of an envelope that must carry kind B.
template <class B>
const B& body(const Envelope& e) {
  REQUIRE(std::holds_alternative<B>(e.message.body));
  return std::get<B>(e.message.body);
}

const std::vector<wire::Task>& tasks_of(const Envelope& e) {
  return body<wire::Dispatch>(e).tasks;
}

const std::vector<wire::Result>& results_of(const Envelope& e) {
  return body<wire::Deliver>(e).results;
}

const Payloads& payloads_of(const Envelope& e) {
  return e.message.payloads;
}

std::vector<std::string> names(const Envelope& e) {
  std::vector<std::string> r;
  for (auto& t : tasks_of(e)) r.push_back(t.name);
  return r;
}

// The single DISPATCH to `node` in `out` (the test fails if there is not exactly one).
const Envelope& dispatch_to(const std::vector<Envelope>& out, PeerId node) {
  auto d = to<wire::Dispatch>(out, node);
  REQUIRE(d.size() == 1);
  return *d[0];
}

// A node's answer for scheduler task `id`.
wire::Result ok_result(std::uint64_t id) {
  wire::Result r;
  r.id = id;
  r.node = "node";
  r.pid = 321;
  r.attempts = 1;
  r.started_us = 100;
  r.finished_us = 200;
  return r;
}

void report(Scheduler& s, PeerId node, std::vector<wire::Result> results,
            std::vector<std::string> payloads) {
  Payloads frames;
  for (auto& p : payloads) frames.push_back(payload(p));
  s.results(node, std::move(results), std::move(frames));
}

// Scheduler ids of the tasks in a DISPATCH, by task name.
std::map<std::string, std::uint64_t> ids_by_name(const Envelope& e) {
  std::map<std::string, std::uint64_t> r;
  for (auto& t : tasks_of(e)) r[t.name] = t.id;
  return r;
}

}  // namespace

TEST_CASE("tasks submitted before any node exists are queued, not dispatched") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001, 1002, 1003, 1004});
  auto out = s.take_outbox();
  CHECK(of_kind<wire::Dispatch>(out).empty());
  CHECK(s.queued() == 5);
  CHECK(s.running() == 0);
  CHECK(s.stats().submitted == 5);
  CHECK(s.stats().dispatched == 0);
  // The newcomer hears the cluster's size: nothing yet.
  auto status = to<wire::Status>(out, kClientA);
  REQUIRE(status.size() == 1);
  CHECK(body<wire::Status>(*status[0]).executors == 0);
  CHECK(body<wire::Status>(*status[0]).nodes == 0);
  CHECK(s.take_outbox().empty());
}

TEST_CASE("a node joining with 3 slots gets one DISPATCH of 3 tasks with their payloads") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001, 1002, 1003, 1004});
  s.take_outbox();
  s.node_joined(kNode1, "n1", 2, 3);
  auto out = s.take_outbox();
  REQUIRE(of_kind<wire::Dispatch>(out).size() == 1);
  auto& d = dispatch_to(out, kNode1);
  CHECK(names(d) == std::vector<std::string>{label(1, 1000), label(1, 1001), label(1, 1002)});
  REQUIRE(payloads_of(d).size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(str(payloads_of(d)[i]) == "args:" + tasks_of(d)[i].name);
    CHECK(tasks_of(d)[i].fingerprint == 77);
    CHECK(tasks_of(d)[i].timeout_ms == 250);
    CHECK(tasks_of(d)[i].attempt == 0);
  }
  // The node sees the scheduler's ids, all distinct.
  auto ids = ids_by_name(d);
  CHECK(ids.size() == 3);
  CHECK(s.queued() == 2);
  CHECK(s.running() == 3);
  CHECK(s.stats().dispatched == 3);
  // Nothing more until something changes.
  CHECK(of_kind<wire::Dispatch>(s.take_outbox()).empty());
}

TEST_CASE("results are delivered under the client's ids and refill the node's credit") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001, 1002, 1003, 1004});
  s.node_joined(kNode1, "n1", 3, 3);
  auto ids = ids_by_name(dispatch_to(s.take_outbox(), kNode1));
  REQUIRE(ids.size() == 3);

  auto failed = ok_result(ids[label(1, 1001)]);
  failed.failure.code = dpool::ErrorCode::kTaskRaised;
  failed.failure.type = "std::logic_error";
  failed.failure.message = "boom";
  report(s, kNode1, {ok_result(ids[label(1, 1000)]), failed}, {"result-1000", ""});

  auto out = s.take_outbox();
  auto deliver = to<wire::Deliver>(out, kClientA);
  REQUIRE(deliver.size() == 1);
  auto& results = results_of(*deliver[0]);
  REQUIRE(results.size() == 2);
  CHECK(results[0].id == 1000);
  CHECK(results[0].failure.code == dpool::ErrorCode::kNone);
  CHECK(results[0].pid == 321);
  CHECK(results[0].started_us == 100);
  CHECK(results[0].finished_us == 200);
  CHECK(results[1].id == 1001);
  CHECK(results[1].failure.code == dpool::ErrorCode::kTaskRaised);
  CHECK(results[1].failure.type == "std::logic_error");
  CHECK(results[1].failure.message == "boom");
  REQUIRE(payloads_of(*deliver[0]).size() == 2);
  CHECK(str(payloads_of(*deliver[0])[0]) == "result-1000");
  CHECK(payloads_of(*deliver[0])[1].size() == 0);

  // The two freed slots take the two queued tasks.
  auto& d = dispatch_to(out, kNode1);
  CHECK(names(d) == std::vector<std::string>{label(1, 1003), label(1, 1004)});
  CHECK(s.stats().completed == 2);
  CHECK(s.queued() == 0);
  CHECK(s.running() == 3);
}

TEST_CASE("results of several reports to one client travel in one DELIVER") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001});
  s.node_joined(kNode1, "n1", 2, 2);
  auto ids = ids_by_name(dispatch_to(s.take_outbox(), kNode1));
  report(s, kNode1, {ok_result(ids[label(1, 1000)])}, {"x"});
  report(s, kNode1, {ok_result(ids[label(1, 1001)])}, {"y"});
  auto out = s.take_outbox();
  auto deliver = to<wire::Deliver>(out, kClientA);
  REQUIRE(deliver.size() == 1);
  REQUIRE(results_of(*deliver[0]).size() == 2);
  CHECK(results_of(*deliver[0])[0].id == 1000);
  CHECK(results_of(*deliver[0])[1].id == 1001);
  CHECK(str(payloads_of(*deliver[0])[0]) == "x");
  CHECK(str(payloads_of(*deliver[0])[1]) == "y");
}

TEST_CASE("tasks of several submits to one node travel in one DISPATCH") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "n1", 4, 8);
  s.take_outbox();
  submit(s, kClientA, {1000});
  submit(s, kClientA, {1001, 1002});
  auto out = s.take_outbox();
  REQUIRE(of_kind<wire::Dispatch>(out).size() == 1);
  CHECK(names(dispatch_to(out, kNode1)) ==
        std::vector<std::string>{label(1, 1000), label(1, 1001), label(1, 1002)});
}

TEST_CASE("a short queue spreads over every node before any node gets a second task") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "n1", 4, 4);
  s.node_joined(kNode2, "n2", 4, 4);
  s.node_joined(kNode3, "n3", 4, 4);
  s.take_outbox();
  submit(s, kClientA, {1000, 1001, 1002, 1003});
  auto out = s.take_outbox();
  CHECK(names(dispatch_to(out, kNode1)) ==
        std::vector<std::string>{label(1, 1000), label(1, 1003)});
  CHECK(names(dispatch_to(out, kNode2)) == std::vector<std::string>{label(1, 1001)});
  CHECK(names(dispatch_to(out, kNode3)) == std::vector<std::string>{label(1, 1002)});
}

TEST_CASE("a node without free credit is skipped while others fill up") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "n1", 1, 1);
  s.node_joined(kNode2, "n2", 4, 3);
  s.take_outbox();
  submit(s, kClientA, {1000, 1001, 1002, 1003, 1004});
  auto out = s.take_outbox();
  CHECK(names(dispatch_to(out, kNode1)) == std::vector<std::string>{label(1, 1000)});
  CHECK(names(dispatch_to(out, kNode2)) ==
        std::vector<std::string>{label(1, 1001), label(1, 1002), label(1, 1003)});
  CHECK(s.queued() == 1);
  CHECK(s.running() == 4);
}

TEST_CASE("raising a node's slots through credit dispatches more") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001, 1002, 1003, 1004});
  s.node_joined(kNode1, "n1", 1, 1);
  CHECK(tasks_of(dispatch_to(s.take_outbox(), kNode1)).size() == 1);

  s.credit(kNode1, 4, 1);
  auto out = s.take_outbox();
  CHECK(names(dispatch_to(out, kNode1)) ==
        std::vector<std::string>{label(1, 1001), label(1, 1002), label(1, 1003)});
  CHECK(of_kind<wire::Status>(out).empty());  // same executors: no news for clients
  CHECK(s.running() == 4);
  CHECK(s.queued() == 1);

  // Lowering it dispatches nothing until running tasks finish.
  s.credit(kNode1, 2, 1);
  CHECK(of_kind<wire::Dispatch>(s.take_outbox()).empty());
}

TEST_CASE("credit from an unknown node is ignored") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000});
  s.take_outbox();
  s.credit(kNode1, 10, 10);
  auto out = s.take_outbox();
  CHECK(out.empty());
  CHECK(s.executors() == 0);
  CHECK(s.nodes() == 0);
}

TEST_CASE("two clients' queued tasks are served round-robin") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.client_joined(kClientB, "b");
  submit(s, kClientA, {1000, 1001, 1002});
  submit(s, kClientB, {2000, 2001, 2002, 2003});
  s.node_joined(kNode1, "n1", 6, 6);
  auto out = s.take_outbox();
  CHECK(names(dispatch_to(out, kNode1)) ==
        std::vector<std::string>{label(1, 1000), label(2, 2000), label(1, 1001), label(2, 2001),
                                 label(1, 1002), label(2, 2002)});
}

TEST_CASE(
    "a client's higher-priority tasks dispatch first, in submission order within a priority") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000}, 0);
  submit(s, kClientA, {1001}, 5);
  submit(s, kClientA, {1002}, -3);
  submit(s, kClientA, {1003}, 1);
  submit(s, kClientA, {1004}, 5);
  s.node_joined(kNode1, "n1", 5, 5);
  auto out = s.take_outbox();
  auto& d = dispatch_to(out, kNode1);
  CHECK(names(d) == std::vector<std::string>{label(1, 1001), label(1, 1004), label(1, 1003),
                                             label(1, 1000), label(1, 1002)});
  CHECK(tasks_of(d)[0].priority == 5);
}

TEST_CASE("a result from the wrong node or for an unknown id is counted as stale, not delivered") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "n1", 1, 1);
  s.node_joined(kNode2, "n2", 1, 0);
  submit(s, kClientA, {1000});
  auto ids = ids_by_name(dispatch_to(s.take_outbox(), kNode1));
  auto id = ids[label(1, 1000)];

  report(s, kNode2, {ok_result(id)}, {"wrong node"});
  report(s, kNode1, {ok_result(id + 1000)}, {"unknown id"});
  report(s, kNode3, {ok_result(id)}, {"unknown node"});
  auto out = s.take_outbox();
  CHECK(of_kind<wire::Deliver>(out).empty());
  CHECK(s.stats().stale_results == 3);
  CHECK(s.stats().completed == 0);
  CHECK(s.running() == 1);

  // The right node's result still gets through, once.
  report(s, kNode1, {ok_result(id)}, {"right"});
  report(s, kNode1, {ok_result(id)}, {"again"});
  out = s.take_outbox();
  auto deliver = to<wire::Deliver>(out, kClientA);
  REQUIRE(deliver.size() == 1);
  REQUIRE(results_of(*deliver[0]).size() == 1);
  CHECK(results_of(*deliver[0])[0].id == 1000);
  CHECK(str(payloads_of(*deliver[0])[0]) == "right");
  CHECK(s.stats().stale_results == 4);
  CHECK(s.stats().completed == 1);
}

TEST_CASE("a node leaving requeues its running tasks with one more attempt, for another node") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001, 1002});
  s.node_joined(kNode1, "n1", 2, 2);
  auto first = ids_by_name(dispatch_to(s.take_outbox(), kNode1));
  REQUIRE(first.size() == 2);

  s.node_left(kNode1);
  CHECK(s.queued() == 3);
  CHECK(s.running() == 0);
  CHECK(s.stats().requeued == 2);
  auto out = s.take_outbox();
  CHECK(of_kind<wire::Dispatch>(out).empty());

  s.node_joined(kNode2, "n2", 3, 3);
  out = s.take_outbox();
  auto& d = dispatch_to(out, kNode2);
  REQUIRE(tasks_of(d).size() == 3);
  std::map<std::string, std::uint32_t> attempts;
  for (auto& t : tasks_of(d)) attempts[t.name] = t.attempt;
  CHECK(attempts[label(1, 1000)] == 1);
  CHECK(attempts[label(1, 1001)] == 1);
  CHECK(attempts[label(1, 1002)] == 0);
  // Requeued tasks go before the ones that never ran, with their arguments intact.
  CHECK(names(d)[2] == label(1, 1002));
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(str(payloads_of(d)[i]) == "args:" + tasks_of(d)[i].name);

  // A late result from the departed node is stale.
  report(s, kNode1, {ok_result(first[label(1, 1000)])}, {"late"});
  CHECK(of_kind<wire::Deliver>(s.take_outbox()).empty());
  CHECK(s.stats().stale_results == 1);
}

TEST_CASE("a client leaving drops its queued tasks and cancels its running ones on their nodes") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.client_joined(kClientB, "b");
  submit(s, kClientA, {1000, 1001, 1002, 1003, 1004});
  s.node_joined(kNode1, "n1", 2, 2);
  s.node_joined(kNode2, "n2", 1, 1);
  auto out = s.take_outbox();
  auto on1 = ids_by_name(dispatch_to(out, kNode1));
  auto on2 = ids_by_name(dispatch_to(out, kNode2));
  REQUIRE(on1.size() == 2);
  REQUIRE(on2.size() == 1);

  submit(s, kClientB, {2000, 2001, 2002});
  s.client_left(kClientA);
  CHECK(s.stats().dropped == 5);
  out = s.take_outbox();

  auto c1 = to<wire::Cancel>(out, kNode1);
  REQUIRE(c1.size() == 1);
  auto& cancel1 = body<wire::Cancel>(*c1[0]);
  auto got1 = cancel1.ids;
  std::sort(got1.begin(), got1.end());
  std::vector<std::uint64_t> want1 = {on1.begin()->second, std::next(on1.begin())->second};
  std::sort(want1.begin(), want1.end());
  CHECK(got1 == want1);
  CHECK(cancel1.kill_running);
  CHECK_FALSE(cancel1.all);

  auto c2 = to<wire::Cancel>(out, kNode2);
  REQUIRE(c2.size() == 1);
  CHECK(body<wire::Cancel>(*c2[0]).ids == std::vector<std::uint64_t>{on2.begin()->second});
  CHECK(body<wire::Cancel>(*c2[0]).kill_running);

  // The freed slots go to the remaining client; nothing is delivered to the one that left.
  CHECK(to<wire::Deliver>(out, kClientA).empty());
  CHECK(to<wire::Status>(out, kClientA).empty());
  auto b1 = names(dispatch_to(out, kNode1));
  auto b2 = names(dispatch_to(out, kNode2));
  CHECK(b1.size() == 2);
  CHECK(b2.size() == 1);
  auto all = b1;
  all.insert(all.end(), b2.begin(), b2.end());
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::string>{label(2, 2000), label(2, 2001), label(2, 2002)});
  CHECK(s.queued() == 0);
  CHECK(s.running() == 3);

  // Results for the cancelled tasks arriving later are stale.
  report(s, kNode2, {ok_result(on2.begin()->second)}, {"late"});
  CHECK(to<wire::Deliver>(s.take_outbox(), kClientA).empty());
  CHECK(s.stats().stale_results == 1);
}

TEST_CASE("cancel with all and kill_running drops queued tasks and cancels running ones") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.client_joined(kClientB, "b");
  submit(s, kClientA, {1000, 1001, 1002, 1003});
  submit(s, kClientB, {2000});
  s.node_joined(kNode1, "n1", 2, 2);
  auto ids = ids_by_name(dispatch_to(s.take_outbox(), kNode1));
  REQUIRE(ids.count(label(1, 1000)) == 1);
  REQUIRE(ids.count(label(2, 2000)) == 1);

  s.cancel(kClientA, wire::Cancel{0, {}, true, true});
  CHECK(s.stats().dropped == 4);
  auto out = s.take_outbox();
  auto c = to<wire::Cancel>(out, kNode1);
  REQUIRE(c.size() == 1);
  CHECK(body<wire::Cancel>(*c[0]).ids == std::vector<std::uint64_t>{ids[label(1, 1000)]});
  CHECK(body<wire::Cancel>(*c[0]).kill_running);
  CHECK(of_kind<wire::Dispatch>(out).empty());
  CHECK(s.queued() == 0);
  CHECK(s.running() == 1);  // client B's task

  // The client is still connected and can submit again.
  submit(s, kClientA, {1010});
  CHECK(names(dispatch_to(s.take_outbox(), kNode1)) == std::vector<std::string>{label(1, 1010)});
}

TEST_CASE("cancel of chosen ids without kill_running drops only those still queued") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001, 1002, 1003});
  s.node_joined(kNode1, "n1", 1, 1);
  auto ids = ids_by_name(dispatch_to(s.take_outbox(), kNode1));
  REQUIRE(ids.count(label(1, 1000)) == 1);

  s.cancel(kClientA, wire::Cancel{0, {1000, 1002}, false, false});
  CHECK(s.stats().dropped == 1);
  CHECK(s.queued() == 2);
  CHECK(s.running() == 1);
  CHECK(of_kind<wire::Cancel>(s.take_outbox()).empty());

  // The running one still completes and the survivors run in order.
  report(s, kNode1, {ok_result(ids[label(1, 1000)])}, {"done"});
  auto out = s.take_outbox();
  REQUIRE(to<wire::Deliver>(out, kClientA).size() == 1);
  CHECK(names(dispatch_to(out, kNode1)) == std::vector<std::string>{label(1, 1001)});
}

TEST_CASE("cancel of chosen running ids with kill_running cancels only those") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  submit(s, kClientA, {1000, 1001, 1002});
  s.node_joined(kNode1, "n1", 3, 3);
  auto ids = ids_by_name(dispatch_to(s.take_outbox(), kNode1));
  s.cancel(kClientA, wire::Cancel{0, {1001}, false, true});
  auto out = s.take_outbox();
  auto c = to<wire::Cancel>(out, kNode1);
  REQUIRE(c.size() == 1);
  CHECK(body<wire::Cancel>(*c[0]).ids == std::vector<std::uint64_t>{ids[label(1, 1001)]});
  CHECK(s.running() == 2);
  CHECK(s.stats().dropped == 1);
}

TEST_CASE("STATUS goes to every client when nodes join or leave, with the executor total") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.client_joined(kClientB, "b");
  s.take_outbox();

  auto status_of = [](const std::vector<Envelope>& out, PeerId client) {
    auto st = to<wire::Status>(out, client);
    REQUIRE(st.size() == 1);
    return body<wire::Status>(*st[0]);
  };

  s.node_joined(kNode1, "n1", 4, 8);
  auto out = s.take_outbox();
  CHECK(status_of(out, kClientA).executors == 4);
  CHECK(status_of(out, kClientA).nodes == 1);
  CHECK(status_of(out, kClientB).executors == 4);

  s.node_joined(kNode2, "n2", 2, 4);
  out = s.take_outbox();
  CHECK(status_of(out, kClientA).executors == 6);
  CHECK(status_of(out, kClientB).nodes == 2);

  CHECK(s.take_outbox().empty());  // no change, no news

  s.credit(kNode2, 4, 3);  // the node's executor count changed
  out = s.take_outbox();
  CHECK(status_of(out, kClientA).executors == 7);

  s.node_left(kNode1);
  out = s.take_outbox();
  CHECK(status_of(out, kClientA).executors == 3);
  CHECK(status_of(out, kClientA).nodes == 1);
  CHECK(status_of(out, kClientB).executors == 3);
}

TEST_CASE("executors() sums the nodes and follows joins, re-joins and departures") {
  Scheduler s;
  CHECK(s.executors() == 0);
  s.node_joined(kNode1, "n1", 4, 8);
  s.node_joined(kNode2, "n2", 2, 4);
  CHECK(s.executors() == 6);
  CHECK(s.nodes() == 2);
  s.node_joined(kNode1, "n1", 8, 16);  // the same node again replaces its count
  CHECK(s.executors() == 10);
  CHECK(s.nodes() == 2);
  s.credit(kNode2, 2, 1);
  CHECK(s.executors() == 9);
  s.node_left(kNode2);
  CHECK(s.executors() == 8);
  CHECK(s.nodes() == 1);
  s.node_left(kNode2);  // twice is harmless
  CHECK(s.executors() == 8);
  s.node_left(kNode1);
  CHECK(s.executors() == 0);
  CHECK(s.nodes() == 0);
}

TEST_CASE("a submit from a client that never joined is ignored") {
  Scheduler s;
  s.node_joined(kNode1, "n1", 1, 4);
  s.take_outbox();
  submit(s, kClientA, {1000});
  CHECK(s.queued() == 0);
  CHECK(s.stats().submitted == 0);
  CHECK(s.take_outbox().empty());
}

TEST_CASE("a client's pool settings go to each node once, with its first task there") {
  Scheduler s;
  wire::PoolSettings settings;
  settings.init_name = "setup";
  settings.init_args = "args";
  settings.max_tasks_per_child = 3;
  s.client_joined(kClientA, "a", settings);
  s.client_joined(kClientB, "b");
  s.node_joined(kNode1, "n1", 1, 2);
  s.node_joined(kNode2, "n2", 1, 2);
  submit(s, kClientA, {1000, 1001, 1002, 1003});
  submit(s, kClientB, {1000});
  auto out = s.take_outbox();
  std::uint64_t key = 0;
  for (PeerId node : {kNode1, kNode2}) {
    CAPTURE(node);
    auto& batch = body<wire::Dispatch>(dispatch_to(out, node));
    REQUIRE(batch.pools.size() == 1);  // sent once although the node got two of A's tasks
    auto& p = batch.pools[0];
    CHECK(p.key != 0);
    CHECK((key == 0 || p.key == key));
    key = p.key;
    CHECK(p.init_name == "setup");
    CHECK(p.init_args == "args");
    CHECK(p.max_tasks_per_child == 3);
    for (auto& t : batch.tasks) CHECK(t.pool == (t.name.starts_with("c1#") ? key : 0));
  }

  // Later dispatches to the same node do not repeat the settings.
  auto first = ids_by_name(dispatch_to(out, kNode1));
  std::vector<wire::Result> done;
  for (auto& [name, id] : first) done.push_back(ok_result(id));
  report(s, kNode1, std::move(done), std::vector<std::string>(first.size(), "r"));
  out = s.take_outbox();
  auto& again = body<wire::Dispatch>(dispatch_to(out, kNode1));
  CHECK(again.pools.empty());
  for (auto& t : again.tasks) CHECK(t.pool == key);
}

TEST_CASE("a client without pool settings tags its tasks with no pool") {
  Scheduler s;
  s.client_joined(kClientA, "a");
  s.node_joined(kNode1, "n1", 1, 1);
  submit(s, kClientA, {1000});
  auto out = s.take_outbox();
  auto& batch = body<wire::Dispatch>(dispatch_to(out, kNode1));
  CHECK(batch.pools.empty());
  REQUIRE(batch.tasks.size() == 1);
  CHECK(batch.tasks[0].pool == 0);
}

TEST_CASE("running_on names a task only on the node running it, and only until it finishes") {
  Scheduler s;
  s.client_joined(kClientA, "client-a");
  s.node_joined(kNode1, "n1", 1, 1);
  s.node_joined(kNode2, "n2", 1, 1);
  submit(s, kClientA, {1000, 1001, 1002});
  auto out = s.take_outbox();
  auto on1 = ids_by_name(dispatch_to(out, kNode1));
  REQUIRE(on1.size() == 1);
  auto id = on1.begin()->second;

  auto r = s.running_on(kNode1, id);
  REQUIRE(r.has_value());
  CHECK(r->spec.id == id);
  CHECK(r->spec.name == on1.begin()->first);
  CHECK(r->spec.attempt == 0);
  CHECK(r->client == "client-a");
  CHECK(r->node == "n1");
  CHECK_FALSE(s.running_on(kNode2, id).has_value());  // asked by another node
  CHECK_FALSE(s.running_on(kNode3, id).has_value());  // by an unknown one
  CHECK_FALSE(s.running_on(kNode1, id + 1000).has_value());

  // Once finished it runs nowhere.
  report(s, kNode1, {ok_result(id)}, {"done"});
  out = s.take_outbox();
  CHECK_FALSE(s.running_on(kNode1, id).has_value());

  // A task requeued by its node's loss runs nowhere until dispatched again.
  auto next = ids_by_name(dispatch_to(out, kNode1));
  REQUIRE(next.size() == 1);
  auto requeued = next.begin()->second;
  REQUIRE(s.running_on(kNode1, requeued).has_value());
  s.node_left(kNode1);
  CHECK_FALSE(s.running_on(kNode1, requeued).has_value());
}

TEST_CASE(
    "the seed decides the pool keys: the same seed gives the same key, another seed another") {
  auto key_with_seed = [](std::uint64_t seed) {
    Scheduler s(Scheduler::Options{.seed = seed});
    wire::PoolSettings settings;
    settings.max_tasks_per_child = 1;
    s.client_joined(kClientA, "a", settings);
    s.node_joined(kNode1, "n1", 1, 1);
    submit(s, kClientA, {1000});
    auto out = s.take_outbox();
    auto& batch = body<wire::Dispatch>(dispatch_to(out, kNode1));
    REQUIRE(batch.pools.size() == 1);
    CHECK(batch.pools[0].key != 0);
    return batch.pools[0].key;
  };
  CHECK(key_with_seed(7) == key_with_seed(7));
  CHECK(key_with_seed(7) != key_with_seed(8));
}

TEST_CASE("max_queued bounds the queue: submissions beyond it fail with QueueFull") {
  Scheduler s(Scheduler::Options{.max_queued = 2});
  s.client_joined(kClientA, "a");
  s.take_outbox();
  submit(s, kClientA, {1000, 1001, 1002});
  CHECK(s.queued() == 2);
  auto out = s.take_outbox();
  auto deliver = to<wire::Deliver>(out, kClientA);
  REQUIRE(deliver.size() == 1);
  REQUIRE(results_of(*deliver[0]).size() == 1);
  CHECK(results_of(*deliver[0])[0].id == 1002);
  CHECK(results_of(*deliver[0])[0].failure.code == dpool::ErrorCode::kQueueFull);
}
