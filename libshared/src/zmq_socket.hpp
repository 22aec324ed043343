// A ZeroMQ socket driven by an asio loop through ZMQ_FD. ZMQ_FD is
// edge-triggered: on every wake-up, and after every send (a send can consume
// the edge that announced pending input), drain while ZMQ_EVENTS says POLLIN.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <dpool/options.hpp>
#include <functional>
#include <memory>
#include <string_view>
#include <zmq.hpp>

#include "keys.hpp"
#include "payload.hpp"

namespace dpool::internal {

class ZmqSocket {
 public:
  // Messages read from the socket go to `on_frames`, on `io`'s thread, one
  // payload per frame. The callback may destroy this object. The socket
  // belongs to `context` (by default the process's, zmq_context()).
  ZmqSocket(asio::io_context& io, zmq::socket_type type, std::function<void(Payloads&&)> on_frames);
  ZmqSocket(asio::io_context& io, zmq::context_t& context, zmq::socket_type type,
            std::function<void(Payloads&&)> on_frames);
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

// The most frames a message read from a socket may have: a batch of the
// protocol's largest size (wire::kMaxBatch tasks, each with its payload) and
// its envelope. More is refused like any malformed message.
inline constexpr std::size_t kMaxFramesPerMessage = (std::size_t{1} << 20) + 16;

// Socket options every dpool socket gets: no silent drops, bounded linger,
// unlimited queues (dpool's own credit bounds them), inbound frames capped at
// `max_message_bytes` (a peer that sends a larger one is disconnected).
void configure_socket(zmq::socket_t& socket,
                      std::size_t max_message_bytes = kDefaultMaxMessageBytes);

// CurveZMQ on a socket, before its bind or connect: a server (with its pair;
// the ZAP handler of its context decides who may connect), or a client (its
// own pair and the server's public key).
void make_curve_server(zmq::socket_t& socket, const KeyPair& own);
void make_curve_client(zmq::socket_t& socket, const KeyPair& own, const std::string& server_public);

// A property of the connection a received frame came from, or empty:
// "User-Id" (its ZAP user id; none in the clear), "Peer-Address" (its IP).
std::string_view metadata(Payload& frame, const char* property);

// Reports a socket's connection events (libzmq's socket monitor) on the loop
// thread: `on_event(event, value)` with a ZMQ_EVENT_* and its value. Make it
// before the watched socket binds or connects, in the watched socket's
// context; destroy it before the watched socket. Loop thread only.
class SocketMonitor {
 public:
  using OnEvent = std::function<void(int event, std::uint32_t value)>;
  SocketMonitor(asio::io_context& io, zmq::context_t& context, zmq::socket_t& watched, int events,
                OnEvent on_event);
  ~SocketMonitor();
  SocketMonitor(const SocketMonitor&) = delete;
  SocketMonitor& operator=(const SocketMonitor&) = delete;

 private:
  zmq::socket_t& watched_;
  std::unique_ptr<ZmqSocket> pair_;
};

}  // namespace dpool::internal
