// A ZeroMQ socket driven by an asio loop through ZMQ_FD. ZMQ_FD is
// edge-triggered: on every wake-up, and after every send (a send can consume
// the edge that announced pending input), drain while ZMQ_EVENTS says POLLIN.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <zmq.hpp>

#include "payload.hpp"

namespace dpool::internal {

class ZmqSocket {
 public:
  // Messages read from the socket go to `on_frames`, on `io`'s thread, one
  // payload per frame. The callback may destroy this object.
  ZmqSocket(asio::io_context& io, zmq::socket_type type, std::function<void(Payloads&&)> on_frames);
  ~ZmqSocket();
  ZmqSocket(const ZmqSocket&) = delete;
  ZmqSocket& operator=(const ZmqSocket&) = delete;

  zmq::socket_t& socket() noexcept { return socket_; }
  // Starts watching the socket; call after bind/connect.
  void start();
  // Sends a multipart message without blocking, taking the frames' bytes
  // over; false if it could not be routed (ROUTER to a peer that is gone).
  bool send(Payloads& frames);

 private:
  void arm();
  void drain();
  void schedule_drain();

  zmq::socket_t socket_;
  asio::posix::stream_descriptor fd_;
  std::function<void(Payloads&&)> on_frames_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool drain_posted_ = false;
};

// The zmq context every socket of this process uses.
zmq::context_t& zmq_context();

// Socket options every dpool socket gets: no silent drops, bounded linger,
// unlimited queues (dpool's own credit bounds them), capped inbound size.
void configure_socket(zmq::socket_t& socket);

}  // namespace dpool::internal
