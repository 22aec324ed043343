#include "zap_handler.hpp"

#include <spdlog/spdlog.h>

namespace dpool::internal {
namespace {

// Request: routing id, empty delimiter, then version, request id, domain,
// address, identity, mechanism, and one credential (CURVE: the 32-byte key).
enum Frame : std::size_t {
  kRoutingId,
  kDelimiter,
  kVersion,
  kRequestId,
  kDomain,
  kAddress,
  kIdentity,
  kMechanism,
  kCredential,
  kFrames
};

}  // namespace

ZapHandler::ZapHandler(asio::io_context& io, zmq::context_t& context, AllowList& allow)
    : allow_(allow), socket_(io, context, zmq::socket_type::router, [this](Payloads&& frames) {
        on_request(std::move(frames));
      }) {
  socket_.socket().bind("inproc://zeromq.zap.01");
  socket_.start();
}

void ZapHandler::on_request(Payloads&& f) {
  // libzmq itself writes these requests; anything else is not answered.
  if (f.size() < kMechanism + 1 || f[kVersion].view() != "1.0") return;
  std::string user;
  std::string why;
  if (f.size() != kFrames || f[kMechanism].view() != "CURVE") {
    why = "the " + std::string(f[kMechanism].view()) + " mechanism is not CurveZMQ";
  } else {
    allow_.refresh();
    user = allow_.user_id(f[kCredential].view());
    if (user.empty())
      why = "a peer at " + std::string(f[kAddress].view()) + " offered the key " +
            encode_key(f[kCredential].view()) + ", which is on neither allow-list (" +
            allow_list_dir(allow_.dir(), kNodeRole) + ", " +
            allow_list_dir(allow_.dir(), kClientRole) + ")";
  }
  if (!why.empty()) {
    auto verdict = refusals_.refuse(0, "", why, false);
    if (!verdict.line.empty()) spdlog::warn("coordinator: {}", verdict.line);
  }
  Payloads reply;
  reply.push_back(std::move(f[kRoutingId]));
  reply.emplace_back();
  reply.emplace_back("1.0");
  reply.push_back(std::move(f[kRequestId]));
  reply.emplace_back(user.empty() ? "400" : "200");
  reply.emplace_back(user.empty() ? "key refused" : "OK");
  reply.emplace_back(user);
  reply.emplace_back();  // no metadata
  socket_.send(reply);
}

}  // namespace dpool::internal
