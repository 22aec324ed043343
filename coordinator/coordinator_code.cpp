// The coordinator's part in shipping task code (`dpool push`): who may
// push, nodes' answers, and sending what the code shelf has to send.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "coordinator_server.hpp"

namespace dpool::internal {

std::string CoordinatorServer::may_push(PeerId peer) const {
  const auto& allowed = options_.accept_push_from;
  if (allowed.empty())
    return "this coordinator takes no pushed code: start it with --accept-push-from NAME, "
           "NAME being a client key's (\"client\" for the default key set's)";
  auto it = peers_.find(peer);
  if (it == peers_.end()) return "unknown client";
  if (it->second.routing_id.empty()) return {};  // in-process: the program that embeds us
  if (!router_ || !router_->secure())
    return "this coordinator serves in the clear (--insecure), where no key says who pushes: "
           "it takes no pushed code";
  const auto& key = it->second.key;  // "client:NAME"
  auto name = key.substr(key.find(':') + 1);
  if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
    return "this client's key (" + key + ") may not push code; the coordinator takes pushes from " +
           "the client keys named with --accept-push-from";
  return {};
}

void CoordinatorServer::on(PeerId peer, wire::Loaded&& loaded) {
  code_.loaded(peer, loaded);
  send_code();
}

void CoordinatorServer::send_code() {
  for (auto& e : code_.take_events()) {
    if (e.loaded)
      spdlog::info("coordinator: node {} loaded the pushed library {}", e.node, e.library);
    else
      spdlog::warn("coordinator: node {} did not load the pushed library {}: {}", e.node, e.library,
                   e.error);
  }
  for (auto& env : code_.take_outbox()) send(env.to, std::move(env.message));
}

}  // namespace dpool::internal
