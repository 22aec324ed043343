// Cluster mode end to end: a real `dpool coordinator` and real `dpool worker`
// processes on ephemeral loopback ports, in self-hosted (--exec) and library
// (--load) modes, plus hostile peers on the coordinator's socket.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <dpool/dpool.hpp>
#include <random>
#include <set>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "curve_keys.hpp"
#include "processes.hpp"
#include "protocol.hpp"
#include "task_starts.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
using test_support::Clock;
namespace tt = test_tasks;
namespace ts = test_support;
namespace wire = dpool::internal::wire;
using dpool::internal::Payload;
using dpool::internal::Payloads;

namespace {
// A coordinator with one --exec node and one --load node, 2 executors each.
struct Cluster {
  ts::Coordinator coordinator;
  ts::Worker exec_node{coordinator.address, "--exec", 2, "exec-node"};
  ts::Worker load_node{coordinator.address, "--load", 2, "load-node"};
  dpool::Connect connect() const { return {.address = coordinator.address}; }
};

// Frames for a raw ZeroMQ socket, by copying the payloads' bytes.
std::vector<zmq::message_t> to_zmq(const Payloads& frames) {
  std::vector<zmq::message_t> out;
  for (auto& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

Payloads from_zmq(const std::vector<zmq::message_t>& frames) {
  Payloads out;
  for (auto& f : frames) out.emplace_back(f.to_string_view());
  return out;
}

}  // namespace

TEST_CASE("cluster mode runs every verb across an --exec node and a --load node") {
  Cluster c;
  dpool::Pool pool(c.connect());
  CHECK(pool.size() == 4);
  CHECK(pool.apply(tt::square, 9) == 81);
  std::vector<int> in(500);
  for (int i = 0; i < 500; ++i) in[i] = i;
  auto out = pool.map(tt::square, in);
  REQUIRE(out.size() == 500);
  for (int i = 0; i < 500; ++i) CHECK(out[i] == i * i);
  CHECK(pool.map(tt::square, in, 1) == out);
  std::vector<std::tuple<int, int>> pairs{{1, 1}, {2, 2}};
  CHECK(pool.starmap(tt::add, pairs) == std::vector<int>{2, 4});
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 8; ++i) rs.push_back(pool.apply_async(tt::pid_after_ms, 200));
  std::set<std::string> nodes;
  std::set<int> pids;
  for (auto& r : rs) {
    pids.insert(r.get(30s));
    nodes.insert(r.info().node);
  }
  CHECK(nodes == std::set<std::string>{"exec-node", "load-node"});
  CHECK(pids.size() == 4);
}

TEST_CASE("a task called by name only works through Remote") {
  Cluster c;
  dpool::Pool pool(c.connect());
  dpool::Remote<int(int)> sq{"square"};
  CHECK(pool.apply(sq, 12) == 144);
  dpool::Remote<int(int)> missing{"nope"};
  try {
    pool.apply(missing, 1);
    FAIL("expected UnknownTask");
  } catch (const dpool::UnknownTask& e) {
    std::string w = e.what();
    CHECK((w.find("exec-node") != std::string::npos || w.find("load-node") != std::string::npos));
    CHECK(w.find("nope") != std::string::npos);
  }
  dpool::Remote<int(int)> wrong{"half"};
  CHECK_THROWS_AS(pool.apply(wrong, 1), dpool::SignatureMismatch);
}

TEST_CASE("errors and crashes on cluster nodes reach the client by name") {
  Cluster c;
  dpool::Pool pool(c.connect());
  CHECK_THROWS_AS(pool.apply(tt::throw_runtime, std::string("x")), dpool::RemoteError);
  try {
    pool.apply(tt::crash_exit, 7);
    FAIL("expected WorkerCrashed");
  } catch (const dpool::WorkerCrashed& e) {
    CHECK(e.exit_code() == 7);
  }
  CHECK(pool.apply(tt::square, 3) == 9);
}

TEST_CASE("a 64 MiB argument and a 32 MiB result cross the cluster intact") {
  Cluster c;
  dpool::Pool pool(c.connect());
  std::string big(64u << 20, 'z');
  CHECK(pool.apply(tt::length, big) == big.size());
  CHECK(pool.apply(tt::blob, std::uint64_t{32u << 20}).size() == (32u << 20));
}

TEST_CASE("terminate frees the cluster: running tasks are killed and new work starts at once") {
  Cluster c;
  {
    dpool::Pool pool(c.connect());
    ts::TaskStarts starts;
    std::vector<dpool::AsyncResult<int>> rs;
    for (int i = 0; i < 200; ++i)
      rs.push_back(pool.apply_async(tt::started_then_sleep, starts.path(), 30000));
    auto running = starts.wait(4, 30s);  // every executor of both nodes is inside a task
    REQUIRE(running.size() == 4);
    auto t0 = Clock::now();
    pool.terminate();
    CHECK_WITHIN(t0, 2.0);
    for (auto& r : rs) CHECK_THROWS_AS(r.get(1s), dpool::Cancelled);
    for (int pid : running) CHECK(ts::wait_gone(pid, 10s));
  }
  dpool::Pool next(c.connect());
  auto t0 = Clock::now();
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(next.apply_async(tt::square, i));
  for (int i = 0; i < 4; ++i) CHECK(rs[i].get(10s) == i * i);
  CHECK_WITHIN(t0, 5.0);
}

TEST_CASE("an unreachable coordinator gives ConnectionError after the connect timeout") {
  auto t0 = Clock::now();
  CHECK_THROWS_AS(
      dpool::Pool(dpool::Connect{.address = "tcp://127.0.0.1:1", .connect_timeout = 300ms}),
      dpool::ConnectionError);
  CHECK_WITHIN(t0, 3.0);
}

TEST_CASE("a peer with another protocol version is refused with both versions named") {
  ts::Coordinator coordinator;
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvtimeo, 10000);
  ts::use_keys(s);
  s.connect(coordinator.address);
  auto frames = to_zmq(wire::encode(wire::Message{wire::Hello{}, {}}));
  REQUIRE(frames.size() == 2);
  REQUIRE(frames[0].size() == wire::kHeaderBytes);
  static_cast<unsigned char*>(frames[0].data())[4] = 99;  // version 99
  static_cast<unsigned char*>(frames[0].data())[5] = 0;
  zmq::send_multipart(s, frames);
  std::vector<zmq::message_t> reply;
  REQUIRE(zmq::recv_multipart(s, std::back_inserter(reply)));
  auto m = wire::decode(from_zmq(reply));
  REQUIRE(m.has_value());
  REQUIRE(std::holds_alternative<wire::Reject>(m->body));
  CHECK(m->kind().number == wire::Reject::kKind.number);
  auto reason = std::get<wire::Reject>(m->body).reason;
  CHECK(reason.find("99") != std::string::npos);
  CHECK(reason.find(std::to_string(wire::kVersion)) != std::string::npos);
}

TEST_CASE("hostile bytes on the coordinator's socket are rejected and it keeps serving") {
  Cluster c;
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  ts::use_keys(s);
  s.connect(c.coordinator.address);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::vector<zmq::message_t> frames;
    int n = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < n; ++f) {
      std::string bytes(rng() % 64, '\0');
      for (auto& ch : bytes) ch = static_cast<char>(rng());
      if (f == 0 && i % 2 == 0 && bytes.size() >= 8) {  // a valid header, garbage body
        auto h = wire::encode(wire::Message{wire::Submit{}, {}});
        std::memcpy(bytes.data(), h[0].data(), 8);
        bytes.resize(8);
      }
      frames.emplace_back(bytes.data(), bytes.size());
    }
    zmq::send_multipart(s, frames);
  }
  dpool::Pool pool(c.connect());
  CHECK(pool.apply(tt::square, 5) == 25);
  CHECK(c.coordinator.process.wait_exit(0ms) == -1);  // still running
}

TEST_CASE("a killed worker daemon leaves no executor behind") {
  ts::Coordinator coordinator;
  ts::Worker node(coordinator.address, "--exec", 2, "doomed");
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 2; ++i) rs.push_back(pool.apply_async(tt::pid_after_ms, 300));
  std::vector<int> pids;
  for (auto& r : rs) pids.push_back(r.get(30s));
  node.process.signal(SIGKILL);
  for (int pid : pids) CHECK(ts::wait_gone(pid, 5s));
}

TEST_CASE("SIGTERM stops a worker cleanly and SIGINT stops a coordinator cleanly") {
  ts::Coordinator coordinator;
  ts::Worker node(coordinator.address, "--load", 1, "stopping");
  node.process.signal(SIGTERM);
  int status = node.process.wait_exit(10s);
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  coordinator.process.signal(SIGINT);
  status = coordinator.process.wait_exit(10s);
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("bad command-line options print usage and exit with code 2") {
  for (std::vector<std::string> args :
       {std::vector<std::string>{DPOOL_BIN},
        {DPOOL_BIN, "worker", "--bogus"},
        {DPOOL_BIN, "worker", "--connect", "tcp://127.0.0.1:1"},
        {DPOOL_BIN, "coordinator"},
        {DPOOL_BIN, "worker", "--connect", "x", "--procs", "0", "--load", "a.so"}}) {
    ts::Child child(args);
    int status = child.wait_exit(10s);
    REQUIRE(status != -1);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 2);
  }
}

TEST_CASE("a worker whose coordinator cannot be reached exits with a clear error") {
  ts::Child child({DPOOL_BIN, "worker", "--connect", "tcp://127.0.0.1:1", "--load", TEST_TASK_LIB,
                   "--connect-timeout", "0.3"});
  auto line = child.wait_line("no coordinator answered", 10s);
  CHECK(line.find("tcp://127.0.0.1:1") != std::string::npos);
  int status = child.wait_exit(10s);
  CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("a program that builds a Pool without dpool::init is told what to add") {
  ts::Child child({NO_INIT_PROGRAM});
  auto line = child.wait_line("dpool::init", 10s);
  CHECK(line.find("main") != std::string::npos);
  int status = child.wait_exit(10s);
  CHECK(WEXITSTATUS(status) == 1);
}
