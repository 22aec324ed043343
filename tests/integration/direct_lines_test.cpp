// A client's Manager calls on direct lines, against a real coordinator: each
// user thread calls on a TCP connection of its own, which ends with the
// thread; blocking calls wait on their own line while other threads' calls
// go on; updates from several threads are exact; garbage sent to the
// direct port is refused without disturbing a real client; and a client
// that cannot reach the direct port makes its calls over its connection.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "processes.hpp"
#include "tcp_relay.hpp"

using namespace std::chrono_literals;
namespace ts = test_support;

namespace {

// The direct port a coordinator announced in its log.
int direct_port(ts::Child& coordinator) {
  auto line = coordinator.wait_line("Manager calls on port", 10s);
  return std::stoi(line.substr(line.rfind(' ') + 1));
}

// This process's established TCP connections to 127.0.0.1:`port`.
int connections_to(int port) {
  std::set<std::string> mine;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec && target.starts_with("socket:[")) mine.insert(target.substr(8, target.size() - 9));
  }
  std::ifstream tcp("/proc/self/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  int n = 0;
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state, queues, timer, retr, uid, timeout, inode;
    in >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (remote == want && state == "01" && mine.count(inode)) ++n;
  }
  return n;
}

ts::Child debug_coordinator() {
  return ts::Child({DPOOL_BIN, "coordinator", "--bind", "tcp://127.0.0.1:*", "--log", "debug"});
}

std::string address_of(ts::Child& coordinator) {
  auto line = coordinator.wait_line("listening on", 10s);
  return line.substr(line.find("tcp://"));
}

}  // namespace

TEST_CASE("each thread calls on a line of its own, which ends with the thread") {
  auto coordinator = debug_coordinator();
  const int port = direct_port(coordinator);
  const auto address = address_of(coordinator);
  dpool::Pool pool(dpool::Connect{.address = address});
  auto mgr = pool.manager();
  auto lock = mgr.lock("L");
  CHECK(connections_to(port) == 1);  // this thread's, opened by the first call
  lock.acquire();

  std::atomic<bool> got{false};
  std::thread waiter([&] {
    got = mgr.lock("L").acquire(30s);  // waits at the coordinator, on its own line
    mgr.lock("L").release();
  });
  coordinator.wait_line("wait on hosted objects (direct line", 10s);
  CHECK(connections_to(port) == 2);
  CHECK_FALSE(got.load());
  lock.release();  // on this thread's line, while the other waits on its own
  waiter.join();
  CHECK(got.load());
  // The waiter's line closed with its thread; the coordinator sees it go.
  CHECK(connections_to(port) == 1);
}

TEST_CASE("updates and sets from four threads at once are exact") {
  ts::Coordinator coordinator;
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  auto d = pool.manager().dict<std::string, int>("counts");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([d, t]() mutable {
      for (int i = 0; i < 250; ++i) {
        d.update("all", [](std::optional<int> v) { return v.value_or(0) + 1; });
        d.set("thread" + std::to_string(t), i);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(d.get("all") == 1000);
  for (int t = 0; t < 4; ++t) CHECK(d.get("thread" + std::to_string(t)) == 249);
}

TEST_CASE("garbage on the direct port is refused and counted; a client's calls go on") {
  auto coordinator = debug_coordinator();
  const int port = direct_port(coordinator);
  const auto address = address_of(coordinator);
  dpool::Pool pool(dpool::Connect{.address = address});
  auto v = pool.manager().value<int>("v");
  v.store(1);
  for (int i = 0; i < 100; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    std::string junk(64, static_cast<char>('a' + i % 26));
    REQUIRE(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL) == 64);
    pollfd p{fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 10000) == 1);  // closed by the coordinator
    char c;
    CHECK(::recv(fd, &c, 1, 0) <= 0);
    ::close(fd);
    CHECK(v.fetch_add(1) == 1 + i);  // the real client's line is unaffected
  }
  CHECK(v.load() == 101);
  // One line for the first refusal, the rest summed at the next report:
  // the log does not grow with the flood.
  coordinator.wait_line("more direct line(s)", 10s);
  std::size_t lines = 0;
  std::istringstream log(coordinator.output());
  for (std::string l; std::getline(log, l);)
    if (l.find("direct line") != std::string::npos && l.find("refused") != std::string::npos)
      ++lines;
  CHECK(lines <= 3);
}

TEST_CASE("a direct port that cannot be reached: the calls go over the main connection") {
  // The coordinator on 127.0.0.2; the client reaches its main port through a
  // relay on 127.0.0.1, where nothing listens on the direct port.
  ts::Child coordinator({DPOOL_BIN, "coordinator", "--bind", "tcp://127.0.0.2:*", "--log", "info"});
  const int port = direct_port(coordinator);
  const auto address = address_of(coordinator);
  // A path to the coordinator (on 127.0.0.2) through its main port only.
  ts::TcpRelay relay(0x7f000002, std::stoi(address.substr(address.rfind(':') + 1)));
  dpool::Pool pool(dpool::Connect{.address = relay.address()});
  auto d = pool.manager().dict<std::string, int>("d");
  for (int i = 0; i < 50; ++i) {
    d.set("k", i);
    CHECK(d.get("k") == i);
  }
  auto q = pool.queue<int>();
  q.put(7);
  CHECK(q.get(10s) == 7);
  CHECK(connections_to(port) == 0);
}
