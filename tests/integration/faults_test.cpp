// Real faults against real processes: kill -9 of nodes, coordinators and
// clients, SIGSTOP past the timeout, SIGTERM drain, poison tasks. Timeouts
// are short (heartbeat 50 ms, declared dead after 500 ms).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <map>

#include "processes.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace tt = test_tasks;
namespace ts = test_support;

namespace {

const std::vector<std::string> kFastCoordinator{"--heartbeat", "50ms", "--node-timeout", "500ms"};
const std::vector<std::string> kFastWorker{"--heartbeat", "50ms", "--coordinator-timeout", "500ms"};

dpool::Connect fast_connect(const std::string& address) {
  return {
      .address = address, .heartbeat = 50ms, .coordinator_timeout = 500ms, .reconnect_grace = 30s};
}

// Reads `n` results of echo tasks 0..n-1, calling `fault` after `at` of them;
// checks that each value arrived exactly once.
void run_with_fault(dpool::Pool& pool, int n, int at, const std::function<void()>& fault) {
  std::vector<std::tuple<int, int>> args;
  for (int i = 0; i < n; ++i) args.emplace_back(i, 2);
  std::vector<int> inputs(n);
  for (int i = 0; i < n; ++i) inputs[i] = i;
  dpool::Remote<int(int, int)> echo{"echo_after_ms"};
  std::vector<dpool::AsyncResult<int>> rs;
  for (auto& [x, ms] : args) rs.push_back(pool.apply_async(echo, x, ms));
  std::map<int, int> seen;
  int done = 0;
  for (auto& r : dpool::as_completed(rs, 120s)) {
    ++seen[r.get()];
    if (++done == at) fault();
  }
  REQUIRE(seen.size() == static_cast<std::size_t>(n));
  for (auto& [value, count] : seen) CHECK(count == 1);
}

}  // namespace

TEST_CASE("kill -9 of a node mid-map: every result arrives exactly once") {
  ts::Coordinator coordinator(kFastCoordinator);
  ts::Worker a(coordinator.address, "--exec", 2, "a", kFastWorker);
  ts::Worker b(coordinator.address, "--exec", 2, "b", kFastWorker);
  ts::Worker c(coordinator.address, "--load", 2, "c", kFastWorker);
  dpool::Pool pool(fast_connect(coordinator.address));
  run_with_fault(pool, 2000, 300, [&] { b.process.signal(SIGKILL); });
  coordinator.process.wait_line("node b left", 10s);
}

TEST_CASE("SIGSTOP of a node past the timeout, then SIGCONT: results once, late ones dropped") {
  ts::Coordinator coordinator(kFastCoordinator);
  ts::Worker a(coordinator.address, "--exec", 2, "a", kFastWorker);
  ts::Worker b(coordinator.address, "--exec", 2, "b", kFastWorker);
  dpool::Pool pool(fast_connect(coordinator.address));
  run_with_fault(pool, 1500, 200, [&] {
    b.process.signal(SIGSTOP);
    coordinator.process.wait_line("node b left", 10s);  // declared dead
    b.process.signal(SIGCONT);
  });
  // The revived node registers again and takes work.
  b.process.wait_line("registered again", 10s);
}

TEST_CASE("kill -9 and restart of the coordinator mid-map: every result arrives exactly once") {
  auto first = std::make_unique<ts::Coordinator>(kFastCoordinator);
  std::string address = first->address;
  ts::Worker a(address, "--exec", 2, "a", kFastWorker);
  ts::Worker b(address, "--load", 2, "b", kFastWorker);
  dpool::Pool pool(fast_connect(address));
  std::unique_ptr<ts::Coordinator> second;
  run_with_fault(pool, 1500, 300, [&] {
    first->process.signal(SIGKILL);
    first->process.wait_exit(10s);
    second = std::make_unique<ts::Coordinator>(kFastCoordinator, address);
  });
  CHECK(pool.apply(tt::square, 7) == 49);
}

TEST_CASE("a coordinator that stays away past the grace fails the waits with ConnectionError") {
  auto coordinator = std::make_unique<ts::Coordinator>(kFastCoordinator);
  ts::Worker a(coordinator->address, "--exec", 1, "a", kFastWorker);
  dpool::Pool pool(dpool::Connect{.address = coordinator->address,
                                  .heartbeat = 50ms,
                                  .coordinator_timeout = 300ms,
                                  .reconnect_grace = 1s});
  auto r = pool.apply_async(tt::sleep_ms, 60000);
  coordinator->process.signal(SIGKILL);
  CHECK_THROWS_AS(r.get(20s), dpool::ConnectionError);
}

TEST_CASE("a killed client's tasks are dropped and its running ones stopped") {
  ts::Coordinator coordinator(kFastCoordinator);
  ts::Worker a(coordinator.address, "--exec", 2, "a", kFastWorker);
  ts::Child client({TEST_CLIENT, coordinator.address, "50"});
  client.wait_line("submitted 50", 20s);
  auto executors = ts::children_of(a.process.pid());
  client.signal(SIGKILL);
  auto line = coordinator.process.wait_line(") left: dropped its", 10s);
  CAPTURE(line);
  CAPTURE(coordinator.process.output());
  CAPTURE(client.pid());
  CHECK(line.find("its 50 unfinished") != std::string::npos);
  // Its two running tasks were stopped: the executors were replaced, and the
  // cluster takes new work at once.
  for (int pid : executors) CHECK(ts::wait_gone(pid, 10s));
  dpool::Pool pool(fast_connect(coordinator.address));
  CHECK(pool.apply_async(tt::square, 3).get(10s) == 9);
}

TEST_CASE("SIGTERM drains a node during a map: nothing is lost and it exits 0") {
  ts::Coordinator coordinator(kFastCoordinator);
  ts::Worker a(coordinator.address, "--exec", 2, "a", kFastWorker);
  ts::Worker b(coordinator.address, "--exec", 2, "b", kFastWorker);
  dpool::Pool pool(fast_connect(coordinator.address));
  run_with_fault(pool, 1000, 100, [&] { b.process.signal(SIGTERM); });
  int status = b.process.wait_exit(30s);
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a poison task fails with WorkerCrashed after two crashes while the map completes") {
  ts::Coordinator coordinator(kFastCoordinator);
  ts::Worker a(coordinator.address, "--exec", 2, "a", kFastWorker);
  dpool::Pool pool(fast_connect(coordinator.address));
  auto rest = pool.map_async(tt::square, std::views::iota(0, 500), 1);
  auto poison = pool.with({.retries = 5}).apply_async(tt::crash_exit, 9);
  try {
    poison.get(30s);
    FAIL("expected WorkerCrashed");
  } catch (const dpool::WorkerCrashed& e) {
    CHECK(e.exit_code() == 9);
    CHECK(std::string(e.what()).find("poison") != std::string::npos);
  }
  CHECK(rest.get(60s).size() == 500);
}

TEST_CASE("a node that joins late takes work at once") {
  ts::Coordinator coordinator(kFastCoordinator);
  dpool::Pool pool(fast_connect(coordinator.address));
  auto r = pool.apply_async(tt::square, 12);
  CHECK_FALSE(r.wait(100ms));  // no node yet
  ts::Worker a(coordinator.address, "--load", 1, "late", kFastWorker);
  CHECK(r.get(10s) == 144);
}

namespace {
// Sends SIGINT to the program's process group, as a terminal's Ctrl-C does,
// and checks that SIGINT ends it promptly.
void ctrl_c(ts::Child& program) {
  auto t0 = ts::Clock::now();
  program.signal_group(SIGINT);
  int status = program.wait_exit(5s);
  CHECK_WITHIN(t0, 2.0);
  REQUIRE(status != -1);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGINT);
}
}  // namespace

TEST_CASE("Ctrl-C during pool.map stops the program at once and leaves no executor") {
  ts::Child program({TEST_CLIENT, "--local-map"}, true, true);
  program.wait_line("mapping", 30s);
  auto executors = ts::children_of(program.pid());
  CHECK(executors.size() == 2);
  ctrl_c(program);
  for (int pid : executors) CHECK(ts::wait_gone(pid, 5s));
}

TEST_CASE("Ctrl-C during a cluster pool.map stops the program; the cluster drops its tasks") {
  ts::Coordinator coordinator(kFastCoordinator);
  ts::Worker node(coordinator.address, "--exec", 2, "a", kFastWorker);
  ts::Child program({TEST_CLIENT, "--map", coordinator.address}, true, true);
  program.wait_line("mapping", 30s);
  ctrl_c(program);
  // Its tasks (60 s sleeps) are dropped, the running ones stopped, so the
  // cluster takes new work at once.
  auto line = coordinator.process.wait_line(") left: dropped its", 10s);
  CAPTURE(line);
  CHECK(line.find("its 8 unfinished") != std::string::npos);
  dpool::Pool pool(fast_connect(coordinator.address));
  CHECK(pool.apply_async(tt::square, 3).get(10s) == 9);
}
