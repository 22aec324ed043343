// pool.pipe: a pipe the coordinator hosts, whose ends work from the client,
// from tasks and from node Processes, in local mode (the in-process
// coordinator and node) and on a real cluster (a coordinator and `dpool
// worker` processes). Cases are ported from CPython's
// Lib/test/_test_multiprocessing.py (_TestConnection, _TestWait; each names
// the test it comes from), plus what only a hosted pipe has: ends on two
// nodes, a task at one end, the end of a Process that is killed.
#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <dpool/dpool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "connection_cases.hpp"
#include "pipe_tasks.hpp"
#include "processes.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace pt = pipe_tasks;
namespace ts = test_support;
using test_support::Clock;

namespace {

// Runs `body` against a local-mode pool of `executors`, then against a
// cluster: a coordinator and one worker with `executors` executors.
void in_both_modes(unsigned executors, const std::function<void(dpool::Pool&)>& body) {
  SUBCASE("local mode") {
    dpool::Pool pool(executors);
    body(pool);
  }
  SUBCASE("cluster mode") {
    ts::Coordinator coordinator;
    ts::Worker worker(coordinator.address, "--exec", static_cast<int>(executors), "pipe-node");
    dpool::Pool pool(dpool::Connect{.address = coordinator.address});
    body(pool);
  }
}

}  // namespace

TEST_CASE("values go through a hosted pipe to a node Process and back (test_connection)") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [conn, child_conn] = pool.pipe();
    CHECK(conn.hosted());
    CHECK(conn.fileno() == -1);
    auto p = pool.process(pt::echo_until_end, child_conn);
    p.start();
    child_conn.close();  // the Process holds its own copy of this end
    CHECK_FALSE(conn.poll());
    conn.send(std::string("hello"));
    CHECK(conn.poll(30s));
    CHECK(conn.recv<std::string>() == "hello");
    conn.send(std::string(1 << 20, 'x'));
    CHECK(conn.recv<std::string>().size() == std::size_t{1} << 20);
    conn.send(std::string("end"));
    CHECK(p.join(30s));
    CHECK(p.exitcode() == 0);
    // The Process closed its end and ended: poll is true and recv says so.
    CHECK(conn.poll(30s));
    CHECK_THROWS_AS(conn.recv<std::string>(), dpool::EOFError);
  });
}

TEST_CASE("any serializable value travels a hosted pipe; another type is SignatureMismatch") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = pool.pipe();
    ts::check_typed_messages(a, b);
  });
}

TEST_CASE(
    "send_bytes and recv_bytes on a hosted pipe, empty ones too (test_sendbytes, "
    "test_empty_string)") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = pool.pipe();
    ts::check_send_bytes(a, b);
  });
}

TEST_CASE("poll on a hosted end waits up to its timeout and sees messages in turn (test_strings)") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = pool.pipe();
    ts::check_poll_strings(a, b);
  });
}

TEST_CASE(
    "a one-way hosted pipe receives on its first end and sends on its second "
    "(test_duplex_false)") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [reader, writer] = pool.pipe(false);
    ts::check_one_way(reader, writer);
  });
}

TEST_CASE("a closed hosted end gives EOF once what it sent is read; a closed handle refuses") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = pool.pipe();
    ts::check_close_then_eof(a, b);
  });
}

TEST_CASE("wait over hosted ends returns the ready ones until every writer is done (test_wait)") {
  in_both_modes(2, [](dpool::Pool& pool) {
    std::vector<dpool::Connection> readers;
    std::vector<std::unique_ptr<dpool::Process>> writers;
    for (int id = 0; id < 4; ++id) {
      auto [r, w] = pool.pipe(false);
      // (A Process is not movable: `new` takes the one pool.process returns.)
      writers.emplace_back(new dpool::Process(pool.process(pt::count_to, w, id, 10)));
      writers.back()->start();
      w.close();
      readers.push_back(r);
    }
    ts::check_wait_reads_every_writer(readers, 4, 10);
    for (auto& w : writers) CHECK(w->join(30s));
  });
}

TEST_CASE("wait over hosted ends returns nothing at its timeout (test_wait_timeout)") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = pool.pipe();
    auto [c, d] = pool.pipe();
    std::vector<dpool::Connection> conns{b, d};
    auto t0 = Clock::now();
    CHECK(dpool::wait(conns, 200ms).empty());
    CHECK(test_support::seconds_since(t0) >= 0.199);
    CHECK_WITHIN(t0, 10.0);
    c.send(1);
    CHECK(dpool::wait(conns, 10s) == std::vector<std::size_t>{1});
    a.send(2);
    CHECK(dpool::wait(conns, 10s) == std::vector<std::size_t>{0, 1});
    // Ends of dpool::pipe() wait in the kernel, ends of pool.pipe at the
    // coordinator: one wait does not take both.
    auto [local_a, local_b] = dpool::pipe();
    std::vector<dpool::Connection> mixed{b, local_b};
    CHECK_THROWS_WITH_AS(dpool::wait(mixed, 1s), doctest::Contains("wait on each kind apart"),
                         dpool::Error);
  });
}

TEST_CASE("a task echoes through a hosted pipe, and its end closes when it returns") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = pool.pipe();
    a.send(std::string("hi"));
    auto r = pool.apply_async(pt::echo_once, b);
    CHECK(r.get(30s) == "hi");
    CHECK(a.recv<std::string>() == "echo: hi");
    CHECK_FALSE(a.poll());  // this program still holds b
    b.close();              // and now nobody does: the task's copy closed as it returned
    CHECK(a.poll(30s));
    CHECK_THROWS_AS(a.recv<std::string>(), dpool::EOFError);
  });
}

TEST_CASE("the end held by a node Process that is killed reads as EOF at the other end") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = pool.pipe();
    auto p = pool.process(pt::ready_then_recv, b);
    p.start();
    b.close();
    CHECK(a.recv<std::string>() == "ready");
    p.kill();
    CHECK(p.join(30s));
    CHECK(p.exitcode() == -9);
    CHECK(a.poll(30s));
    CHECK_THROWS_AS(a.recv<std::string>(), dpool::EOFError);
  });
}

TEST_CASE("an end of dpool::pipe() given to a task fails with an error that names pool.pipe") {
  in_both_modes(1, [](dpool::Pool& pool) {
    auto [a, b] = dpool::pipe();
    CHECK_THROWS_WITH_AS(pool.apply_async(pt::echo_once, b), doctest::Contains("pool.pipe()"),
                         dpool::Error);
  });
}

TEST_CASE("two node Processes on two workers play ping-pong through a hosted pipe") {
  ts::Coordinator coordinator;
  ts::Worker one(coordinator.address, "--exec", 1, "pipe-node-1");
  ts::Worker two(coordinator.address, "--exec", 1, "pipe-node-2");
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  REQUIRE(pool.size() == 2);
  auto [left, right] = pool.pipe();
  auto result = pool.queue<int>();
  auto pinger = pool.process(pt::ping, left, 100, result);
  auto ponger = pool.process(pt::pong, right);
  pinger.start();
  REQUIRE_FALSE(pinger.node().empty());  // placed: the next goes to the idler node
  ponger.start();
  left.close();
  right.close();
  CHECK(result.get(60s) == 200);
  CHECK(pinger.join(30s));
  CHECK(ponger.join(30s));  // it read the end of the stream when the pinger closed its end
  CHECK(pinger.exitcode() == 0);
  CHECK(ponger.exitcode() == 0);
  CHECK(pinger.node() != ponger.node());
  std::set<std::string> nodes{pinger.node(), ponger.node()};
  CHECK(nodes == std::set<std::string>{"pipe-node-1", "pipe-node-2"});
}

#ifdef PIPE_ECHO_EXAMPLE
TEST_CASE("the pipe_echo example runs unchanged against a cluster") {
  ts::Coordinator coordinator;
  ts::Child worker({DPOOL_BIN, "worker", "--connect", coordinator.address, "--procs", "1", "--name",
                    "echo-node", "--log", "warn", "--exec", PIPE_ECHO_EXAMPLE});
  worker.wait_line("connected", 10s);
  ts::Child example({PIPE_ECHO_EXAMPLE, coordinator.address});
  example.wait_line("echo: mundo", 60s);
  example.wait_line("echoer exited with 0 on echo-node", 60s);
  example.wait_line("the echoer's end is closed", 60s);
  example.wait_line("countdown: 3 2 1 (a task sent 3)", 60s);
  CHECK(example.wait_exit(30s) == 0);
}
#endif
