#include "zmq_socket.hpp"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <zmq_addon.hpp>

#include "link.hpp"

namespace dpool::internal {

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
                     std::function<void(Frames&&)> on_frames)
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
    Frames frames;
    if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
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

bool ZmqSocket::send(Frames& frames) {
  bool ok = true;
  try {
    ok = zmq::send_multipart(socket_, frames, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) spdlog::warn("zmq send failed: {}", e.what());
    ok = false;
  }
  schedule_drain();
  return ok;
}

namespace {

class DealerLink final : public Link {
 public:
  DealerLink(asio::io_context& io, const std::string& address, Receiver receive)
      : socket_(io, zmq::socket_type::dealer, [receive = std::move(receive)](Frames&& f) {
          receive(wire::decode(std::move(f)));
        }) {
    socket_.socket().set(zmq::sockopt::linger, 500);
    socket_.socket().connect(address);
    socket_.start();
  }
  void send(wire::Message&& m) override {
    auto frames = wire::encode(m.kind, m.body, std::move(m.payloads));
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
