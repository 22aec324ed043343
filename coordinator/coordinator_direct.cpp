// The coordinator's direct lines (direct_endpoint.hpp): tickets issued over
// clients' authenticated connections, calls made on the lines, and their
// answers routed back to the line they came on.
#include <spdlog/spdlog.h>

#include "coordinator_server.hpp"
#include "sealed_line.hpp"

namespace dpool::internal {
namespace {

// A direct call's request number in the store: this bit and its line's
// number (a line carries one call at a time). The requests of connections
// count up from 1 and never reach it.
constexpr std::uint64_t kDirectCall = std::uint64_t{1} << 63;

}  // namespace

void CoordinatorServer::serve_direct() {
  auto host = direct::tcp_host(options_.bind);
  if (host.empty()) return;
  direct_ = std::make_unique<DirectEndpoint>(
      loop_.io(), host,
      DirectEndpoint::Handlers{[this](std::uint64_t line, PeerId client, std::string call) {
                                 on_direct_call(line, client, std::move(call));
                               },
                               [this](std::uint64_t line, PeerId client) {
                                 // No one will hear the answer: a call that waits is dropped.
                                 store_.withdraw(client, kDirectCall | line);
                                 send_object_answers();
                               }});
  spdlog::info("coordinator: direct lines for clients' Manager calls on port {}", direct_->port());
}

std::optional<calls::DirectTicket> CoordinatorServer::direct_ticket(PeerId peer) {
  if (!direct_) return std::nullopt;
  return direct_->issue(peer, ObjectStore::Clock::now());
}

void CoordinatorServer::on_direct_call(std::uint64_t line, PeerId client, std::string call) {
  auto decoded = wire::decode_meta<calls::ObjectCall>(call);
  if (!decoded) {
    calls::DirectAnswer refused;
    refused.failure.code = ErrorCode::kRefused;
    refused.failure.message =
        "a call on a shared object that cannot be decoded (" + decoded.error() + ")";
    direct_->answer(line, client, refused);
    return;
  }
  auto now = ObjectStore::Clock::now();
  scheduler_.set_time(now);
  const auto parked = store_.parked();
  store_.call(ObjectStore::Caller{client, 0, 0}, kDirectCall | line, std::move(*decoded), now);
  if (store_.parked() > parked)
    spdlog::debug("coordinator: 1 call(s) of peer {} wait on hosted objects (direct line {})",
                  client, line);
  send_object_answers();
}

void CoordinatorServer::answer_direct(std::vector<ObjectStore::Answer>& answers) {
  std::erase_if(answers, [this](ObjectStore::Answer& a) {
    if (!(a.request & kDirectCall)) return false;
    if (direct_) {
      calls::DirectAnswer out;
      out.failure = std::move(a.failure);
      if (out.failure.code == ErrorCode::kNone) out.bytes = wire::encode_meta(a.answer);
      direct_->answer(a.request & ~kDirectCall, a.peer, out);
    }
    return true;
  });
}

}  // namespace dpool::internal
