#include "zmq_socket.hpp"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <atomic>
#include <cstring>

namespace dpool::internal {
namespace {

// Reads one whole multipart message straight into payloads; false when
// nothing is waiting. A message of more than kMaxFramesPerMessage frames is
// read to its end but only its first frame is kept (a ROUTER's routing id),
// which no decoder accepts: the sender is refused as for any malformed
// message, and the frames are not held twice.
bool receive(zmq::socket_t& socket, Payloads& frames) {
  std::size_t count = 0;
  for (;;) {
    Payload& p = frames.emplace_back();
    if (zmq_msg_recv(static_cast<zmq_msg_t*>(p.native()), socket.handle(), ZMQ_DONTWAIT) < 0) {
      int err = zmq_errno();
      frames.pop_back();
      if (err == EAGAIN && count == 0) return false;
      if (err == EINTR) continue;
      throw zmq::error_t();
    }
    bool more = zmq_msg_more(static_cast<zmq_msg_t*>(p.native()));
    if (++count > kMaxFramesPerMessage) frames.resize(1);
    if (!more) return true;
  }
}

}  // namespace

zmq::context_t& zmq_context() {
  static zmq::context_t context(1);
  return context;
}

void configure_socket(zmq::socket_t& socket, std::size_t max_message_bytes) {
  socket.set(zmq::sockopt::linger, 1000);
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, 0);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_message_bytes));
}

void make_curve_server(zmq::socket_t& socket, const KeyPair& own) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
  socket.set(zmq::sockopt::zap_domain, "dpool");
}

void make_curve_client(zmq::socket_t& socket, const KeyPair& own,
                       const std::string& server_public) {
  socket.set(zmq::sockopt::curve_serverkey, server_public);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
}

std::string_view metadata(Payload& frame, const char* property) {
  const char* value = zmq_msg_gets(static_cast<zmq_msg_t*>(frame.native()), property);
  return value ? std::string_view(value) : std::string_view();
}

ZmqSocket::ZmqSocket(asio::io_context& io, zmq::socket_type type,
                     std::function<void(Payloads&&)> on_frames)
    : ZmqSocket(io, zmq_context(), type, std::move(on_frames)) {}

ZmqSocket::ZmqSocket(asio::io_context& io, zmq::context_t& context, zmq::socket_type type,
                     std::function<void(Payloads&&)> on_frames)
    : socket_(context, type), fd_(io), on_frames_(std::move(on_frames)) {
  configure_socket(socket_);
  if (type == zmq::socket_type::router) socket_.set(zmq::sockopt::router_mandatory, 1);
}

ZmqSocket::~ZmqSocket() {
  *alive_ = false;
  if (fd_.is_open()) {
    asio::error_code ec;
    fd_.cancel(ec);
    fd_.release();  // the fd belongs to the zmq socket
  }
}

void ZmqSocket::start() {
  fd_.assign(socket_.get(zmq::sockopt::fd));
  drain();
  arm();
}

void ZmqSocket::arm() {
  fd_.async_wait(asio::posix::descriptor_base::wait_read,
                 [this, alive = alive_](const asio::error_code& ec) {
                   if (!*alive || ec) return;
                   drain();
                   if (*alive) arm();
                 });
}

void ZmqSocket::drain() {
  auto alive = alive_;
  while (*alive && (socket_.get(zmq::sockopt::events) & ZMQ_POLLIN)) {
    Payloads frames;
    if (!receive(socket_, frames)) break;
    on_frames_(std::move(frames));
  }
}

void ZmqSocket::schedule_drain() {
  if (drain_posted_) return;
  drain_posted_ = true;
  asio::post(fd_.get_executor(), [this, alive = alive_] {
    if (!*alive) return;
    drain_posted_ = false;
    drain();
  });
}

bool ZmqSocket::send(Payloads& frames) {
  bool ok = true;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    int flags = ZMQ_DONTWAIT | (i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
    auto* msg = static_cast<zmq_msg_t*>(frames[i].native());
    if (zmq_msg_send(msg, socket_.handle(), flags) >= 0) continue;
    int err = zmq_errno();
    if (err == EINTR) {
      --i;
      continue;
    }
    // Nothing of a multipart message goes out until its last frame, so a
    // failure on the first frame loses nothing already sent.
    if (err != EHOSTUNREACH) spdlog::warn("zmq send failed: {}", zmq_strerror(err));
    ok = false;
    break;
  }
  schedule_drain();
  return ok;
}

SocketMonitor::SocketMonitor(asio::io_context& io, zmq::context_t& context, zmq::socket_t& watched,
                             int events, OnEvent on_event)
    : watched_(watched) {
  static std::atomic<unsigned> serial{0};
  auto address = "inproc://dpool-monitor-" + std::to_string(++serial);
  if (zmq_socket_monitor(watched.handle(), address.c_str(), events) != 0) throw zmq::error_t();
  // Each event is two frames: 6 bytes (u16 event, u32 value, native order), then the endpoint.
  pair_ = std::make_unique<ZmqSocket>(
      io, context, zmq::socket_type::pair, [on_event = std::move(on_event)](Payloads&& frames) {
        if (frames.empty() || frames[0].size() < 6) return;
        std::uint16_t event;
        std::uint32_t value;
        std::memcpy(&event, frames[0].data(), sizeof event);
        std::memcpy(&value, frames[0].data() + sizeof event, sizeof value);
        on_event(event, value);
      });
  pair_->socket().set(zmq::sockopt::linger, 0);
  pair_->socket().connect(address);
  pair_->start();
}

SocketMonitor::~SocketMonitor() {
  zmq_socket_monitor(watched_.handle(), nullptr, 0);
}

}  // namespace dpool::internal
