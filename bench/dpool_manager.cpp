// dpool-manager: the Manager on a coordinator over loopback TCP, beside the
// same workloads in bench/peers_manager.py (multiprocessing's Manager over
// TCP):
//   G1_dict_set_get   one client, synchronous d.set(k, i) then d.get(k) on
//                     a dict<string, int> (operations/s; a set and a get are 2)
//   G2_lock_pair      one client, acquire + release of a Manager lock
//                     (pairs/s)
//   G3_update_tasks   200 tasks on 2 nodes of 1 executor each, every task
//                     100 d.update(k, +1) on one key (updates/s); exact
//   G4_state_cost     G1's sets on a coordinator with --state DIR beside one
//                     without, in this run (µs per acknowledged set)
//   Q2_pool_queue     a pool.queue<int>: one thread of the client puts, another
//                     gets, each on its own line (items/s)
// One JSON line per figure on stdout, as dpool-bench prints them.
//
//   dpool-manager [--quick] [--dpool PATH]
#include <unistd.h>

#include <dpool/dpool.hpp>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"

namespace dpool_bench {

const char kProgramName[] = "dpool-manager";

namespace {

using namespace std::chrono_literals;

int bump_100(dpool::ManagerDict<std::string, int> d) {
  for (int i = 0; i < 100; ++i)
    d.update("k", [](std::optional<int> v) { return v.value_or(0) + 1; });
  return 0;
}
DPOOL_REGISTER(bump_100);

dpool::Pool connect(const LocalCluster& c) {
  return dpool::Pool(dpool::Connect{.address = c.address});
}

// Seconds for n sets and n gets, alternating.
double set_get(dpool::Manager mgr, int n) {
  auto d = mgr.dict<std::string, int>("g1");
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    d.set("key", i);
    check(d.get("key") == i, "G1 get");
  }
  return seconds_since(t0);
}

double sets(dpool::Manager mgr, const std::string& name, int n) {
  auto d = mgr.dict<int, int>(name);
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) d.set(i % 1000, i);
  return seconds_since(t0);
}

int program_main(int argc, char** argv) {
  dpool::init(argc, argv);
  CLI::App app{"dpool's Manager over loopback TCP", "dpool-manager"};
  bool quick = false;
  std::string dpool_path;
  app.add_flag("--quick", quick, "tiny sizes: a smoke test, the figures mean nothing");
  app.add_option("--dpool", dpool_path, "the dpool command (default: next to this program)");
  if (auto status = parse_command_line(app, argc, argv)) return *status;
  Reporter out("dpool_cluster");
  const std::string dpool = find_dpool(dpool_path);
  const int n = quick ? 500 : 20000;

  out.run("G1_dict_set_get", [&] {
    LocalCluster c(dpool, 0, 1);
    auto pool = connect(c);
    set_get(pool.manager(), n / 10);  // warm up
    double dt = set_get(pool.manager(), n);
    out.emit("G1_dict_set_get", "throughput", 2.0 * n / dt, "ops/s", 2L * n,
             "one client, d.set then d.get on a coordinator over loopback TCP");
  });
  out.run("G2_lock_pair", [&] {
    LocalCluster c(dpool, 0, 1);
    auto pool = connect(c);
    auto lock = pool.manager().lock("g2");
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      lock.acquire();
      lock.release();
    }
    out.emit("G2_lock_pair", "throughput", n / seconds_since(t0), "pairs/s", n,
             "one client, uncontended acquire + release over loopback TCP");
  });
  out.run("G3_update_tasks", [&] {
    LocalCluster c(dpool, 2, 1);
    auto pool = connect(c);
    auto d = pool.manager().dict<std::string, int>("g3");
    const int tasks = quick ? 10 : 200;
    std::vector<dpool::AsyncResult<int>> rs;
    auto t0 = Clock::now();
    for (int i = 0; i < tasks; ++i) rs.push_back(pool.apply_async(bump_100, d));
    for (auto& r : rs) r.get();
    double dt = seconds_since(t0);
    check(d.get("k") == tasks * 100, "G3 exact count");
    out.emit("G3_update_tasks", "throughput", tasks * 100.0 / dt, "updates/s", tasks * 100L,
             std::to_string(tasks) +
                 " tasks on 2 nodes of 1 executor, each 100 d.update(k, +1) on "
                 "one key; exact");
  });
  out.run("G4_state_cost", [&] {
    auto dir = std::filesystem::temp_directory_path() /
               ("dpool-manager-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    double memory = 0, kept = 0;
    {
      LocalCluster c(dpool, 0, 1);
      auto pool = connect(c);
      sets(pool.manager(), "warm", n / 10);
      memory = sets(pool.manager(), "g4", n);
    }
    {
      LocalCluster c(dpool, 0, 1, {"--state", dir.string()});
      auto pool = connect(c);
      sets(pool.manager(), "warm", n / 10);
      kept = sets(pool.manager(), "g4", n);
    }
    std::filesystem::remove_all(dir);
    out.emit("G4_state_cost", "memory", memory * 1e6 / n, "us", n,
             "one client, d.set on a coordinator without --state");
    out.emit("G4_state_cost", "state", kept * 1e6 / n, "us", n,
             "the same with --state DIR (SQLite WAL, written before each answer)");
  });
  out.run("Q2_pool_queue", [&] {
    LocalCluster c(dpool, 0, 1);
    auto pool = connect(c);
    auto q = pool.queue<int>();
    std::thread producer([q, n]() mutable {
      for (int i = 0; i < n; ++i) q.put(i);
    });
    auto t0 = Clock::now();
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += q.get();
    double dt = seconds_since(t0);
    producer.join();
    check(sum == static_cast<long>(n) * (n - 1) / 2, "Q2 every item once");
    out.emit("Q2_pool_queue", "throughput", n / dt, "items/s", n,
             "pool.queue<int> over loopback TCP: one client thread puts, another gets");
  });
  return out.finish();
}

}  // namespace
}  // namespace dpool_bench

int main(int argc, char** argv) {
  return dpool_bench::program_main(argc, argv);
}
