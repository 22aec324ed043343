// dpool::Connection's calls, and the ends of dpool::pipe(): a Unix stream
// socketpair whose descriptors pass to a Process. The framing of a message
// is in connection_state.hpp; hosted ends are in hosted_pipe.cpp.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <dpool/connection.hpp>
#include <mutex>
#include <system_error>

#include "connection_state.hpp"
#include "fd_io.hpp"

namespace dpool {
namespace internal {
namespace {

constexpr std::uint64_t kMaxBody = std::uint64_t{16} << 30;

void put_le(char* p, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_le(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

// An end on this machine: a socketpair's descriptor.
class LocalConnection final : public ConnectionState {
 public:
  LocalConnection(int fd, bool readable, bool writable)
      : fd_(fd), readable_(readable), writable_(writable) {}
  ~LocalConnection() override {
    if (fd_ >= 0) ::close(fd_);
  }

  int fd() const override {
    std::lock_guard lock(fd_mu_);
    return fd_;
  }
  bool readable() const override { return readable_; }
  bool writable() const override { return writable_; }
  bool closed() const override { return fd() < 0; }

  // As in Python, a Connection is not meant to be closed while another
  // thread is in send or recv on it. No shutdown(2): a copy of this end
  // handed to a Process must go on working.
  void close() override {
    std::lock_guard lock(fd_mu_);
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
  }

  void send(std::string_view head, std::string_view body) override {
    if (!writable_)
      throw Error("Connection::send on the receiving end of a one-way pipe; send on the other end");
    std::lock_guard lock(send_mu_);
    int fd = open_fd("send");
    if (!send_all(fd, head) || !send_all(fd, body))
      throw Error("Connection::send: the other end of the pipe is closed");
  }

  // The next message's type and body; throws EOFError at the end.
  std::pair<detail::MessageType, std::string> recv() override {
    if (!readable_)
      throw Error(
          "Connection::recv on the sending end of a one-way pipe; receive on the other end");
    std::lock_guard lock(recv_mu_);
    int fd = open_fd("recv");
    char head[kFrameHeadBytes];
    if (!read_all(fd, head, sizeof head))
      throw EOFError("Connection::recv: the other end of the pipe is closed and nothing is left");
    auto sizes = read_frame_sizes(head);
    if (sizes.name_len > kMaxTypeName || sizes.body_len > kMaxBody)
      throw Error("Connection::recv: a malformed message (not written by dpool's send?)");
    detail::MessageType type;
    type.fingerprint = sizes.fingerprint;
    type.name.resize(sizes.name_len);
    std::string body;
    body.resize(sizes.body_len);
    if (!read_all(fd, type.name.data(), sizes.name_len) ||
        !read_all(fd, body.data(), sizes.body_len))
      throw EOFError("Connection::recv: the other end closed in the middle of a message");
    return {std::move(type), std::move(body)};
  }

  bool poll(std::chrono::steady_clock::duration timeout) override {
    int fd = this->fd();
    if (fd < 0) throw Error("Connection::poll on a closed connection");
    pollfd p{fd, POLLIN, 0};
    // Readable, or hung up (recv then throws EOFError).
    return poll_until(&p, 1, detail::deadline_after(timeout)) > 0;
  }

 private:
  int open_fd(const char* what) const {
    std::lock_guard lock(fd_mu_);
    if (fd_ < 0)
      throw Error(std::string("Connection::") + what +
                  " on a closed connection (or one that was never opened)");
    return fd_;
  }

  // False at the end of the stream before `size` bytes.
  static bool read_all(int fd, char* data, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      ssize_t n = ::recv(fd, data + done, size - done, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  mutable std::mutex fd_mu_;
  std::mutex send_mu_, recv_mu_;  // one message at a time each way
  int fd_;
  bool readable_, writable_;
};

namespace {

thread_local detail::FdCollector* t_collector = nullptr;
thread_local detail::FdTable* t_table = nullptr;

ConnectionState& state_of(const std::shared_ptr<ConnectionState>& s) {
  if (!s)
    throw Error(
        "this dpool::Connection refers to nothing; make one with dpool::pipe() or pool.pipe()");
  return *s;
}

}  // namespace

std::string frame_head(const detail::MessageType& type, std::size_t body_size) {
  std::string head(kFrameHeadBytes, '\0');
  put_le(head.data(), type.name.size(), 4);
  put_le(head.data() + 4, type.fingerprint, 8);
  put_le(head.data() + 12, body_size, 8);
  head += type.name;
  return head;
}

FrameSizes read_frame_sizes(const char* head) {
  return {static_cast<std::uint32_t>(get_le(head, 4)), get_le(head + 4, 8), get_le(head + 12, 8)};
}

}  // namespace internal

namespace detail {

FdCollector::FdCollector() : outer_(internal::t_collector) {
  internal::t_collector = this;
}

FdCollector::~FdCollector() {
  internal::t_collector = outer_;
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

std::vector<int> FdCollector::take() {
  return std::exchange(fds_, {});
}

FdTable::FdTable(std::vector<int> fds) : fds_(std::move(fds)), outer_(internal::t_table) {
  internal::t_table = this;
}

FdTable::~FdTable() {
  internal::t_table = outer_;
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

std::uint32_t pass_fd(int fd) {
  auto* c = internal::t_collector;
  if (!c)
    throw SerializationError(
        "an end of dpool::pipe() travels only as an argument of a dpool::Process on this "
        "machine; for tasks, and Processes on nodes, make the pipe with pool.pipe()");
  if (fd < 0) throw SerializationError("a closed dpool::Connection cannot be passed on");
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw SerializationError("could not duplicate a Connection's descriptor");
  c->fds_.push_back(copy);
  return static_cast<std::uint32_t>(c->fds_.size() - 1);
}

bool collecting_fds() noexcept {
  return internal::t_collector != nullptr;
}

int take_fd(std::uint32_t index) {
  auto* t = internal::t_table;
  if (!t || index >= t->fds_.size() || t->fds_[index] < 0)
    throw SerializationError("a dpool::Connection arrived without its descriptor");
  return std::exchange(t->fds_[index], -1);
}

}  // namespace detail

Connection::Connection(int fd, bool readable, bool writable)
    : state_(std::make_shared<internal::LocalConnection>(fd, readable, writable)) {}

void Connection::send_bytes(std::span<const std::byte> bytes) {
  send_message(detail::MessageType{},
               std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void Connection::send_message(const detail::MessageType& type, std::string_view bytes) {
  auto& s = internal::state_of(state_);
  s.send(internal::frame_head(type, bytes.size()), bytes);
}

std::string Connection::recv_message(const detail::MessageType& expected) {
  auto [type, body] = internal::state_of(state_).recv();
  if (type.fingerprint != expected.fingerprint)
    throw SignatureMismatch("Connection::recv<" + expected.name + "> got " +
                            (type.fingerprint ? "a " + type.name : std::string("raw bytes")) +
                            " (the message is consumed); receive it as what was sent");
  return std::move(body);
}

std::vector<std::byte> Connection::recv_bytes() {
  auto body = recv_message(detail::MessageType{});
  std::vector<std::byte> out(body.size());
  if (!body.empty()) std::memcpy(out.data(), body.data(), body.size());
  return out;
}

bool Connection::poll_for(std::chrono::steady_clock::duration timeout) {
  auto& s = internal::state_of(state_);
  if (!s.readable())
    throw Error("Connection::poll on the sending end of a one-way pipe; poll the other end");
  return s.poll(timeout);
}

void Connection::close() {
  if (state_) state_->close();
}

bool Connection::closed() const {
  return !state_ || state_->closed();
}

bool Connection::readable() const {
  return state_ && state_->readable();
}

bool Connection::writable() const {
  return state_ && state_->writable();
}

int Connection::fileno() const {
  return state_ ? state_->fd() : -1;
}

bool Connection::hosted() const {
  return hosted_object() != nullptr;
}

const detail::HostedObject* Connection::hosted_object() const noexcept {
  return state_ ? state_->hosted() : nullptr;
}

std::uint8_t Connection::hosted_end() const noexcept {
  return state_ ? state_->end() : 0;
}

void Connection::share() const {
  if (state_) state_->share();
}

Connection Connection::adopt(detail::HostedObject pipe, std::uint8_t end, bool readable,
                             bool writable) {
  return Connection(internal::hosted_end(std::move(pipe), end, readable, writable, true));
}

std::pair<Connection, Connection> pipe(bool duplex) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw Error(std::string("dpool::pipe: socketpair failed: ") + std::strerror(errno));
  if (!duplex) {
    ::shutdown(sv[0], SHUT_WR);  // the first end only receives
    ::shutdown(sv[1], SHUT_RD);  // the second only sends
  }
  return {Connection(sv[0], true, duplex), Connection(sv[1], duplex, true)};
}

std::vector<std::size_t> wait_connections(const std::vector<Connection>& connections,
                                          std::chrono::steady_clock::duration timeout) {
  std::vector<internal::ConnectionState*> hosted(connections.size(), nullptr);
  bool any_hosted = false, any_local = false;
  for (std::size_t i = 0; i < connections.size(); ++i) {
    if (connections[i].hosted()) {
      any_hosted = true;
      if (!connections[i].closed()) hosted[i] = connections[i].state_.get();
    } else if (!connections[i].closed()) {
      any_local = true;
    }
  }
  if (any_hosted && any_local)
    throw Error(
        "dpool::wait: the connections mix ends of dpool::pipe() (or a Listener) with ends of "
        "pool.pipe(), which wait at the coordinator; wait on each kind apart, or make every pipe "
        "with pool.pipe()");
  if (any_hosted) return internal::wait_hosted(hosted, timeout);
  std::vector<pollfd> fds;
  for (auto& c : connections) fds.push_back(pollfd{c.fileno(), POLLIN, 0});
  internal::poll_until(fds.data(), fds.size(), detail::deadline_after(timeout));
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < fds.size(); ++i)
    if (fds[i].fd >= 0 && fds[i].revents) ready.push_back(i);
  return ready;
}

}  // namespace dpool
