// A running task calls out to the coordinator and waits for the answer
// (dpool::this_task::info): executor -> node -> coordinator -> back, in a
// local pool and on a real cluster, including an executor that dies while
// its call is outstanding.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <set>
#include <string>

#include "call_tasks.hpp"
#include "processes.hpp"
#include "task_starts.hpp"

using namespace std::chrono_literals;
namespace ct = call_tasks;
namespace ts = test_support;

namespace {

void check_identity(const ct::Identity& who, const dpool::TaskInfo& info, int tag_unused) {
  (void)tag_unused;
  CHECK(who.name == "whoami");
  CHECK(who.id != 0);
  CHECK(who.attempt == 1);
  CHECK(who.pid == who.getpid);  // the node names the executor that asked
  CHECK(who.pid == info.pid);
  CHECK(who.node == info.node);
  CHECK(who.client.find(std::to_string(::getpid())) != std::string::npos);
}

}  // namespace

TEST_CASE("a task asks the coordinator who it is and gets its own identity (local and cluster)") {
  auto run = [](dpool::Pool& pool) {
    std::vector<dpool::AsyncResult<ct::Identity>> rs;
    for (int i = 0; i < 8; ++i) rs.push_back(pool.apply_async(ct::whoami, i));
    std::set<std::uint64_t> ids;
    for (auto& r : rs) {
      auto who = r.get(30s);
      check_identity(who, r.info(), 0);
      ids.insert(who.id);
    }
    CHECK(ids.size() == rs.size());  // every task has an id of its own
    // From a thread the task starts, the call works too.
    CHECK(pool.apply(ct::ask_from_a_thread, 0).empty());
  };
  SUBCASE("local") {
    dpool::Pool pool(2);
    run(pool);
  }
  SUBCASE("cluster") {
    ts::Coordinator coordinator;
    ts::Worker worker(coordinator.address, "--exec", 2, "calls-node");
    dpool::Pool pool(dpool::Connect{.address = coordinator.address});
    run(pool);
  }
}

TEST_CASE("this_task::info outside a task says where it can be called") {
  try {
    dpool::this_task::info();
    FAIL("info() returned outside a task");
  } catch (const dpool::Error& e) {
    CHECK(std::string(e.what()).find("outside a task") != std::string::npos);
  }
  CHECK_FALSE(dpool::this_task::inside());
}

TEST_CASE("an executor killed while its task waits on calls: the task fails alone (local)") {
  dpool::Pool pool(1);
  ts::TaskStarts started;
  ts::TaskGate gate;
  auto victim = pool.apply_async(ct::announce_then_ask, started.path(), gate.path(), -1);
  auto pids = started.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  int pid = pids[0];
  gate.open();  // it asks again and again from now on
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK_THROWS_AS(victim.get(30s), dpool::WorkerCrashed);
  // The replacement in the same slot asks and hears about itself only.
  auto r = pool.apply_async(ct::whoami, 1);
  auto who = r.get(30s);
  CHECK(who.pid != pid);
  check_identity(who, r.info(), 1);
}

TEST_CASE(
    "an executor killed with its call outstanding: the late answer reaches no one (cluster)") {
  // Long timeouts on both sides: however long the coordinator stays stopped
  // on a busy machine, neither declares the other lost (which would fail
  // the call instead of answering it late).
  ts::Coordinator coordinator({"--node-timeout", "120s"});
  ts::Child worker({DPOOL_BIN, "worker", "--connect", coordinator.address, "--procs", "1", "--name",
                    "calls-node", "--log", "debug", "--coordinator-timeout", "120s", "--exec",
                    TEST_TASK_HOST});
  worker.wait_line("connected", 10s);
  dpool::Pool pool(dpool::Connect{.address = coordinator.address, .coordinator_timeout = 120s});
  ts::TaskStarts started;
  ts::TaskGate gate;
  // One call, the executor's first: were its late answer handed to the
  // replacement (whose first call has the same number), that one would
  // report the dead task's identity.
  auto victim = pool.apply_async(ct::announce_then_ask, started.path(), gate.path(), 1);
  auto pids = started.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  int pid = pids[0];
  {
    // The coordinator cannot answer while stopped: the call stays outstanding.
    coordinator.process.signal(SIGSTOP);
    struct Resume {
      ts::Child& c;
      ~Resume() { c.signal(SIGCONT); }
    } resume{coordinator.process};
    gate.open();
    worker.wait_line("sent to the coordinator", 30s);  // the node forwarded the call
    REQUIRE(::kill(pid, SIGKILL) == 0);
    worker.wait_line("died", 30s);  // the node reaped it
  }
  // The late answer went nowhere. (The bounds only limit a failure. With 10 s
  // this wait failed, rarely, in full test runs on a box busy with builds;
  // alone it has not failed.)
  worker.wait_line("dropped the answer", 60s);
  CHECK_THROWS_AS(victim.get(30s), dpool::WorkerCrashed);
  auto r = pool.apply_async(ct::whoami, 2);
  auto who = r.get(30s);
  CHECK(who.pid != pid);
  check_identity(who, r.info(), 2);
}
