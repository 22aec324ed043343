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

#include "process_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace pt = process_tasks;
using test_support::Clock;

namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

}  // namespace

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
  a.send(std::vector<double>{1.5, 2.5});
  a.send(std::map<std::string, int>{{"one", 1}, {"two", 2}});
  a.send(std::pair<int, std::string>{7, "seven"});
  a.send(42);
  CHECK(b.recv<std::vector<double>>() == std::vector<double>{1.5, 2.5});
  CHECK(b.recv<std::map<std::string, int>>() == std::map<std::string, int>{{"one", 1}, {"two", 2}});
  CHECK(b.recv<std::pair<int, std::string>>() == std::pair<int, std::string>{7, "seven"});
  CHECK_THROWS_AS(b.recv<std::string>(), dpool::SignatureMismatch);  // it was an int
  b.send_bytes(bytes_of("raw"));
  CHECK_THROWS_AS(a.recv<std::string>(), dpool::SignatureMismatch);  // bytes, not a string
  a.send(std::string("text"));
  CHECK_THROWS_AS(b.recv_bytes(), dpool::SignatureMismatch);
}

TEST_CASE(
    "send_bytes and recv_bytes, empty ones and parts of a buffer (test_sendbytes, "
    "test_empty_string)") {
  auto [a, b] = dpool::pipe();
  auto data = bytes_of("abcdefghijklmnopqrstuvwxyz");
  a.send_bytes(data);
  a.send_bytes(std::span(data).subspan(3));
  a.send_bytes(std::span(data).subspan(3, 5));
  a.send_bytes({});
  CHECK(b.recv_bytes() == data);
  CHECK(b.recv_bytes() == bytes_of("defghijklmnopqrstuvwxyz"));
  CHECK(b.recv_bytes() == bytes_of("defgh"));
  CHECK(b.poll());  // an empty message is still a message
  CHECK(b.recv_bytes().empty());
  CHECK_FALSE(b.poll());
}

TEST_CASE("poll waits up to its timeout and sees several messages in turn (test_strings)") {
  auto [a, b] = dpool::pipe();
  auto t0 = Clock::now();
  CHECK_FALSE(b.poll(100ms));
  CHECK(test_support::seconds_since(t0) >= 0.099);
  for (std::string s : {"hello", "", "a", "b", "cd", "e"}) a.send(s);
  std::vector<std::string> got;
  while (b.poll()) got.push_back(b.recv<std::string>());
  CHECK(got == std::vector<std::string>{"hello", "", "a", "b", "cd", "e"});
}

TEST_CASE("a one-way pipe receives on its first end and sends on its second (test_duplex_false)") {
  auto [reader, writer] = dpool::pipe(false);
  CHECK(reader.readable());
  CHECK_FALSE(reader.writable());
  CHECK(writer.writable());
  CHECK_FALSE(writer.readable());
  writer.send(1);
  CHECK(reader.recv<int>() == 1);
  CHECK_THROWS_AS(reader.send(2), dpool::Error);
  CHECK_THROWS_AS(writer.recv<int>(), dpool::Error);
  CHECK_THROWS_AS(writer.poll(), dpool::Error);
}

TEST_CASE("a closed end reads EOF once the data in flight is read; a closed handle refuses") {
  auto [a, b] = dpool::pipe();
  a.send(1);
  a.send(2);
  a.close();
  CHECK(a.closed());
  CHECK(b.recv<int>() == 1);
  CHECK(b.recv<int>() == 2);
  CHECK_THROWS_AS(b.recv<int>(), dpool::EOFError);
  CHECK_THROWS_AS(b.send(3), dpool::Error);  // nobody is there to read it
  CHECK_THROWS_AS(a.send(3), dpool::Error);
  dpool::Connection none;
  CHECK_THROWS_AS(none.send(1), dpool::Error);
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
  std::map<int, std::set<int>> got;
  std::vector<dpool::Connection> open = readers;
  while (!open.empty()) {
    auto ready = dpool::wait(open, 30s);
    REQUIRE_FALSE(ready.empty());
    for (auto i = ready.rbegin(); i != ready.rend(); ++i) {
      try {
        int v = open[*i].recv<int>();
        got[v / 1000].insert(v % 1000);
      } catch (const dpool::EOFError&) {
        open.erase(open.begin() + static_cast<long>(*i));  // that writer is done
      }
    }
  }
  for (auto& w : writers) w->join();
  REQUIRE(got.size() == 4);
  for (auto& [id, values] : got) CHECK(values.size() == 10);
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
