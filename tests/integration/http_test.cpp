// The coordinator's HTTP endpoint end to end: a real `dpool coordinator
// --http` on a free port (port 0; the port is read from its log line) and a
// real worker, asked with an HTTP client. /api/status shows the node,
// /metrics passes `promtool check metrics`, a token guards a non-loopback
// address, and garbage on the port leaves the coordinator answering. Waits
// are on events: a request is repeated until what it should show is there,
// bounded by a deadline.
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config_dirs.hpp"
#include "processes.hpp"
#include "test_tasks.hpp"
#include "text.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
using test_support::Clock;
namespace ts = test_support;
using test_support::FreshConfig;

namespace {

using test_support::contains;

// A coordinator with an HTTP endpoint; `port` is where it serves, read from
// the log line that says where the dashboard is.
struct HttpCoordinator {
  ts::Coordinator c;
  int port = 0;
  std::string log_line;
  explicit HttpCoordinator(std::vector<std::string> extra) : c(std::move(extra)) {
    log_line = c.process.wait_line("dashboard at http://", 10s);
    auto at = log_line.find("dashboard at http://") + 20;
    auto colon = log_line.find("]:", at) != std::string::npos ? log_line.find("]:", at) + 1
                                                              : log_line.find(':', at);
    port = std::atoi(log_line.c_str() + colon + 1);
    REQUIRE_MESSAGE(port > 0, log_line);
  }
  httplib::Client client() const {
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(5s);
    cli.set_read_timeout(10s);
    return cli;
  }
};

// GETs `path` until `done(body)` holds, for up to 30 s; returns the last body.
template <class Pred>
std::string get_until(const HttpCoordinator& h, const std::string& path, Pred done) {
  auto deadline = Clock::now() + 30s;
  for (;;) {
    auto cli = h.client();
    auto res = cli.Get(path);
    REQUIRE_MESSAGE(res, "no answer to GET " << path << ": " << httplib::to_string(res.error()));
    REQUIRE_MESSAGE(res->status == 200, res->status << " " << res->body);
    if (done(res->body) || Clock::now() > deadline) return res->body;
  }
}

int status_of(httplib::Result res) {
  return res ? res->status : -1;
}

// Connects to 127.0.0.1:port, sends `bytes`, and reads until the head of an
// answer has come (its blank line), or the server closes, or 10 s pass.
std::string raw_exchange(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close before reading everything
    sent += static_cast<std::size_t>(n);
  }
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return got;
}

}  // namespace

TEST_CASE(
    "with --http the coordinator serves its status as JSON, and metrics that promtool accepts, "
    "with the node's label") {
  FreshConfig config;
  HttpCoordinator h({"--http", "127.0.0.1:0"});
  CHECK(contains(h.log_line, "metrics at http://127.0.0.1:" + std::to_string(h.port) + "/metrics"));
  ts::Worker w(h.c.address, "--load", 2, "http-node");

  auto json = get_until(h, "/api/status",
                        [](const std::string& b) { return contains(b, "\"name\":\"http-node\""); });
  CHECK(json.starts_with("{\"address\":\"" + h.c.address + "\",\"coordinator\":\"coordinator\""));
  CHECK(contains(json, "\"nodes\":[{\"name\":\"http-node\""));
  CHECK(contains(json, "\"pid\":" + std::to_string(w.process.pid())));

  {
    dpool::Pool pool(dpool::Connect{.address = h.c.address});
    std::vector<int> xs(10, 1);
    CHECK(pool.map(test_tasks::square, xs, 1).size() == 10);
    CHECK_THROWS(pool.apply(test_tasks::throw_runtime, std::string("http-visible failure")));
  }
  json = get_until(h, "/api/status", [](const std::string& b) {
    return contains(b, "\"done\":11,\"failed\":1") && contains(b, "http-visible failure");
  });
  CHECK(contains(json,
                 "\"failures\":[{\"task\":\"throw_runtime\",\"node\":\"http-node\","
                 "\"error\":\"TaskRaised\",\"message\":\"http-visible failure\""));
  // The same JSON as `dpool status --json` (which leaves out only itself).
  auto cli = ts::run_to_end({DPOOL_BIN, "status", h.c.address, "--json"}, 30s);
  REQUIRE(cli.code == 0);
  // The same keys in the same order.
  auto key_order = [](const std::string& j) {
    std::vector<std::size_t> at;
    std::size_t from = 0;
    for (auto* key : {"\"address\":", "\"coordinator\":", "\"endpoint\":", "\"uptime_s\":",
                      "\"totals\":", "\"throughput\":", "\"manager\":", "\"nodes\":",
                      "\"clients\":", "\"longest_running\":", "\"failures\":"})
      at.push_back(from = j.find(key, from == std::string::npos ? j.size() : from));
    return at;
  };
  for (auto& at : {key_order(json), key_order(cli.output)})
    for (auto position : at) CHECK(position != std::string::npos);
  CHECK(cli.output.starts_with("{\"address\":\"" + h.c.address + "\""));
  CHECK(contains(cli.output, "\"nodes\":[{\"name\":\"http-node\""));

  auto history = h.client().Get("/api/history");
  REQUIRE(history);
  CHECK(history->status == 200);
  CHECK(history->body.starts_with("{\"samples\":[["));  // [uptime_s, done, queued], ...

  auto metrics = h.client().Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
  CHECK(contains(metrics->body, "\ndpool_nodes 1\n"));
  CHECK(contains(metrics->body, "\ndpool_executors 2\n"));
  CHECK(contains(metrics->body, "\ndpool_tasks_done_total 11\n"));
  CHECK(contains(metrics->body, "\ndpool_tasks_failed_total 1\n"));
  CHECK(contains(metrics->body, "dpool_node_busy{node=\"http-node\"} "));
  CHECK(contains(metrics->body, "dpool_node_done_total{node=\"http-node\"} 11\n"));
  CHECK(contains(metrics->body, "dpool_node_heartbeat_age_seconds{node=\"http-node\"} "));

  auto file = config.root + "/metrics.txt";
  std::ofstream(file) << metrics->body;
  auto promtool =
      ts::run_to_end({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file}, 60s);
  MESSAGE("promtool check metrics: exit " << promtool.code << ", output: " << promtool.output);
  CHECK(promtool.code == 0);
  CHECK(promtool.output.empty());  // no lint complaints either
}

TEST_CASE(
    "on a non-loopback address requests need the token: 401 without it, 200 with it as a "
    "header or a query parameter") {
  FreshConfig config;
  HttpCoordinator h({"--http", "0.0.0.0:0", "--http-token", "s3cret-token"});
  auto cli = h.client();
  auto denied = cli.Get("/api/status");
  REQUIRE(denied);
  CHECK(denied->status == 401);
  CHECK(denied->get_header_value("WWW-Authenticate") == "Bearer");
  CHECK(status_of(cli.Get("/metrics")) == 401);
  CHECK(status_of(cli.Get("/")) == 401);
  CHECK(status_of(cli.Get("/api/status", {{"Authorization", "Bearer wrong"}})) == 401);
  CHECK(status_of(cli.Get("/api/status?token=wrong")) == 401);

  CHECK(status_of(cli.Get("/api/status", {{"Authorization", "Bearer s3cret-token"}})) == 200);
  CHECK(status_of(cli.Get("/metrics?token=s3cret-token")) == 200);
  auto page = cli.Get("/?token=s3cret-token");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(contains(page->body, "<title>dpool dashboard</title>"));
}

TEST_CASE(
    "without --http-token a non-loopback address gets a token made 0600 in the key directory, "
    "and the log says where") {
  FreshConfig config;
  HttpCoordinator h({"--http", "0.0.0.0:0"});
  auto path = config.keys() + "/http.token";
  CHECK(contains(h.log_line, path));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string token;
  std::getline(std::ifstream(path), token);
  CHECK(token.size() >= 32);
  CHECK_FALSE(contains(h.c.process.output(), token));  // the log names the file, not the token

  auto cli = h.client();
  CHECK(status_of(cli.Get("/api/status")) == 401);
  CHECK(status_of(cli.Get("/api/status", {{"Authorization", "Bearer " + token}})) == 200);
}

TEST_CASE("on loopback without a token, a request naming another host is refused (DNS rebinding)") {
  FreshConfig config;
  HttpCoordinator h({"--http", "127.0.0.1:0"});
  auto cli = h.client();
  CHECK(status_of(cli.Get("/api/status")) == 200);
  CHECK(status_of(cli.Get("/api/status", {{"Host", "attacker.example:80"}})) == 403);
  CHECK(status_of(cli.Get("/", {{"Host", "localhost:" + std::to_string(h.port)}})) == 200);
}

TEST_CASE(
    "garbage on the HTTP port gets 400 or a closed connection, and the coordinator answers after") {
  FreshConfig config;
  HttpCoordinator h({"--http", "127.0.0.1:0"});
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary += static_cast<char>((i * 7919) & 0xff);
  auto reply = raw_exchange(h.port, binary);
  CHECK((reply.empty() || reply.starts_with("HTTP/1.1 400")));
  CHECK(raw_exchange(h.port, "GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400"));
  CHECK(raw_exchange(h.port, "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\n\r\n")
            .starts_with("HTTP/1.1 4"));  // 414, or 400: the line is too long
  auto big = raw_exchange(h.port,
                          "POST /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                          "100000000\r\n\r\n" +
                              std::string(70000, 'x'));
  CHECK((big.empty() || big.starts_with("HTTP/1.1 4")));  // 413 past the 64 KiB cap
  CHECK(raw_exchange(h.port, "GET /nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .starts_with("HTTP/1.1 404"));

  auto cli = h.client();
  CHECK(status_of(cli.Get("/api/status")) == 200);
  CHECK(status_of(cli.Get("/metrics")) == 200);
  CHECK(h.c.process.wait_exit(0ms) == -1);  // still running
}

TEST_CASE("an --http address that is none of PORT or HOST:PORT stops the coordinator at start") {
  FreshConfig config;
  auto r = ts::run_to_end(
      {DPOOL_BIN, "coordinator", "--bind", "tcp://127.0.0.1:*", "--http", "127.0.0.1:port"}, 30s);
  CHECK(r.code == 1);
  CHECK(contains(r.output, "the HTTP address '127.0.0.1:port' is none of PORT, HOST:PORT"));
}
