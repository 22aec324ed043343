// dpool::Listener and connect_to: TCP sockets, and the authkey handshake
// before a Connection is handed out. The handshake, each way (the listener
// challenges first, then the connecting side):
//   challenger -> answerer: "dpool-challenge1" (16 bytes) | 32 random bytes
//   answerer -> challenger: HMAC-SHA256(authkey, role | challenge) (32 bytes)
//   challenger -> answerer: 'W' (welcome) or 'F' (failure, then it closes)
// `role` is "listener" or "connector", the side that answers: an answer
// cannot be reflected back at the side that asked. Every read is bounded in
// size and time, so a peer that is not a dpool Listener or client cannot make
// either side wait or allocate.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <dpool/errors.hpp>
#include <dpool/listener.hpp>
#include <memory>
#include <string_view>
#include <system_error>

#include "fd_io.hpp"

namespace dpool {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kMagic = "dpool-challenge1";
constexpr std::size_t kChallengeBytes = 32;
constexpr auto kAcceptHandshake = std::chrono::seconds(10);

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

void init_sodium() {
  if (sodium_init() < 0) throw Error("libsodium could not be initialised");
}

// "tcp://HOST:PORT" -> host and port ("*" and "" are port 0).
std::pair<std::string, std::string> split(const std::string& address) {
  constexpr std::string_view kScheme = "tcp://";
  auto colon = address.rfind(':');
  if (address.rfind(kScheme, 0) != 0 || colon == std::string::npos || colon < kScheme.size())
    throw Error("'" + address + "' is not an address of the form tcp://HOST:PORT");
  std::string host = address.substr(kScheme.size(), colon - kScheme.size());
  std::string port = address.substr(colon + 1);
  if (port == "*" || port.empty()) port = "0";
  if (!host.empty() && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, port};
}

std::unique_ptr<addrinfo, void (*)(addrinfo*)> resolve(const std::string& address, bool passive) {
  auto [host, port] = split(address);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host == "*" || host.empty() ? nullptr : host.c_str(), port.c_str(), &hints,
                         &found);
  if (rc != 0) throw Error("cannot resolve '" + address + "': " + ::gai_strerror(rc));
  return {found, ::freeaddrinfo};
}

// Reads exactly `n` bytes before `deadline`; false at end of stream, on an
// error, or at the deadline.
bool read_exact(int fd, unsigned char* p, std::size_t n, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < n) {
    pollfd pfd{fd, POLLIN, 0};
    if (internal::poll_until(&pfd, 1, deadline) <= 0) return false;
    ssize_t r = ::recv(fd, p + done, n - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<std::size_t>(r);
  }
  return true;
}

bool write_all(int fd, const void* p, std::size_t n) {
  return internal::send_all(fd, std::string_view(static_cast<const char*>(p), n));
}

using Digest = std::array<unsigned char, crypto_auth_hmacsha256_BYTES>;

Digest answer_for(const std::string& key, std::string_view role, const unsigned char* challenge) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(role.data()),
                                role.size());
  crypto_auth_hmacsha256_update(&st, challenge, kChallengeBytes);
  Digest d;
  crypto_auth_hmacsha256_final(&st, d.data());
  return d;
}

enum class Outcome { kWelcome, kRefused, kBroken };

// Asks the peer to prove the key; tells it the verdict.
Outcome challenge(int fd, const std::string& key, std::string_view peer_role,
                  Clock::time_point deadline) {
  std::array<unsigned char, kMagic.size() + kChallengeBytes> out;
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  randombytes_buf(out.data() + kMagic.size(), kChallengeBytes);
  if (!write_all(fd, out.data(), out.size())) return Outcome::kBroken;
  Digest got;
  if (!read_exact(fd, got.data(), got.size(), deadline)) return Outcome::kBroken;
  Digest want = answer_for(key, peer_role, out.data() + kMagic.size());
  bool ok = sodium_memcmp(got.data(), want.data(), want.size()) == 0;
  char verdict = ok ? 'W' : 'F';
  if (!write_all(fd, &verdict, 1)) return Outcome::kBroken;
  return ok ? Outcome::kWelcome : Outcome::kRefused;
}

// Proves the key to the peer; its verdict.
Outcome answer(int fd, const std::string& key, std::string_view my_role,
               Clock::time_point deadline) {
  std::array<unsigned char, kMagic.size() + kChallengeBytes> in;
  if (!read_exact(fd, in.data(), in.size(), deadline)) return Outcome::kBroken;
  if (std::memcmp(in.data(), kMagic.data(), kMagic.size()) != 0) return Outcome::kRefused;
  Digest d = answer_for(key, my_role, in.data() + kMagic.size());
  if (!write_all(fd, d.data(), d.size())) return Outcome::kBroken;
  unsigned char verdict = 0;
  if (!read_exact(fd, &verdict, 1, deadline)) return Outcome::kBroken;
  return verdict == 'W' ? Outcome::kWelcome : Outcome::kRefused;
}

// connect(2) that gives up at `deadline`; on failure, `why` says why.
bool connect_before(int fd, const sockaddr* to, socklen_t len, Clock::time_point deadline,
                    std::string& why) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, to, len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd pfd{fd, POLLOUT, 0};
    if (internal::poll_until(&pfd, 1, deadline) <= 0) {
      why = "timed out";
      return false;
    }
    int err = 0;
    socklen_t n = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n);
    errno = err;
    rc = err == 0 ? 0 : -1;
  }
  if (rc != 0) {
    why = std::strerror(errno);
    return false;
  }
  ::fcntl(fd, F_SETFL, flags);
  return true;
}

std::string describe(const sockaddr* sa, socklen_t len) {
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (::getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "?";
  bool v6 = sa->sa_family == AF_INET6;
  return std::string(v6 ? "[" : "") + host + (v6 ? "]" : "") + ":" + port;
}

}  // namespace

Listener::Listener(const std::string& address, std::string authkey) : authkey_(std::move(authkey)) {
  init_sodium();
  auto found = resolve(address, true);
  std::string why = "no address";
  for (auto* ai = found.get(); ai; ai = ai->ai_next) {
    Fd s(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (s.fd < 0) continue;
    int one = 1;
    ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s.fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(s.fd, SOMAXCONN) != 0) {
      why = std::strerror(errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&bound), &len);
    address_ = "tcp://" + describe(reinterpret_cast<sockaddr*>(&bound), len);
    fd_.store(s.release());
    return;
  }
  throw Error("Listener: cannot listen on " + address + ": " + why +
              "; pick another port (tcp://HOST:0 picks a free one)");
}

Listener::~Listener() {
  close();
}

void Listener::close() {
  int fd = fd_.exchange(-1);
  if (fd < 0) return;
  ::shutdown(fd, SHUT_RDWR);  // wakes an accept() in another thread
  ::close(fd);
}

Connection Listener::accept() {
  for (;;) {
    int fd = fd_.load();
    if (fd < 0) throw Error("Listener::accept on a closed Listener");
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int c = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (fd_ < 0 || errno == EBADF || errno == EINVAL)
        throw Error("Listener::accept: the Listener was closed");
      throw std::system_error(errno, std::generic_category(), "Listener::accept");
    }
    Fd conn(c);
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto deadline = Clock::now() + kAcceptHandshake;
    auto who = describe(reinterpret_cast<sockaddr*>(&peer), len);
    auto first = challenge(c, authkey_, "connector", deadline);
    if (first == Outcome::kWelcome &&
        answer(c, authkey_, "listener", deadline) == Outcome::kWelcome)
      return Connection(conn.release(), true, true);
    spdlog::warn("Listener {}: dropped {}: {}", address_, who,
                 first == Outcome::kRefused ? "it did not prove the authkey"
                                            : "the handshake did not finish");
  }
}

Connection connect_to(const std::string& address, const std::string& authkey,
                      std::chrono::milliseconds timeout) {
  init_sodium();
  auto deadline = Clock::now() + timeout;
  auto found = resolve(address, false);
  std::string why = "no address";
  for (auto* ai = found.get(); ai; ai = ai->ai_next) {
    Fd s(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (s.fd < 0) continue;
    if (!connect_before(s.fd, ai->ai_addr, ai->ai_addrlen, deadline, why)) continue;
    int one = 1;
    ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto proved = answer(s.fd, authkey, "connector", deadline);
    if (proved == Outcome::kRefused)
      throw AuthenticationError("connect_to " + address +
                                ": the Listener refused our authkey; use the same authkey on "
                                "both sides");
    if (proved == Outcome::kWelcome) {
      auto checked = challenge(s.fd, authkey, "listener", deadline);
      if (checked == Outcome::kWelcome) return Connection(s.release(), true, true);
      if (checked == Outcome::kRefused)
        throw AuthenticationError("connect_to " + address +
                                  ": the Listener did not prove the authkey");
    }
    throw ConnectionError("connect_to " + address + ": the handshake did not finish within " +
                          std::to_string(timeout.count()) +
                          " ms; is a dpool Listener at that address?");
  }
  throw ConnectionError("connect_to " + address + ": cannot connect: " + why);
}

}  // namespace dpool
