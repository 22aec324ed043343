// dpool::pipe() and Connection, between this program and its Processes,
// with cases ported from CPython's Lib/test/_test_multiprocessing.py
// (_TestConnection, _TestPoll, _TestWait); each names the test it comes from.
#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <dpool/dpool.hpp>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connection_cases.hpp"
#include "process_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace pt = process_tasks;
using test_support::Clock;

TEST_CASE("values and bytes go through a pipe to a process and back (test_connection)") {
  auto [conn, child_conn] = dpool::pipe();
  dpool::Process p(pt::echo, child_conn);
  p.start();
  child_conn.close();  // the child has its own copy of this end
  CHECK_FALSE(conn.poll());
  conn.send(std::string("hello"));
  CHECK(conn.poll(30s));
  CHECK(conn.recv<std::string>() == "hello");
  conn.send(std::string(1 << 20, 'x'));  // larger than a socket buffer
  CHECK(conn.recv<std::string>().size() == std::size_t{1} << 20);
  conn.send(std::string("end"));
  p.join();
  CHECK(p.exitcode() == 0);
  // The child closed its end and exited: poll is true and recv says so.
  CHECK(conn.poll());
  CHECK_THROWS_AS(conn.recv<std::string>(), dpool::EOFError);
}

TEST_CASE("any serializable value travels, and recv of another type is SignatureMismatch") {
  auto [a, b] = dpool::pipe();
  test_support::check_typed_messages(a, b);
}

TEST_CASE(
    "send_bytes and recv_bytes, empty ones and parts of a buffer (test_sendbytes, "
    "test_empty_string)") {
  auto [a, b] = dpool::pipe();
  test_support::check_send_bytes(a, b);
}

TEST_CASE("poll waits up to its timeout and sees several messages in turn (test_strings)") {
  auto [a, b] = dpool::pipe();
  test_support::check_poll_strings(a, b);
}

TEST_CASE("a one-way pipe receives on its first end and sends on its second (test_duplex_false)") {
  auto [reader, writer] = dpool::pipe(false);
  test_support::check_one_way(reader, writer);
}

TEST_CASE("a closed end reads EOF once the data in flight is read; a closed handle refuses") {
  auto [a, b] = dpool::pipe();
  test_support::check_close_then_eof(a, b);
}

TEST_CASE("a pipe end cannot be passed to a pool's task") {
  dpool::Pool pool(1);
  auto [a, b] = dpool::pipe();
  dpool::Remote<void(dpool::Connection)> echo{"process_echo"};
  CHECK_THROWS_AS(pool.apply_async(echo, b), dpool::SerializationError);
}

TEST_CASE("wait returns the connections that are ready, until every writer is done (test_wait)") {
  std::vector<dpool::Connection> readers;
  std::vector<std::unique_ptr<dpool::Process>> writers;
  for (int id = 0; id < 4; ++id) {
    auto [r, w] = dpool::pipe(false);
    writers.push_back(std::make_unique<dpool::Process>(pt::count_to, w, id, 10));
    writers.back()->start();
    w.close();
    readers.push_back(r);
  }
  test_support::check_wait_reads_every_writer(readers, 4, 10);
  for (auto& w : writers) w->join();
}

TEST_CASE("wait returns nothing at its timeout (test_wait_timeout)") {
  auto [a, b] = dpool::pipe();
  std::vector<dpool::Connection> conns{b};
  auto t0 = Clock::now();
  CHECK(dpool::wait(conns, 200ms).empty());
  CHECK(test_support::seconds_since(t0) >= 0.199);
  CHECK_WITHIN(t0, 10.0);
  a.send(1);
  CHECK(dpool::wait(conns, 10s) == std::vector<std::size_t>{0});
}
