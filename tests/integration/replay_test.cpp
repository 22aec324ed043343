// Replaying a captured connection: a relay records every byte a real client
// sends to a coordinator (its handshake, HELLO, SUBMIT, BYE), and the test
// sends those bytes again on a new connection. In the clear (the control)
// that submits the task a second time, which shows the recording and the
// replay work; with CurveZMQ the handshake fails and the coordinator closes
// the connection, with nothing submitted.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <dpool/dpool.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "config_dirs.hpp"
#include "processes.hpp"
#include "tcp_relay.hpp"
#include "test_tasks.hpp"

using namespace std::chrono_literals;
namespace tt = test_tasks;
namespace ts = test_support;

namespace {

int port_of(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  return fd;
}

bool write_all(int fd, const std::string& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    auto n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

// A ZMTP 3 frame at `at` of `bytes`: its size with its header, and whether
// it is a command; nullopt while it is incomplete.
struct Frame {
  std::size_t size;
  bool command;
};
std::optional<Frame> frame_at(const std::string& bytes, std::size_t at) {
  if (at + 2 > bytes.size()) return std::nullopt;
  auto flags = static_cast<unsigned char>(bytes[at]);
  std::size_t size = 0, head = 2;
  if (flags & 0x02) {  // a long frame: an 8-byte size
    head = 9;
    if (at + head > bytes.size()) return std::nullopt;
    for (int i = 1; i <= 8; ++i) size = size << 8 | static_cast<unsigned char>(bytes[at + i]);
  } else {
    size = static_cast<unsigned char>(bytes[at + 1]);
  }
  if (at + head + size > bytes.size()) return std::nullopt;
  return Frame{head + size, (flags & 0x04) != 0};
}

constexpr std::size_t kGreeting = 64;  // ZMTP 3's, both ways

// What the server sent: its greeting, then frames, of which it counts the
// commands (WELCOME, READY, ...).
class ServerSide {
 public:
  explicit ServerSide(int fd) : fd_(fd) {}
  // Reads until the server has sent `n` commands after its greeting; false
  // if it closes the connection first (or says nothing for 10 s).
  bool commands(std::size_t n) {
    for (;;) {
      if (bytes_.size() >= kGreeting) {
        at_ = std::max(at_, kGreeting);
        while (auto f = frame_at(bytes_, at_)) {
          commands_ += f->command;
          at_ += f->size;
        }
        if (commands_ >= n) return true;
      }
      pollfd p{fd_, POLLIN, 0};
      char buf[4096];
      if (::poll(&p, 1, 10000) <= 0) return false;
      auto got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) return false;
      bytes_.append(buf, static_cast<std::size_t>(got));
    }
  }

 private:
  int fd_;
  std::string bytes_;
  std::size_t at_ = 0, commands_ = 0;
};

// Replays a client's recorded ZMTP 3 stream on `fd` as a client times it:
// its greeting, each handshake command once the server has sent as many
// commands as came before it (NULL: READY; CurveZMQ: HELLO, then INITIATE
// after WELCOME), and every message once the handshake is over (the server's
// last command, READY, arrived). False as soon as the server closes the
// connection.
bool replay(int fd, const std::string& bytes) {
  ServerSide server(fd);
  if (bytes.size() < kGreeting || !write_all(fd, bytes.substr(0, kGreeting))) return false;
  std::size_t at = kGreeting, sent = 0;
  while (auto f = frame_at(bytes, at)) {
    if (!f->command) break;  // the first message
    if (!server.commands(sent) || !write_all(fd, bytes.substr(at, f->size))) return false;
    at += f->size;
    ++sent;
  }
  return server.commands(sent) && write_all(fd, bytes.substr(at));
}

// A real client's session through a recording relay: one task, then BYE.
std::string record_a_session(const std::string& coordinator, bool insecure) {
  ts::TcpRelay relay(INADDR_LOOPBACK, port_of(coordinator));
  {
    dpool::Pool pool(dpool::Connect{.address = relay.address(), .insecure = insecure});
    CHECK(pool.apply(tt::square, 7) == 49);
  }
  return relay.recorded();
}

std::uint64_t submitted(const std::string& coordinator, bool insecure) {
  return dpool::cluster_status(dpool::Connect{.address = coordinator, .insecure = insecure})
      .submitted;
}

}  // namespace

TEST_CASE("in the clear, a replayed connection submits its task again (the control)") {
  ts::Coordinator coordinator({"--insecure"});
  ts::Worker worker(coordinator.address, "--exec", 1, "replay-node", {"--insecure"});
  auto bytes = record_a_session(coordinator.address, true);
  coordinator.process.wait_line(") left:", 10s);  // the real session's end
  REQUIRE(submitted(coordinator.address, true) == 1);
  int fd = connect_to(port_of(coordinator.address));
  REQUIRE(replay(fd, bytes));
  // The recording ends with the client's BYE, which the coordinator reads
  // after its SUBMIT: the second "left" line.
  coordinator.process.wait_line(") left:", 10s);
  CHECK(submitted(coordinator.address, true) == 2);
  ::close(fd);
}

TEST_CASE("with CurveZMQ, a replayed connection fails its handshake and submits nothing") {
  ts::FreshConfig config;
  ts::Coordinator coordinator;
  ts::Worker worker(coordinator.address, "--exec", 1, "replay-node");
  auto bytes = record_a_session(coordinator.address, false);
  REQUIRE(bytes.size() > 64);  // greeting, handshake and messages
  REQUIRE(submitted(coordinator.address, false) == 1);
  int fd = connect_to(port_of(coordinator.address));
  // The coordinator refuses the handshake and closes the connection.
  CHECK_FALSE(replay(fd, bytes));
  ::close(fd);
  coordinator.process.wait_line("refused a connection", 10s);
  CHECK(submitted(coordinator.address, false) == 1);
  // The coordinator still serves the real clients.
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  CHECK(pool.apply(tt::square, 5) == 25);
}
