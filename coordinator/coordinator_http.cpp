// The coordinator server's HTTP side (CoordinatorOptions::http): it makes
// the HttpEndpoint and posts it snapshots from the loop. The endpoint's own
// threads never touch the server; they ask for a snapshot through the loop.
#include <spdlog/spdlog.h>

#include <asio/post.hpp>

#include "coordinator_server.hpp"

namespace dpool::internal {

void CoordinatorServer::serve_http(std::string& token_from) {
  auto where = parse_http_address(options_.http);
  auto token = http_token(options_.http_token, where.host, options_.key_dir, token_from);
  http_ = std::make_unique<HttpEndpoint>(
      where, token, [this] { asio::post(loop_.io(), [this] { post_snapshot(); }); });
}

void CoordinatorServer::post_snapshot() {
  if (!http_) return;
  auto s = std::make_shared<HttpEndpoint::Snapshot>();
  s->status = status(0);  // no client asks: every one is shown
  s->address = endpoint_;
  s->taken = HttpEndpoint::Clock::now();
  http_->post(std::move(s));
}

void CoordinatorServer::arm_snapshot_timer() {
  snapshot_timer_.expires_after(std::chrono::seconds(1));
  snapshot_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    post_snapshot();
    arm_snapshot_timer();
  });
}

void CoordinatorServer::start_snapshots(const std::string& token_from) {
  loop_.call([this] {
    post_snapshot();
    arm_snapshot_timer();
  });
  auto url = http_->url();
  if (token_from.empty())
    spdlog::info("coordinator: dashboard at {} (metrics at {}metrics, JSON at {}api/status)", url,
                 url, url);
  else
    spdlog::info(
        "coordinator: dashboard at {} (metrics at {}metrics, JSON at {}api/status); requests "
        "need the token {}: Authorization: Bearer TOKEN, or ?token=TOKEN",
        url, url, url, token_from);
}

}  // namespace dpool::internal
