#include "direct_calls.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <dpool/errors.hpp>
#include <thread>
#include <utility>

#include "fd_io.hpp"
#include "sealed_line.hpp"
#include "spin_wait.hpp"

namespace dpool::internal {

struct DirectCalls::Line {
  Line(int fd, const std::string& key)
      : fd(fd),
        out(key, direct::Direction::kToCoordinator),
        in(key, direct::Direction::kToClient) {}
  ~Line() { ::close(fd); }
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  const int fd;
  Sealer out;  // the owning thread only
  Opener in;   // the owning thread only
  std::atomic<bool> broken{false};
  std::string why;  // written before `broken`, read after it
};

namespace {

std::atomic<std::uint64_t> next_serial{1};

// This thread's lines, one per client it calls through; closed when the
// thread ends.
thread_local std::vector<std::pair<std::uint64_t, std::shared_ptr<DirectCalls::Line>>> my_lines;

// A connected TCP socket to host:port within `timeout`; -1 with `why` set.
int connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found)) {
    why = ::gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = ETIMEDOUT;
      socklen_t len = sizeof err;
      if (poll_until(&p, 1, deadline) > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  return -1;
}

// Reads what the socket has, up to `cap` bytes, waiting as long as it takes:
// first spinning for up to kSpinBudget if no other thread takes the spare
// CPUs (an answer usually comes within tens of microseconds, and a thread
// that has not gone to sleep needs no waking: on this project's 2-vCPU
// machine, with nothing else running, that took a dict set/get from
// 32-37 k to 44-46 k calls/s), then blocking. 0 at end of stream or on an
// error.
std::size_t receive(int fd, char* p, std::size_t cap) {
  SpinSlot spinning;
  auto until = std::chrono::steady_clock::now() + kSpinBudget;
  for (;;) {
    ssize_t r = ::recv(fd, p, cap, spinning ? MSG_DONTWAIT : 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && spinning) {
      if (std::chrono::steady_clock::now() >= until) spinning.release();
      continue;
    }
    return r > 0 ? static_cast<std::size_t>(r) : 0;
  }
}

// Whether the line has something to read while no answer is due: the
// coordinator closed it (it restarted, or forgot us).
bool stale(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace

DirectCalls::DirectCalls(std::string coordinator, Tickets tickets,
                         std::chrono::milliseconds connect_timeout)
    : serial_(next_serial++),
      host_(direct::tcp_host(coordinator)),
      tickets_(std::move(tickets)),
      connect_timeout_(connect_timeout),
      unavailable_(host_.empty()) {}

DirectCalls::~DirectCalls() {
  break_all("the pool was closed");
}

void DirectCalls::break_all(const std::string& why) {
  std::lock_guard lock(mu_);
  for (auto& weak : lines_) {
    auto l = weak.lock();
    if (!l || l->broken.load(std::memory_order_acquire)) continue;
    l->why = why;
    l->broken.store(true, std::memory_order_release);
    ::shutdown(l->fd, SHUT_RDWR);  // wakes a call waiting in it
  }
  lines_.clear();
}

std::shared_ptr<DirectCalls::Line> DirectCalls::line() {
  std::erase_if(my_lines, [](const auto& e) { return e.second->broken.load(); });
  for (auto it = my_lines.begin(); it != my_lines.end(); ++it) {
    if (it->first != serial_) continue;
    if (!stale(it->second->fd)) return it->second;
    my_lines.erase(it);
    break;
  }
  {
    std::lock_guard lock(mu_);
    if (unavailable_) return nullptr;
  }
  auto l = open();
  if (l) my_lines.emplace_back(serial_, l);
  return l;
}

std::shared_ptr<DirectCalls::Line> DirectCalls::open() {
  auto ticket = tickets_();
  std::string why;
  int fd = -1;
  if (ticket) fd = connect_tcp(host_, ticket->port, connect_timeout_, why);
  std::string id;
  if (fd >= 0) {
    direct::append_u64(id, ticket->id);
    if (!send_all(fd, id)) {
      why = "it closed the connection at once";
      ::close(fd);
      fd = -1;
    }
  }
  std::lock_guard lock(mu_);
  if (fd < 0) {
    if (ticket && !unavailable_)
      spdlog::warn(
          "dpool client: the coordinator's port for direct calls, {}:{}, cannot be reached ({}); "
          "Manager and pool.queue calls go over the main connection",
          host_, ticket->port, why);
    unavailable_ = true;
    return nullptr;
  }
  auto l = std::make_shared<Line>(fd, ticket->key);
  std::erase_if(lines_, [](const auto& w) { return w.expired(); });
  lines_.push_back(l);
  return l;
}

std::optional<std::string> DirectCalls::call(const std::string& request) {
  auto l = line();
  if (!l) return std::nullopt;
  auto broke = [&]() -> ConnectionError {
    std::erase_if(my_lines, [&](const auto& e) { return e.second == l; });
    if (l->broken.load(std::memory_order_acquire)) return ConnectionError(l->why);
    return ConnectionError(
        "the direct line to the coordinator at " + host_ +
        " broke during a call on a shared object; whether the call took effect is unknown");
  };
  std::string frame;
  l->out.seal(request, frame);
  if (!send_all(l->fd, frame)) throw broke();
  // The answer: its length, then its sealed bytes (one call in flight, so
  // nothing follows them).
  char head[16 << 10];
  std::size_t got = 0;
  while (got < direct::kLengthBytes) {
    auto r = receive(l->fd, head + got, sizeof head - got);
    if (r == 0) throw broke();
    got += r;
  }
  auto n = direct::read_u32(reinterpret_cast<const unsigned char*>(head));
  if (n > direct::kMaxAnswerFrame || n < direct::kSealBytes || got > direct::kLengthBytes + n)
    throw broke();
  std::string sealed(head + direct::kLengthBytes, got - direct::kLengthBytes);
  sealed.resize(n);
  for (std::size_t have = got - direct::kLengthBytes; have < n;) {
    auto r = receive(l->fd, sealed.data() + have, n - have);
    if (r == 0) throw broke();
    have += r;
  }
  auto plain = l->in.open(sealed);
  if (!plain) throw broke();
  auto answer = wire::decode_meta<calls::DirectAnswer>(*plain);
  if (!answer) throw broke();
  if (answer->failure.code != ErrorCode::kNone) calls::throw_call_failure(answer->failure);
  return std::move(answer->bytes);
}

}  // namespace dpool::internal
