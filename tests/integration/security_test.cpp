// Security end to end: real `dpool` processes, real keys. Each case gets a
// configuration directory of its own (XDG_CONFIG_HOME), so its coordinator
// makes a key set there on first start, as on a user's first run.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <ranges>
#include <sstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "config_dirs.hpp"
#include "curve_keys.hpp"
#include "keys.hpp"
#include "processes.hpp"
#include "protocol.hpp"
#include "test_tasks.hpp"
#include "text.hpp"
#include "timing.hpp"
#include "zmq_socket.hpp"

using namespace std::chrono_literals;
using test_support::Clock;
namespace fs = std::filesystem;
namespace tt = test_tasks;
namespace ts = test_support;
using test_support::FreshConfig;
using test_support::stranger_dir;
namespace wire = dpool::internal::wire;

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Reads a child's output until it ends (the child exits), so that output()
// has all of it; a child still writing after `limit` fails the wait_line.
void read_to_end(ts::Child& child, std::chrono::milliseconds limit) {
  try {
    child.wait_line("\x01never printed", limit);
  } catch (const std::runtime_error& e) {
    if (!std::string(e.what()).starts_with("output ended")) throw;
  }
}

// `dpool ARGS...` run to its end: the exit status (-1 if it did not end in
// time) and its output.
std::pair<int, std::string> run_dpool(std::vector<std::string> args) {
  args.insert(args.begin(), DPOOL_BIN);
  ts::Child child(std::move(args));
  read_to_end(child, 20s);
  int status = child.wait_exit(20s);
  return {status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, child.output()};
}

using test_support::contains;

// The ConnectionError of a Pool that cannot connect, and the time it took.
std::pair<std::string, double> connect_error(const dpool::Connect& connect) {
  auto t0 = Clock::now();
  try {
    dpool::Pool pool(connect);
  } catch (const dpool::ConnectionError& e) {
    return {e.what(), ts::seconds_since(t0)};
  }
  FAIL("the pool connected");
  return {};
}

// Waits for a socket monitor's next event of the given kinds; returns {event, value}.
std::pair<int, std::uint32_t> next_event(zmq::socket_t& monitor, std::chrono::milliseconds limit) {
  monitor.set(zmq::sockopt::rcvtimeo, static_cast<int>(limit.count()));
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(monitor, std::back_inserter(frames)) || frames[0].size() < 6)
    throw std::runtime_error("no socket event in time");
  std::uint16_t event;
  std::uint32_t value;
  std::memcpy(&event, frames[0].data(), sizeof event);
  std::memcpy(&value, static_cast<const char*>(frames[0].data()) + sizeof event, sizeof value);
  return {event, value};
}

std::vector<zmq::message_t> to_zmq(const dpool::internal::Payloads& frames) {
  std::vector<zmq::message_t> out;
  for (auto& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

// A raw DEALER holding this account's key of `role`, connected to `address`;
// a receive waits 10 s at most.
zmq::socket_t raw_dealer(zmq::context_t& ctx, const std::string& address, const std::string& role) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvtimeo, 10000);
  ts::use_keys(s, role);
  s.connect(address);
  return s;
}

std::size_t count_lines(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (contains(line, part)) ++n;
  return n;
}

}  // namespace

TEST_CASE(
    "a coordinator with no keys makes them on first start, says where, and its account's "
    "worker and client connect with no flags") {
  FreshConfig config;
  ts::Coordinator c;
  const auto& out = c.process.output();
  CHECK(contains(out, "made a key set in " + config.keys()));
  CHECK(contains(out, "CurveZMQ on " + c.address));
  CHECK(mode_of(config.keys()) == 0700);
  for (auto* f : {"coordinator.key", "coordinator.pub", "node.key", "client.key"})
    CHECK(mode_of(config.keys() + "/" + f) == 0600);
  ts::Worker worker(c.address, "--exec", 1, "first-start");
  dpool::Pool pool(dpool::Connect{.address = c.address});
  CHECK(pool.apply(tt::square, 7) == 49);

  // A second start uses the same set and does not say it made one.
  ts::Coordinator again;
  CHECK_FALSE(contains(again.process.output(), "made a key set"));
  CHECK(contains(again.process.output(), "with the keys in " + config.keys()));
}

TEST_CASE("dpool keygen writes 0600 files in a 0700 directory and never overwrites a key set") {
  FreshConfig config;
  auto dir = config.root + "/made/by/keygen";
  auto [status, out] = run_dpool({"keygen", dir});
  REQUIRE_MESSAGE(status == 0, out);
  CHECK(contains(out, "wrote a key set to " + dir));
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(config.root + "/made") == 0700);  // missing parents too
  std::size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename() == ".lock") continue;
    CHECK_MESSAGE(mode_of(e.path()) == (e.is_directory() ? 0700u : 0600u), e.path());
    files += e.is_regular_file();
  }
  CHECK(files ==
        6);  // coordinator.key/.pub, node.key, client.key, nodes/node.pub, clients/client.pub
  auto secret = read_file(dir + "/coordinator.key");
  CHECK(contains(secret, "secret-key"));
  CHECK_FALSE(contains(read_file(dir + "/coordinator.pub"), "secret-key"));

  auto [again, again_out] = run_dpool({"keygen", dir});
  CHECK(again != 0);
  CHECK(contains(again_out, "holds a key set already"));
  CHECK(read_file(dir + "/coordinator.key") == secret);

  auto [added, added_out] = run_dpool({"keygen", "--add", "node", "host2", dir});
  REQUIRE_MESSAGE(added == 0, added_out);
  CHECK(mode_of(dir + "/host2.key") == 0600);
  CHECK(mode_of(dir + "/nodes/host2.pub") == 0600);
  auto [twice, twice_out] = run_dpool({"keygen", "--add", "node", "host2", dir});
  CHECK(twice != 0);
  CHECK(contains(twice_out, "no key is overwritten"));
}

TEST_CASE(
    "a client whose key is on no allow-list gets a ConnectionError saying so, within its "
    "connect timeout") {
  FreshConfig config;
  ts::Coordinator c;
  auto other = config.root + "/other";
  dpool::generate_keys(other);

  // This coordinator's public key, but a client key it never allowed.
  auto stranger =
      stranger_dir(config.root + "/stranger", config.keys(), other + "/client.key", "client");
  auto [why, took] =
      connect_error({.address = c.address, .key_file = stranger, .connect_timeout = 8000ms});
  CHECK(contains(why, "refused"));
  CHECK(contains(why, "does not have this client's CurveZMQ key"));
  CHECK(contains(why, stranger + "/client.key"));
  CHECK(took < 8.0);
  c.process.wait_line("which is on neither allow-list", 10s);

  // Another coordinator's keys altogether: its public key is not this one's.
  auto [why2, took2] =
      connect_error({.address = c.address, .key_file = other, .connect_timeout = 8000ms});
  CHECK(contains(why2, "refused"));
  CHECK(contains(why2, other + "/coordinator.pub"));
  CHECK(took2 < 8.0);

  // No key at all.
  auto [why3, took3] = connect_error(
      {.address = c.address, .key_file = config.root + "/nowhere", .connect_timeout = 8000ms});
  CHECK(contains(why3, "no CurveZMQ key"));
  CHECK(took3 < 8.0);
}

TEST_CASE("a client key cannot register a node, and a node key cannot submit") {
  FreshConfig config;
  ts::Coordinator c;
  {
    ts::Child worker({DPOOL_BIN, "worker", "--connect", c.address, "--procs", "1", "--keys",
                      config.keys() + "/client.key", "--exec", TEST_TASK_HOST, "--log", "warn"});
    read_to_end(worker, 20s);
    int status = worker.wait_exit(20s);
    REQUIRE(status != -1);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    CHECK(contains(worker.output(), "cannot register as a node"));
    c.process.wait_line("HELLO as a node with a client key", 10s);
  }

  auto [why, took] = connect_error(
      {.address = c.address, .key_file = config.keys() + "/node.key", .connect_timeout = 8000ms});
  CHECK(contains(why, "cannot register as a client"));
  CHECK(took < 8.0);
  c.process.wait_line("HELLO as a client with a node key", 10s);

  // A node, registered with its own key, may still not submit.
  zmq::context_t ctx;
  auto s = raw_dealer(ctx, c.address, "node");
  zmq::send_multipart(s, to_zmq(wire::encode(wire::Message{
                             wire::Hello{.role = wire::Role::kNode, .name = "raw-node"}, {}})));
  std::vector<zmq::message_t> reply;
  REQUIRE(zmq::recv_multipart(s, std::back_inserter(reply)));
  zmq::send_multipart(s, to_zmq(wire::encode(wire::Message{wire::Submit{}, {}})));
  c.process.wait_line("a SUBMIT, which a node may not send", 10s);
}

TEST_CASE("a key on no allow-list gets nothing: its handshake is refused before any message") {
  FreshConfig config;
  ts::Coordinator c;
  auto keys = dpool::internal::find_peer_keys("", "client");
  auto stranger = dpool::internal::make_key_pair();
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  dpool::internal::make_curve_client(s, stranger, keys.server_public);
  REQUIRE(zmq_socket_monitor(s.handle(), "inproc://stranger-monitor",
                             ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0);
  zmq::socket_t monitor(ctx, zmq::socket_type::pair);
  monitor.connect("inproc://stranger-monitor");
  s.connect(c.address);
  zmq::send_multipart(s, to_zmq(wire::encode(wire::Message{wire::Hello{}, {}})));
  auto [event, status] = next_event(monitor, 10s);
  CHECK(event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  CHECK(status == 400);
  zmq::message_t m;
  CHECK_FALSE(s.recv(m, zmq::recv_flags::dontwait));
  auto line = c.process.wait_line("which is on neither allow-list", 10s);
  CHECK(contains(line, stranger.public_key));
}

TEST_CASE("--insecure serves in the clear with a warning; each side refuses the other clearly") {
  FreshConfig config;
  dpool::generate_keys(config.keys());  // so that the secure client has keys to offer
  {
    ts::Coordinator clear({"--insecure"});
    CHECK(contains(clear.process.output(), "in the clear (--insecure)"));
    ts::Worker worker(clear.address, "--exec", 1, "clear-node", {"--insecure"});
    dpool::Pool pool(dpool::Connect{.address = clear.address, .insecure = true});
    CHECK(pool.apply(tt::square, 6) == 36);
    auto [why, took] = connect_error({.address = clear.address, .connect_timeout = 8000ms});
    // libzmq reports a mechanism mismatch, or only the closed handshake.
    CHECK(contains(why, "serves in the clear"));
    CHECK(contains(why, "--insecure"));
    CHECK(took < 8.0);
  }
  ts::Coordinator secure;
  auto [why, took] =
      connect_error({.address = secure.address, .connect_timeout = 8000ms, .insecure = true});
  // Which side notices first varies (a mechanism mismatch, or the
  // coordinator closing the handshake); either way the reason is named.
  CHECK(contains(why, "uses CurveZMQ"));
  CHECK(contains(why, "in the clear"));
  CHECK(contains(why, "Connect::insecure"));
  CHECK(took < 8.0);
}

TEST_CASE(
    "garbage under a valid client key is refused, counted, logged at a bounded rate, and "
    "its sender dropped") {
  FreshConfig config;
  ts::Coordinator c;
  ts::Worker worker(c.address, "--exec", 1, "garbage-node");
  zmq::context_t ctx;
  auto s = raw_dealer(ctx, c.address, "client");
  constexpr int kSent = 20000;
  std::mt19937 rng(11);
  for (int i = 0; i < kSent; ++i) {
    std::vector<zmq::message_t> frames;
    int n = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < n; ++f) {
      std::string bytes(1 + rng() % 48, '\0');
      for (auto& ch : bytes) ch = static_cast<char>(rng());
      if (f == 0) bytes[0] = 'X';  // never the protocol's magic: always malformed
      frames.emplace_back(bytes.data(), bytes.size());
    }
    zmq::send_multipart(s, frames);
  }
  // Counted: wait until the coordinator says it has refused or ignored them all.
  auto drop_line = c.process.wait_line("dropped it after 100 refusals", 30s);
  CHECK(contains(drop_line, "(100 from it so far)"));
  auto first = c.process.output().find("refused a message from peer");
  REQUIRE(first != std::string::npos);
  CHECK(contains(c.process.output().substr(first, 300), "(1 from it so far)"));
  std::uint64_t counted = 0;
  while (counted < kSent) {
    auto line = c.process.wait_line("refused or ignored since start", 30s);
    auto end = line.find(" refused or ignored since start");
    counted = std::stoull(line.substr(line.rfind(' ', end - 1) + 1));
  }
  CHECK(counted == kSent);

  // Bounded: a few lines for 20,000 messages, not one each. Each line of the
  // peer's own is its first refusal, a summary per interval, or the drop.
  const auto& out = c.process.output();
  INFO("coordinator log for " << kSent << " bad messages:\n" << out);
  auto own = count_lines(out, "refused a message from peer");
  auto summaries = count_lines(out, "more message(s) from peer");
  auto ignored = count_lines(out, "from dropped connections");
  CHECK(own == 2);  // the first refusal, and the one that dropped it
  CHECK(summaries <= 1);
  CHECK(ignored >= 1);
  CHECK(std::count(out.begin(), out.end(), '\n') < 40);

  // The coordinator still serves everyone else.
  dpool::Pool pool(dpool::Connect{.address = c.address});
  CHECK(pool.apply(tt::square, 4) == 16);
}

TEST_CASE(
    "a key added to an allow-list is accepted without a restart, and a key taken off it is "
    "refused and its peers dropped") {
  FreshConfig config;
  ts::Coordinator c;
  ts::Worker worker(c.address, "--exec", 1, "revocation-node");
  dpool::add_key(config.keys(), "client", "alice");
  dpool::Pool alice(dpool::Connect{
      .address = c.address, .key_file = config.keys() + "/alice.key", .connect_timeout = 8000ms});
  CHECK(alice.apply(tt::square, 3) == 9);
  c.process.wait_line("with the key client:alice", 10s);
  auto waiting = alice.apply_async(tt::sleep_ms, 60000);

  fs::remove(config.keys() + "/clients/alice.pub");
  auto line = c.process.wait_line("no longer on the allow-lists", 10s);
  CHECK(contains(line, "client:alice"));
  // Its task in flight fails at once: the coordinator said why before it
  // stopped listening to that connection.
  try {
    waiting.get(20s);
    FAIL("expected ConnectionError");
  } catch (const dpool::ConnectionError& e) {
    CHECK(contains(e.what(), "taken off the coordinator's allow-lists"));
  }
  auto [why, took] = connect_error(
      {.address = c.address, .key_file = config.keys() + "/alice.key", .connect_timeout = 8000ms});
  CHECK(contains(why, "does not have this client's CurveZMQ key"));
  CHECK(took < 8.0);
  // The other client key still works.
  dpool::Pool other(dpool::Connect{.address = c.address});
  CHECK(other.apply(tt::square, 5) == 25);

  // A worker whose node key is taken off stops, saying why.
  dpool::add_key(config.keys(), "node", "host2");
  ts::Worker host2(c.address, "--exec", 1, "host2", {"--keys", config.keys() + "/host2.key"});
  fs::remove(config.keys() + "/nodes/host2.pub");
  host2.process.wait_line("taken off the coordinator's allow-lists", 10s);
  CHECK(host2.process.wait_exit(20s) != -1);
}

TEST_CASE(
    "a node that heartbeats but never answers cannot keep tasks: those its heartbeats do not "
    "list run elsewhere after the node timeout") {
  FreshConfig config;
  // A node timeout of 40 heartbeats: the raw node below heartbeats from a
  // thread of this test, which AddressSanitizer and a loaded CI machine can
  // hold up for more than 500 ms (the coordinator then declared it dead, and
  // the line awaited below never came).
  ts::Coordinator c({"--heartbeat", "50ms", "--node-timeout", "2s"});
  // A node with a real node key that says HELLO, then only heartbeats (and
  // lists nothing): every task it is given stays unanswered.
  zmq::context_t ctx;
  auto s = raw_dealer(ctx, c.address, "node");
  zmq::send_multipart(s, to_zmq(wire::encode(wire::Message{wire::Hello{.role = wire::Role::kNode,
                                                                       .name = "silent-node",
                                                                       .executors = 4,
                                                                       .slots = 8,
                                                                       .instance = 7},
                                                           {}})));
  std::vector<zmq::message_t> welcome;
  REQUIRE(zmq::recv_multipart(s, std::back_inserter(welcome)));
  std::atomic<bool> stop{false};
  std::atomic<int> dispatches{0};
  std::thread silent([&] {
    s.set(zmq::sockopt::rcvtimeo, 50);
    while (!stop) {
      zmq::send_multipart(s, to_zmq(wire::encode(wire::Message{wire::Heartbeat{}, {}})));
      std::vector<zmq::message_t> frames;
      while (zmq::recv_multipart(s, std::back_inserter(frames))) {
        if (frames.size() >= 2 && frames[0].size() == wire::kHeaderBytes &&
            static_cast<const unsigned char*>(frames[0].data())[6] == wire::Dispatch::kKind.number)
          ++dispatches;
        frames.clear();
      }
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      t.join();
    }
  } join{stop, silent};

  dpool::Pool pool(
      dpool::Connect{.address = c.address, .heartbeat = 50ms, .coordinator_timeout = 500ms});
  // Tasks go to the silent node first (it is the only one), then a real
  // node joins: the map completes, every result correct.
  auto squares = pool.map_async(tt::square, std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}, 1);
  c.process.wait_line("has not listed", 30s);
  CHECK(dispatches.load() >= 1);
  ts::Worker honest(c.address, "--exec", 2, "honest-node", {"--heartbeat", "50ms"});
  CHECK(squares.get(60s) == std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49});
  // The silent node, suspected, gets no more work.
  int before = dispatches.load();
  CHECK(pool.map(tt::square, std::vector<int>{1, 2, 3}, 1) == std::vector<int>{1, 4, 9});
  CHECK(dispatches.load() == before);
}

TEST_CASE("rogue nodes without a known key get no task while a map runs; every result is right") {
  FreshConfig config;
  ts::Coordinator c;
  ts::Worker honest(c.address, "--exec", 2, "honest-node");
  dpool::Pool pool(dpool::Connect{.address = c.address});
  auto squares = pool.map_async(tt::square, std::views::iota(0, 400), 1);
  // One with a key of its own, one in the clear: both say HELLO as nodes
  // with plenty of slots, again and again, while the map runs.
  zmq::context_t ctx;
  auto keys = dpool::internal::find_peer_keys("", "node");
  auto stranger = dpool::internal::make_key_pair();
  zmq::socket_t keyed(ctx, zmq::socket_type::dealer), clear(ctx, zmq::socket_type::dealer);
  for (auto* s : {&keyed, &clear}) {
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::sndtimeo, 100);
  }
  dpool::internal::make_curve_client(keyed, stranger, keys.server_public);
  keyed.connect(c.address);
  clear.connect(c.address);
  wire::Hello hello{.role = wire::Role::kNode, .name = "rogue-3", .executors = 64, .slots = 64};
  int tries = 0;
  while (!squares.ready() && tries < 200) {
    for (auto* s : {&keyed, &clear}) {
      try {
        zmq::send_multipart(*s, to_zmq(wire::encode(wire::Message{hello, {}})));
      } catch (const zmq::error_t&) {  // no connection to queue on: refused
      }
      zmq::message_t m;
      CHECK_FALSE(s->recv(m, zmq::recv_flags::dontwait));  // never a WELCOME, never a task
    }
    squares.wait(10ms);  // bounded: the map's own pace sets how many tries there are
    ++tries;
  }
  auto got = squares.get(60s);
  REQUIRE(got.size() == 400);
  for (int i = 0; i < 400; ++i) CHECK(got[static_cast<std::size_t>(i)] == i * i);
  auto status = dpool::cluster_status(dpool::Connect{.address = c.address});
  REQUIRE(status.nodes.size() == 1);
  CHECK(status.nodes[0].name == "honest-node");
}
