#include "coordinator_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <dpool/errors.hpp>

namespace dpool::internal {
namespace {

// A handshake that takes longer than this is dropped: a peer that opens
// connections and never finishes them holds each this long at most.
constexpr int kHandshakeMs = 10000;

std::string describe_failure(int event, std::uint32_t value) {
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    return "the peer closed it, or sent no valid greeting, during the handshake";
  switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
      return "the peer does not use CurveZMQ (a client or node run with --insecure, or not dpool)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
    case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
      return "the peer's handshake could not be opened: it holds another coordinator's public key";
    default: {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%x", value);
      return "the handshake broke ZeroMQ's protocol (error " + std::string(hex) + ")";
    }
  }
}

}  // namespace

CoordinatorEndpoint::CoordinatorEndpoint(asio::io_context& io, const CoordinatorOptions& options,
                                         std::function<void(Payloads&&)> on_frames)
    : context_(std::make_unique<zmq::context_t>(1)) {
  bool curve = !options.insecure && !options.bind.starts_with("inproc://");
  std::optional<CoordinatorKeys> keys;
  if (curve) {
    keys = coordinator_keys(options.key_dir);
    allow_ = std::make_unique<AllowList>(keys->dir);
    zap_ = std::make_unique<ZapHandler>(io, *context_, *allow_);
  }
  router_ =
      std::make_unique<ZmqSocket>(io, *context_, zmq::socket_type::router, std::move(on_frames));
  auto& s = router_->socket();
  configure_socket(s, options.max_message_bytes);
  s.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
  if (curve) make_curve_server(s, keys->own);
  monitor_ = std::make_unique<SocketMonitor>(
      io, *context_, s, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
      [this](int event, std::uint32_t value) { on_event(event, value); });
  try {
    s.bind(options.bind);
  } catch (const zmq::error_t& e) {
    throw Error("the coordinator could not bind " + options.bind + ": " + e.what() +
                "; pick another address or port (tcp://127.0.0.1:* picks a free one)");
  }
  address_ = s.get(zmq::sockopt::last_endpoint);
  router_->start();
  if (!curve) {
    spdlog::warn(
        "coordinator: serving {} in the clear (--insecure): whoever reaches it can read every "
        "task and result, submit tasks and register as a node",
        address_);
    return;
  }
  if (keys->created)
    spdlog::info(
        "coordinator: made a key set in {} (first start); workers and clients of this account "
        "find it there, and other machines need a copy of that directory",
        keys->dir);
  spdlog::info("coordinator: CurveZMQ on {} with the keys in {}: {} node key(s), {} client key(s)",
               address_, keys->dir, allow_->nodes(), allow_->clients());
}

CoordinatorEndpoint::~CoordinatorEndpoint() {
  monitor_.reset();
  router_.reset();  // before the ZAP handler, and both before the context
  zap_.reset();
}

void CoordinatorEndpoint::on_event(int event, std::uint32_t value) {
  auto verdict = handshakes_.refuse(0, "", describe_failure(event, value), false);
  if (!verdict.line.empty()) spdlog::warn("coordinator: {}", verdict.line);
}

std::vector<std::string> CoordinatorEndpoint::tick(bool& changed) {
  changed = allow_ && allow_->refresh();
  if (changed)
    spdlog::info("coordinator: read the allow-lists again: {} node key(s), {} client key(s)",
                 allow_->nodes(), allow_->clients());
  auto lines = handshakes_.report();
  if (zap_)
    for (auto& line : zap_->report()) lines.push_back(std::move(line));
  return lines;
}

}  // namespace dpool::internal
