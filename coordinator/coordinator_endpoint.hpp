// The coordinator's socket: a ROUTER bound to CoordinatorOptions::bind.
// Unless `insecure`, it speaks CurveZMQ with the coordinator's keys, and a ZAP
// handler admits only the keys on the allow-lists of the key directory; the
// connection's key (ZAP user id) then comes with each message (metadata()).
// It all lives in a zmq context of its own, so that each coordinator of a
// process has its own ZAP handler. A monitor counts the handshakes that fail
// (peers in the clear, peers holding another coordinator's public key).
// Loop thread only, construction included.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "allow_list.hpp"
#include "rejections.hpp"
#include "zap_handler.hpp"
#include "zmq_socket.hpp"

namespace dpool::internal {

class CoordinatorEndpoint {
 public:
  // Throws Error when the address cannot be bound, or the keys cannot be read
  // or made.
  CoordinatorEndpoint(asio::io_context& io, const CoordinatorOptions& options,
                      std::function<void(Payloads&&)> on_frames);
  ~CoordinatorEndpoint();
  CoordinatorEndpoint(const CoordinatorEndpoint&) = delete;
  CoordinatorEndpoint& operator=(const CoordinatorEndpoint&) = delete;

  // The bound address, with a wildcard port resolved.
  const std::string& address() const noexcept { return address_; }
  bool secure() const noexcept { return allow_ != nullptr; }
  // See ZmqSocket::send.
  bool send(Payloads& frames) { return router_->send(frames); }
  // Once per interval: the lines about refused handshakes not logged yet.
  // Reads the allow-lists again if they changed, and then returns true in
  // `changed`: peers whose key is gone from them should be dropped.
  std::vector<std::string> tick(bool& changed);
  // Whether a connection's user id is still on an allow-list (in the clear,
  // every connection is allowed).
  bool allows(std::string_view user_id) const { return !allow_ || allow_->allows(user_id); }

 private:
  void on_event(int event, std::uint32_t value);

  std::unique_ptr<zmq::context_t> context_;  // first made, last gone
  std::unique_ptr<AllowList> allow_;
  std::unique_ptr<ZapHandler> zap_;  // outlives the router: see ZapHandler
  std::unique_ptr<ZmqSocket> router_;
  std::unique_ptr<SocketMonitor> monitor_;
  Rejections handshakes_{{.subject = "connection"}};
  std::string address_;
};

}  // namespace dpool::internal
