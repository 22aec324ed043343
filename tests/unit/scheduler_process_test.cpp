// Processes (pool.process) in the coordinator's scheduler and the node's
// exit-status rule: placement outside the credit, the started report, node
// loss without a second start, signals; and process_exit.
#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

#include "node_processes.hpp"
#include "payloads.hpp"
#include "scheduler.hpp"

namespace {

using namespace dpool::internal;
using dpool::ErrorCode;
using test_support::payload;

constexpr PeerId kClient = 1;
constexpr PeerId kNode1 = 101, kNode2 = 102;

void submit_process(Scheduler& s, std::uint64_t id, const std::string& name) {
  std::vector<wire::Task> tasks(1);
  tasks[0].id = id;
  tasks[0].name = "run";
  tasks[0].process = name;
  Payloads payloads;
  payloads.push_back(payload("args"));
  s.submit(kClient, std::move(tasks), std::move(payloads));
}

void submit_task(Scheduler& s, std::uint64_t id) {
  std::vector<wire::Task> tasks(1);
  tasks[0].id = id;
  tasks[0].name = "task";
  Payloads payloads;
  payloads.push_back(payload("args"));
  s.submit(kClient, std::move(tasks), std::move(payloads));
}

// The tasks dispatched to `node` in `out`.
std::vector<wire::Task> dispatched(const std::vector<Envelope>& out, PeerId node) {
  std::vector<wire::Task> r;
  for (auto& e : out)
    if (auto* d = std::get_if<wire::Dispatch>(&e.message.body); d && e.to == node)
      r.insert(r.end(), d->tasks.begin(), d->tasks.end());
  return r;
}

std::vector<wire::Result> delivered(const std::vector<Envelope>& out) {
  std::vector<wire::Result> r;
  for (auto& e : out)
    if (auto* d = std::get_if<wire::Deliver>(&e.message.body); d && e.to == kClient)
      r.insert(r.end(), d->results.begin(), d->results.end());
  return r;
}

void report(Scheduler& s, PeerId node, std::uint64_t id, ErrorCode code, int signal = 0) {
  std::vector<wire::Result> results(1);
  results[0].id = id;
  results[0].failure.code = code;
  results[0].failure.signal = signal;
  results[0].pid = 4242;
  Payloads payloads(1);
  s.results(node, std::move(results), std::move(payloads));
}

}  // namespace

TEST_CASE("a Process goes to the node with the least work per executor, outside its credit") {
  Scheduler s;
  s.client_joined(kClient, "client");
  s.node_joined(kNode1, "busy", 1, 2);
  s.node_joined(kNode2, "idle", 2, 4);
  submit_task(s, 1);
  submit_task(s, 2);
  auto out = s.take_outbox();
  // One task per node (idle executors first across nodes): busy 1/1, idle 1/2.
  REQUIRE(dispatched(out, kNode1).size() == 1);
  REQUIRE(dispatched(out, kNode2).size() == 1);
  submit_process(s, 7, "Process-1");
  out = s.take_outbox();
  auto to_idle = dispatched(out, kNode2);
  REQUIRE(to_idle.size() == 1);
  CHECK(to_idle[0].process == "Process-1");
  CHECK(to_idle[0].pool == 0);
  CHECK(dispatched(out, kNode1).empty());
  // The node's credit is untouched: its second executor still takes a task.
  submit_task(s, 3);
  CHECK(dispatched(s.take_outbox(), kNode2).size() == 1);
  auto loads = s.node_loads();
  REQUIRE(loads.size() == 2);
  CHECK(loads[1].processes == 1);
  CHECK(loads[1].running == 2);
}

TEST_CASE("a Process's started report reaches the client and keeps it; its end finishes it") {
  Scheduler s;
  s.client_joined(kClient, "client");
  s.node_joined(kNode1, "n1", 1, 2);
  submit_process(s, 7, "P");
  auto id = dispatched(s.take_outbox(), kNode1).at(0).id;
  report(s, kNode1, id, wire::kStarted);
  auto got = delivered(s.take_outbox());
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == 7);
  CHECK(got[0].failure.code == wire::kStarted);
  CHECK(s.node_loads().at(0).processes == 1);
  report(s, kNode1, id, ErrorCode::kNone);
  got = delivered(s.take_outbox());
  REQUIRE(got.size() == 1);
  CHECK(got[0].failure.code == ErrorCode::kNone);
  CHECK(s.node_loads().at(0).processes == 0);
  report(s, kNode1, id, ErrorCode::kNone);  // a late duplicate is stale
  CHECK(delivered(s.take_outbox()).empty());
  CHECK(s.stats().stale_results == 1);
}

TEST_CASE("a Process whose node is lost fails with WorkerLost and is never dispatched again") {
  Scheduler s;
  s.client_joined(kClient, "client");
  s.node_joined(kNode1, "doomed", 1, 2);
  submit_process(s, 7, "P");
  s.take_outbox();
  auto lost = s.node_left(kNode1);
  CHECK(lost.failed == 1);
  CHECK(lost.requeued == 0);
  s.node_joined(kNode2, "fresh", 1, 2);
  auto out = s.take_outbox();
  CHECK(dispatched(out, kNode2).empty());
  auto got = delivered(out);
  REQUIRE(got.size() == 1);
  CHECK(got[0].failure.code == ErrorCode::kWorkerLost);
  CHECK(got[0].failure.message.find("doomed") != std::string::npos);
}

TEST_CASE("a signal goes to the Process's node; one not placed yet ends as killed by it") {
  Scheduler s;
  s.client_joined(kClient, "client");
  submit_process(s, 7, "waiting");
  CHECK(s.take_outbox().size() <= 1);  // no node: it waits (a STATUS at most)
  s.signal(kClient, wire::Signal{{7}, SIGTERM});
  auto got = delivered(s.take_outbox());
  REQUIRE(got.size() == 1);
  CHECK(got[0].failure.code == ErrorCode::kWorkerCrashed);
  CHECK(got[0].failure.signal == SIGTERM);
  s.node_joined(kNode1, "n1", 1, 2);
  CHECK(dispatched(s.take_outbox(), kNode1).empty());  // it will not run now

  submit_process(s, 8, "placed");
  auto id = dispatched(s.take_outbox(), kNode1).at(0).id;
  submit_task(s, 9);
  s.take_outbox();
  s.signal(kClient, wire::Signal{{8, 9, 12345}, SIGKILL});  // a task and an unknown id: ignored
  auto out = s.take_outbox();
  REQUIRE(out.size() == 1);
  auto* sig = std::get_if<wire::Signal>(&out[0].message.body);
  REQUIRE(sig);
  CHECK(out[0].to == kNode1);
  CHECK(sig->ids == std::vector<std::uint64_t>{id});
  CHECK(sig->signal == SIGKILL);
}

TEST_CASE("process_exit: returned 0, threw 1, exit(n) n, a signal N") {
  dpool::detail::Failure ok, threw;
  threw.code = ErrorCode::kTaskRaised;
  threw.type = "std::runtime_error";
  threw.message = "no";
  auto f = process_exit(&ok, 0, 0);
  CHECK(f.code == ErrorCode::kNone);
  CHECK(f.exit_code == 0);
  f = process_exit(&threw, 0, 0);
  CHECK(f.code == ErrorCode::kWorkerCrashed);
  CHECK(f.exit_code == 1);
  CHECK(f.type == "std::runtime_error");
  f = process_exit(nullptr, 0, 5);
  CHECK(f.exit_code == 5);
  CHECK(f.code == ErrorCode::kWorkerCrashed);
  f = process_exit(nullptr, 0, 0);  // exit(0) before finishing
  CHECK(f.code == ErrorCode::kNone);
  f = process_exit(&ok, SIGKILL, 0);  // killed after its DONE: the signal counts
  CHECK(f.signal == SIGKILL);
  f = process_exit(nullptr, SIGTERM, 0);
  CHECK(f.signal == SIGTERM);
}
