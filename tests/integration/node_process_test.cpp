// pool.process: a Process that a node of the pool's cluster runs, in local
// mode (the in-process node) and on a real cluster (a coordinator and
// `dpool worker` processes). Cases follow CPython's _TestProcess where one
// fits (named after it), plus what only a cluster has: a node lost while
// its Process runs.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <dpool/dpool.hpp>
#include <functional>
#include <memory>
#include <string>

#include "manager_tasks.hpp"
#include "processes.hpp"
#include "task_starts.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace tt = test_tasks;
namespace mt = manager_tasks;
namespace ts = test_support;

namespace {

void not_registered(int) {}

bool listed(dpool::Process& p) {
  auto kids = dpool::active_children();
  return std::find(kids.begin(), kids.end(), &p) != kids.end();
}

// Runs `body` against a local-mode pool of `executors`, then against a
// cluster: a coordinator and one worker with `executors` executors named
// "proc-node".
void in_both_modes(unsigned executors,
                   const std::function<void(dpool::Pool&, const std::string& node)>& body) {
  SUBCASE("local mode") {
    dpool::Pool pool(executors);
    body(pool, "");
  }
  SUBCASE("cluster mode") {
    ts::Coordinator coordinator;
    ts::Worker worker(coordinator.address, "--exec", static_cast<int>(executors), "proc-node");
    dpool::Pool pool(dpool::Connect{.address = coordinator.address});
    body(pool, "proc-node");
  }
}

}  // namespace

TEST_CASE("pool.process runs f in a process of its own with its name and pid (test_process)") {
  in_both_modes(1, [](dpool::Pool& pool, const std::string& node) {
    auto q = pool.queue<std::string>();
    auto p = pool.process(dpool::ProcessOptions{.name = "named"}, mt::put_identity, q);
    CHECK(p.name() == "named");
    CHECK(p.pid() == 0);
    CHECK_FALSE(p.exitcode());
    CHECK_FALSE(p.is_alive());
    p.start();
    auto seen = q.get(30s);
    CHECK(p.join(30s));
    CHECK(p.exitcode() == 0);
    CHECK_FALSE(p.is_alive());
    REQUIRE(p.pid() > 0);
    CHECK(p.pid() != ::getpid());
    CHECK(seen == "named " + std::to_string(p.pid()));  // current_process() inside it
    CHECK_FALSE(p.node().empty());
    if (!node.empty()) CHECK(p.node() == node);
  });
}

TEST_CASE("a Process on a node feeds a pool queue the program reads (Process + Queue)") {
  in_both_modes(2, [](dpool::Pool& pool, const std::string&) {
    auto q = pool.queue<int>();
    auto p = pool.process(mt::put_squares, q, 10);
    p.start();
    int sum = 0;
    for (int i = 0; i < 10; ++i) sum += q.get(30s);
    CHECK(sum == 285);
    p.join();
    CHECK(p.exitcode() == 0);
  });
}

TEST_CASE("exit codes: exit(n) is n, a throw is 1 (test_sys_exit, test_stderr_flush)") {
  in_both_modes(1, [](dpool::Pool& pool, const std::string&) {
    auto five = pool.process(tt::crash_exit, 5);
    auto zero = pool.process(tt::crash_exit, 0);
    auto threw = pool.process(tt::throw_runtime, std::string("the child's own words"));
    five.start();
    zero.start();
    threw.start();
    CHECK(five.join(30s));
    CHECK(zero.join(30s));
    CHECK(threw.join(30s));
    CHECK(five.exitcode() == 5);
    CHECK(zero.exitcode() == 0);
    CHECK(threw.exitcode() == 1);
  });
}

TEST_CASE("terminate ends a node's Process with -SIGTERM, kill with -SIGKILL (test_terminate)") {
  in_both_modes(1, [](dpool::Pool& pool, const std::string&) {
    for (int sig : {SIGTERM, SIGKILL}) {
      CAPTURE(sig);
      ts::TaskStarts starts;
      auto p = pool.process(tt::started_then_sleep, starts.path(), 60000);
      p.start();
      REQUIRE(starts.wait(1, 30s).size() == 1);
      CHECK(p.is_alive());
      CHECK(listed(p));
      CHECK_FALSE(p.join(0ms));
      CHECK_FALSE(p.join(50ms));
      sig == SIGTERM ? p.terminate() : p.kill();
      CHECK(p.join(30s));
      CHECK(p.exitcode() == -sig);
      CHECK_FALSE(listed(p));
      p.terminate();  // ended: nothing happens
      CHECK(p.exitcode() == -sig);
    }
  });
}

TEST_CASE("a running Process takes no executor from the pool's tasks") {
  in_both_modes(1, [](dpool::Pool& pool, const std::string&) {
    ts::TaskStarts starts;
    auto p = pool.process(tt::started_then_sleep, starts.path(), 60000);
    p.start();
    REQUIRE(starts.wait(1, 30s).size() == 1);
    // The pool's one executor is free: a task runs beside the Process.
    CHECK(pool.apply_async(tt::square, 7).get(30s) == 49);
    CHECK(p.is_alive());
    p.kill();
    CHECK(p.join(30s));
  });
}

TEST_CASE("start twice is a logic error; an unregistered function is UnknownTask at start") {
  dpool::Pool pool(1);
  auto p = pool.process(tt::crash_exit, 0);
  CHECK_THROWS_AS(p.join(), std::logic_error);
  p.start();
  CHECK_THROWS_AS(p.start(), std::logic_error);
  p.join();
  auto unknown = pool.process(not_registered, 1);
  CHECK_THROWS_AS(unknown.start(), dpool::UnknownTask);
  // A name no executor has: the node cannot run it, so it ends with code 1.
  auto remote = pool.process(dpool::Remote<void(int)>{"no_such_function"}, 1);
  remote.start();
  CHECK(remote.join(30s));
  CHECK(remote.exitcode() == 1);
}

TEST_CASE("a daemon Process is killed when its Process object goes; a non-daemon is joined") {
  dpool::Pool pool(1);
  ts::TaskStarts starts;
  int pid = 0;
  {
    auto daemon = pool.process(dpool::ProcessOptions{.daemon = true}, tt::started_then_sleep,
                               starts.path(), 60000);
    daemon.start();
    REQUIRE(starts.wait(1, 30s).size() == 1);
    pid = daemon.pid();
  }
  CHECK(ts::wait_gone(pid, 30s));
  {
    auto quick = pool.process(tt::sleep_ms, 50);
    quick.start();
    pid = quick.pid();
  }  // joined here
  CHECK(ts::wait_gone(pid, 0ms));
}

TEST_CASE("a Process whose node is lost reports -9 and is never started again") {
  ts::Coordinator coordinator({"--heartbeat", "50ms", "--node-timeout", "500ms"});
  auto doomed = std::make_unique<ts::Worker>(coordinator.address, "--exec", 1, "doomed",
                                             std::vector<std::string>{"--heartbeat", "50ms"});
  dpool::Pool pool(dpool::Connect{
      .address = coordinator.address, .heartbeat = 50ms, .coordinator_timeout = 500ms});
  ts::TaskStarts starts;
  auto p = pool.process(tt::started_then_sleep, starts.path(), 60000);
  p.start();
  auto started = starts.wait(1, 30s);
  REQUIRE(started.size() == 1);
  CHECK(p.node() == "doomed");
  doomed->process.signal(SIGKILL);
  CHECK(p.join(60s));
  CHECK(p.exitcode() == -SIGKILL);
  CHECK(ts::wait_gone(started[0], 30s));  // it died with its node
  // A new node gets work, but not the lost Process.
  ts::Worker fresh(coordinator.address, "--exec", 1, "fresh");
  CHECK(pool.apply_async(tt::square, 3).get(30s) == 9);
  CHECK(starts.pending().empty());
}

TEST_CASE("a Process started before any node exists runs when one joins, or ends by a signal") {
  ts::Coordinator coordinator;
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  ts::TaskStarts starts;
  auto waiting = pool.process(tt::started_then_sleep, starts.path(), 60000);
  auto never = pool.process(tt::started_then_sleep, starts.path(), 60000);
  waiting.start();  // returns at once: no node
  never.start();
  CHECK(waiting.pid() == 0);
  never.terminate();
  CHECK(never.join(30s));
  CHECK(never.exitcode() == -SIGTERM);
  ts::Worker late(coordinator.address, "--exec", 1, "late");
  auto started = starts.wait(1, 30s);
  REQUIRE(started.size() == 1);
  waiting.kill();
  CHECK(waiting.join(30s));
  CHECK(waiting.exitcode() == -SIGKILL);
  CHECK(waiting.pid() == started[0]);
  CHECK(waiting.node() == "late");
}

TEST_CASE("the coordinator's status counts a node's Processes beside its executors") {
  ts::Coordinator coordinator;
  ts::Worker worker(coordinator.address, "--exec", 1, "proc-node");
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  ts::TaskStarts starts;
  auto p = pool.process(tt::started_then_sleep, starts.path(), 60000);
  p.start();
  REQUIRE(starts.wait(1, 30s).size() == 1);
  auto status = dpool::cluster_status(dpool::Connect{.address = coordinator.address});
  REQUIRE(status.nodes.size() == 1);
  CHECK(status.nodes[0].processes == 1);
  CHECK(status.nodes[0].busy == 0);  // its executor is free for tasks
  p.kill();
  CHECK(p.join(30s));
  status = dpool::cluster_status(dpool::Connect{.address = coordinator.address});
  REQUIRE(status.nodes.size() == 1);
  CHECK(status.nodes[0].processes == 0);
}

#ifdef CLUSTER_PROCESSES_EXAMPLE
TEST_CASE("the cluster_processes example runs unchanged against a cluster") {
  ts::Coordinator coordinator;
  ts::Child worker({DPOOL_BIN, "worker", "--connect", coordinator.address, "--procs", "1", "--name",
                    "example-node", "--log", "warn", "--exec", CLUSTER_PROCESSES_EXAMPLE});
  worker.wait_line("connected", 10s);
  ts::Child example({CLUSTER_PROCESSES_EXAMPLE, coordinator.address});
  example.wait_line("producer: pid", 60s);
  example.wait_line("sum of the squares of 0..99 = 328350", 60s);
  example.wait_line("runaway terminated: exit code -15", 60s);
  example.wait_line("a task meanwhile: 42", 60s);
  CHECK(example.output().find("on example-node") != std::string::npos);
  CHECK(example.wait_exit(30s) == 0);
}
#endif
