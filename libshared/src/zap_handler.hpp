// The ZAP handler (ZeroMQ RFC 27) of a CurveZMQ server: libzmq asks it, for
// each connection's handshake, whether the client's public key may connect.
// A key on the allow-list is accepted with the user id "ROLE:NAME", which
// every message of that connection then carries (metadata() in zmq_socket);
// any other key is refused (status 400), and the refusals are counted and
// logged at a bounded rate. Loop thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "allow_list.hpp"
#include "rejections.hpp"
#include "zmq_socket.hpp"

namespace dpool::internal {

class ZapHandler {
 public:
  // Binds inproc://zeromq.zap.01 in `context`. Make it before any CURVE
  // server socket of that context binds, and destroy it after them: without
  // a handler, libzmq accepts every key. Throws zmq::error_t if `context`
  // has a handler already. `allow` must outlive it.
  ZapHandler(asio::io_context& io, zmq::context_t& context, AllowList& allow);

  // Lines about refused keys not logged yet; call once per interval.
  std::vector<std::string> report() { return refusals_.report(); }
  std::uint64_t refused() const noexcept { return refusals_.total(); }

 private:
  void on_request(Payloads&& frames);

  AllowList& allow_;
  Rejections refusals_{{.subject = "CurveZMQ handshake"}};
  ZmqSocket socket_;
};

}  // namespace dpool::internal
