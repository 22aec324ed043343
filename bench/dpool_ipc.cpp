// dpool-ipc: dpool's Process, pipe and Queue on one machine, beside the same
// workloads in bench/peers_ipc.py (multiprocessing) and a raw floor:
//   P1_pipe_pingpong   round trips of an int between this program and a
//                      Process through dpool::pipe(); median and p99 (µs).
//                      The floor: the same two processes exchanging 8-byte
//                      read/write calls on the same socketpair, no framing.
//   P2_hosted_pipe_pingpong  the same through pool.pipe() to a pool.process
//                      Process of a local-mode pool: each send and each
//                      receive is a call on the in-process coordinator (the
//                      Process's through its node); median and p99 (µs).
//   Q1_queue_throughput  a Process puts N ints on a dpool::Queue, this
//                      program gets them all (items/s).
//   S1_process_start   Process.start() to the child's first line (ms).
//   V1_locked_value    two Processes each add 1 to a Value under its lock N
//                      times (increments/s).
//   L1_lock_pair       uncontended Lock acquire + release (ns per pair).
//   M1_shared_memory   one Process writes a new SharedMemory block, another
//                      reads it back, each timing its own loop (MB/s of bytes
//                      written + read); the floor is the same two loops over
//                      new private memory in one process.
// One JSON line per figure on stdout, as dpool-bench prints them.
//
//   dpool-ipc [--quick]
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <dpool/dpool.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace dpool_bench {

const char kProgramName[] = "dpool-ipc";

namespace {

void echo_ints(dpool::Connection c) {
  for (;;) {
    int v = c.recv<int>();
    c.send(v);
    if (v < 0) return;
  }
}

// The floor: 8-byte messages echoed with plain read and write.
void echo_raw(dpool::Connection c) {
  int fd = c.fileno();
  char buf[8];
  for (;;) {
    if (::read(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) return;
    if (::write(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) return;
    if (buf[0] == 'q') return;
  }
}

void produce(dpool::Queue<int> q, int n) {
  for (int i = 0; i < n; ++i) q.put(i);
}

void hello(dpool::Connection c) {
  c.send(1);
}

void add_locked(dpool::Value<long> v, int n) {
  for (int i = 0; i < n; ++i) {
    std::lock_guard guard(v.get_lock());
    v.value() += 1;
  }
}

// The two loops M1 times, on any memory: fill with 1s, then sum as u64.
void fill_ones(std::byte* p, std::size_t n) {
  std::memset(p, 1, n);
}
std::uint64_t sum_u64(const std::byte* p, std::size_t n) {
  const auto* v = reinterpret_cast<const std::uint64_t*>(p);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n / 8; ++i) total += v[i];
  return total;
}

void write_block(std::string name, dpool::Value<double> seconds) {
  dpool::SharedMemory shm(name);
  auto t0 = Clock::now();
  fill_ones(shm.data(), shm.size());
  seconds.store(seconds_since(t0));
}

void read_block(std::string name, dpool::Value<long> sum, dpool::Value<double> seconds) {
  dpool::SharedMemory shm(name);
  auto t0 = Clock::now();
  auto total = sum_u64(shm.data(), shm.size());
  seconds.store(seconds_since(t0));
  sum.store(static_cast<long>(total));
}

DPOOL_REGISTER(echo_ints);
DPOOL_REGISTER(echo_raw);
DPOOL_REGISTER(produce);
DPOOL_REGISTER(hello);
DPOOL_REGISTER(add_locked);
DPOOL_REGISTER(write_block);
DPOOL_REGISTER(read_block);

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto k = static_cast<long>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
  return v[static_cast<std::size_t>(std::max(0l, k))];
}

// Times n round trips of an int through `a` to echo_ints at the other end
// (after `warm` untimed ones), then stops the echo; the times in µs.
std::vector<double> echo_round_trips(dpool::Connection a, int n, int warm) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < warm + n; ++i) {
    auto t0 = Clock::now();
    a.send(i);
    check(a.recv<int>() == i, "echo");
    if (i >= warm) us.push_back(seconds_since(t0) * 1e6);
  }
  a.send(-1);
  a.recv<int>();
  return us;
}

void emit_round_trips(Reporter& out, const char* name, const std::vector<double>& us, int n,
                      int warm, const std::string& path) {
  std::string note = std::to_string(n) + " round trips of an int through " + path +
                     " and back, after " + std::to_string(warm) + " untimed";
  out.emit(name, "median", percentile(us, 50), "us", n, note);
  out.emit(name, "p99", percentile(us, 99), "us", n, note);
}

void pipe_pingpong(int n, int warm, Reporter& out) {
  auto [a, b] = dpool::pipe();
  dpool::Process p(echo_ints, b);
  p.start();
  b.close();
  auto us = echo_round_trips(a, n, warm);
  p.join();
  emit_round_trips(out, "P1_pipe_pingpong", us, n, warm, "dpool::pipe() to a Process");
}

void hosted_pipe_pingpong(int n, int warm, Reporter& out) {
  dpool::Pool pool(1);
  auto [a, b] = pool.pipe();
  auto p = pool.process(echo_ints, b);
  p.start();
  b.close();
  auto us = echo_round_trips(a, n, warm);
  p.join();
  emit_round_trips(out, "P2_hosted_pipe_pingpong", us, n, warm,
                   "pool.pipe() to a pool.process Process of a local-mode pool");
}

void raw_pingpong(int n, int warm, Reporter& floor) {
  auto [a, b] = dpool::pipe();
  dpool::Process p(echo_raw, b);
  p.start();
  b.close();
  int fd = a.fileno();
  std::vector<double> us;
  char buf[8] = {'x'};
  for (int i = 0; i < warm + n; ++i) {
    auto t0 = Clock::now();
    check(::write(fd, buf, sizeof buf) == sizeof buf && ::read(fd, buf, sizeof buf) == sizeof buf,
          "raw echo");
    if (i >= warm) us.push_back(seconds_since(t0) * 1e6);
  }
  buf[0] = 'q';
  check(::write(fd, buf, sizeof buf) == sizeof buf, "raw quit");
  p.join();
  floor.emit("P1_pipe_pingpong", "median", percentile(us, 50), "us", n,
             "the floor: 8-byte write + read on the same socketpair between the same two "
             "processes, no framing or serialization");
}

void queue_throughput(int n, Reporter& out) {
  dpool::Queue<int> q;
  dpool::Process p(produce, q, n);
  auto t0 = Clock::now();
  p.start();
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += q.get();
  double dt = seconds_since(t0);
  p.join();
  check(sum == static_cast<long>(n) * (n - 1) / 2, "Q1 sum");
  out.emit("Q1_queue_throughput", "throughput", n / dt, "items/s", n,
           "a Process puts " + std::to_string(n) +
               " ints on a dpool::Queue, this program gets them; from start() to the last get");
}

void process_start(int reps, Reporter& out) {
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    auto [a, b] = dpool::pipe();
    dpool::Process p(hello, b);
    auto t0 = Clock::now();
    p.start();
    check(a.recv<int>() == 1, "S1 hello");
    ms.push_back(seconds_since(t0) * 1e3);
    p.join();
  }
  out.emit("S1_process_start", "median", percentile(ms, 50), "ms", reps,
           "dpool::Process start() until the child's first message arrives (a new copy of this "
           "program, as multiprocessing's spawn start method)");
}

void locked_value(int n, Reporter& out) {
  dpool::Value<long> v(0);
  dpool::Process a(add_locked, v, n), b(add_locked, v, n);
  auto t0 = Clock::now();
  a.start();
  b.start();
  a.join();
  b.join();
  double dt = seconds_since(t0);
  check(v.value() == 2L * n, "V1 exact count");
  out.emit("V1_locked_value", "throughput", 2.0 * n / dt, "increments/s", 2L * n,
           "two Processes each add 1 to a dpool::Value<long> " + std::to_string(n) +
               " times under its lock; from start() to both joined");
}

void lock_pairs(int n, Reporter& out) {
  dpool::Lock l;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    l.lock();
    l.unlock();
  }
  out.emit("L1_lock_pair", "median", seconds_since(t0) * 1e9 / n, "ns", n,
           "uncontended dpool::Lock lock + unlock, one thread");
}

void shared_memory(std::size_t bytes, Reporter& out, Reporter& floor) {
  std::string name = "dpool-ipc-" + std::to_string(::getpid());
  dpool::SharedMemory shm(name, bytes, dpool::create);
  dpool::Value<long> sum(0);
  dpool::Value<double> wt(0), rt(0);
  dpool::Process w(write_block, name, wt), r(read_block, name, sum, rt);
  w.start();
  w.join();
  r.start();
  r.join();
  shm.unlink();
  check(static_cast<std::uint64_t>(sum.load()) == bytes / 8 * 0x0101010101010101ull, "M1 sum");
  double mb = 2.0 * static_cast<double>(bytes) / 1e6;
  out.emit("M1_shared_memory", "throughput", mb / (wt.load() + rt.load()), "MB/s", 1,
           "one Process fills a new " + std::to_string(bytes >> 20) +
               " MiB SharedMemory block, another sums it as u64; each times its own loop "
               "(page faults on the new block included); bytes written + read over the two "
               "loops' time");
  auto fresh = std::make_unique_for_overwrite<std::byte[]>(bytes);
  auto t0 = Clock::now();
  fill_ones(fresh.get(), bytes);
  auto total = sum_u64(fresh.get(), bytes);
  double ft = seconds_since(t0);
  check(total == bytes / 8 * 0x0101010101010101ull, "floor sum");
  floor.emit("M1_shared_memory", "throughput", mb / ft, "MB/s", 1,
             "the same two loops over new private memory in one process");
}

int program_main(int argc, char** argv) {
  dpool::init(argc, argv);
  CLI::App app{"dpool's Process, pipe and Queue on one machine", "dpool-ipc"};
  bool quick = false;
  app.add_flag("--quick", quick, "tiny sizes: a smoke test, the figures mean nothing");
  if (auto status = parse_command_line(app, argc, argv)) return *status;
  Reporter out("dpool_local"), floor("floor_c");
  out.run("P1_pipe_pingpong", [&] { pipe_pingpong(quick ? 200 : 20000, 200, out); });
  floor.run("P1_floor", [&] { raw_pingpong(quick ? 200 : 20000, 200, floor); });
  out.run("P2_hosted_pipe_pingpong", [&] { hosted_pipe_pingpong(quick ? 100 : 5000, 100, out); });
  out.run("Q1_queue_throughput", [&] { queue_throughput(quick ? 10'000 : 1'000'000, out); });
  out.run("S1_process_start", [&] { process_start(quick ? 2 : 20, out); });
  out.run("V1_locked_value", [&] { locked_value(quick ? 10'000 : 100'000, out); });
  out.run("L1_lock_pair", [&] { lock_pairs(quick ? 100'000 : 10'000'000, out); });
  out.run("M1_shared_memory",
          [&] { shared_memory(quick ? std::size_t{64} << 20 : std::size_t{1} << 30, out, floor); });
  return std::max(out.finish(), floor.finish());
}

}  // namespace
}  // namespace dpool_bench

int main(int argc, char** argv) {
  return dpool_bench::program_main(argc, argv);
}
