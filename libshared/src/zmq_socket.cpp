#include "zmq_socket.hpp"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <zmq_addon.hpp>

#include "link.hpp"

namespace dpool::internal {
namespace {

// Reads one whole multipart message straight into payloads; false when
// nothing is waiting.
bool receive(zmq::socket_t& socket, Payloads& frames) {
  for (;;) {
    Payload& p = frames.emplace_back();
    if (zmq_msg_recv(static_cast<zmq_msg_t*>(p.native()), socket.handle(), ZMQ_DONTWAIT) < 0) {
      int err = zmq_errno();
      frames.pop_back();
      if (err == EAGAIN && frames.empty()) return false;
      if (err == EINTR) continue;
      throw zmq::error_t();
    }
    if (!zmq_msg_more(static_cast<zmq_msg_t*>(p.native()))) return true;
  }
}

}  // namespace

zmq::context_t& zmq_context() {
  static zmq::context_t context(1);
  return context;
}

void configure_socket(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::linger, 1000);
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, 0);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(4) << 30);
}

ZmqSocket::ZmqSocket(asio::io_context& io, zmq::socket_type type,
                     std::function<void(Payloads&&)> on_frames)
    : socket_(zmq_context(), type), fd_(io), on_frames_(std::move(on_frames)) {
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

namespace {

class DealerLink final : public Link {
 public:
  DealerLink(asio::io_context& io, const std::string& address, Receiver receive)
      : socket_(io, zmq::socket_type::dealer, [receive = std::move(receive)](Payloads&& f) {
          receive(wire::decode(std::move(f)));
        }) {
    socket_.socket().set(zmq::sockopt::linger, 500);
    socket_.socket().connect(address);
    socket_.start();
  }
  void send(wire::Message&& m) override {
    auto frames = wire::encode(std::move(m));
    socket_.send(frames);
  }

 private:
  ZmqSocket socket_;
};

}  // namespace

std::unique_ptr<Link> connect_dealer(asio::io_context& io, const std::string& address,
                                     Receiver receive) {
  return std::make_unique<DealerLink>(io, address, std::move(receive));
}

}  // namespace dpool::internal
