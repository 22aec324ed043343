// Chaos: thousands of short tasks over 3 nodes while a driver kills random
// executors and whole nodes (and restarts them). Every result must arrive
// exactly once and be correct. Longer by hand:
//   DPOOL_CHAOS_TASKS=50000 ./chaos
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <dpool/dpool.hpp>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "processes.hpp"
#include "test_tasks.hpp"

using namespace std::chrono_literals;
namespace ts = test_support;

TEST_CASE("every result arrives exactly once while executors and nodes are killed") {
  const char* env = std::getenv("DPOOL_CHAOS_TASKS");
  int n = env ? std::atoi(env) : 3000;
  std::vector<std::string> beat{"--heartbeat", "50ms", "--node-timeout", "500ms"};
  std::vector<std::string> node_beat{"--heartbeat", "50ms", "--coordinator-timeout", "500ms"};
  ts::Coordinator coordinator(beat);
  std::vector<std::unique_ptr<ts::Worker>> nodes;
  for (int i = 0; i < 3; ++i)
    nodes.push_back(std::make_unique<ts::Worker>(coordinator.address, "--exec", 2,
                                                 "chaos-" + std::to_string(i), node_beat));
  dpool::Pool pool(dpool::Connect{.address = coordinator.address,
                                  .heartbeat = 50ms,
                                  .coordinator_timeout = 500ms,
                                  .reconnect_grace = 60s});

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int executor_kills = 0, node_kills = 0;
  auto t0 = std::chrono::steady_clock::now();
  std::thread driver([&] {
    std::mt19937 rng(12345);
    std::unique_lock lock(mu);
    // Pacing between faults, not synchronisation: ends at once when the map is done.
    while (!cv.wait_for(lock, 150ms, [&] { return done; })) {
      auto& node = nodes[rng() % nodes.size()];
      if (rng() % 5 == 0) {
        node->process.signal(SIGKILL);
        node->process.wait_exit(5s);
        node = std::make_unique<ts::Worker>(coordinator.address, "--exec", 2,
                                            "chaos-r" + std::to_string(node_kills), node_beat);
        ++node_kills;
      } else {
        auto kids = ts::children_of(node->process.pid());
        if (kids.empty()) continue;
        ::kill(kids[rng() % kids.size()], SIGKILL);
        ++executor_kills;
      }
    }
  });

  dpool::Remote<int(int, int)> echo{"echo_after_ms"};
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < n; ++i) rs.push_back(pool.with({.retries = 10}).apply_async(echo, i, 8));
  std::map<int, int> seen;
  int crashed = 0;
  for (auto& r : dpool::as_completed(rs, 300s)) {
    try {
      ++seen[r.get()];
    } catch (const dpool::WorkerCrashed&) {
      ++crashed;  // an executor killed twice under the same task: a "poison" verdict
    }
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  driver.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("chaos: " << n << " tasks in " << seconds << " s; killed " << executor_kills
                    << " executors and " << node_kills << " nodes; " << crashed
                    << " tasks failed as poison");
  CHECK(seen.size() + crashed == static_cast<std::size_t>(n));
  for (auto& [value, count] : seen) CHECK(count == 1);
  for (auto& [value, count] : seen) CHECK((value >= 0 && value < n));
}
