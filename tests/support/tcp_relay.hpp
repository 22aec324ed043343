// A one-connection TCP relay for tests: it accepts one connection on a free
// loopback port and relays it both ways to an upstream address until either
// side closes, keeping what the client sent. Tests use it to record a real
// client's bytes, or to give a client a path to one port of a coordinator
// and nothing else (as a firewall would).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

namespace test_support {

class TcpRelay {
 public:
  // `upstream_ip`: an IPv4 address in host byte order (INADDR_LOOPBACK,
  // 0x7f000002 for 127.0.0.2, ...).
  TcpRelay(std::uint32_t upstream_ip, int upstream_port)
      : upstream_ip_(upstream_ip), upstream_port_(upstream_port) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(listen_, 1) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(listen_);
      throw std::runtime_error("relay: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~TcpRelay() {
    ::shutdown(listen_, SHUT_RDWR);  // unblocks accept if no client came
    if (thread_.joinable()) thread_.join();
    ::close(listen_);
  }
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  std::string address() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  // Once the client has closed its connection: everything it sent. Waits
  // for that; call it only after the client is done.
  std::string recorded() {
    if (thread_.joinable()) thread_.join();
    return sent_;
  }

 private:
  static bool send_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
      auto k = ::send(fd, p, n, MSG_NOSIGNAL);
      if (k <= 0) return false;
      p += k;
      n -= static_cast<std::size_t>(k);
    }
    return true;
  }

  void run() {
    int client = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
    a.sin_addr.s_addr = htonl(upstream_ip_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      char buf[65536];
      for (;;) {
        pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) break;
        if (fds[0].revents) {
          auto n = ::recv(client, buf, sizeof buf, 0);
          if (n <= 0) break;  // the client is done
          sent_.append(buf, static_cast<std::size_t>(n));
          if (!send_all(server, buf, static_cast<std::size_t>(n))) break;
        }
        if (fds[1].revents) {
          auto n = ::recv(server, buf, sizeof buf, 0);
          if (n <= 0 || !send_all(client, buf, static_cast<std::size_t>(n))) break;
        }
      }
    }
    ::close(client);
    ::close(server);
  }

  std::uint32_t upstream_ip_;
  int upstream_port_;
  int listen_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string sent_;
};

}  // namespace test_support
