// The coordinator's port for direct lines (coordinator/direct_endpoint.hpp)
// on a real socket, driven by raw connections: a line opens only with a
// live ticket, once; frames that do not open, oversized frames and a second
// call before the first's answer close it and are counted; a call in flight
// on a line that closes is reported, so the server can drop it.
#include "direct_endpoint.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "calls.hpp"
#include "sealed_line.hpp"

using namespace std::chrono_literals;
namespace in = dpool::internal;
namespace direct = dpool::internal::direct;

namespace {

// The endpoint on a loop thread of its own; what its handlers hear.
struct Server {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<in::DirectEndpoint> endpoint;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::uint64_t, std::string>> calls;  // line, call bytes
  std::vector<std::uint64_t> abandoned;

  Server() {
    thread = std::thread([this] { io.run(); });
    on_loop([this] {
      endpoint = std::make_unique<in::DirectEndpoint>(
          io, "127.0.0.1",
          in::DirectEndpoint::Handlers{[this](std::uint64_t line, in::PeerId, std::string call) {
                                         std::lock_guard lock(mu);
                                         calls.emplace_back(line, std::move(call));
                                         cv.notify_all();
                                       },
                                       [this](std::uint64_t line, in::PeerId) {
                                         std::lock_guard lock(mu);
                                         abandoned.push_back(line);
                                         cv.notify_all();
                                       }});
    });
  }
  ~Server() {
    on_loop([this] { endpoint.reset(); });
    work.reset();
    io.stop();
    thread.join();
  }
  template <class F>
  auto on_loop(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto done = task.get_future();
    asio::post(io, [&task] { task(); });
    return done.get();
  }
  std::optional<in::calls::DirectTicket> try_ticket(in::PeerId client = 7) {
    return on_loop([&] { return endpoint->issue(client, std::chrono::steady_clock::now()); });
  }
  in::calls::DirectTicket ticket(in::PeerId client = 7) {
    auto t = try_ticket(client);
    REQUIRE(t);
    return *t;
  }
  std::uint64_t rejected() {
    return on_loop([&] { return endpoint->rejected(); });
  }
  template <class P>
  bool wait(P done) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, done);
  }
};

int dial(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

void put(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
}

// Whether the other side closed the connection within 10 s (what it sent
// before is read and dropped).
bool closed_by_peer(int fd) {
  char buf[256];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

std::string ticket_id(const in::calls::DirectTicket& t) {
  std::string s;
  direct::append_u64(s, t.id);
  return s;
}

// Reads one frame's sealed bytes within 10 s.
std::string read_frame(int fd) {
  auto exact = [fd](std::size_t n) {
    std::string s(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      pollfd p{fd, POLLIN, 0};
      REQUIRE(::poll(&p, 1, 10000) == 1);
      auto r = ::recv(fd, s.data() + got, n - got, 0);
      REQUIRE(r > 0);
      got += static_cast<std::size_t>(r);
    }
    return s;
  };
  auto head = exact(direct::kLengthBytes);
  return exact(direct::read_u32(reinterpret_cast<const unsigned char*>(head.data())));
}

}  // namespace

TEST_CASE("a call on a line opened with a ticket reaches the server, and its answer comes back") {
  Server s;
  auto t = s.ticket();
  int fd = dial(t.port);
  in::Sealer out(t.key, direct::Direction::kToCoordinator);
  in::Opener back(t.key, direct::Direction::kToClient);
  std::string bytes = ticket_id(t);
  out.seal("the call", bytes);
  put(fd, bytes);
  REQUIRE(s.wait([&] { return s.calls.size() == 1; }));
  CHECK(s.calls[0].second == "the call");
  in::calls::DirectAnswer a;
  a.bytes = "the answer";
  auto line = s.calls[0].first;
  s.on_loop([&] { s.endpoint->answer(line, 8, a); });  // another client's: dropped
  s.on_loop([&] { s.endpoint->answer(line, 7, a); });
  auto plain = back.open(read_frame(fd));
  REQUIRE(plain);
  auto decoded = in::wire::decode_meta<in::calls::DirectAnswer>(*plain);
  REQUIRE(decoded);
  CHECK(decoded->bytes == "the answer");
  std::string next;
  out.seal("the next call", next);
  put(fd, next);
  REQUIRE(s.wait([&] { return s.calls.size() == 2; }));
  CHECK(s.rejected() == 0);
  ::close(fd);
}

TEST_CASE("lines refused: no ticket, a used ticket, a frame under another key, a huge frame") {
  Server s;
  SUBCASE("bytes that are no ticket") {
    int fd = dial(s.ticket().port);
    put(fd, "GET / HTTP/1.1\r\n\r\n");
    CHECK(closed_by_peer(fd));
    ::close(fd);
  }
  SUBCASE("a ticket used twice: the second line is closed") {
    auto t = s.ticket();
    int first = dial(t.port);
    in::Sealer out(t.key, direct::Direction::kToCoordinator);
    std::string bytes = ticket_id(t);
    out.seal("x", bytes);
    put(first, bytes);
    REQUIRE(s.wait([&] { return s.calls.size() == 1; }));  // the first line is open
    int second = dial(t.port);
    put(second, ticket_id(t));
    CHECK(closed_by_peer(second));
    ::close(second);
    ::close(first);
  }
  SUBCASE("a frame sealed with another key") {
    auto t = s.ticket();
    int fd = dial(t.port);
    in::Sealer wrong(direct::random_bytes(direct::kKeyBytes), direct::Direction::kToCoordinator);
    std::string bytes = ticket_id(t);
    wrong.seal("forged", bytes);
    put(fd, bytes);
    CHECK(closed_by_peer(fd));
    ::close(fd);
  }
  SUBCASE("a frame whose length is past the bound") {
    auto t = s.ticket();
    int fd = dial(t.port);
    std::string bytes = ticket_id(t) + std::string("\xff\xff\xff\x7f", 4);
    put(fd, bytes);
    CHECK(closed_by_peer(fd));
    ::close(fd);
  }
  CHECK(s.rejected() == 1);
}

TEST_CASE("a second call before the first's answer closes the line; the first is reported") {
  Server s;
  auto t = s.ticket();
  int fd = dial(t.port);
  in::Sealer out(t.key, direct::Direction::kToCoordinator);
  std::string bytes = ticket_id(t);
  out.seal("one", bytes);
  out.seal("two", bytes);
  put(fd, bytes);
  CHECK(closed_by_peer(fd));
  REQUIRE(s.wait([&] { return s.abandoned.size() == 1; }));
  CHECK(s.calls.size() == 1);
  CHECK(s.abandoned[0] == s.calls[0].first);
  CHECK(s.rejected() == 1);
  ::close(fd);
}

TEST_CASE("a client that closes its line with a call in flight: the call is reported abandoned") {
  Server s;
  auto t = s.ticket();
  int fd = dial(t.port);
  in::Sealer out(t.key, direct::Direction::kToCoordinator);
  std::string bytes = ticket_id(t);
  out.seal("a get that waits", bytes);
  put(fd, bytes);
  REQUIRE(s.wait([&] { return s.calls.size() == 1; }));
  ::close(fd);
  REQUIRE(s.wait([&] { return s.abandoned.size() == 1; }));
  CHECK(s.rejected() == 0);  // closing is no offence
}

TEST_CASE("a client gone: its lines close and its tickets lapse") {
  Server s;
  auto t = s.ticket(7);
  auto unused = s.ticket(7);
  int fd = dial(t.port);
  put(fd, ticket_id(t));
  // The line is open once the server has read the id: a call on it arrives.
  in::Sealer out(t.key, direct::Direction::kToCoordinator);
  std::string bytes;
  out.seal("x", bytes);
  put(fd, bytes);
  REQUIRE(s.wait([&] { return s.calls.size() == 1; }));
  s.on_loop([&] { s.endpoint->client_gone(7); });
  CHECK(closed_by_peer(fd));
  ::close(fd);
  int late = dial(unused.port);
  put(late, ticket_id(unused));
  CHECK(closed_by_peer(late));
  ::close(late);
  std::lock_guard lock(s.mu);
  CHECK(s.abandoned.empty());  // the store forgets a gone client's calls itself
}

TEST_CASE("a client holding too many unused tickets gets none until it uses one") {
  Server s;
  std::vector<in::calls::DirectTicket> held;
  for (std::size_t i = 0; i < in::DirectEndpoint::kMaxTickets; ++i) held.push_back(s.ticket(7));
  CHECK_FALSE(s.try_ticket(7));
  CHECK(s.try_ticket(8));  // another client is not held back
  // Using one makes room: the line opens (a call on it arrives) and 7 gets one again.
  int fd = dial(held.back().port);
  put(fd, ticket_id(held.back()));
  in::Sealer out(held.back().key, direct::Direction::kToCoordinator);
  std::string bytes;
  out.seal("x", bytes);
  put(fd, bytes);
  REQUIRE(s.wait([&] { return s.calls.size() == 1; }));
  CHECK(s.try_ticket(7));
  CHECK_FALSE(s.try_ticket(7));
  // The tickets it still holds work.
  int other = dial(held.front().port);
  put(other, ticket_id(held.front()));
  in::Sealer out2(held.front().key, direct::Direction::kToCoordinator);
  bytes.clear();
  out2.seal("y", bytes);
  put(other, bytes);
  REQUIRE(s.wait([&] { return s.calls.size() == 2; }));
  ::close(fd);
  ::close(other);
}

TEST_CASE("a flood of garbage lines is refused and counted, and a real line still works") {
  Server s;
  auto t = s.ticket();
  for (int i = 0; i < 200; ++i) {
    int fd = dial(t.port);
    put(fd, std::string(8, static_cast<char>(i)));
    CHECK(closed_by_peer(fd));
    ::close(fd);
  }
  CHECK(s.rejected() == 200);
  auto lines = s.on_loop([&] { return s.endpoint->report(); });
  CHECK(lines.size() <= 21);  // bounded, whatever the flood
  int fd = dial(t.port);
  in::Sealer out(t.key, direct::Direction::kToCoordinator);
  std::string bytes = ticket_id(t);
  out.seal("still here", bytes);
  put(fd, bytes);
  REQUIRE(s.wait([&] { return s.calls.size() == 1; }));
  ::close(fd);
}
