// `dpool status` end to end: a real coordinator and worker, the command run
// as a user runs it, and what it prints checked; and the two ways it fails
// (nothing listens, the key is refused), each within its timeout. Waits are
// on events: the command is run again until the count it should show is
// there, bounded by a deadline.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <dpool/dpool.hpp>
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

// `dpool ARGS...` run to its end (at most `limit`).
ts::Run run_dpool(std::vector<std::string> args, std::chrono::milliseconds limit = 30s) {
  args.insert(args.begin(), DPOOL_BIN);
  return ts::run_to_end(std::move(args), limit);
}

using test_support::contains;

// The number after "KEY": inside the object "OBJECT": {...} of `json`.
std::uint64_t field(const std::string& json, const std::string& object, const std::string& key) {
  auto at = json.find("\"" + object + "\":{");
  REQUIRE_MESSAGE(at != std::string::npos, "no " << object << " in " << json);
  auto end = json.find('}', at);
  auto k = json.find("\"" + key + "\":", at);
  REQUIRE_MESSAGE((k != std::string::npos && k < end), "no " << key << " in " << json);
  return std::strtoull(json.c_str() + k + key.size() + 3, nullptr, 10);
}

// The top-level number "KEY": of `json`.
double top_number(const std::string& json, const std::string& key) {
  auto k = json.find("\"" + key + "\":");
  REQUIRE_MESSAGE(k != std::string::npos, "no " << key << " in " << json);
  return std::strtod(json.c_str() + k + key.size() + 3, nullptr);
}

// Runs `dpool status --json` until `done(json)` holds, for up to 30 s;
// returns the last answer.
template <class Pred>
std::string status_until(const std::string& address, Pred done) {
  auto deadline = Clock::now() + 30s;
  for (;;) {
    auto r = run_dpool({"status", address, "--json"});
    REQUIRE_MESSAGE(r.code == 0, r.output);
    if (done(r.output) || Clock::now() > deadline) return r.output;
  }
}

// A loopback port where nothing listens: bound, read and closed again.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("dpool status shows the coordinator's worker, and its done count rises as tasks finish") {
  FreshConfig config;
  ts::Coordinator c;
  ts::Worker w(c.address, "--load", 2, "status-node");

  auto first = status_until(
      c.address, [](const std::string& json) { return field(json, "totals", "executors") == 2; });
  CHECK(field(first, "totals", "nodes") == 1);
  CHECK(field(first, "totals", "executors") == 2);
  CHECK(field(first, "totals", "done") == 0);
  CHECK(contains(first, "\"nodes\":[{\"name\":\"status-node\""));
  CHECK(contains(first, "\"pid\":" + std::to_string(w.process.pid())));
  CHECK(contains(first, "\"address\":\"" + c.address + "\""));

  {
    dpool::Pool pool(dpool::Connect{.address = c.address});
    std::vector<int> xs(20);
    for (int i = 0; i < 20; ++i) xs[static_cast<std::size_t>(i)] = i;
    CHECK(pool.map(test_tasks::square, xs, 1).size() == 20);  // one task each, no chunks

    auto after = status_until(
        c.address, [](const std::string& json) { return field(json, "totals", "done") >= 20; });
    CHECK(field(after, "totals", "done") == 20);
    CHECK(field(after, "totals", "failed") == 0);
    CHECK(top_number(after, "throughput") > 0);     // 20 tasks within the last minute
    CHECK(field(after, "totals", "clients") == 1);  // this pool; the asking command is left out
    CHECK(contains(after,
                   "\"waiting\":0,\"processes\":0,\"done\":20,\"failed\":0"));  // the node's own
    CHECK(contains(after, "\"clients\":[{\"name\":\"client:" + std::to_string(::getpid())));

    CHECK_THROWS(pool.apply(test_tasks::throw_runtime, std::string("shown in the table")));
    auto table = run_dpool({"status", c.address});
    CHECK(table.code == 0);
    CHECK(contains(table.output, "coordinator " + c.address));
    CHECK(contains(table.output, "1 node, 2 executors"));
    CHECK(contains(table.output, "status-node"));
    CHECK(contains(table.output, "HEARTBEAT"));
    CHECK(contains(table.output, "client:" + std::to_string(::getpid())));
    CHECK(contains(table.output, "21 done, 1 failed"));
    CHECK(contains(table.output, "RECENT FAILURES"));
    CHECK(contains(table.output, "throw_runtime on status-node: TaskRaised: shown in the table"));
    CHECK(contains(table.output, "tasks/s over the last minute"));
  }
}

TEST_CASE(
    "dpool status where nothing listens exits 1 within its connect timeout, naming the address") {
  FreshConfig config;
  dpool::generate_keys(config.keys());  // keys to connect with: only the answer is missing
  auto address = "tcp://127.0.0.1:" + std::to_string(free_port());
  auto t0 = Clock::now();
  auto r = run_dpool({"status", address, "--connect-timeout", "2s"});
  CHECK_WITHIN(t0, 20);
  CHECK(r.code == 1);
  CHECK(contains(r.output, "no coordinator answered"));
  CHECK(contains(r.output, address));
  CHECK(contains(r.output, "dpool coordinator --bind"));
}

TEST_CASE("dpool status with a key the coordinator does not allow exits 1 saying it was refused") {
  FreshConfig config;
  ts::Coordinator c;
  auto other = config.root + "/other";
  dpool::generate_keys(other);
  // This coordinator's public key, with a client key of another set.
  auto stranger =
      ts::stranger_dir(config.root + "/stranger", config.keys(), other + "/client.key", "client");

  auto t0 = Clock::now();
  auto r = run_dpool({"status", c.address, "--keys", stranger, "--connect-timeout", "8s"});
  CHECK_WITHIN(t0, 20);
  CHECK(r.code == 1);
  CHECK(contains(r.output, "refused"));
  CHECK(contains(r.output, "does not have this client's CurveZMQ key"));
  CHECK(contains(r.output, c.address));
}

TEST_CASE("an embedded coordinator reports its clients in-process, the one that asks left out") {
  dpool::Coordinator c;
  auto empty = dpool::cluster_status(c);
  CHECK(empty.nodes.empty());
  CHECK(empty.clients.empty());
  CHECK(empty.endpoint.empty());
  dpool::Pool pool(c);
  auto one = dpool::cluster_status(c);
  REQUIRE(one.clients.size() == 1);
  CHECK(one.clients[0].name == "client:" + std::to_string(::getpid()));
  CHECK(one.clients[0].address.empty());
  CHECK(one.uptime_ms >= empty.uptime_ms);
}

TEST_CASE("dpool status --watch prints again until Ctrl-C, and then exits 0") {
  FreshConfig config;
  ts::Coordinator c;
  ts::Child watch({DPOOL_BIN, "status", c.address, "--json", "--watch", "0.2"});
  watch.wait_line("\"uptime_s\"", 20s);
  auto second = watch.wait_line("\"uptime_s\"", 20s);  // a line after the first
  CHECK(contains(second, "\"totals\":{\"nodes\":0"));
  auto t0 = Clock::now();
  watch.signal(SIGINT);
  int status = watch.wait_exit(20s);
  CHECK_WITHIN(t0, 10);
  REQUIRE(status >= 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
