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

namespace {

// A coordinator, three 2-executor nodes and a pool on them, with fast
// heartbeats; while `faults()` runs, a driver kills a random executor or a
// whole node (restarting it) every 150 ms.
class Cluster {
 public:
  Cluster() : coordinator_({"--heartbeat", "50ms", "--node-timeout", "500ms"}) {
    for (int i = 0; i < 3; ++i) nodes_.push_back(worker("chaos-" + std::to_string(i)));
    pool_.emplace(dpool::Connect{.address = coordinator_.address,
                                 .heartbeat = 50ms,
                                 .coordinator_timeout = 500ms,
                                 .reconnect_grace = 60s});
  }

  dpool::Pool& pool() { return *pool_; }
  ts::Coordinator& coordinator() { return coordinator_; }

  // Runs `body` while the driver injects faults.
  template <class Body>
  void faults(Body body) {
    std::thread driver([this] { drive(); });
    body();
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    driver.join();
  }

  int executor_kills = 0, node_kills = 0;

 private:
  std::unique_ptr<ts::Worker> worker(const std::string& name) {
    return std::make_unique<ts::Worker>(
        coordinator_.address, "--exec", 2, name,
        std::vector<std::string>{"--heartbeat", "50ms", "--coordinator-timeout", "500ms"});
  }

  void drive() {
    std::mt19937 rng(12345);
    std::unique_lock lock(mu_);
    // Pacing between faults, not synchronisation: ends at once when the body is done.
    while (!cv_.wait_for(lock, 150ms, [&] { return done_; })) {
      auto& node = nodes_[rng() % nodes_.size()];
      if (rng() % 5 == 0) {
        node->process.signal(SIGKILL);
        node->process.wait_exit(5s);
        node = worker("chaos-r" + std::to_string(node_kills));
        ++node_kills;
      } else {
        auto kids = ts::children_of(node->process.pid());
        if (kids.empty()) continue;
        ::kill(kids[rng() % kids.size()], SIGKILL);
        ++executor_kills;
      }
    }
  }

  ts::Coordinator coordinator_;
  std::vector<std::unique_ptr<ts::Worker>> nodes_;
  std::optional<dpool::Pool> pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// Every value in [0, n) came back exactly once, apart from poison verdicts.
void check_once(const std::map<int, int>& seen, int crashed, int n) {
  CHECK(seen.size() + static_cast<std::size_t>(crashed) == static_cast<std::size_t>(n));
  for (auto& [value, count] : seen) CHECK(count == 1);
  for (auto& [value, count] : seen) CHECK((value >= 0 && value < n));
}

// Collects the results, counting executors killed twice under one task
// ("poison" verdicts: WorkerCrashed) apart.
void collect(std::vector<dpool::AsyncResult<int>>& rs, std::map<int, int>& seen, int& crashed) {
  for (auto& r : dpool::as_completed(rs, 300s)) {
    try {
      ++seen[r.get()];
    } catch (const dpool::WorkerCrashed&) {
      ++crashed;
    }
  }
}

}  // namespace

TEST_CASE("every result arrives exactly once while executors and nodes are killed") {
  const char* env = std::getenv("DPOOL_CHAOS_TASKS");
  int n = env ? std::atoi(env) : 3000;
  Cluster cluster;
  std::map<int, int> seen;
  int crashed = 0;
  auto t0 = std::chrono::steady_clock::now();
  cluster.faults([&] {
    dpool::Remote<int(int, int)> echo{"echo_after_ms"};
    std::vector<dpool::AsyncResult<int>> rs;
    for (int i = 0; i < n; ++i)
      rs.push_back(cluster.pool().with({.retries = 10}).apply_async(echo, i, 8));
    collect(rs, seen, crashed);
  });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("chaos: " << n << " tasks in " << seconds << " s; killed " << cluster.executor_kills
                    << " executors and " << cluster.node_kills << " nodes; " << crashed
                    << " tasks failed as poison");
  check_once(seen, crashed, n);
}

TEST_CASE("tasks taken back from busy nodes while nodes are killed arrive exactly once") {
  // Rounds of a few long tasks among many short ones: at the end of each
  // round nodes idle while others still hold short tasks behind long ones,
  // and the coordinator takes those back, while the driver kills executors
  // and nodes.
  const int rounds = 25, longs = 3, shorts = 30;
  Cluster cluster;
  std::map<int, int> seen;
  int crashed = 0, n = 0;
  cluster.faults([&] {
    dpool::Remote<int(int, int)> echo{"echo_after_ms"};
    for (int round = 0; round < rounds; ++round) {
      std::vector<dpool::AsyncResult<int>> rs;
      for (int i = 0; i < longs + shorts; ++i, ++n)
        rs.push_back(
            cluster.pool().with({.retries = 10}).apply_async(echo, n, i < longs ? 150 : 3));
      collect(rs, seen, crashed);
    }
  });
  MESSAGE("chaos with reclaims: " << n << " tasks; killed " << cluster.executor_kills
                                  << " executors and " << cluster.node_kills << " nodes; "
                                  << crashed << " tasks failed as poison");
  check_once(seen, crashed, n);
  // The path under test ran: the coordinator moved waiting tasks.
  cluster.coordinator().process.wait_line("to idle ones", 10s);
}
