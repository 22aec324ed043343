// The coordinator's HTTP endpoint (CoordinatorOptions::http, `dpool
// coordinator --http`): Prometheus metrics at /metrics, the JSON of `dpool
// status --json` at /api/status, the last kHistory seconds of done and
// queued counts at /api/history (so that the dashboard's charts start with
// the past), and a live dashboard page at /. Served by
// cpp-httplib on threads of its own; it never touches the scheduler. It
// shows the latest Snapshot the coordinator's loop posted, and when a
// request finds that older than kFresh it asks the loop for a new one
// (`refresh`) and waits a bounded time for it.
#pragma once

#include <chrono>
#include <dpool/status.hpp>
#include <functional>
#include <memory>
#include <string>

namespace dpool::internal {

// Where to serve: "PORT" (on 127.0.0.1), "HOST:PORT" or "[V6]:PORT", with an
// optional "http://" before. Port 0: a free one. Throws dpool::Error naming
// the text if it is none of these.
struct HttpAddress {
  std::string host;
  int port = 0;
};
HttpAddress parse_http_address(const std::string& text);
// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost): only
// this machine's users reach it, so it may serve without a token.
bool is_loopback(const std::string& host);

// The token requests need: `given` if not empty; otherwise, on a loopback
// host, none (empty); otherwise the one kept in `key_dir`/http.token, made
// (random, 0600, the directory 0700) if missing. `where` says where it came
// from, for the log. Throws dpool::Error if the file cannot be read or made.
std::string http_token(const std::string& given, const std::string& host,
                       const std::string& key_dir, std::string& where);

class HttpEndpoint {
 public:
  using Clock = std::chrono::steady_clock;
  // What the pages show: the cluster as the loop last saw it.
  struct Snapshot {
    ClusterStatus status;
    std::string address;  // the coordinator's endpoint, the JSON's "address"
    Clock::time_point taken;
  };
  // A request finding a snapshot older than this asks for a new one.
  static constexpr std::chrono::milliseconds kFresh{250};
  // ...and waits at most this long for it before it answers with the old one.
  static constexpr std::chrono::milliseconds kRefreshWait{1000};
  // /api/history keeps about one sample a second (of the posted snapshots) for
  // this many seconds.
  static constexpr std::size_t kHistory = 120;

  // Binds `where` and starts serving (port 0: a free port). `token`: empty,
  // or what every request must carry (Authorization: Bearer TOKEN, or
  // ?token=TOKEN); others get 401. Without a token, requests whose Host
  // header names another host than a loopback one get 403 (DNS rebinding).
  // `refresh` is called on a server thread and must only post to the loop,
  // which then calls post(). Throws dpool::Error if `where` cannot be bound.
  HttpEndpoint(const HttpAddress& where, std::string token, std::function<void()> refresh);
  ~HttpEndpoint();  // stop()
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // "http://HOST:PORT/", the port resolved. Any thread.
  const std::string& url() const noexcept { return url_; }
  // The newest snapshot, for the next requests. Any thread (the loop's).
  void post(std::shared_ptr<const Snapshot> snapshot);
  // Stops serving: closes the port, wakes waiting requests, joins the
  // server's threads. Idempotent; any thread but a server thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string url_;
};

}  // namespace dpool::internal
