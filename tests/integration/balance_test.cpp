// No task waits behind a running task while an executor that could run it
// is idle: in a node (local mode) and across nodes (a cluster of two nodes
// of one executor each), where the coordinator takes waiting tasks back from
// a busy node for an idle one.
#include <doctest/doctest.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <set>
#include <string>
#include <vector>

#include "processes.hpp"
#include "task_starts.hpp"
#include "test_tasks.hpp"

using namespace std::chrono_literals;
namespace tt = test_tasks;
namespace ts = test_support;

namespace {

std::vector<int> unordered_order(dpool::Pool& pool) {
  std::vector<int> order;
  auto results = pool.imap_unordered(tt::slow_if_zero, std::vector<int>{0, 1, 2, 3}, 1);
  while (auto v = results.next(30s)) order.push_back(*v);
  return order;
}

}  // namespace

TEST_CASE("imap_unordered with a slow first item yields it last, as multiprocessing does") {
  SUBCASE("local, Pool(2)") {
    dpool::Pool pool(2);
    auto order = unordered_order(pool);
    CAPTURE(order);
    REQUIRE(order.size() == 4);
    CHECK(order.back() == 0);
    CHECK(std::set<int>(order.begin(), order.end()) == std::set<int>{0, 1, 2, 3});
  }
  SUBCASE("cluster, two nodes of one executor") {
    ts::Coordinator coordinator;
    ts::Worker a(coordinator.address, "--exec", 1, "node-a");
    ts::Worker b(coordinator.address, "--exec", 1, "node-b");
    dpool::Pool pool(dpool::Connect{.address = coordinator.address});
    auto order = unordered_order(pool);
    CAPTURE(order);
    REQUIRE(order.size() == 4);
    CHECK(order.back() == 0);
    CHECK(std::set<int>(order.begin(), order.end()) == std::set<int>{0, 1, 2, 3});
  }
}

TEST_CASE("a node busy with a long task leaves the short tasks queued there to an idle node") {
  ts::Coordinator coordinator;
  ts::Worker busy(coordinator.address, "--exec", 1, "busy-node");
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  ts::TaskStarts long_start, short_starts;
  auto long_task = pool.apply_async(tt::started_then_sleep, long_start.path(), 4000);
  REQUIRE(long_start.wait(1, 30s).size() == 1);  // it runs on busy-node
  ts::Worker idle(coordinator.address, "--exec", 1, "idle-node");
  // busy-node may hold a task ahead of its executor (its credit); the
  // coordinator must take it back when idle-node runs out of work.
  std::vector<dpool::AsyncResult<int>> shorts;
  for (int i = 0; i < 6; ++i)
    shorts.push_back(pool.apply_async(tt::started_then_sleep, short_starts.path(), 20));
  for (auto& r : shorts) {
    CHECK(r.get(30s) == 20);
    CHECK(r.info().node == "idle-node");
  }
  CHECK_FALSE(long_task.ready());  // all done while the long one still runs
  // Each short task started exactly once.
  CHECK(short_starts.wait(6, 10s).size() == 6);
  CHECK(short_starts.pending().empty());
  CHECK(long_task.get(30s) == 4000);
}
