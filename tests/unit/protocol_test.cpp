// The wire codec (libshared/src/protocol.hpp): every message kind round-trips
// field by field, the kind table maps numbers to names and handlers, and
// hostile input of every shape comes back as a DecodeError value, never an
// exception or a disproportionate allocation.
#include "protocol.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "allocation_tracking.hpp"
#include "payloads.hpp"

namespace {

using namespace dpool::internal;
using test_support::copy_of;
using test_support::largest_allocation_during;
using test_support::payload;
using test_support::payloads_of;
using test_support::str;
using wire::DecodeError;
using wire::KindInfo;
using Reason = DecodeError::Reason;

// The frames of a message of `body` with `payloads`.
template <class B>
Payloads frames(B body, Payloads payloads = {}) {
  return wire::encode(wire::Message{std::move(body), std::move(payloads)});
}

// A valid header for kind `number` with `version`.
std::string header(std::uint16_t number, std::uint16_t version = wire::kVersion) {
  std::string h = "DPOL";
  h += static_cast<char>(version & 0xff);
  h += static_cast<char>(version >> 8);
  h += static_cast<char>(number & 0xff);
  h += static_cast<char>(number >> 8);
  return h;
}
template <class B>
std::string header_of(std::uint16_t version = wire::kVersion) {
  return header(B::kKind.number, version);
}

// Every kind in the table, in the order of wire::Body.
template <std::size_t... I>
std::vector<const KindInfo*> kinds_of(std::index_sequence<I...>) {
  return {&std::variant_alternative_t<I, wire::Body>::kKind...};
}
const std::vector<const KindInfo*> kAllKinds =
    kinds_of(std::make_index_sequence<std::variant_size_v<wire::Body>>{});

wire::Task sample_task(std::uint64_t id) {
  wire::Task t;
  t.id = id;
  t.name = "unit.task_" + std::to_string(id);
  t.fingerprint = 0xfedcba9876543210ull + id;
  t.chunk = id % 2 == 1;
  t.attempt = 3 + static_cast<std::uint32_t>(id);
  t.timeout_ms = 1500;
  t.retries = 7;
  t.priority = -42;
  t.pool = 0xabcdef0000000000ull + id;
  if (id % 2 == 0) t.process = "Process-" + std::to_string(id);
  return t;
}

wire::PoolSettings sample_pool(std::uint64_t key) {
  wire::PoolSettings p;
  p.key = key;
  p.init_name = "unit.setup";
  p.init_fingerprint = 0x0123456789abcdefull;
  p.init_args = std::string("\0\x01args", 6);
  p.max_tasks_per_child = 25;
  return p;
}

void check_same_pool(const wire::PoolSettings& got, const wire::PoolSettings& want) {
  CHECK(got.key == want.key);
  CHECK(got.init_name == want.init_name);
  CHECK(got.init_fingerprint == want.init_fingerprint);
  CHECK(got.init_args == want.init_args);
  CHECK(got.max_tasks_per_child == want.max_tasks_per_child);
}

wire::Result sample_failure() {
  wire::Result r;
  r.id = 0x1122334455667788ull;
  r.failure.code = dpool::ErrorCode::kWorkerCrashed;
  r.failure.type = "std::runtime_error";
  r.failure.message = "segfault in task";
  r.failure.signal = 11;
  r.failure.exit_code = -1;
  r.node = "node-a";
  r.pid = 4242;
  r.attempts = 2;
  r.started_us = 1'700'000'000'000'000;
  r.finished_us = -5;
  return r;
}

wire::Request sample_request(std::uint64_t id) {
  return wire::Request{id, 3, 0x0102030405060708ull + id, 4321};
}

wire::Reply sample_reply(std::uint64_t id, dpool::ErrorCode code = dpool::ErrorCode::kNone) {
  wire::Reply r;
  r.id = id;
  r.failure.code = code;
  if (code != dpool::ErrorCode::kNone) {
    r.failure.type = "refusal";
    r.failure.message = "not this caller's task";
    r.failure.signal = 0;
    r.failure.exit_code = 5;
  }
  return r;
}

// A representative message of each kind, with payloads where the kind has them.
Payloads sample(const KindInfo& kind) {
  switch (kind.number) {
    case wire::Hello::kKind.number:
      return frames(wire::Hello{wire::Role::kNode, "node-1", 77, 8, 16, 99});
    case wire::Welcome::kKind.number:
      return frames(wire::Welcome{5, "coord", 12});
    case wire::Reject::kKind.number:
      return frames(wire::Reject{"go away"});
    case wire::Submit::kKind.number:
      return frames(wire::Submit{wire::TaskBatch{{sample_task(1), sample_task(2)}, {}}},
                    payloads_of({"args-1", "args-2"}));
    case wire::Dispatch::kKind.number:
      return frames(wire::Dispatch{wire::TaskBatch{{sample_task(1), sample_task(2)}, {}}},
                    payloads_of({"args-1", "args-2"}));
    case wire::Results::kKind.number:
      return frames(wire::Results{wire::ResultBatch{{sample_failure()}}}, payloads_of({""}));
    case wire::Deliver::kKind.number:
      return frames(wire::Deliver{wire::ResultBatch{{sample_failure()}}}, payloads_of({""}));
    case wire::Cancel::kKind.number:
      return frames(wire::Cancel{7, {1, 2, 3}, true, true});
    case wire::Credit::kKind.number:
      return frames(wire::Credit{6, 3});
    case wire::Heartbeat::kKind.number:
      return frames(wire::Heartbeat{});
    case wire::Bye::kKind.number:
      return frames(wire::Bye{"done"});
    case wire::Status::kKind.number:
      return frames(wire::Status{10, 2});
    case wire::Requests::kKind.number:
      return frames(wire::Requests{{sample_request(1), sample_request(2)}},
                    payloads_of({"call-1", "call-2"}));
    case wire::Replies::kKind.number:
      return frames(wire::Replies{{sample_reply(1), sample_reply(2, dpool::ErrorCode::kRefused)}},
                    payloads_of({"answer-1", ""}));
    case wire::Reclaim::kKind.number:
      return frames(wire::Reclaim{3});
    case wire::Returned::kKind.number:
      return frames(wire::Returned{{7, 0xffffffffffffffffull, 9}});
    case wire::Signal::kKind.number:
      return frames(wire::Signal{{4, 5}, 15});
    case wire::Output::kKind.number:
      return frames(wire::Output{"node-1", {wire::Lines{7, 4242, 2, "a line\n", 3}}});
    case wire::Code::kKind.number:
      return frames(wire::Code{3, "libtasks.so", std::string(64, 'a')}, payloads_of({"ELF"}));
    case wire::Loaded::kKind.number:
      return frames(wire::Loaded{3, false, "undefined symbol: f"});
  }
  FAIL("no sample message for kind " << kind.name << " (" << kind.number << ")");
  return {};
}

// Decodes without letting an exception escape the test's notice.
tl::expected<wire::Message, DecodeError> decode_nothrow(Payloads&& frames) {
  try {
    return wire::decode(std::move(frames));
  } catch (const std::exception& e) {
    FAIL("decode threw: " << e.what());
  } catch (...) {
    FAIL("decode threw a non-std exception");
  }
  return tl::unexpected(DecodeError{Reason::kBadBody, "unreachable"});
}

template <class T>
const T& body(const wire::Message& m) {
  REQUIRE(std::holds_alternative<T>(m.body));
  return std::get<T>(m.body);
}

template <class T>
bool is(const wire::Message& m) {
  return m.kind().number == T::kKind.number && std::holds_alternative<T>(m.body);
}

}  // namespace

TEST_CASE("the header frame is the magic, the version and the kind, little-endian") {
  auto f = frames(wire::Credit{1, 1});
  REQUIRE(f.size() == 2);
  CHECK(str(f[0]) == std::string("DPOL\x07\x00\x09\x00", 8));
  static_assert(wire::kVersion == 7);
}

TEST_CASE("every kind keeps its wire number, name and senders, and find_kind maps it back") {
  struct Row {
    std::uint16_t number;
    const char* name;
    std::uint8_t senders;
  };
  using wire::kByClient, wire::kByCoordinator, wire::kByNode;
  // Numbers travel: append, never renumber.
  const std::vector<Row> table{
      {1, "HELLO", kByClient | kByNode},
      {2, "WELCOME", kByCoordinator},
      {3, "REJECT", kByCoordinator},
      {4, "SUBMIT", kByClient},
      {5, "DISPATCH", kByCoordinator},
      {6, "RESULT", kByNode},
      {7, "DELIVER", kByCoordinator},
      {8, "CANCEL", kByClient | kByCoordinator},
      {9, "CREDIT", kByNode},
      {10, "HEARTBEAT", kByClient | kByNode | kByCoordinator},
      {11, "BYE", kByClient | kByNode | kByCoordinator},
      {12, "STATUS", kByCoordinator},
      {13, "REQUEST", kByClient | kByNode},
      {14, "REPLY", kByCoordinator},
      {15, "RECLAIM", kByCoordinator},
      {16, "RETURNED", kByNode},
      {17, "SIGNAL", kByClient | kByCoordinator},
      {18, "OUTPUT", kByNode | kByCoordinator},
      {19, "CODE", kByCoordinator},
      {20, "LOADED", kByNode},
  };
  REQUIRE(kAllKinds.size() == table.size());
  std::set<std::uint16_t> numbers;
  std::set<std::string> names;
  for (std::size_t i = 0; i < table.size(); ++i) {
    CAPTURE(i);
    const KindInfo& kind = *kAllKinds[i];
    CAPTURE(std::string(kind.name));
    CHECK(kind.number == table[i].number);
    CHECK(std::string(kind.name) == table[i].name);
    CHECK(kind.senders == table[i].senders);
    const KindInfo* found = wire::find_kind(kind.number);
    REQUIRE(found != nullptr);
    CHECK(found == &kind);
    CHECK(found->number == kind.number);
    CHECK(std::string(found->name) == kind.name);
    numbers.insert(kind.number);
    names.insert(kind.name);
    // A message's kind() is its body's entry, and survives a round trip.
    auto m = wire::decode(sample(kind));
    REQUIRE(m);
    CHECK(&m->kind() == &kind);
    CHECK(m->body.index() == i);
  }
  CHECK(numbers.size() == table.size());
  CHECK(names.size() == table.size());
  for (std::uint16_t n : {std::uint16_t{0}, std::uint16_t{21}, std::uint16_t{0xffff}}) {
    CAPTURE(n);
    CHECK(wire::find_kind(n) == nullptr);
  }
  CHECK(wire::sender_bit(wire::Role::kClient) == kByClient);
  CHECK(wire::sender_bit(wire::Role::kNode) == kByNode);
}

TEST_CASE("a HELLO round-trips with every field") {
  auto m = wire::decode(
      frames(wire::Hello{wire::Role::kNode, "node-1", 77, 8, 16, 0xdeadbeefcafef00dull}));
  REQUIRE(m);
  CHECK(is<wire::Hello>(*m));
  auto& h = body<wire::Hello>(*m);
  CHECK(h.role == wire::Role::kNode);
  CHECK(h.name == "node-1");
  CHECK(h.pid == 77);
  CHECK(h.executors == 8);
  CHECK(h.slots == 16);
  CHECK(h.instance == 0xdeadbeefcafef00dull);
  CHECK(m->payloads.empty());
}

TEST_CASE("a client HELLO keeps its role") {
  auto m = wire::decode(frames(wire::Hello{wire::Role::kClient, "c", 1, 0, 0, 1}));
  REQUIRE(m);
  CHECK(body<wire::Hello>(*m).role == wire::Role::kClient);
  CHECK(body<wire::Hello>(*m).pool.empty());
}

TEST_CASE("a client HELLO carries its pool's executor settings") {
  wire::Hello hello{wire::Role::kClient, "c", 1, 0, 0, 1};
  hello.pool = sample_pool(0);
  auto m = wire::decode(frames(hello));
  REQUIRE(m);
  check_same_pool(body<wire::Hello>(*m).pool, hello.pool);
}

TEST_CASE("a WELCOME round-trips with every field") {
  auto m = wire::decode(frames(wire::Welcome{0x0102030405060708ull, "head", 24, 250}));
  REQUIRE(m);
  CHECK(is<wire::Welcome>(*m));
  auto& w = body<wire::Welcome>(*m);
  CHECK(w.instance == 0x0102030405060708ull);
  CHECK(w.name == "head");
  CHECK(w.executors == 24);
  CHECK(w.heartbeat_ms == 250);
}

TEST_CASE("a REJECT round-trips its reason") {
  auto m = wire::decode(frames(wire::Reject{"wrong key"}));
  REQUIRE(m);
  CHECK(is<wire::Reject>(*m));
  CHECK(body<wire::Reject>(*m).reason == "wrong key");
}

TEST_CASE_TEMPLATE("a SUBMIT and a DISPATCH round-trip every task field and their payload frames",
                   B, wire::Submit, wire::Dispatch) {
  CAPTURE(std::string(B::kKind.name));
  std::string big(100'000, 'x');
  big[500] = '\0';
  auto t3 = sample_task(3);
  t3.priority = 2'000'000'000;
  auto f = frames(
      B{wire::TaskBatch{{sample_task(1), sample_task(2), t3}, {sample_pool(7), sample_pool(9)}}},
      payloads_of({"first", "", big}));
  REQUIRE(f.size() == 5);
  auto m = wire::decode(std::move(f));
  REQUIRE(m);
  CHECK(is<B>(*m));
  auto& b = body<B>(*m);
  REQUIRE(b.tasks.size() == 3);
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto want = i == 2 ? t3 : sample_task(i + 1);
    auto& got = b.tasks[i];
    CHECK(got.id == want.id);
    CHECK(got.name == want.name);
    CHECK(got.fingerprint == want.fingerprint);
    CHECK(got.chunk == want.chunk);
    CHECK(got.attempt == want.attempt);
    CHECK(got.timeout_ms == want.timeout_ms);
    CHECK(got.retries == want.retries);
    CHECK(got.priority == want.priority);
    CHECK(got.pool == want.pool);
    CHECK(got.process == want.process);
  }
  REQUIRE(b.pools.size() == 2);
  check_same_pool(b.pools[0], sample_pool(7));
  check_same_pool(b.pools[1], sample_pool(9));
  REQUIRE(m->payloads.size() == 3);
  CHECK(str(m->payloads[0]) == "first");
  CHECK(m->payloads[1].size() == 0);
  CHECK(str(m->payloads[2]) == big);
}

TEST_CASE_TEMPLATE("a RESULT and a DELIVER round-trip a success and a failure with every field", B,
                   wire::Results, wire::Deliver) {
  CAPTURE(std::string(B::kKind.name));
  wire::Result ok;
  ok.id = 1;
  ok.node = "n";
  ok.pid = 1;
  ok.attempts = 1;
  ok.started_us = 10;
  ok.finished_us = 20;
  auto m = wire::decode(
      frames(B{wire::ResultBatch{{ok, sample_failure()}}}, payloads_of({"result-bytes", ""})));
  REQUIRE(m);
  CHECK(is<B>(*m));
  auto& b = body<B>(*m);
  REQUIRE(b.results.size() == 2);
  CHECK(b.results[0].id == 1);
  CHECK(b.results[0].failure.code == dpool::ErrorCode::kNone);
  CHECK(b.results[0].failure.type.empty());
  CHECK(b.results[0].failure.exit_code == -1);
  CHECK(b.results[0].started_us == 10);
  CHECK(b.results[0].finished_us == 20);
  auto& f = b.results[1];
  auto want = sample_failure();
  CHECK(f.id == want.id);
  CHECK(f.failure.code == dpool::ErrorCode::kWorkerCrashed);
  CHECK(f.failure.type == "std::runtime_error");
  CHECK(f.failure.message == "segfault in task");
  CHECK(f.failure.signal == 11);
  CHECK(f.failure.exit_code == -1);
  CHECK(f.node == "node-a");
  CHECK(f.pid == 4242);
  CHECK(f.attempts == 2);
  CHECK(f.started_us == want.started_us);
  CHECK(f.finished_us == -5);
  REQUIRE(m->payloads.size() == 2);
  CHECK(str(m->payloads[0]) == "result-bytes");
  CHECK(m->payloads[1].size() == 0);
}

TEST_CASE("the wire-only codes kReturned, kBadMessage and kStarted round-trip in a RESULT") {
  static_assert(static_cast<int>(wire::kBadMessage) == 4);
  static_assert(static_cast<int>(wire::kReturned) == 13);
  static_assert(static_cast<int>(wire::kStarted) == 256);
  wire::Result returned;
  returned.id = 1;
  returned.failure.code = wire::kReturned;
  wire::Result bad;
  bad.id = 2;
  bad.failure.code = wire::kBadMessage;
  wire::Result started;
  started.id = 3;
  started.failure.code = wire::kStarted;
  started.pid = 4321;
  auto m = wire::decode(frames(wire::Results{wire::ResultBatch{{returned, bad, started}}},
                               payloads_of({"", "", ""})));
  REQUIRE(m);
  auto& b = body<wire::Results>(*m);
  REQUIRE(b.results.size() == 3);
  CHECK(b.results[0].failure.code == wire::kReturned);
  CHECK(b.results[1].failure.code == wire::kBadMessage);
  CHECK(b.results[2].failure.code == wire::kStarted);
  CHECK(b.results[2].pid == 4321);
}

TEST_CASE("a REQUEST and a REPLY round-trip every field and their payload frames") {
  std::string big(200'000, 'r');
  big[7] = '\0';
  auto req =
      wire::decode(frames(wire::Requests{{sample_request(1), sample_request(2), wire::Request{}}},
                          payloads_of({"args-1", big, ""})));
  REQUIRE(req);
  CHECK(is<wire::Requests>(*req));
  auto& requests = body<wire::Requests>(*req).requests;
  REQUIRE(requests.size() == 3);
  for (std::uint64_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    auto want = sample_request(i + 1);
    CHECK(requests[i].id == want.id);
    CHECK(requests[i].op == want.op);
    CHECK(requests[i].task == want.task);
    CHECK(requests[i].pid == want.pid);
  }
  CHECK(requests[2].id == 0);
  CHECK(requests[2].op == 0);
  CHECK(requests[2].task == 0);
  CHECK(requests[2].pid == 0);
  REQUIRE(req->payloads.size() == 3);
  CHECK(str(req->payloads[0]) == "args-1");
  CHECK(str(req->payloads[1]) == big);
  CHECK(req->payloads[2].size() == 0);

  auto rep = wire::decode(
      frames(wire::Replies{{sample_reply(5), sample_reply(6, dpool::ErrorCode::kRefused)}},
             payloads_of({"answer", ""})));
  REQUIRE(rep);
  CHECK(is<wire::Replies>(*rep));
  auto& replies = body<wire::Replies>(*rep).replies;
  REQUIRE(replies.size() == 2);
  CHECK(replies[0].id == 5);
  CHECK(replies[0].failure.code == dpool::ErrorCode::kNone);
  CHECK(replies[0].failure.type.empty());
  CHECK(replies[0].failure.message.empty());
  CHECK(replies[1].id == 6);
  CHECK(replies[1].failure.code == dpool::ErrorCode::kRefused);
  CHECK(replies[1].failure.type == "refusal");
  CHECK(replies[1].failure.message == "not this caller's task");
  CHECK(replies[1].failure.signal == 0);
  CHECK(replies[1].failure.exit_code == 5);
  REQUIRE(rep->payloads.size() == 2);
  CHECK(str(rep->payloads[0]) == "answer");
  CHECK(rep->payloads[1].size() == 0);
}

TEST_CASE("a REQUEST or a REPLY whose payload count does not match its batch is rejected") {
  auto fewer = sample(wire::Requests::kKind);  // two requests, two payloads
  REQUIRE(fewer.size() == 4);
  fewer.pop_back();
  auto r1 = decode_nothrow(std::move(fewer));
  REQUIRE_FALSE(r1);
  CHECK(r1.error().reason == Reason::kFrameCount);
  CHECK(r1.error().detail == "REQUEST declares 2 payloads but carries 1");

  auto more = sample(wire::Replies::kKind);  // two replies, two payloads
  REQUIRE(more.size() == 4);
  more.push_back(payload("extra"));
  auto r2 = decode_nothrow(std::move(more));
  REQUIRE_FALSE(r2);
  CHECK(r2.error().reason == Reason::kFrameCount);
  CHECK(r2.error().detail == "REPLY declares 2 payloads but carries 3");

  auto none = frames(wire::Replies{{sample_reply(1)}});  // encode does not check; decode does
  auto r3 = decode_nothrow(std::move(none));
  REQUIRE_FALSE(r3);
  CHECK(r3.error().reason == Reason::kFrameCount);
  CHECK(r3.error().detail == "REPLY declares 1 payloads but carries 0");
}

TEST_CASE("a CANCEL round-trips its ids and both flags") {
  auto m = wire::decode(frames(wire::Cancel{42, {5, 0xffffffffffffffffull, 9}, false, true}));
  REQUIRE(m);
  CHECK(is<wire::Cancel>(*m));
  auto& c = body<wire::Cancel>(*m);
  CHECK(c.request == 42);
  CHECK(c.ids == std::vector<std::uint64_t>{5, 0xffffffffffffffffull, 9});
  CHECK_FALSE(c.all);
  CHECK(c.kill_running);

  auto m2 = wire::decode(frames(wire::Cancel{0, {}, true, false}));
  REQUIRE(m2);
  CHECK(body<wire::Cancel>(*m2).ids.empty());
  CHECK(body<wire::Cancel>(*m2).all);
  CHECK_FALSE(body<wire::Cancel>(*m2).kill_running);
}

TEST_CASE("a CREDIT, a STATUS, a HEARTBEAT and a BYE round-trip") {
  auto c = wire::decode(frames(wire::Credit{64, 32}));
  REQUIRE(c);
  CHECK(is<wire::Credit>(*c));
  CHECK(body<wire::Credit>(*c).slots == 64);
  CHECK(body<wire::Credit>(*c).executors == 32);

  auto s = wire::decode(frames(wire::Status{17, 3}));
  REQUIRE(s);
  CHECK(is<wire::Status>(*s));
  CHECK(body<wire::Status>(*s).executors == 17);
  CHECK(body<wire::Status>(*s).nodes == 3);

  auto h = wire::decode(frames(wire::Heartbeat{}));
  REQUIRE(h);
  CHECK(is<wire::Heartbeat>(*h));
  CHECK(std::holds_alternative<wire::Heartbeat>(h->body));

  auto b = wire::decode(frames(wire::Bye{"shutting down"}));
  REQUIRE(b);
  CHECK(is<wire::Bye>(*b));
  CHECK(body<wire::Bye>(*b).reason == "shutting down");
}

TEST_CASE("an empty batch carries no payload frames and decodes") {
  auto m = wire::decode(frames(wire::Submit{}));
  REQUIRE(m);
  CHECK(body<wire::Submit>(*m).tasks.empty());
  CHECK(m->payloads.empty());
  auto r = wire::decode(frames(wire::Requests{}));
  REQUIRE(r);
  CHECK(body<wire::Requests>(*r).requests.empty());
  CHECK(r->payloads.empty());
}

namespace {

// Records which overload dispatch() called, with the extra argument it passed.
struct Recorder {
  std::vector<std::string> calls;
  void on(int& peer, wire::Hello&& h) {
    calls.push_back(std::to_string(peer) + " hello " + h.name);
  }
  void on(int& peer, wire::Submit&& s, Payloads&& p) {
    calls.push_back(std::to_string(peer) + " submit " + std::to_string(s.tasks.size()) + " " +
                    (p.empty() ? std::string() : str(p[0])));
  }
  // Both forms for one kind: the one taking the payloads wins.
  void on(int& peer, wire::Requests&&) { calls.push_back(std::to_string(peer) + " requests"); }
  void on(int& peer, wire::Requests&& r, Payloads&& p) {
    calls.push_back(std::to_string(peer) + " requests+payloads " +
                    std::to_string(r.requests.size()) + " " + str(p.at(1)));
  }
  void on(int& peer, wire::Heartbeat&&) { calls.push_back(std::to_string(peer) + " heartbeat"); }
};

struct NoExtra {
  int byes = 0;
  void on(wire::Bye&&) { ++byes; }
};

}  // namespace

TEST_CASE("dispatch calls the handler's overload for the message's kind, or returns false") {
  Recorder rec;
  int peer = 7;
  CHECK(wire::dispatch(rec, wire::Message{wire::Hello{wire::Role::kNode, "n1"}, {}}, peer));
  CHECK(wire::dispatch(
      rec,
      wire::Message{wire::Submit{wire::TaskBatch{{sample_task(1)}, {}}}, payloads_of({"args-1"})},
      peer));
  CHECK(wire::dispatch(rec,
                       wire::Message{wire::Requests{{sample_request(1), sample_request(2)}},
                                     payloads_of({"a", "b"})},
                       peer));
  peer = 8;
  CHECK(wire::dispatch(rec, wire::Message{wire::Heartbeat{}, {}}, peer));
  CHECK(rec.calls == std::vector<std::string>{"7 hello n1", "7 submit 1 args-1",
                                              "7 requests+payloads 2 b", "8 heartbeat"});

  // Kinds the handler has no overload for: nothing is called.
  CHECK_FALSE(wire::dispatch(rec, wire::Message{wire::Credit{1, 1}, {}}, peer));
  CHECK_FALSE(wire::dispatch(rec, wire::Message{wire::Dispatch{}, {}}, peer));  // only Submit
  CHECK_FALSE(wire::dispatch(rec, wire::Message{wire::Replies{}, {}}, peer));
  CHECK(rec.calls.size() == 4);

  // A decoded message dispatches the same way, and without extra arguments too.
  auto decoded = wire::decode(sample(wire::Submit::kKind));
  REQUIRE(decoded);
  CHECK(wire::dispatch(rec, std::move(*decoded), peer));
  CHECK(rec.calls.back() == "8 submit 2 args-1");
  NoExtra plain;
  CHECK(wire::dispatch(plain, wire::Message{wire::Bye{"x"}, {}}));
  CHECK_FALSE(wire::dispatch(plain, wire::Message{wire::Hello{}, {}}));
  CHECK(plain.byes == 1);
}

TEST_CASE("fewer than two frames is a frame-count error") {
  auto none = decode_nothrow(Payloads{});
  REQUIRE_FALSE(none);
  CHECK(none.error().reason == Reason::kFrameCount);
  CHECK(none.error().detail == "0 frame(s)");

  auto one = decode_nothrow(payloads_of({header_of<wire::Heartbeat>()}));
  REQUIRE_FALSE(one);
  CHECK(one.error().reason == Reason::kFrameCount);
  CHECK(one.error().detail == "1 frame(s)");
}

TEST_CASE("a header frame of the wrong size is rejected") {
  auto good = sample(wire::Credit::kKind);
  auto body_bytes = str(good[1]);
  for (std::string h :
       {std::string(""), header_of<wire::Credit>().substr(0, 7), header_of<wire::Credit>() + "x"}) {
    CAPTURE(h.size());
    auto r = decode_nothrow(payloads_of({h, body_bytes}));
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadHeader);
    CHECK(r.error().detail == "header of " + std::to_string(h.size()) + " bytes");
  }
}

TEST_CASE("a header with the wrong magic is rejected") {
  auto f = sample(wire::Credit::kKind);
  auto h = str(f[0]);
  h[0] = 'X';
  auto r = decode_nothrow(payloads_of({h, str(f[1])}));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason == Reason::kBadMagic);
}

TEST_CASE("a message of another protocol version is rejected, naming both versions") {
  for (std::uint16_t v : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{2},
                          std::uint16_t{wire::kVersion + 1}, std::uint16_t{0xffff}}) {
    CAPTURE(v);
    auto good = sample(wire::Hello::kKind);
    auto r = decode_nothrow(payloads_of({header_of<wire::Hello>(v), str(good[1])}));
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadVersion);
    CHECK(r.error().version == v);
    CHECK(r.error().detail.find("protocol version " + std::to_string(v) + " ") !=
          std::string::npos);
    CHECK(r.error().detail.find("protocol version " + std::to_string(wire::kVersion)) !=
          std::string::npos);
    CHECK(r.error().detail == wire::version_mismatch(v));
  }
}

TEST_CASE("a REJECT of another protocol version still decodes, so a refused peer can read why") {
  auto good = frames(wire::Reject{"upgrade dpool"});
  auto r = decode_nothrow(payloads_of({header_of<wire::Reject>(7), str(good[1])}));
  REQUIRE(r);
  CHECK(is<wire::Reject>(*r));
  CHECK(body<wire::Reject>(*r).reason == "upgrade dpool");
}

TEST_CASE("decode rejects a kind number that is not in the table as kBadKind") {
  auto good = sample(wire::Credit::kKind);
  std::vector<std::uint16_t> unknown{0, 21, 22, 0x100, 0xffff};
  for (std::uint16_t k : unknown) REQUIRE(wire::find_kind(k) == nullptr);
  for (std::uint32_t k = 0; k < 64; ++k)
    if (!wire::find_kind(static_cast<std::uint16_t>(k)))
      unknown.push_back(static_cast<std::uint16_t>(k));
  for (std::uint16_t k : unknown) {
    CAPTURE(k);
    auto r = decode_nothrow(payloads_of({header(k), str(good[1])}));
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadKind);
    CHECK(r.error().detail == "unknown kind " + std::to_string(k));
  }
}

TEST_CASE("a truncated body is rejected at every length, not thrown") {
  for (const KindInfo* kind : kAllKinds) {
    CAPTURE(std::string(kind->name));
    auto good = sample(*kind);
    auto full = str(good[1]);  // a HEARTBEAT's body has nothing to cut but its archive header
    for (std::size_t n = 0; n < full.size(); ++n) {
      CAPTURE(n);
      Payloads f = copy_of(good);
      f[1] = payload(std::string_view(full).substr(0, n));
      auto r = decode_nothrow(std::move(f));
      REQUIRE_FALSE(r);
      CHECK(r.error().reason == Reason::kBadBody);
      CHECK(r.error().detail.rfind(std::string(kind->name) + " body: ", 0) == 0);
    }
    // The untouched message still decodes, so the cuts above were the cause.
    CHECK(decode_nothrow(copy_of(good)));
  }
}

TEST_CASE("a count of 0xFFFFFFFF in a body is rejected at once without allocating it") {
  // Bodies whose last four bytes are a string length or a list count.
  struct Case {
    const char* kind;
    Payloads frames;
    const char* what;
  };
  const char* kString = "a string of 4294967295 is implausible";
  const char* kList = "a list of 4294967295 is implausible";
  std::vector<Case> cases;
  cases.push_back({"REJECT", frames(wire::Reject{}), kString});
  cases.push_back({"BYE", frames(wire::Bye{}), kString});
  cases.push_back({"SUBMIT", frames(wire::Submit{}), kList});
  cases.push_back({"DELIVER", frames(wire::Deliver{}), kList});
  cases.push_back({"REQUEST", frames(wire::Requests{}), kList});
  cases.push_back({"REPLY", frames(wire::Replies{}), kList});
  for (auto& c : cases) {
    CAPTURE(std::string(c.kind));
    auto b = str(c.frames[1]);
    REQUIRE(b.size() >= 4);
    REQUIRE(b.substr(b.size() - 4) == std::string(4, '\0'));
    b.replace(b.size() - 4, 4, "\xff\xff\xff\xff");
    Payloads f = payloads_of({str(c.frames[0]), b});
    tl::expected<wire::Message, DecodeError> r;
    auto largest = largest_allocation_during([&] { r = decode_nothrow(std::move(f)); });
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadBody);
    CHECK(r.error().detail.find(c.what) != std::string::npos);
    CHECK(largest < 64 * 1024);
  }

  // A CANCEL's id list count sits before its two flags.
  auto cancel = frames(wire::Cancel{});
  auto b = str(cancel[1]);
  REQUIRE(b.substr(b.size() - 6) == std::string(6, '\0'));
  b.replace(b.size() - 6, 4, "\xff\xff\xff\xff");
  auto r = decode_nothrow(payloads_of({str(cancel[0]), b}));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason == Reason::kBadBody);
  CHECK(r.error().detail.find(kList) != std::string::npos);

  // A HELLO's name length follows its one-byte role.
  auto he = frames(wire::Hello{});
  auto hb = str(he[1]);
  // Name length, then pid, executors, slots, instance, the pool settings (key, initializer
  // name length, fingerprint, arguments length, max_tasks_per_child) and the output flag.
  auto at = hb.size() - (4 + 4 + 4 + 8 + 4 + (8 + 4 + 8 + 4 + 4) + 1);
  REQUIRE(hb.substr(at, 4) == std::string(4, '\0'));
  hb.replace(at, 4, "\xff\xff\xff\xff");
  auto hr = decode_nothrow(payloads_of({str(he[0]), hb}));
  REQUIRE_FALSE(hr);
  CHECK(hr.error().reason == Reason::kBadBody);
  CHECK(hr.error().detail.find(kString) != std::string::npos);
}

// A count within the protocol's bound (kMaxBatch, kMaxText) but far beyond
// the bytes the body holds: each element needs at least one byte, so a
// decoder can refuse it before allocating (rather than allocate kMaxBatch
// elements, over 100 MB for a ResultBatch, for a 13-byte body).
TEST_CASE("a count larger than the rest of the body is rejected without allocating for it") {
  struct Case {
    const char* kind;
    Payloads frames;
    std::uint32_t count;
  };
  std::vector<Case> cases;
  cases.push_back({"SUBMIT", frames(wire::Submit{}), wire::kMaxBatch});
  cases.push_back({"DELIVER", frames(wire::Deliver{}), wire::kMaxBatch});
  cases.push_back({"REQUEST", frames(wire::Requests{}), wire::kMaxBatch});
  cases.push_back({"REPLY", frames(wire::Replies{}), wire::kMaxBatch});
  cases.push_back({"REJECT", frames(wire::Reject{}), wire::kMaxText});
  for (auto& c : cases) {
    CAPTURE(std::string(c.kind));
    auto b = str(c.frames[1]);
    std::string count(4, '\0');
    for (int i = 0; i < 4; ++i) count[i] = static_cast<char>((c.count >> (8 * i)) & 0xff);
    b.replace(b.size() - 4, 4, count);
    Payloads f = payloads_of({str(c.frames[0]), b});
    tl::expected<wire::Message, DecodeError> r;
    auto largest = largest_allocation_during([&] { r = decode_nothrow(std::move(f)); });
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadBody);
    CAPTURE(largest);
    CHECK(largest < 1024 * 1024);
  }
}

TEST_CASE("payload frames that do not match the batch size are rejected") {
  auto good = sample(wire::Submit::kKind);  // two tasks, two payloads
  REQUIRE(good.size() == 4);

  Payloads fewer = copy_of(good);
  fewer.pop_back();
  auto r1 = decode_nothrow(std::move(fewer));
  REQUIRE_FALSE(r1);
  CHECK(r1.error().reason == Reason::kFrameCount);
  CHECK(r1.error().detail == "SUBMIT declares 2 payloads but carries 1");

  Payloads more = copy_of(good);
  more.push_back(payload("extra"));
  auto r2 = decode_nothrow(std::move(more));
  REQUIRE_FALSE(r2);
  CHECK(r2.error().reason == Reason::kFrameCount);
  CHECK(r2.error().detail == "SUBMIT declares 2 payloads but carries 3");

  Payloads results = sample(wire::Results::kKind);
  results.pop_back();
  auto r3 = decode_nothrow(std::move(results));
  REQUIRE_FALSE(r3);
  CHECK(r3.error().reason == Reason::kFrameCount);

  Payloads hello = sample(wire::Hello::kKind);
  hello.push_back(payload("stray"));
  auto r4 = decode_nothrow(std::move(hello));
  REQUIRE_FALSE(r4);
  CHECK(r4.error().reason == Reason::kFrameCount);
  CHECK(r4.error().detail == "HELLO declares 0 payloads but carries 1");
}

TEST_CASE("random garbage bodies of every kind decode to a value or an error, never a throw") {
  std::mt19937_64 rng(20240601);
  std::size_t errors = 0, total = 0;
  for (const KindInfo* kind : kAllKinds) {
    CAPTURE(std::string(kind->name));
    // Half the inputs start like a real body (endianness flag, then a small count)
    // so the garbage reaches the fields rather than dying on the first byte.
    const std::string prefix("\x01\x01\x00\x00\x00", 5);
    for (int i = 0; i < 3000; ++i) {
      std::string b = i % 2 ? prefix : std::string();
      auto len = rng() % 48;
      for (std::size_t j = 0; j < len; ++j) b += static_cast<char>(rng() & 0xff);
      Payloads f = payloads_of({header(kind->number), b});
      for (auto n = rng() % 3; n > 0; --n) f.push_back(payload("p"));
      auto r = decode_nothrow(std::move(f));
      ++total;
      if (!r) {
        ++errors;
        bool expected_reason =
            r.error().reason == Reason::kBadBody || r.error().reason == Reason::kFrameCount;
        CHECK(expected_reason);
      } else {
        CHECK(r->kind().number == kind->number);
      }
    }
  }
  // Random bytes are almost never a valid body.
  CHECK(errors > total / 2);
}

TEST_CASE("a task's, a result's, a request's and a reply's meta round-trip through encode_meta") {
  auto t = sample_task(5);
  auto dt = wire::decode_meta<wire::Task>(wire::encode_meta(t));
  REQUIRE(dt);
  CHECK(dt->id == 5);
  CHECK(dt->name == t.name);
  CHECK(dt->fingerprint == t.fingerprint);
  CHECK(dt->chunk == t.chunk);
  CHECK(dt->attempt == t.attempt);
  CHECK(dt->timeout_ms == 1500);
  CHECK(dt->retries == 7);
  CHECK(dt->priority == -42);
  CHECK(dt->pool == t.pool);

  auto r = sample_failure();
  auto dr = wire::decode_meta<wire::Result>(wire::encode_meta(r));
  REQUIRE(dr);
  CHECK(dr->id == r.id);
  CHECK(dr->failure.code == dpool::ErrorCode::kWorkerCrashed);
  CHECK(dr->failure.type == "std::runtime_error");
  CHECK(dr->failure.message == "segfault in task");
  CHECK(dr->failure.signal == 11);
  CHECK(dr->failure.exit_code == -1);
  CHECK(dr->node == "node-a");
  CHECK(dr->pid == 4242);
  CHECK(dr->attempts == 2);
  CHECK(dr->started_us == r.started_us);
  CHECK(dr->finished_us == -5);

  auto q = sample_request(9);
  auto dq = wire::decode_meta<wire::Request>(wire::encode_meta(q));
  REQUIRE(dq);
  CHECK(dq->id == 9);
  CHECK(dq->op == q.op);
  CHECK(dq->task == q.task);
  CHECK(dq->pid == q.pid);

  auto a = sample_reply(10, dpool::ErrorCode::kRefused);
  auto da = wire::decode_meta<wire::Reply>(wire::encode_meta(a));
  REQUIRE(da);
  CHECK(da->id == 10);
  CHECK(da->failure.code == dpool::ErrorCode::kRefused);
  CHECK(da->failure.type == a.failure.type);
  CHECK(da->failure.message == a.failure.message);
  CHECK(da->failure.exit_code == 5);
}

TEST_CASE("truncated or random meta is an error value, never a throw") {
  auto task = wire::encode_meta(sample_task(1));
  auto result = wire::encode_meta(sample_failure());
  auto request = wire::encode_meta(sample_request(1));
  auto reply = wire::encode_meta(sample_reply(1, dpool::ErrorCode::kRefused));
  for (std::size_t n = 0; n < task.size(); ++n) {
    CAPTURE(n);
    tl::expected<wire::Task, std::string> r;
    CHECK_NOTHROW(r = wire::decode_meta<wire::Task>(std::string_view(task).substr(0, n)));
    CHECK_FALSE(r);
  }
  for (std::size_t n = 0; n < result.size(); ++n) {
    CAPTURE(n);
    tl::expected<wire::Result, std::string> r;
    CHECK_NOTHROW(r = wire::decode_meta<wire::Result>(std::string_view(result).substr(0, n)));
    CHECK_FALSE(r);
  }
  for (std::size_t n = 0; n < request.size(); ++n) {
    CAPTURE(n);
    tl::expected<wire::Request, std::string> r;
    CHECK_NOTHROW(r = wire::decode_meta<wire::Request>(std::string_view(request).substr(0, n)));
    CHECK_FALSE(r);
  }
  for (std::size_t n = 0; n < reply.size(); ++n) {
    CAPTURE(n);
    tl::expected<wire::Reply, std::string> r;
    CHECK_NOTHROW(r = wire::decode_meta<wire::Reply>(std::string_view(reply).substr(0, n)));
    CHECK_FALSE(r);
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string b;
    auto len = rng() % 64;
    for (std::size_t j = 0; j < len; ++j) b += static_cast<char>(rng() & 0xff);
    CHECK_NOTHROW((void)wire::decode_meta<wire::Task>(b));
    CHECK_NOTHROW((void)wire::decode_meta<wire::Result>(b));
    CHECK_NOTHROW((void)wire::decode_meta<wire::Request>(b));
    CHECK_NOTHROW((void)wire::decode_meta<wire::Reply>(b));
  }
}

TEST_CASE("RECLAIM carries a count and RETURNED the ids handed back, also none") {
  auto m = wire::decode(frames(wire::Reclaim{7}));
  REQUIRE(m);
  CHECK(body<wire::Reclaim>(*m).count == 7);
  auto r = wire::decode(frames(wire::Returned{{1, 0xffffffffffffffffull, 3}}));
  REQUIRE(r);
  CHECK(body<wire::Returned>(*r).ids == std::vector<std::uint64_t>{1, 0xffffffffffffffffull, 3});
  auto none = wire::decode(frames(wire::Returned{}));
  REQUIRE(none);
  CHECK(body<wire::Returned>(*none).ids.empty());
}
