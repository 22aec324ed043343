// What every kind of pipe does, checked on two connected ends: the cases of
// CPython's _TestConnection that need no other process, shared by the tests
// of dpool::pipe() (pipe_test) and of pool.pipe() (hosted_pipe_test).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <dpool/dpool.hpp>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "timing.hpp"

namespace test_support {

inline std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

// Any serializable value travels; recv of another type is SignatureMismatch.
inline void check_typed_messages(dpool::Connection a, dpool::Connection b) {
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

// send_bytes and recv_bytes, parts of a buffer and empty ones (test_sendbytes,
// test_empty_string).
inline void check_send_bytes(dpool::Connection a, dpool::Connection b) {
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

// poll waits up to its timeout and sees several messages in turn (test_strings).
inline void check_poll_strings(dpool::Connection a, dpool::Connection b) {
  auto t0 = Clock::now();
  CHECK_FALSE(b.poll(std::chrono::milliseconds(100)));
  CHECK(seconds_since(t0) >= 0.099);
  for (std::string s : {"hello", "", "a", "b", "cd", "e"}) a.send(s);
  std::vector<std::string> got;
  while (b.poll()) got.push_back(b.recv<std::string>());
  CHECK(got == std::vector<std::string>{"hello", "", "a", "b", "cd", "e"});
}

// A one-way pipe receives on its first end and sends on its second
// (test_duplex_false).
inline void check_one_way(dpool::Connection reader, dpool::Connection writer) {
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

// A closed end reads EOF once the data in flight is read; a closed handle
// refuses.
inline void check_close_then_eof(dpool::Connection a, dpool::Connection b) {
  a.send(1);
  a.send(2);
  a.close();
  CHECK(a.closed());
  CHECK(b.recv<int>() == 1);
  CHECK(b.poll());
  CHECK(b.recv<int>() == 2);
  CHECK(b.poll());  // at the end of the stream
  CHECK_THROWS_AS(b.recv<int>(), dpool::EOFError);
  // Nobody is there to read it.
  CHECK_THROWS_WITH_AS(b.send(3), doctest::Contains("other end of the pipe is closed"),
                       dpool::Error);
  CHECK_THROWS_AS(a.send(3), dpool::Error);
  dpool::Connection none;
  CHECK_THROWS_AS(none.send(1), dpool::Error);
}

// test_wait: reads `readers` through dpool::wait until each is at its end;
// writer `id` sends id * 1000 + i for i in 0 .. count-1 (count_to).
inline void check_wait_reads_every_writer(std::vector<dpool::Connection> readers, int writers,
                                          int count) {
  std::map<int, std::set<int>> got;
  while (!readers.empty()) {
    auto ready = dpool::wait(readers, std::chrono::seconds(30));
    REQUIRE_FALSE(ready.empty());
    for (auto i = ready.rbegin(); i != ready.rend(); ++i) {
      try {
        int v = readers[*i].recv<int>();
        got[v / 1000].insert(v % 1000);
      } catch (const dpool::EOFError&) {
        readers.erase(readers.begin() + static_cast<long>(*i));  // that writer is done
      }
    }
  }
  REQUIRE(got.size() == static_cast<std::size_t>(writers));
  for (auto& [id, values] : got) CHECK(values.size() == static_cast<std::size_t>(count));
}

}  // namespace test_support
