#include "http_endpoint.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <dpool/errors.hpp>
#include <dpool/keys.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "dashboard_page.hpp"
#include "prometheus_text.hpp"
#include "status_view.hpp"

namespace dpool::internal {
namespace {

// Requests are a line and a few headers: nothing here takes a body.
constexpr std::size_t kMaxPayload = 64 * 1024;
constexpr int kThreads = 4;  // a browser keeps a few connections open
constexpr std::size_t kTokenBytes = 24;

bool equal_in_constant_time(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The host part of a Host header: "127.0.0.1:8787" -> "127.0.0.1",
// "[::1]:8787" -> "::1".
std::string host_of(const std::string& header) {
  if (header.starts_with('[')) {
    auto end = header.find(']');
    return end == std::string::npos ? header : header.substr(1, end - 1);
  }
  return header.substr(0, header.find(':'));
}

}  // namespace

HttpAddress parse_http_address(const std::string& text) {
  auto fail = [&]() -> HttpAddress {
    throw Error("the HTTP address '" + text +
                "' is none of PORT, HOST:PORT or [IPV6]:PORT (e.g. 127.0.0.1:8787; port 0 "
                "picks a free one)");
  };
  std::string rest = text.starts_with("http://") ? text.substr(7) : text;
  if (rest.ends_with('/')) rest.pop_back();
  HttpAddress a;
  std::string port;
  if (rest.starts_with('[')) {
    auto end = rest.find("]:");
    if (end == std::string::npos) return fail();
    a.host = rest.substr(1, end - 1);
    port = rest.substr(end + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    a.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    a.host = "127.0.0.1";
    port = rest;
  }
  if (a.host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos)
    return fail();
  a.port = std::stoi(port);
  if (a.port > 65535) return fail();
  return a;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string http_token(const std::string& given, const std::string& host,
                       const std::string& key_dir, std::string& where) {
  if (!given.empty()) {
    where = "given with --http-token";
    return given;
  }
  if (is_loopback(host)) return "";
  namespace fs = std::filesystem;
  auto dir = key_dir.empty() ? default_key_dir() : key_dir;
  auto path = (fs::path(dir) / "http.token").string();
  where = "in " + path;
  if (std::ifstream in(path); in) {
    std::string token;
    std::getline(in, token);
    if (!token.empty()) return token;
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (!ec) fs::permissions(dir, fs::perms::owner_all, ec);
  }
  if (ec) throw Error("cannot make the key directory " + dir + " for http.token: " + ec.message());
  if (sodium_init() < 0) throw Error("libsodium failed to start: cannot make an HTTP token");
  unsigned char raw[kTokenBytes];
  randombytes_buf(raw, sizeof raw);
  std::string token(2 * sizeof raw + 1, '\0');
  sodium_bin2hex(token.data(), token.size(), raw, sizeof raw);
  token.pop_back();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error("cannot write the HTTP token to " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // an older file may have had looser bits
  auto line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) throw Error("cannot write the HTTP token to " + path);
  where = "made in " + path;
  return token;
}

// Owns the httplib server and its threads: the listener, and the pool of
// kThreads that runs handlers. Handlers read `latest` under `mu`.
struct HttpEndpoint::Impl {
  httplib::Server server;
  std::thread listener;
  std::string token;
  std::function<void()> refresh;

  std::mutex mu;
  std::condition_variable posted;
  std::shared_ptr<const Snapshot> latest;  // null until the loop's first post
  struct Sample {
    double uptime_s;
    std::uint64_t done, queued;
  };
  std::deque<Sample> history;  // at most kHistory, a second or more apart, oldest first
  bool refresh_asked = false;  // one refresh at a time
  bool stopping = false;
  bool listener_done = false;

  // A snapshot no older than kFresh if the loop answers within kRefreshWait,
  // else the newest there is (null only if the loop never posted one).
  std::shared_ptr<const Snapshot> fresh() {
    std::unique_lock lock(mu);
    auto deadline = Clock::now() + kRefreshWait;
    auto young = [&] { return stopping || (latest && Clock::now() - latest->taken <= kFresh); };
    if (young()) return latest;
    if (!refresh_asked) {
      refresh_asked = true;
      lock.unlock();
      refresh();
      lock.lock();
    }
    posted.wait_until(lock, deadline, young);
    return latest;
  }

  bool authorized(const httplib::Request& req) const {
    if (token.empty()) return true;
    auto auth = req.get_header_value("Authorization");
    if (auth.starts_with("Bearer ") && equal_in_constant_time(auth.substr(7), token)) return true;
    return equal_in_constant_time(req.get_param_value("token"), token);
  }

  void routes() {
    server.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
    server.set_payload_max_length(kMaxPayload);
    server.set_read_timeout(5, 0);
    server.set_write_timeout(5, 0);
    server.set_keep_alive_timeout(2);  // a browser's idle connection holds a thread this long
    server.set_default_headers({{"Cache-Control", "no-store"},
                                {"X-Content-Type-Options", "nosniff"},
                                {"Referrer-Policy", "no-referrer"}});
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!token.empty()) {
        if (authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content(
            "401: this endpoint needs its token: Authorization: Bearer TOKEN, or ?token=TOKEN\n",
            "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      }
      // No token: only for a loopback address, and then only under a
      // loopback name, so that a web page whose name was re-pointed at
      // 127.0.0.1 (DNS rebinding) cannot read it.
      auto host = host_of(req.get_header_value("Host"));
      if (host.empty() || is_loopback(host)) return httplib::Server::HandlerResponse::Unhandled;
      res.status = 403;
      res.set_content("403: this endpoint answers only to a loopback host name\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    });
    auto with_snapshot = [this](auto render) {
      return [this, render](const httplib::Request&, httplib::Response& res) {
        auto s = fresh();
        if (!s) {
          res.status = 503;
          res.set_content("503: the coordinator has not taken a snapshot yet\n", "text/plain");
          return;
        }
        render(*s, res);
      };
    };
    server.Get("/metrics", with_snapshot([](const Snapshot& s, httplib::Response& res) {
                 res.set_content(prometheus_text(s.status), kPrometheusContentType);
               }));
    server.Get("/api/status", with_snapshot([](const Snapshot& s, httplib::Response& res) {
                 res.set_content(status_json(s.status, s.address) + "\n", "application/json");
               }));
    server.Get("/api/history", [this](const httplib::Request&, httplib::Response& res) {
      std::string out = "{\"samples\":[";
      {
        std::lock_guard lock(mu);
        char buf[96];
        for (auto& h : history) {
          std::snprintf(buf, sizeof buf, "%s[%.3f,%" PRIu64 ",%" PRIu64 "]",
                        out.back() == '[' ? "" : ",", h.uptime_s, h.done, h.queued);
          out += buf;
        }
      }
      res.set_content(out + "]}\n", "application/json");
    });
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "connect-src 'self'; img-src 'self'");
      auto page = dashboard_page();
      res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
    });
    server.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr e) {
          std::string what = "unknown";
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            what = x.what();
          } catch (...) {
          }
          spdlog::warn("coordinator: HTTP {} {} failed: {}", req.method, req.path, what);
          res.status = 500;
          res.set_content("500: the request failed\n", "text/plain");
        });
  }
};

HttpEndpoint::HttpEndpoint(const HttpAddress& where, std::string token,
                           std::function<void()> refresh)
    : impl_(std::make_unique<Impl>()) {
  impl_->token = std::move(token);
  impl_->refresh = std::move(refresh);
  impl_->routes();
  int port = where.port;
  if (port == 0)
    port = impl_->server.bind_to_any_port(where.host);
  else if (!impl_->server.bind_to_port(where.host, port))
    port = -1;
  if (port < 0)
    throw Error("cannot serve HTTP on " + where.host + ":" + std::to_string(where.port) +
                ": the address is not this machine's, or the port is taken");
  auto host = where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host;
  url_ = "http://" + host + ":" + std::to_string(port) + "/";
  impl_->listener = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    std::lock_guard lock(impl->mu);
    impl->listener_done = true;
    impl->posted.notify_all();
  });
}

HttpEndpoint::~HttpEndpoint() {
  stop();
}

void HttpEndpoint::post(std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard lock(impl_->mu);
  auto& h = impl_->history;
  double uptime = static_cast<double>(snapshot->status.uptime_ms) / 1000;
  if (h.empty() ||
      uptime - h.back().uptime_s >= 0.9) {  // the loop posts each second, give or take a hair
    if (h.size() == kHistory) h.pop_front();
    h.push_back({uptime, snapshot->status.done, snapshot->status.queued});
  }
  impl_->latest = std::move(snapshot);
  impl_->refresh_asked = false;
  impl_->posted.notify_all();
}

void HttpEndpoint::stop() {
  if (!impl_->listener.joinable()) return;
  std::unique_lock lock(impl_->mu);
  impl_->stopping = true;
  impl_->posted.notify_all();
  // httplib's stop() does nothing until its listener has started: ask again
  // until the listener thread says it has returned.
  while (!impl_->listener_done) {
    lock.unlock();
    impl_->server.stop();
    lock.lock();
    impl_->posted.wait_for(lock, std::chrono::milliseconds(20),
                           [this] { return impl_->listener_done; });
  }
  lock.unlock();
  impl_->listener.join();
}

}  // namespace dpool::internal
