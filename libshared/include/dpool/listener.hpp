// Connections between programs that share an authkey
// (multiprocessing.connection's Listener and Client): a Listener on a TCP
// address accepts peers that prove they hold the same authkey, and
// connect_to reaches one. Both ends prove it to each other with an
// HMAC-SHA256 challenge; the key never travels. What travels after that is
// not encrypted (as in Python): keep it on a trusted network or a tunnel.
// The Connection each side gets is the one of dpool::pipe(): send/recv<T>,
// bytes, poll, EOFError, dpool::wait.
#pragma once

#include <atomic>
#include <chrono>
#include <dpool/connection.hpp>
#include <dpool/export.hpp>
#include <string>

namespace dpool {

class DPOOL_API Listener {
 public:
  // Listens on "tcp://HOST:PORT" (PORT 0 or "*": a free port; address()
  // says which). Throws dpool::Error when the address cannot be used.
  Listener(const std::string& address, std::string authkey);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The next peer that proves the authkey. A peer that fails the challenge,
  // or does not answer it within 10 s, is dropped (and logged) and the
  // listener waits for the next. Throws dpool::Error once closed.
  Connection accept();
  // "tcp://HOST:PORT", with the port in use.
  const std::string& address() const noexcept { return address_; }
  // Stops listening; accept() in another thread returns with an error.
  void close();

 private:
  std::atomic<int> fd_{-1};
  std::string address_;
  std::string authkey_;
};

// Connects to a Listener at "tcp://HOST:PORT" and proves the authkey both
// ways. Throws AuthenticationError when the keys differ (or the peer is not
// a dpool Listener), ConnectionError when nothing listens there or the
// handshake does not finish within `timeout`.
DPOOL_API Connection connect_to(const std::string& address, const std::string& authkey,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace dpool
