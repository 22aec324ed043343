// Load balance across nodes in the coordinator's scheduling core: idle
// executors are served first, and tasks that wait on a busy node are taken
// back (RECLAIM / RETURNED) for a node that idles, never running twice.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "payloads.hpp"
#include "scheduler.hpp"

namespace {

using namespace dpool::internal;
using test_support::payload;

constexpr PeerId kClient = 1;
constexpr PeerId kBusy = 101, kIdle = 102;

void submit(Scheduler& s, std::vector<std::uint64_t> ids) {
  std::vector<wire::Task> tasks;
  Payloads args;
  for (auto id : ids) {
    wire::Task t;
    t.id = id;
    t.name = "t" + std::to_string(id);
    tasks.push_back(t);
    args.push_back(payload("x"));
  }
  s.submit(kClient, std::move(tasks), std::move(args));
}

// The names of the tasks dispatched to `node` in `out`.
std::vector<std::string> dispatched(const std::vector<Envelope>& out, PeerId node) {
  std::vector<std::string> names;
  for (auto& e : out)
    if (auto* d = std::get_if<wire::Dispatch>(&e.message.body); d && e.to == node)
      for (auto& t : d->tasks) names.push_back(t.name);
  return names;
}

// The RECLAIM counts sent to `node` in `out`.
std::vector<std::uint32_t> reclaims(const std::vector<Envelope>& out, PeerId node) {
  std::vector<std::uint32_t> counts;
  for (auto& e : out)
    if (auto* r = std::get_if<wire::Reclaim>(&e.message.body); r && e.to == node)
      counts.push_back(r->count);
  return counts;
}

// The scheduler's id of the task named `name` among those dispatched in `out`.
std::uint64_t id_of(const std::vector<Envelope>& out, const std::string& name) {
  for (auto& e : out)
    if (auto* d = std::get_if<wire::Dispatch>(&e.message.body))
      for (auto& t : d->tasks)
        if (t.name == name) return t.id;
  FAIL("no task named " << name << " was dispatched");
  return 0;
}

void finish(Scheduler& s, PeerId node, std::uint64_t id) {
  wire::Result r;
  r.id = id;
  Payloads p;
  p.push_back(payload("ok"));
  s.results(node, {r}, std::move(p));
}

// kBusy (1 executor, 3 slots) took tasks 1, 2 and 3 before kIdle (1
// executor, 3 slots) joined; nothing is left queued here.
struct BusyAndIdle {
  Scheduler s;
  std::vector<Envelope> first;
  BusyAndIdle() {
    s.client_joined(kClient, "client");
    s.node_joined(kBusy, "busy", 1, 3);
    s.take_outbox();
    submit(s, {1, 2, 3});
    first = s.take_outbox();
    REQUIRE(dispatched(first, kBusy) == std::vector<std::string>{"t1", "t2", "t3"});
    s.node_joined(kIdle, "idle", 1, 3);
  }
};

}  // namespace

TEST_CASE("an idle executor on any node is served before a node holds a task ahead") {
  Scheduler s;
  s.client_joined(kClient, "client");
  s.node_joined(kBusy, "busy", 1, 2);
  s.node_joined(kIdle, "idle", 1, 2);
  s.take_outbox();
  submit(s, {1});
  CHECK(dispatched(s.take_outbox(), kBusy) == std::vector<std::string>{"t1"});
  // kBusy has room for one more ahead, but kIdle has nothing to do.
  submit(s, {2});
  auto out = s.take_outbox();
  CHECK(dispatched(out, kIdle) == std::vector<std::string>{"t2"});
  CHECK(dispatched(out, kBusy).empty());
  // With every executor busy, prefetch spreads one per node per pass.
  submit(s, {3, 4});
  out = s.take_outbox();
  CHECK(dispatched(out, kBusy) == std::vector<std::string>{"t3"});
  CHECK(dispatched(out, kIdle) == std::vector<std::string>{"t4"});
}

TEST_CASE_FIXTURE(BusyAndIdle, "a node that idles while another holds waiting tasks takes them") {
  auto out = s.take_outbox();
  // One idle executor: ask for one of the two tasks kBusy holds beyond its executor.
  CHECK(reclaims(out, kBusy) == std::vector<std::uint32_t>{1});
  CHECK(s.stats().reclaims == 1);
  // One RECLAIM at a time per node.
  CHECK(reclaims(s.take_outbox(), kBusy).empty());
  // kBusy hands back t3, not started: it runs on kIdle, as it was (attempt 0).
  auto t3 = id_of(first, "t3");
  s.returned(kBusy, {t3});
  out = s.take_outbox();
  CHECK(dispatched(out, kIdle) == std::vector<std::string>{"t3"});
  CHECK(dispatched(out, kBusy).empty());
  CHECK(s.stats().reclaimed == 1);
  for (auto& e : out)
    if (auto* d = std::get_if<wire::Dispatch>(&e.message.body)) CHECK(d->tasks[0].attempt == 0);
  // Its result from kIdle is delivered once; a late one from kBusy is stale.
  finish(s, kIdle, t3);
  finish(s, kBusy, t3);
  CHECK(s.stats().completed == 1);
  CHECK(s.stats().stale_results == 1);
}

TEST_CASE_FIXTURE(BusyAndIdle,
                  "a node with nothing to hand back is not asked again until it reports") {
  CHECK(reclaims(s.take_outbox(), kBusy) == std::vector<std::uint32_t>{1});
  s.returned(kBusy, {});  // both were written to its executor already
  CHECK(reclaims(s.take_outbox(), kBusy).empty());
  finish(s, kBusy, id_of(first, "t1"));  // it reports: what it holds has changed
  CHECK(reclaims(s.take_outbox(), kBusy) == std::vector<std::uint32_t>{1});
}

TEST_CASE_FIXTURE(BusyAndIdle, "nothing is reclaimed while tasks are still queued here") {
  submit(s, {4});
  auto out = s.take_outbox();
  CHECK(dispatched(out, kIdle) == std::vector<std::string>{"t4"});
  CHECK(reclaims(out, kBusy).empty());  // kIdle has work now
}

TEST_CASE_FIXTURE(BusyAndIdle, "a node lost while its tasks are reclaimed: each runs once") {
  CHECK(reclaims(s.take_outbox(), kBusy) == std::vector<std::uint32_t>{1});
  auto lost = s.node_left(kBusy);
  CHECK(lost.requeued == 3);
  // Its answer, were it to arrive now, changes nothing.
  s.returned(kBusy, {id_of(first, "t3")});
  auto out = s.take_outbox();
  auto on_idle = dispatched(out, kIdle);
  CHECK(on_idle.size() == 3);  // its 3 slots, each task once
  CHECK(s.queued() == 0);
  CHECK(s.stats().reclaimed == 0);
}

TEST_CASE_FIXTURE(BusyAndIdle, "a handed back task that was cancelled meanwhile is not run") {
  CHECK(reclaims(s.take_outbox(), kBusy) == std::vector<std::uint32_t>{1});
  wire::Cancel c;
  c.ids = {3};  // the client's id of t3
  c.kill_running = true;
  s.cancel(kClient, c);
  s.take_outbox();
  s.returned(kBusy, {id_of(first, "t3")});
  CHECK(dispatched(s.take_outbox(), kIdle).empty());
}
