// dpool-scale: what the coordinator costs per task as the number of worker
// nodes grows, and how much memory it holds per queued task. The nodes are
// simulated (bench/fake_node.hpp: one thread of this program holding a DEALER
// per node, answering every task at once without executors), so the figures
// are the coordinator's and the client's.
//
//   dpool-scale [--quick] [--only sweep,memory] [--nodes 1,10,100,1000]
//               [--tasks N] [--in-flight N] [--slots N] [--queued N] [--dpool PATH]
//
// sweep  : for each node count, a fresh `dpool coordinator` (a child process),
//          that many fake nodes, and a real dpool::Pool(Connect{...}) in this
//          process running map(noop, iota(0, tasks), chunksize=1). Two series:
//          the nodes share --in-flight credit (1000 tasks in flight in all,
//          split evenly), so only the number of nodes changes; and each node
//          has --slots credit (16), as when a cluster grows. Reports tasks/s
//          and the coordinator's CPU time per task (all its threads, from
//          /proc/PID/task/*/schedstat before and after the map).
// memory : a fresh coordinator with no nodes. The client submits --queued
//          tasks (1,000,000) in 10 rounds of map_async(chunksize=1); after
//          each round it cancels one more task submitted after it, which
//          returns only once the coordinator has received everything sent
//          before it, and reads the coordinator's VmRSS. Reports
//          (RSS after - RSS before) / tasks, once with a tiny argument and once
//          with a 100-byte string.
// --quick: nodes 1 and 10, 2,000 tasks, 10,000 queued: a smoke test for CI;
//          its figures mean nothing.
//
// One JSON line per figure on stdout, in dpool-bench's format:
//   {"system":"dpool","workload","metric","value","unit","n","notes"}
// Diagnostics go to stderr. Exit status 1 if anything failed (an exception, a
// wrong result), never because of a time.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <ranges>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "bench_common.hpp"
#include "fake_node.hpp"

// The program is in dpool_bench, as bench_common.hpp is, so that the shared
// names need no qualification; main() at the end only calls it.
namespace dpool_bench {

const char kProgramName[] = "dpool-scale";

namespace {

// ---------------------------------------------------------------- tasks
// noop and length, from bench_common.cpp (dpool-bench's too). The fake nodes
// run them in their own thread (see fake_node.cpp); the memory figures never
// run them at all.

// ---------------------------------------------------------------- settings

using namespace std::chrono_literals;

struct Options {
  bool quick = false;
  std::set<std::string> only;  // "sweep", "memory"; empty = both
  std::vector<unsigned> nodes;
  long tasks = 0;
  unsigned in_flight = 1000;  // series 1: credit of all nodes together; 0 = skip
  unsigned slots = 16;        // series 2: credit of each node; 0 = skip
  long queued = 0;
  std::string dpool;  // path of the `dpool` command; empty = find it
};

// ---------------------------------------------------------------- /proc

// One thread's name and CPU seconds. The time comes from schedstat (time on a
// CPU, in nanoseconds) where the kernel has it, else from stat (utime + stime,
// in clock ticks of 10 ms, too coarse for the short --quick runs).
std::pair<std::string, double> read_thread(const std::filesystem::path& task) {
  std::ifstream in(task / "stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto open = stat.find('(');
  auto close = stat.rfind(')');  // the name may hold spaces and parentheses
  if (open == std::string::npos || close == std::string::npos || close < open)
    throw std::runtime_error("cannot read " + (task / "stat").string());
  std::string name = stat.substr(open + 1, close - open - 1);
  unsigned long long ns = 0;
  if (std::ifstream sched(task / "schedstat"); sched >> ns)
    return {name, static_cast<double>(ns) * 1e-9};
  std::istringstream fields(stat.substr(close + 1));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15 && fields >> f; ++field) {  // utime, stime: fields 14, 15
    if (field == 14) utime = std::stoull(f);
    if (field == 15) stime = std::stoull(f);
  }
  return {name, static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK))};
}

// CPU seconds of the threads of `pid`, summed by thread name. Threads that
// have exited are not counted; neither the coordinator nor this program ends
// a thread while a figure is measured.
using ThreadCpu = std::map<std::string, double>;
ThreadCpu thread_cpu(pid_t pid) {
  ThreadCpu out;
  std::error_code ec;
  for (auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    try {
      auto [name, cpu] = read_thread(task.path());
      out[name] += cpu;
    } catch (const std::exception&) {
      // the thread ended while we looked
    }
  }
  return out;
}

double total(const ThreadCpu& t) {
  double sum = 0;
  for (auto& [name, cpu] : t) sum += cpu;
  return sum;
}

ThreadCpu operator-(ThreadCpu a, const ThreadCpu& b) {
  for (auto& [name, cpu] : b) a[name] -= cpu;
  return a;
}

// A "Vm...:" line of /proc/PID/status, in bytes.
double status_bytes(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) * 1024;
  throw std::runtime_error("no " + key + " in /proc/PID/status");
}

// ---------------------------------------------------------------- coordinator

// `dpool coordinator` on a free loopback port, as a child process, so that
// /proc/PID shows its CPU and memory alone. Its stdout is read only up to the
// start-up line (it prints one more line, when it stops, which the pipe
// holds); its stderr is ours. Destroying it stops it, with 10 s of grace.
class CoordinatorProcess {
 public:
  CoordinatorProcess(const std::string& dpool, long max_queued)
      : process_(command_line(dpool, max_queued), 10s) {
    auto line = process_.wait_line("listening on", 10s);
    address_ = line.substr(line.find("tcp://"));
  }

  const std::string& address() const { return address_; }
  pid_t pid() const { return process_.pid(); }

 private:
  static std::vector<std::string> command_line(const std::string& dpool, long max_queued) {
    std::vector<std::string> argv = {dpool,   "coordinator", "--bind", "tcp://127.0.0.1:*",
                                     "--log", "warn"};
    if (max_queued > 0) {
      argv.push_back("--max-queued");
      argv.push_back(std::to_string(max_queued));
    }
    return argv;
  }

  DpoolProcess process_;
  std::string address_;
};

// ---------------------------------------------------------------- sweep

struct Snapshot {
  Clock::time_point at;
  ThreadCpu coordinator_threads, own_threads;
  FakeNodes::Counters nodes;
};

Snapshot snapshot(const CoordinatorProcess& c, const FakeNodes& f) {
  return {Clock::now(), thread_cpu(c.pid()), thread_cpu(::getpid()), f.counters()};
}

// Bounds a map that would otherwise wait for ever, should the fake nodes or
// the coordinator fail; the full-size maps take seconds.
constexpr auto kMapTimeout = std::chrono::seconds(300);

bool is_fake_nodes_thread(const std::string& name) {
  return name == FakeNodes::kThreadName ||
         name.starts_with(std::to_string(FakeNodes::kZmqThreadPrefix) + "/");
}

// One node count and credit: a fresh coordinator, `nodes` fake nodes with
// `slots` credit each, one client.
void sweep_point(const Options& o, const std::string& dpool, unsigned nodes, unsigned slots,
                 Reporter& out) {
  const std::string workload =
      "S1_nodes=" + std::to_string(nodes) + "_slots=" + std::to_string(slots);
  const long n = o.tasks;
  const long warm = std::max(100l, n / 10);

  CoordinatorProcess coordinator(dpool, 0);
  FakeNodes fakes(coordinator.address(), nodes, 1, slots);
  fakes.wait_welcomed(60s);
  dpool::Pool pool(dpool::Connect{.address = coordinator.address(),
                                  .max_in_flight = static_cast<std::size_t>(n + warm)});

  // Untimed: the connections, the coordinator's tables and both sides'
  // allocators warm up.
  auto w = pool.map_async(noop, std::views::iota(0, static_cast<int>(warm)), 1).get(kMapTimeout);
  check(static_cast<long>(w.size()) == warm && w.back() == warm - 1, workload + " warm-up");

  auto s0 = snapshot(coordinator, fakes);
  auto r = pool.map_async(noop, std::views::iota(0, static_cast<int>(n)), 1).get(kMapTimeout);
  auto s1 = snapshot(coordinator, fakes);
  bool ok = static_cast<long>(r.size()) == n;
  for (long i = 0; ok && i < n; ++i) ok = r[static_cast<std::size_t>(i)] == i;
  check(ok, workload + " map(noop) results");
  if (!fakes.error().empty()) throw std::runtime_error("fake nodes: " + fakes.error());

  const double wall = std::chrono::duration<double>(s1.at - s0.at).count();
  const auto coord_by_thread = s1.coordinator_threads - s0.coordinator_threads;
  const double coord = total(coord_by_thread);
  auto us_per_task = [&](double seconds) { return fmt(seconds / static_cast<double>(n) * 1e6); };
  std::string coord_threads;
  for (auto& [name, cpu] : coord_by_thread)
    if (cpu > 0)
      coord_threads += (coord_threads.empty() ? "" : ", ") + name + " " + us_per_task(cpu);
  double fake_cpu = 0, client_cpu = 0;
  std::string fake_threads;
  for (auto& [name, cpu] : s1.own_threads - s0.own_threads) {
    if (!is_fake_nodes_thread(name)) {
      client_cpu += cpu;
      continue;
    }
    fake_cpu += cpu;
    fake_threads += (fake_threads.empty() ? "" : ", ") + name + " " + us_per_task(cpu);
  }
  const auto dispatches = s1.nodes.dispatches - s0.nodes.dispatches;
  const auto dispatched = s1.nodes.tasks - s0.nodes.tasks;
  const std::string common =
      std::to_string(nodes) + " fake node(s) with " + std::to_string(slots) +
      " slot(s) of credit each (" + std::to_string(slots * nodes) +
      " tasks in flight at most); map(noop, iota(0, " + std::to_string(n) +
      "), chunksize=1) after " + std::to_string(warm) + " untimed; wall " + fmt(wall) +
      " s; coordinator busy " + fmt(coord / wall) + " cores; CPU per task: coordinator " +
      us_per_task(coord) + " us (by thread: " + coord_threads + "), client process " +
      us_per_task(client_cpu) + " us, fake nodes " + us_per_task(fake_cpu) + " us (" +
      fake_threads + "); " + std::to_string(dispatches) + " DISPATCH messages of " +
      fmt(dispatches ? static_cast<double>(dispatched) / static_cast<double>(dispatches) : 0) +
      " tasks on average; " + std::to_string(s1.nodes.heartbeats - s0.nodes.heartbeats) +
      " heartbeats to nodes; " + std::to_string(s1.nodes.reregistered) +
      " node re-registrations; loadavg " + fmt(loadavg1());
  out.emit(workload, "throughput", static_cast<double>(n) / wall, "tasks/s", n, common);
  out.emit(workload, "coordinator_cpu_per_task", coord / static_cast<double>(n) * 1e6, "us", n,
           "CPU time of the `dpool coordinator` process over the map, all threads "
           "(/proc/PID/task/*/schedstat); " +
               common);
}

// ---------------------------------------------------------------- memory

// Returns once the coordinator has received every task this client submitted
// before the call: cancel() goes through the coordinator after whatever the
// client has not sent yet, and a queued task can always be cancelled.
void sync_with_coordinator(dpool::Pool& pool) {
  auto marker = pool.apply_async(noop, -1);
  if (!marker.cancel())
    throw std::runtime_error("the marker task could not be cancelled (it should be queued)");
}

// Bytes the coordinator holds per queued task, for tasks whose argument is
// `item` (one per chunk of map_async(chunksize=1)).
template <class F, class T>
void memory_point(const Options& o, const std::string& dpool, F fn, const T& item,
                  const std::string& what, Reporter& out) {
  const long n = o.queued;
  const int rounds = 10;
  const long per_round = n / rounds;
  const std::tuple<T> args{item};  // what map_async encodes per item
  const auto payload = dpool::detail::encode_chunk(&args, &args + 1).size();
  const std::string workload = "S2_queued_memory_payload=" + std::to_string(payload) + "B";

  // Room for every task and for the markers; no node ever takes one.
  CoordinatorProcess coordinator(dpool, n + 1000);
  dpool::Pool pool(dpool::Connect{.address = coordinator.address(),
                                  .max_in_flight = static_cast<std::size_t>(2 * n + 1000)});
  sync_with_coordinator(pool);
  const double before = status_bytes(coordinator.pid(), "VmRSS");
  const double hwm_before = status_bytes(coordinator.pid(), "VmHWM");

  std::vector<dpool::AsyncResult<std::vector<decltype(fn(item))>>> maps;
  std::vector<double> rss{before};
  std::vector<T> items(static_cast<std::size_t>(per_round), item);
  auto t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    maps.push_back(pool.map_async(fn, items, 1));
    sync_with_coordinator(pool);
    rss.push_back(status_bytes(coordinator.pid(), "VmRSS"));
  }
  double wall = seconds_since(t0);
  const double hwm = status_bytes(coordinator.pid(), "VmHWM");
  // A task refused (QueueFull) or failed would have reached the client before
  // the marker's answer and made its map ready.
  for (auto& m : maps) check(!m.ready(), workload + ": a map finished while no node was there");

  const long total = per_round * rounds;
  double per_task = (rss.back() - before) / static_cast<double>(total);
  // Least-squares slope of RSS over the rounds: the cost of one more queued
  // task, with the one-off growth of buffers the first rounds leave behind
  // (kept by malloc for later rounds) mostly factored out.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int r = 0; r <= rounds; ++r) {
    double x = static_cast<double>(r) * static_cast<double>(per_round);
    sx += x;
    sy += rss[static_cast<std::size_t>(r)];
    sxx += x * x;
    sxy += x * rss[static_cast<std::size_t>(r)];
  }
  double k = rounds + 1;
  double slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
  std::string rounds_mb;
  for (double b : rss) rounds_mb += (rounds_mb.empty() ? "" : ", ") + fmt((b - before) / 1e6, 4);

  out.emit(workload, "coordinator_bytes_per_queued_task", per_task, "B", total,
           std::to_string(total) + " tasks queued on a coordinator with no nodes, " + what +
               ", in " + std::to_string(rounds) + " map_async(chunksize=1) rounds of " +
               std::to_string(per_round) + "; payload (the chunk's argument bytes) " +
               std::to_string(payload) + " B; (VmRSS after - VmRSS before) / tasks, VmRSS " +
               fmt(before / 1e6, 4) + " -> " + fmt(rss.back() / 1e6, 4) +
               " MB; marginal (least-squares slope over the rounds) " + fmt(slope, 4) +
               " B/task; growth after each round " + rounds_mb + " MB; peak VmHWM " +
               fmt(hwm_before / 1e6, 4) + " -> " + fmt(hwm / 1e6, 4) + " MB; target <= 512 B + " +
               "payload = " + std::to_string(512 + payload) + " B; submitting took " + fmt(wall) +
               " s");
}

// ---------------------------------------------------------------- main

// 1000 nodes hold 1000 sockets here and 1000 connections in the coordinator
// (which inherits the limit): raise the soft limit on descriptors to the hard one.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Fills `o` from the command line; nullopt to go on, else the exit status.
std::optional<int> parse(int argc, char** argv, Options& o) {
  CLI::App app{
      "the coordinator's cost per task with simulated nodes, and its memory per queued "
      "task; one JSON line per figure",
      "dpool-scale"};
  std::vector<std::string> only;
  app.add_flag("--quick", o.quick, "tiny sizes: a smoke test, the figures mean nothing");
  app.add_option("--only", only, "sweep, memory or both (default: both)")
      ->delimiter(',')
      ->check(CLI::IsMember({"sweep", "memory"}));
  app.add_option("--nodes", o.nodes, "node counts to sweep (default 1,10,100,1000)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--tasks", o.tasks, "tasks per sweep point (default 200000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--in-flight", o.in_flight, "series 1: credit of all nodes together; 0 = skip");
  app.add_option("--slots", o.slots, "series 2: credit of each node; 0 = skip");
  app.add_option("--queued", o.queued, "tasks to queue for the memory figure (default 1000000)")
      ->check(CLI::Range(10L, std::numeric_limits<long>::max()));
  app.add_option("--dpool", o.dpool, "path of the dpool command (default: found beside this)");
  if (auto status = parse_command_line(app, argc, argv)) return status;
  if (o.in_flight == 0 && o.slots == 0) {
    std::fputs("dpool-scale: --in-flight and --slots cannot both be 0\n", stderr);
    return 2;
  }
  o.only.insert(only.begin(), only.end());
  if (o.nodes.empty())
    o.nodes = o.quick ? std::vector<unsigned>{1, 10} : std::vector<unsigned>{1, 10, 100, 1000};
  if (o.tasks <= 0) o.tasks = o.quick ? 2'000 : 200'000;
  if (o.queued <= 0) o.queued = o.quick ? 10'000 : 1'000'000;
  return std::nullopt;
}

int program_main(int argc, char** argv) {
  dpool::init(argc, argv);
  Options opt;
  if (auto status = parse(argc, argv, opt)) return *status;
  raise_fd_limit();
  Reporter out("dpool");
  auto wanted = [&](const char* part) { return opt.only.empty() || opt.only.count(part) > 0; };
  std::string dpool;
  try {
    dpool = find_dpool(opt.dpool);
  } catch (const std::exception& e) {
    out.failed("setup", e.what());
    return 1;
  }
  log(std::string(opt.quick ? "quick, " : "") + std::to_string(dpool::cpu_count()) +
      " cores, loadavg " + fmt(loadavg1()) + ", coordinator " + dpool);

  if (wanted("sweep")) {
    // Two series: the same credit in all spread over more and more nodes
    // (--in-flight), and the same credit per node (--slots), as when a cluster grows.
    for (unsigned nodes : opt.nodes) {
      std::vector<unsigned> credits;
      if (opt.in_flight) credits.push_back(std::max(1u, opt.in_flight / nodes));
      if (opt.slots && (credits.empty() || credits[0] != opt.slots)) credits.push_back(opt.slots);
      for (unsigned slots : credits)
        out.run("S1_nodes=" + std::to_string(nodes) + "_slots=" + std::to_string(slots),
                [&] { sweep_point(opt, dpool, nodes, slots, out); });
    }
  }
  if (wanted("memory")) {
    out.run("S2_queued_memory_int", [&] {
      memory_point(opt, dpool, noop, 0, "noop(int) with a 4-byte int argument", out);
    });
    out.run("S2_queued_memory_string", [&] {
      memory_point(opt, dpool, length, std::string(100, 'x'),
                   "length(std::string) with a 100-byte string argument", out);
    });
  }
  return out.finish();
}

}  // namespace
}  // namespace dpool_bench

int main(int argc, char** argv) {
  return dpool_bench::program_main(argc, argv);
}
