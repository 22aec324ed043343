// dpool::Listener and connect_to on loopback TCP: both sides prove the
// authkey, a wrong key is AuthenticationError at once, and a listener drops
// peers that fail (or are not dpool at all) and goes on serving.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <future>
#include <string>

using namespace std::chrono_literals;

namespace {

// The port of "tcp://127.0.0.1:PORT".
int port_of(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

// A TCP peer that is not dpool: sends `bytes` and closes.
void raw_peer(const std::string& address, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port_of(address)));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  CHECK(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

}  // namespace

TEST_CASE("peers with the same authkey talk both ways; closing is EOFError on the other side") {
  dpool::Listener lst("tcp://127.0.0.1:0", "secret");
  CHECK(lst.address().rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(port_of(lst.address()) > 0);
  auto accepted = std::async(std::launch::async, [&] { return lst.accept(); });
  auto client = dpool::connect_to(lst.address(), "secret");
  auto server = accepted.get();
  client.send(std::string("hola"));
  CHECK(server.recv<std::string>() == "hola");
  server.send(42);
  CHECK(client.poll(5s));
  CHECK(client.recv<int>() == 42);
  client.send(1.5);
  CHECK_THROWS_AS(server.recv<int>(), dpool::SignatureMismatch);
  client.close();
  CHECK_THROWS_AS(server.recv<int>(), dpool::EOFError);
}

TEST_CASE("a wrong authkey is AuthenticationError at once, and the listener serves the next peer") {
  dpool::Listener lst("tcp://127.0.0.1:*", "right");
  auto accepted = std::async(std::launch::async, [&] { return lst.accept(); });
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(dpool::connect_to(lst.address(), "wrong"), dpool::AuthenticationError);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // refused, not timed out (10 s)
  raw_peer(lst.address(), "GET / HTTP/1.0\r\n\r\n");  // not dpool: dropped too
  auto good = dpool::connect_to(lst.address(), "right");
  auto server = accepted.get();  // the first peer that proved the key
  good.send(7);
  CHECK(server.recv<int>() == 7);
}

TEST_CASE("connect_to: nothing listening is ConnectionError; a bad address is a clear Error") {
  int port = 0;
  {
    dpool::Listener lst("tcp://127.0.0.1:0", "k");
    port = port_of(lst.address());
  }  // closed: nothing listens there now
  CHECK_THROWS_AS(dpool::connect_to("tcp://127.0.0.1:" + std::to_string(port), "k"),
                  dpool::ConnectionError);
  CHECK_THROWS_AS(dpool::connect_to("127.0.0.1:80", "k"), dpool::Error);
  CHECK_THROWS_AS(dpool::Listener("udp://127.0.0.1:0", "k"), dpool::Error);
}

TEST_CASE("close() wakes an accept waiting in another thread") {
  dpool::Listener lst("tcp://127.0.0.1:0", "k");
  auto accepting = std::async(std::launch::async, [&] { return lst.accept(); });
  // accept() may not have started yet: close() then makes it fail at once.
  lst.close();
  CHECK_THROWS_AS(accepting.get(), dpool::Error);
}
