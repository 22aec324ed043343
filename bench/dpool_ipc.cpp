// dpool-ipc: dpool's Process, pipe and Queue on one machine, beside the same
// workloads in bench/peers_ipc.py (multiprocessing) and a raw floor:
//   P1_pipe_pingpong   round trips of an int between this program and a
//                      Process through dpool::pipe(); median and p99 (µs).
//                      The floor: the same two processes exchanging 8-byte
//                      read/write calls on the same socketpair, no framing.
//   Q1_queue_throughput  a Process puts N ints on a dpool::Queue, this
//                      program gets them all (items/s).
//   S1_process_start   Process.start() to the child's first line (ms).
// One JSON line per figure on stdout, as dpool-bench prints them.
//
//   dpool-ipc [--quick]
#include <unistd.h>

#include <algorithm>
#include <dpool/dpool.hpp>
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

DPOOL_REGISTER(echo_ints);
DPOOL_REGISTER(echo_raw);
DPOOL_REGISTER(produce);
DPOOL_REGISTER(hello);

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto k = static_cast<long>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) - 1;
  return v[static_cast<std::size_t>(std::max(0l, k))];
}

void pipe_pingpong(int n, int warm, Reporter& out) {
  auto [a, b] = dpool::pipe();
  dpool::Process p(echo_ints, b);
  p.start();
  b.close();
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < warm + n; ++i) {
    auto t0 = Clock::now();
    a.send(i);
    check(a.recv<int>() == i, "P1 echo");
    if (i >= warm) us.push_back(seconds_since(t0) * 1e6);
  }
  a.send(-1);
  a.recv<int>();
  p.join();
  std::string note = std::to_string(n) +
                     " round trips of an int through dpool::pipe() to a "
                     "Process and back, after " +
                     std::to_string(warm) + " untimed";
  out.emit("P1_pipe_pingpong", "median", percentile(us, 50), "us", n, note);
  out.emit("P1_pipe_pingpong", "p99", percentile(us, 99), "us", n, note);
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

int program_main(int argc, char** argv) {
  dpool::init(argc, argv);
  CLI::App app{"dpool's Process, pipe and Queue on one machine", "dpool-ipc"};
  bool quick = false;
  app.add_flag("--quick", quick, "tiny sizes: a smoke test, the figures mean nothing");
  if (auto status = parse_command_line(app, argc, argv)) return *status;
  Reporter out("dpool_local"), floor("floor_c");
  out.run("P1_pipe_pingpong", [&] { pipe_pingpong(quick ? 200 : 20000, 200, out); });
  floor.run("P1_floor", [&] { raw_pingpong(quick ? 200 : 20000, 200, floor); });
  out.run("Q1_queue_throughput", [&] { queue_throughput(quick ? 10'000 : 1'000'000, out); });
  out.run("S1_process_start", [&] { process_start(quick ? 2 : 20, out); });
  return std::max(out.finish(), floor.finish());
}

}  // namespace
}  // namespace dpool_bench

int main(int argc, char** argv) {
  return dpool_bench::program_main(argc, argv);
}
