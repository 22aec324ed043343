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
//   R0_tcp_round_trip the floor under every synchronous call above: a forked
//                     process echoes 8 bytes over loopback TCP, blocking
//                     reads, one in flight (round trips/s); and the same
//                     with this side spinning up to 100 us before it blocks,
//                     as a client's direct line does
// One JSON line per figure on stdout, as dpool-bench prints them.
//
//   dpool-manager [--quick] [--dpool PATH] [--only G1,Q2,...]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

// The Reporter, running only the figures that --only names (all without it).
struct Selection {
  Reporter& out;
  const std::vector<std::string>& only;
  void emit(const std::string& w, const std::string& m, double v, const std::string& u, long n,
            const std::string& notes) {
    out.emit(w, m, v, u, n, notes);
  }
  template <class Body>
  void run(const std::string& name, Body&& body) {
    if (only.empty() || std::ranges::find(only, name.substr(0, 2)) != only.end())
      out.run(name, std::forward<Body>(body));
  }
  int finish() const { return out.finish(); }
};

// Round trips per second of 8 bytes between this process and a forked
// echo over loopback TCP: what one synchronous call costs with nothing
// but the kernel in the way.
double tcp_round_trips(int n, std::chrono::microseconds spin) {
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  check(server >= 0 && ::bind(server, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
            ::listen(server, 1) == 0 &&
            ::getsockname(server, reinterpret_cast<sockaddr*>(&a), &len) == 0,
        "R0 listen");
  pid_t child = ::fork();
  if (child == 0) {
    int c = ::accept(server, nullptr, nullptr);
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b[8];
    while (::recv(c, b, sizeof b, MSG_WAITALL) == sizeof b)
      if (::send(c, b, sizeof b, 0) != sizeof b) break;
    ::_exit(0);
  }
  ::close(server);
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  check(::connect(c, reinterpret_cast<sockaddr*>(&a), len) == 0, "R0 connect");
  char b[8] = {};
  // The echo's 8 bytes come in one segment: a partial read does not happen.
  auto answer = [&] {
    for (auto until = Clock::now() + spin; Clock::now() < until;)
      if (::recv(c, b, sizeof b, MSG_DONTWAIT) == sizeof b) return true;
    return ::recv(c, b, sizeof b, MSG_WAITALL) == sizeof b;
  };
  auto round_trips = [&](int count) {
    for (int i = 0; i < count; ++i)
      check(::send(c, b, sizeof b, 0) == sizeof b && answer(), "R0 echo");
  };
  round_trips(n / 10);  // warm up
  auto t0 = Clock::now();
  round_trips(n);
  double dt = seconds_since(t0);
  ::close(c);
  ::waitpid(child, nullptr, 0);
  return n / dt;
}

int program_main(int argc, char** argv) {
  dpool::init(argc, argv);
  CLI::App app{"dpool's Manager over loopback TCP", "dpool-manager"};
  bool quick = false;
  std::string dpool_path;
  app.add_flag("--quick", quick, "tiny sizes: a smoke test, the figures mean nothing");
  app.add_option("--dpool", dpool_path, "the dpool command (default: next to this program)");
  std::vector<std::string> only;
  app.add_option("--only", only, "run only these figures (G1,G2,G3,G4,Q2,R0)")->delimiter(',');
  if (auto status = parse_command_line(app, argc, argv)) return *status;
  Reporter reporter("dpool_cluster");
  Selection out{reporter, only};
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
  out.run("R0_tcp_round_trip", [&] {
    out.emit("R0_tcp_round_trip", "blocking", tcp_round_trips(n, {}), "round trips/s", n,
             "8 bytes to a forked echo over loopback TCP and back, one in flight, blocking "
             "reads: the floor of one synchronous call");
    out.emit("R0_tcp_round_trip", "spinning", tcp_round_trips(n, std::chrono::microseconds(100)),
             "round trips/s", n,
             "the same, this side spinning up to 100 us before it blocks, as a direct line "
             "waits");
  });
  return out.finish();
}

}  // namespace
}  // namespace dpool_bench

int main(int argc, char** argv) {
  return dpool_bench::program_main(argc, argv);
}
