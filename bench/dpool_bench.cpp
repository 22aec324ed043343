// dpool-bench: dpool's side of the peer benchmarks in shared/peers (W1..W7)
// and of bench/peers_w8.py (W8, load balance),
// with the same workload definitions, printing one JSON line per figure:
//   {"system", "workload", "metric", "value", "unit", "n", "notes"}
// Workload names are the peers' ("W1_latency", "W2_unchunked", ...), so the
// aggregator can put both side by side. Diagnostics go to stderr.
//
//   dpool-bench [--mode local|cluster] [--quick] [--only W1,W3] [--dpool PATH]
//               [--connect tcp://HOST:PORT] [--insecure]
//
// local   : dpool::Pool(2), executors spawned from this program. Runs W1..W8.
// cluster : starts `dpool coordinator` and one `dpool worker --procs 2 --exec
//           <this program>` as child processes, submits through
//           Pool(Connect{...}) over loopback tcp, and stops them at the end.
//           Runs W1, W2, W3, W5; then W8 on two nodes of one executor each.
// --connect: cluster mode against a coordinator that is already running (a
//           real cluster, or daemons started under a profiler); nothing is
//           started or stopped, and the pool is whatever that cluster has.
// --insecure: cluster mode in the clear (the daemons and the pool get
//           --insecure), to compare with the default, CurveZMQ with the keys
//           the coordinator makes in the default key directory.
// --quick : tiny sizes, a smoke test for CI; its figures mean nothing.
//
// Exit status 1 if any workload failed (an exception, a wrong result), never
// because of a time: CTest runs this as a smoke test.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dpool/dpool.hpp>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "w6_fault.hpp"
#include "w8_balance.hpp"

// The program is in dpool_bench, as bench_common.hpp is, so that the shared
// names need no qualification; main() at the end only calls it.
namespace dpool_bench {

const char kProgramName[] = "dpool-bench";

namespace {

// ---------------------------------------------------------------- task bodies
// The peers' bodies (shared/peers/common.py), in C++; noop and length are
// dpool-scale's too, so they live in bench_common.cpp. Executors run this same
// program, so all of them are registered in every process.

// Wraps modulo 2^32 instead of overflowing (999'999² does not fit an int):
// the peers' Python ints grow instead, but the work per item is the same.
int square(int x) {
  auto u = static_cast<std::uint32_t>(x);
  return static_cast<int>(u * u);
}

// xorshift64 chain: each step depends on the last, so the compiler can
// neither vectorize nor close-form it. Calibrated to ~50 ms per call.
std::uint64_t busy(std::uint64_t iters) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::uint64_t i = 0; i < iters; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

int sleep_task(double seconds) {
  std::this_thread::sleep_for(
      std::chrono::duration<double>(seconds));  // task work: the sleep is what the task does
  return static_cast<int>(::getpid());
}

DPOOL_REGISTER(square);
DPOOL_REGISTER(busy);
DPOOL_REGISTER(sleep_task);

// ---------------------------------------------------------------- settings

using namespace std::chrono_literals;

struct Options {
  std::string mode = "local";
  bool quick = false;
  std::set<std::string> only;  // "W1", "W3", ...; empty = all
  std::string dpool;           // path of the `dpool` command; empty = find it
  std::string connect;         // an existing coordinator; empty = start our own
  bool insecure = false;       // cluster mode without CurveZMQ
};

// The peers' sizes (common.py); --quick shrinks them further for CI.
struct Sizes {
  explicit Sizes(bool quick)
      : w1_n(quick ? 200 : 2000),
        w2_n(quick ? 2000 : 20000),
        w3_n(quick ? 100'000 : 1'000'000),
        w4_tasks(quick ? 8 : 32),
        w4_reps(quick ? 1 : 3),
        w5_bytes(quick ? std::size_t{8} << 20 : std::size_t{64} << 20),
        w5_reps(quick ? 2 : 5),
        w6_sleep(quick ? 0.5 : 2.0),
        w6_kill_at(quick ? 0.2 : 0.5),
        w7_reps(quick ? 1 : 3),
        w8_reps(quick ? 1 : 3),
        w8_scale(quick ? 0.1 : 1.0) {}
  int w1_n;
  int w1_warm = 50;
  int w2_n;
  int w3_n;
  int w4_tasks;
  int w4_reps;
  std::size_t w5_bytes;
  int w5_reps;
  int w6_tasks = 8;
  double w6_sleep;
  double w6_kill_at;
  double w6_timeout = 20.0;
  int w7_reps;
  int w8_reps;
  double w8_scale;  // of the mixes' task durations
  unsigned procs = 2;
};

// ---------------------------------------------------------------- output

std::string fmt_list(const std::vector<double>& v, int digits = 3) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i], digits);
  return s + "]";
}

// Statistics as the peers compute them (common.py): nearest-rank percentile,
// median averaging the two middle values.
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto k = static_cast<long>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
  return v[static_cast<std::size_t>(std::max(0l, k))];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---------------------------------------------------------------- workloads

// W1: sequential round trips of one tiny task.
void w1_latency(dpool::Pool& pool, const Sizes& z, Reporter& out) {
  for (int i = 0; i < z.w1_warm; ++i) check(pool.apply_async(noop, i).get() == i, "W1 warm-up");
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(z.w1_n));
  for (int i = 0; i < z.w1_n; ++i) {
    auto t0 = Clock::now();
    int r = pool.apply_async(noop, i).get();
    us.push_back(seconds_since(t0) * 1e6);
    check(r == i, "W1 noop");
  }
  double mean = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  std::string note = "apply_async(noop, i).get() x" + std::to_string(z.w1_n) +
                     " sequential after " + std::to_string(z.w1_warm) + " untimed warm-ups; min " +
                     fmt(*std::min_element(us.begin(), us.end())) + " us, mean " + fmt(mean) +
                     " us, p90 " + fmt(percentile(us, 90)) + " us, max " +
                     fmt(*std::max_element(us.begin(), us.end())) + " us";
  out.emit("W1_latency", "median", median(us), "us", z.w1_n, note);
  out.emit("W1_latency", "p99", percentile(us, 99), "us", z.w1_n, note);
}

// W2: many tiny independent tasks, submitted at once, then every result.
void w2_throughput(dpool::Pool& pool, const Sizes& z, Reporter& out) {
  const int n = z.w2_n;
  pool.map(noop, std::views::iota(0, 64));  // warm, as the peers do
  {
    auto t0 = Clock::now();
    std::vector<dpool::AsyncResult<int>> rs;
    rs.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) rs.push_back(pool.apply_async(noop, i));
    double t_submit = seconds_since(t0);
    bool ok = true;
    for (int i = 0; i < n; ++i) ok &= rs[static_cast<std::size_t>(i)].get() == i;
    double dt = seconds_since(t0);
    check(ok, "W2 apply_async results");
    out.emit("W2_unchunked", "throughput", n / dt, "tasks/s", n,
             "apply_async(noop, i) x" + std::to_string(n) + " in a loop, then .get() each; wall " +
                 fmt(dt) + " s, of which submitting " + fmt(t_submit) + " s");
  }
  {
    auto t0 = Clock::now();
    auto r = pool.map(noop, std::views::iota(0, n), 1);
    double dt = seconds_since(t0);
    check(static_cast<int>(r.size()) == n && r.back() == n - 1, "W2 map results");
    out.emit("W2_map_chunksize1", "throughput", n / dt, "tasks/s", n,
             "map(noop, iota(0, " + std::to_string(n) + "), chunksize=1); wall " + fmt(dt) + " s");
  }
}

// W3: one big map of a trivial function with default chunking.
void w3_map(dpool::Pool& pool, const Sizes& z, Reporter& out) {
  const int n = z.w3_n;
  unsigned execs = pool.size();
  auto t0 = Clock::now();
  auto r = pool.map(square, std::views::iota(0, n));
  double dt = seconds_since(t0);
  check(static_cast<int>(r.size()) == n && r.back() == square(n - 1) && r[7] == 49,
        "W3 map results");
  out.emit("W3_map_default", "throughput", n / dt, "items/s", n,
           "map(square, iota(0, " + std::to_string(n) +
               ")) default chunksize (about 4 chunks per "
               "executor; pool.size() = " +
               std::to_string(execs) +
               " before the map); int results wrap "
               "mod 2^32; wall " +
               fmt(dt) + " s");
}

// Iterations of busy() that take ~50 ms here: median of 5 timings of a
// ~10 ms probe, scaled.
std::uint64_t calibrate_busy(Reporter& out) {
  std::uint64_t probe = 1'000'000;
  for (;;) {  // grow the probe until it takes at least 5 ms
    auto t0 = Clock::now();
    volatile auto sink = busy(probe);
    (void)sink;
    if (seconds_since(t0) >= 0.005) break;
    probe *= 2;
  }
  std::vector<double> per_iter;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    volatile auto sink = busy(probe);
    (void)sink;
    per_iter.push_back(seconds_since(t0) / static_cast<double>(probe));
  }
  auto iters = static_cast<std::uint64_t>(0.050 / median(per_iter));
  out.emit("calibration", "busy_iters", static_cast<double>(iters), "iterations", 5,
           "busy(iters) ~ 50 ms: median of 5 timings of busy(" + std::to_string(probe) +
               "), ns/iteration " + fmt_list([&] {
                 std::vector<double> ns;
                 for (double s : per_iter) ns.push_back(s * 1e9);
                 return ns;
               }()));
  return iters;
}

// W4: scaling of CPU-bound tasks from one executor to two.
void w4_scaling(const Sizes& z, Reporter& out) {
  std::uint64_t iters = calibrate_busy(out);
  const int tasks = z.w4_tasks;
  std::vector<std::uint64_t> work(static_cast<std::size_t>(tasks), iters);

  auto ts = Clock::now();
  std::uint64_t expect = 0;
  for (int i = 0; i < tasks; ++i) expect = busy(iters);
  double t_serial = seconds_since(ts);

  dpool::Pool p1(1u), p2(2u);
  dpool::Pool* pools[] = {&p1, &p2};
  for (unsigned n = 1; n <= 2; ++n)  // warm: every executor up
    pools[n - 1]->map(sleep_task, std::vector<double>(2 * n, 0.05), 1);
  std::vector<double> t[2], eff;
  for (int rep = 0; rep < z.w4_reps; ++rep) {  // alternate: the box's speed drifts
    for (unsigned n = 1; n <= 2; ++n) {
      auto t0 = Clock::now();
      auto r = pools[n - 1]->map(busy, work, 1);
      t[n - 1].push_back(seconds_since(t0));
      check(static_cast<int>(r.size()) == tasks && r.front() == expect && r.back() == expect,
            "W4 busy results");
    }
    eff.push_back(t[0].back() / (2 * t[1].back()));
  }
  double t1 = median(t[0]), t2 = median(t[1]);
  std::string note = std::to_string(tasks) + " tasks x busy(" + std::to_string(iters) +
                     ") (~50 ms each, calibrated), Pool(1)/Pool(2).map chunksize=1; median of " +
                     std::to_string(z.w4_reps) + " alternating reps: t1 " + fmt_list(t[0]) +
                     " s, t2 " + fmt_list(t[1]) + " s; per-rep efficiency " + fmt_list(eff) +
                     "; in-process serial reference (1 rep) " + fmt(t_serial) + " s";
  out.emit("W4_scaling", "t1_wall", t1, "s", tasks, note);
  out.emit("W4_scaling", "t2_wall", t2, "s", tasks, note);
  out.emit("W4_scaling", "efficiency", t1 / (2 * t2), "ratio", tasks,
           "median t1 / (2 * median t2); per-rep " + fmt_list(eff));
}

// W5: one task with a large incompressible argument.
void w5_payload(dpool::Pool& pool, const Sizes& z, Reporter& out) {
  std::string data(z.w5_bytes, '\0');
  std::mt19937_64 rng(12345);
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    std::uint64_t v = rng();
    std::memcpy(data.data() + i, &v, 8);
  }
  const double mb = static_cast<double>(data.size()) / 1e6;
  check(pool.apply_async(length, data).get() == data.size(), "W5 warm-up");
  std::vector<double> ts;
  for (int i = 0; i < z.w5_reps; ++i) {
    auto t0 = Clock::now();
    auto r = pool.apply_async(length, data).get();
    ts.push_back(seconds_since(t0));
    check(r == data.size(), "W5 length");
  }
  out.emit("W5_payload", "throughput", mb / median(ts), "MB/s", z.w5_reps,
           "apply_async(length, std::string of " + std::to_string(data.size() >> 20) +
               " MiB random bytes (lvalue)).get(); MB=1e6 B; median of " +
               std::to_string(z.w5_reps) + " after 1 untimed warm-up; times " + fmt_list(ts) +
               " s");
}

// W7: constructing Pool(2) until the first result is in hand.
// From constructing a pool to its first result. Local mode: Pool(procs)
// starts its executors. Cluster mode: Pool(Connect) connects to the running
// coordinator (the CurveZMQ handshake, unless --insecure) and the task runs
// on a node that is already up.
void w7_startup(int reps, Reporter& out,
                const std::function<void(std::optional<dpool::Pool>&)>& make,
                const std::string& what) {
  std::vector<double> ms, teardown;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    std::optional<dpool::Pool> pool;
    make(pool);
    int r = pool->apply_async(noop, 0).get();
    ms.push_back(seconds_since(t0) * 1e3);
    check(r == 0, "W7 noop");
    auto t1 = Clock::now();
    pool.reset();
    teardown.push_back(seconds_since(t1) * 1e3);
  }
  out.emit("W7_startup", "time_to_first_result", median(ms), "ms", reps,
           what + " construction -> first apply_async(noop).get(); median of " +
               std::to_string(reps) + "; all " + fmt_list(ms) + " ms; destruction " +
               fmt_list(teardown) + " ms (not included)");
}

// ---------------------------------------------------------------- cluster mode

// Waits (bounded) until the pool reports `want` executors, so default
// chunking sees the real pool size.
void wait_for_executors(dpool::Pool& pool, unsigned want) {
  auto deadline = Clock::now() + 20s;
  while (pool.size() < want && Clock::now() < deadline)
    pool.apply_async(noop, 0).get(10s);  // a round trip lets the coordinator's status arrive
  if (pool.size() < want)
    throw std::runtime_error("the pool reports " + std::to_string(pool.size()) +
                             " executors, expected " + std::to_string(want));
}

// ---------------------------------------------------------------- main

// Fills `o` from the command line; nullopt to go on, else the exit status.
std::optional<int> parse(int argc, char** argv, Options& o) {
  CLI::App app{"dpool's side of the peer benchmarks: W1..W8, one JSON line per figure",
               "dpool-bench"};
  std::vector<std::string> only;
  app.add_option("--mode", o.mode, "local (default) or cluster")
      ->check(CLI::IsMember({"local", "cluster"}));
  app.add_flag("--quick", o.quick, "tiny sizes: a smoke test, the figures mean nothing");
  app.add_option("--only", only, "workloads to run, e.g. W1,W5 (default: all)")->delimiter(',');
  app.add_option("--dpool", o.dpool, "path of the dpool command (default: found beside this)");
  app.add_option("--connect", o.connect, "a running coordinator to use; implies --mode cluster");
  app.add_flag("--insecure", o.insecure,
               "cluster mode in the clear: no CurveZMQ between the pool and the daemons");
  if (auto status = parse_command_line(app, argc, argv)) return status;
  for (auto& w : only) o.only.insert(w.substr(0, 2));
  if (!o.connect.empty()) o.mode = "cluster";
  return std::nullopt;
}

int program_main(int argc, char** argv) {
  dpool::init(argc, argv);  // executors (local and cluster) take over here
  Options opt;
  if (auto status = parse(argc, argv, opt)) return *status;
  Sizes z(opt.quick);
  const bool cluster = opt.mode == "cluster";
  Reporter out(cluster ? "dpool_cluster" : "dpool_local");
  auto wanted = [&](const char* w) { return opt.only.empty() || opt.only.count(w) > 0; };
  // Runs one workload if --only asks for it; see Reporter::run.
  auto run = [&](const char* id, const char* workload, auto&& body) {
    if (wanted(id)) out.run(workload, body);
  };
  log("mode " + opt.mode + (opt.quick ? " (quick)" : "") + ", " +
      std::to_string(dpool::cpu_count()) + " cores, loadavg " + fmt(loadavg1()));

  std::optional<LocalCluster> daemons;
  try {
    if (cluster && opt.connect.empty())
      daemons.emplace(find_dpool(opt.dpool), 1, 2, std::vector<std::string>{}, opt.insecure);
  } catch (const std::exception& e) {
    out.failed("cluster_setup", e.what());
    return 1;
  }
  const std::string address = daemons ? daemons->address : opt.connect;
  if (daemons)
    log("cluster: coordinator at " + address + ", worker with 2 executors, " +
        (opt.insecure ? "in the clear (--insecure)" : "CurveZMQ"));
  if (!opt.connect.empty()) log("cluster: using the running coordinator at " + address);

  bool shared_pool_needed = wanted("W1") || wanted("W2") || wanted("W3") || wanted("W5") ||
                            ((!cluster || !opt.connect.empty()) && wanted("W8"));
  if (shared_pool_needed) {
    try {
      std::optional<dpool::Pool> pool;
      if (cluster)
        pool.emplace(dpool::Connect{.address = address, .insecure = opt.insecure});
      else
        pool.emplace(z.procs);
      wait_for_executors(*pool, opt.connect.empty() ? z.procs : 1);
      run("W1", "W1_latency", [&] { w1_latency(*pool, z, out); });
      run("W2", "W2_throughput", [&] { w2_throughput(*pool, z, out); });
      run("W3", "W3_map_default", [&] { w3_map(*pool, z, out); });
      run("W5", "W5_payload", [&] { w5_payload(*pool, z, out); });
      if (!cluster || !opt.connect.empty())  // on a cluster we started, W8 has its own below
        run("W8", "W8_balance",
            [&] { w8_balance(*pool, pool->size(), z.w8_reps, z.w8_scale, out); });
    } catch (const std::exception& e) {
      out.failed("pool_setup", e.what());
    }
  }
  if (cluster && wanted("W7")) {
    run("W7", "W7_startup", [&] {
      w7_startup(
          opt.quick ? 1 : 20, out,
          [&](std::optional<dpool::Pool>& p) {
            p.emplace(dpool::Connect{.address = address, .insecure = opt.insecure});
          },
          std::string("Pool(Connect{...}) ") + (opt.insecure ? "in the clear" : "with CurveZMQ"));
    });
  }
  // W8 on a cluster: two nodes of one executor each, so that balance across
  // nodes is what is measured.
  if (cluster && opt.connect.empty() && wanted("W8")) {
    daemons.reset();
    out.run("W8_balance", [&] {
      LocalCluster two(find_dpool(opt.dpool), 2, 1, {}, opt.insecure);
      dpool::Pool pool(dpool::Connect{.address = two.address, .insecure = opt.insecure});
      wait_for_executors(pool, 2);
      w8_balance(pool, 2, z.w8_reps, z.w8_scale, out);
    });
  }
  if (!cluster) {
    run("W4", "W4_scaling", [&] { w4_scaling(z, out); });
    run("W6", "W6_fault", [&] {
      w6_fault({z.procs, z.w6_tasks, z.w6_sleep, z.w6_kill_at, z.w6_timeout}, out);
    });
    run("W7", "W7_startup", [&] {
      w7_startup(
          z.w7_reps, out, [&](std::optional<dpool::Pool>& p) { p.emplace(z.procs); },
          "Pool(" + std::to_string(z.procs) + ")");
    });
  }
  daemons.reset();
  return out.finish();
}

}  // namespace
}  // namespace dpool_bench

int main(int argc, char** argv) {
  return dpool_bench::program_main(argc, argv);
}
