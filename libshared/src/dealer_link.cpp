// The DEALER link from a client or a node to its coordinator: CurveZMQ unless
// insecure, and libzmq's handshake failures turned into one sentence that
// says what is wrong (refused key, the other side in the clear, the wrong
// coordinator key).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <dpool/keys.hpp>

#include "link.hpp"
#include "zmq_socket.hpp"

namespace dpool::internal {
namespace {

// A connection closed during the handshake can be a coordinator going away;
// this many in a row, with none completed, is a handshake that cannot work.
constexpr int kClosedHandshakesToGiveUp = 3;

class DealerLink final : public Link {
 public:
  DealerLink(asio::io_context& io, const DealerOptions& options, Receiver receive, Refused refused)
      : options_(options),
        refused_(std::move(refused)),
        socket_(io, zmq::socket_type::dealer, [receive = std::move(receive)](Payloads&& f) {
          receive(wire::decode(std::move(f)));
        }) {
    auto& s = socket_.socket();
    configure_socket(s, options_.max_message_bytes);
    s.set(zmq::sockopt::linger, 500);
    if (options_.keys) make_curve_client(s, options_.keys->own, options_.keys->server_public);
    monitor_ = std::make_unique<SocketMonitor>(
        io, zmq_context(), s,
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
        [this](int event, std::uint32_t value) { on_event(event, value); });
    s.connect(options_.address);
    socket_.start();
  }

  void send(wire::Message&& m) override {
    auto frames = wire::encode(std::move(m));
    socket_.send(frames);
  }

 private:
  void on_event(int event, std::uint32_t value) {
    switch (event) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        closed_ = 0;
        told_ = false;
        return;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        return refuse(key_refused(value));
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return refuse(protocol_failed(value));
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        if (++closed_ == kClosedHandshakesToGiveUp) refuse(handshake_closed());
        return;
      default:
        return;
    }
  }

  // Once per run of failures: libzmq gives up on the connection after a
  // protocol or authentication failure, so there is nothing more to wait for.
  void refuse(const std::string& why) {
    if (told_) return;
    told_ = true;
    refused_(why);
  }

  std::string key_refused(std::uint32_t status) const {
    if (!options_.keys) return "its key check failed (ZAP status " + std::to_string(status) + ")";
    const auto& role = options_.role;
    return "its allow-list of " + role + "s does not have this " + role + "'s CurveZMQ key (" +
           options_.keys->own_file +
           "). Use a key from the coordinator's key directory: copy that directory here, or give " +
           key_option(role) + " the path of a key it accepts";
  }

  std::string protocol_failed(std::uint32_t code) const {
    if (code == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
      return options_.keys
                 ? "it serves in the clear (was it started with --insecure?) and this " +
                       options_.role +
                       " uses CurveZMQ; restart the coordinator without --insecure, or connect "
                       "with --insecure (Connect::insecure) too"
                 : "it uses CurveZMQ and this " + options_.role +
                       " connects in the clear (--insecure, Connect::insecure); leave that "
                       "option out to connect with the keys of " +
                       dpool::default_key_dir() + " or " + key_option(options_.role);
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", code);
    std::string why = "the handshake failed with ZeroMQ protocol error " + std::string(hex);
    if (options_.keys && (code == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC ||
                          code == ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE))
      why += "; its public key is probably not the one in " + options_.keys->server_file;
    return why;
  }

  std::string handshake_closed() const {
    std::string times = std::to_string(kClosedHandshakesToGiveUp) + " times in a row";
    if (!options_.keys)
      return "it closed the connection during the handshake " + times +
             ", as a coordinator that uses CurveZMQ does with a peer in the clear; leave out "
             "--insecure (Connect::insecure) to connect with keys";
    return "it closed the connection during the CurveZMQ handshake " + times +
           ": either its public key is not the one in " + options_.keys->server_file +
           " (keys of another coordinator?), or it serves in the clear (started with "
           "--insecure; then connect with --insecure, Connect::insecure, too)";
  }

  DealerOptions options_;
  Refused refused_;
  ZmqSocket socket_;
  std::unique_ptr<SocketMonitor> monitor_;  // destroyed before the socket it watches
  int closed_ = 0;                          // handshakes closed in a row
  bool told_ = false;                       // refused_ ran for this run of failures
};

}  // namespace

DealerOptions dealer_options(const std::string& address, std::string_view role,
                             const std::string& key_file, bool insecure,
                             std::size_t max_message_bytes) {
  DealerOptions o{address, std::string(role), std::nullopt, max_message_bytes};
  if (!insecure && !address.starts_with("inproc://")) {
    o.keys = find_peer_keys(key_file, role);
  } else if (insecure) {
    spdlog::warn(
        "dpool {}: connecting to {} in the clear (--insecure): whoever can watch the network sees "
        "every task and result",
        role, address);
  }
  return o;
}

std::unique_ptr<Link> connect_dealer(asio::io_context& io, const DealerOptions& options,
                                     Receiver receive, Refused refused) {
  return std::make_unique<DealerLink>(io, options, std::move(receive), std::move(refused));
}

}  // namespace dpool::internal
