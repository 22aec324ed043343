// The wire codec (libshared/src/protocol.hpp): every message kind round-trips
// field by field, and hostile input of every shape comes back as a
// DecodeError value, never an exception or a disproportionate allocation.
#include "protocol.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "allocation_tracking.hpp"

namespace {

using namespace dpool::internal;
using test_support::largest_allocation_during;
using wire::DecodeError;
using wire::Kind;
using Reason = DecodeError::Reason;

zmq::message_t msg(std::string_view s) {
  return zmq::message_t(s.data(), s.size());
}

std::string str(const zmq::message_t& m) {
  return std::string(m.to_string_view());
}

Frames clone(const Frames& frames) {
  Frames out;
  for (auto& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

Frames frames_of(std::initializer_list<std::string_view> parts) {
  Frames out;
  for (auto p : parts) out.push_back(msg(p));
  return out;
}

// A valid header for `kind` with `version`.
std::string header(Kind kind, std::uint16_t version = wire::kVersion) {
  std::string h = "DPOL";
  h += static_cast<char>(version & 0xff);
  h += static_cast<char>(version >> 8);
  auto k = static_cast<std::uint16_t>(kind);
  h += static_cast<char>(k & 0xff);
  h += static_cast<char>(k >> 8);
  return h;
}

const std::vector<Kind> kAllKinds = {Kind::kHello,     Kind::kWelcome,  Kind::kReject,
                                     Kind::kSubmit,    Kind::kDispatch, Kind::kResult,
                                     Kind::kDeliver,   Kind::kCancel,   Kind::kCredit,
                                     Kind::kHeartbeat, Kind::kBye,      Kind::kStatus};

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

// A representative message of each kind, with payloads where the kind has them.
Frames sample(Kind kind) {
  switch (kind) {
    case Kind::kHello:
      return wire::encode(kind, wire::Hello{wire::Role::kNode, "node-1", 77, 8, 16, 99});
    case Kind::kWelcome:
      return wire::encode(kind, wire::Welcome{5, "coord", 12});
    case Kind::kReject:
      return wire::encode(kind, wire::Reject{"go away"});
    case Kind::kSubmit:
    case Kind::kDispatch: {
      Frames p;
      p.push_back(msg("args-1"));
      p.push_back(msg("args-2"));
      return wire::encode(kind, wire::TaskBatch{{sample_task(1), sample_task(2)}}, std::move(p));
    }
    case Kind::kResult:
    case Kind::kDeliver: {
      Frames p;
      p.push_back(msg(""));
      return wire::encode(kind, wire::ResultBatch{{sample_failure()}}, std::move(p));
    }
    case Kind::kCancel:
      return wire::encode(kind, wire::Cancel{7, {1, 2, 3}, true, true});
    case Kind::kCredit:
      return wire::encode(kind, wire::Credit{6, 3});
    case Kind::kStatus:
      return wire::encode(kind, wire::Status{10, 2});
    case Kind::kHeartbeat:
      return wire::encode(kind, wire::Heartbeat{});
    case Kind::kBye:
      return wire::encode(kind, wire::Bye{"done"});
  }
  return {};
}

// Decodes without letting an exception escape the test's notice.
tl::expected<wire::Message, DecodeError> decode_nothrow(Frames&& frames) {
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

}  // namespace

TEST_CASE("the header frame is the magic, the version and the kind, little-endian") {
  auto frames = wire::encode(Kind::kCredit, wire::Credit{1, 1});
  REQUIRE(frames.size() == 2);
  CHECK(str(frames[0]) == std::string("DPOL\x02\x00\x09\x00", 8));
  static_assert(wire::kVersion == 2);
}

TEST_CASE("a HELLO round-trips with every field") {
  auto m = wire::decode(wire::encode(
      Kind::kHello, wire::Hello{wire::Role::kNode, "node-1", 77, 8, 16, 0xdeadbeefcafef00dull}));
  REQUIRE(m);
  CHECK(m->kind == Kind::kHello);
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
  auto m =
      wire::decode(wire::encode(Kind::kHello, wire::Hello{wire::Role::kClient, "c", 1, 0, 0, 1}));
  REQUIRE(m);
  CHECK(body<wire::Hello>(*m).role == wire::Role::kClient);
  CHECK(body<wire::Hello>(*m).pool.empty());
}

TEST_CASE("a client HELLO carries its pool's executor settings") {
  wire::Hello hello{wire::Role::kClient, "c", 1, 0, 0, 1};
  hello.pool = sample_pool(0);
  auto m = wire::decode(wire::encode(Kind::kHello, hello));
  REQUIRE(m);
  check_same_pool(body<wire::Hello>(*m).pool, hello.pool);
}

TEST_CASE("a WELCOME round-trips with every field") {
  auto m =
      wire::decode(wire::encode(Kind::kWelcome, wire::Welcome{0x0102030405060708ull, "head", 24}));
  REQUIRE(m);
  CHECK(m->kind == Kind::kWelcome);
  auto& w = body<wire::Welcome>(*m);
  CHECK(w.instance == 0x0102030405060708ull);
  CHECK(w.name == "head");
  CHECK(w.executors == 24);
}

TEST_CASE("a REJECT round-trips its reason") {
  auto m = wire::decode(wire::encode(Kind::kReject, wire::Reject{"wrong key"}));
  REQUIRE(m);
  CHECK(m->kind == Kind::kReject);
  CHECK(body<wire::Reject>(*m).reason == "wrong key");
}

TEST_CASE("a SUBMIT and a DISPATCH round-trip every task field and their payload frames") {
  for (Kind kind : {Kind::kSubmit, Kind::kDispatch}) {
    CAPTURE(std::string(wire::kind_name(kind)));
    std::string big(100'000, 'x');
    big[500] = '\0';
    Frames p;
    p.push_back(msg("first"));
    p.push_back(msg(""));
    p.push_back(msg(big));
    auto t3 = sample_task(3);
    t3.priority = 2'000'000'000;
    auto frames = wire::encode(
        kind,
        wire::TaskBatch{{sample_task(1), sample_task(2), t3}, {sample_pool(7), sample_pool(9)}},
        std::move(p));
    REQUIRE(frames.size() == 5);
    auto m = wire::decode(std::move(frames));
    REQUIRE(m);
    CHECK(m->kind == kind);
    auto& b = body<wire::TaskBatch>(*m);
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
    }
    REQUIRE(b.pools.size() == 2);
    check_same_pool(b.pools[0], sample_pool(7));
    check_same_pool(b.pools[1], sample_pool(9));
    REQUIRE(m->payloads.size() == 3);
    CHECK(str(m->payloads[0]) == "first");
    CHECK(m->payloads[1].size() == 0);
    CHECK(str(m->payloads[2]) == big);
  }
}

TEST_CASE("a RESULT and a DELIVER round-trip a success and a failure with every field") {
  for (Kind kind : {Kind::kResult, Kind::kDeliver}) {
    CAPTURE(std::string(wire::kind_name(kind)));
    wire::Result ok;
    ok.id = 1;
    ok.node = "n";
    ok.pid = 1;
    ok.attempts = 1;
    ok.started_us = 10;
    ok.finished_us = 20;
    Frames p;
    p.push_back(msg("result-bytes"));
    p.push_back(msg(""));
    auto m =
        wire::decode(wire::encode(kind, wire::ResultBatch{{ok, sample_failure()}}, std::move(p)));
    REQUIRE(m);
    CHECK(m->kind == kind);
    auto& b = body<wire::ResultBatch>(*m);
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
}

TEST_CASE("a CANCEL round-trips its ids and both flags") {
  auto m = wire::decode(
      wire::encode(Kind::kCancel, wire::Cancel{42, {5, 0xffffffffffffffffull, 9}, false, true}));
  REQUIRE(m);
  CHECK(m->kind == Kind::kCancel);
  auto& c = body<wire::Cancel>(*m);
  CHECK(c.request == 42);
  CHECK(c.ids == std::vector<std::uint64_t>{5, 0xffffffffffffffffull, 9});
  CHECK_FALSE(c.all);
  CHECK(c.kill_running);

  auto m2 = wire::decode(wire::encode(Kind::kCancel, wire::Cancel{0, {}, true, false}));
  REQUIRE(m2);
  CHECK(body<wire::Cancel>(*m2).ids.empty());
  CHECK(body<wire::Cancel>(*m2).all);
  CHECK_FALSE(body<wire::Cancel>(*m2).kill_running);
}

TEST_CASE("a CREDIT, a STATUS, a HEARTBEAT and a BYE round-trip") {
  auto c = wire::decode(wire::encode(Kind::kCredit, wire::Credit{64, 32}));
  REQUIRE(c);
  CHECK(c->kind == Kind::kCredit);
  CHECK(body<wire::Credit>(*c).slots == 64);
  CHECK(body<wire::Credit>(*c).executors == 32);

  auto s = wire::decode(wire::encode(Kind::kStatus, wire::Status{17, 3}));
  REQUIRE(s);
  CHECK(s->kind == Kind::kStatus);
  CHECK(body<wire::Status>(*s).executors == 17);
  CHECK(body<wire::Status>(*s).nodes == 3);

  auto h = wire::decode(wire::encode(Kind::kHeartbeat, wire::Heartbeat{}));
  REQUIRE(h);
  CHECK(h->kind == Kind::kHeartbeat);
  CHECK(std::holds_alternative<wire::Heartbeat>(h->body));

  auto b = wire::decode(wire::encode(Kind::kBye, wire::Bye{"shutting down"}));
  REQUIRE(b);
  CHECK(b->kind == Kind::kBye);
  CHECK(body<wire::Bye>(*b).reason == "shutting down");
}

TEST_CASE("an empty batch carries no payload frames and decodes") {
  auto m = wire::decode(wire::encode(Kind::kSubmit, wire::TaskBatch{}));
  REQUIRE(m);
  CHECK(body<wire::TaskBatch>(*m).tasks.empty());
  CHECK(m->payloads.empty());
}

TEST_CASE("fewer than two frames is a frame-count error") {
  auto none = decode_nothrow(Frames{});
  REQUIRE_FALSE(none);
  CHECK(none.error().reason == Reason::kFrameCount);
  CHECK(none.error().detail == "0 frame(s)");

  auto one = decode_nothrow(frames_of({header(Kind::kHeartbeat)}));
  REQUIRE_FALSE(one);
  CHECK(one.error().reason == Reason::kFrameCount);
  CHECK(one.error().detail == "1 frame(s)");
}

TEST_CASE("a header frame of the wrong size is rejected") {
  auto good = sample(Kind::kCredit);
  auto body_bytes = str(good[1]);
  for (std::string h :
       {std::string(""), header(Kind::kCredit).substr(0, 7), header(Kind::kCredit) + "x"}) {
    CAPTURE(h.size());
    auto r = decode_nothrow(frames_of({h, body_bytes}));
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadHeader);
    CHECK(r.error().detail == "header of " + std::to_string(h.size()) + " bytes");
  }
}

TEST_CASE("a header with the wrong magic is rejected") {
  auto frames = sample(Kind::kCredit);
  auto h = str(frames[0]);
  h[0] = 'X';
  auto r = decode_nothrow(frames_of({h, str(frames[1])}));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason == Reason::kBadMagic);
}

TEST_CASE("a message of another protocol version is rejected, naming both versions") {
  for (std::uint16_t v : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{wire::kVersion + 1},
                          std::uint16_t{0xffff}}) {
    CAPTURE(v);
    auto good = sample(Kind::kHello);
    auto r = decode_nothrow(frames_of({header(Kind::kHello, v), str(good[1])}));
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
  auto good = wire::encode(Kind::kReject, wire::Reject{"upgrade dpool"});
  auto r = decode_nothrow(frames_of({header(Kind::kReject, 7), str(good[1])}));
  REQUIRE(r);
  CHECK(r->kind == Kind::kReject);
  CHECK(body<wire::Reject>(*r).reason == "upgrade dpool");
}

TEST_CASE("an unknown kind is rejected") {
  auto good = sample(Kind::kCredit);
  for (std::uint16_t k : {std::uint16_t{0}, std::uint16_t{13}, std::uint16_t{0xffff}}) {
    CAPTURE(k);
    auto r = decode_nothrow(frames_of({header(static_cast<Kind>(k)), str(good[1])}));
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadKind);
    CHECK(r.error().detail == "unknown kind " + std::to_string(k));
  }
}

TEST_CASE("a truncated body is rejected at every length, not thrown") {
  for (Kind kind : kAllKinds) {
    CAPTURE(std::string(wire::kind_name(kind)));
    auto good = sample(kind);
    auto full = str(good[1]);  // a HEARTBEAT's body has nothing to cut but its archive header
    for (std::size_t n = 0; n < full.size(); ++n) {
      CAPTURE(n);
      Frames frames = clone(good);
      frames[1] = msg(std::string_view(full).substr(0, n));
      auto r = decode_nothrow(std::move(frames));
      REQUIRE_FALSE(r);
      CHECK(r.error().reason == Reason::kBadBody);
      CHECK(r.error().detail.rfind(std::string(wire::kind_name(kind)) + " body: ", 0) == 0);
    }
    // The untouched message still decodes, so the cuts above were the cause.
    CHECK(decode_nothrow(clone(good)));
  }
}

TEST_CASE("a count of 0xFFFFFFFF in a body is rejected at once without allocating it") {
  // Bodies whose last four bytes are a string length or a list count.
  struct Case {
    Kind kind;
    Frames frames;
    const char* what;
  };
  std::vector<Case> cases;
  cases.push_back(
      {Kind::kReject, wire::encode(Kind::kReject, wire::Reject{}), "string of 4294967295 bytes"});
  cases.push_back(
      {Kind::kBye, wire::encode(Kind::kBye, wire::Bye{}), "string of 4294967295 bytes"});
  cases.push_back(
      {Kind::kSubmit, wire::encode(Kind::kSubmit, wire::TaskBatch{}), "list of 4294967295 items"});
  cases.push_back({Kind::kDeliver, wire::encode(Kind::kDeliver, wire::ResultBatch{}),
                   "list of 4294967295 items"});
  for (auto& c : cases) {
    CAPTURE(std::string(wire::kind_name(c.kind)));
    auto b = str(c.frames[1]);
    REQUIRE(b.size() >= 4);
    REQUIRE(b.substr(b.size() - 4) == std::string(4, '\0'));
    b.replace(b.size() - 4, 4, "\xff\xff\xff\xff");
    Frames frames = frames_of({str(c.frames[0]), b});
    tl::expected<wire::Message, DecodeError> r;
    auto largest = largest_allocation_during([&] { r = decode_nothrow(std::move(frames)); });
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadBody);
    CHECK(r.error().detail.find(c.what) != std::string::npos);
    CHECK(largest < 64 * 1024);
  }

  // A CANCEL's id list count sits before its two flags.
  auto cancel = wire::encode(Kind::kCancel, wire::Cancel{});
  auto b = str(cancel[1]);
  REQUIRE(b.substr(b.size() - 6) == std::string(6, '\0'));
  b.replace(b.size() - 6, 4, "\xff\xff\xff\xff");
  auto r = decode_nothrow(frames_of({str(cancel[0]), b}));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason == Reason::kBadBody);
  CHECK(r.error().detail.find("list of 4294967295 items") != std::string::npos);

  // A HELLO's name length follows its one-byte role.
  wire::Hello hello;
  auto he = wire::encode(Kind::kHello, hello);
  auto hb = str(he[1]);
  // Name length, then pid, executors, slots, instance, and the pool settings (key, initializer
  // name length, fingerprint, arguments length, max_tasks_per_child).
  auto at = hb.size() - (4 + 4 + 4 + 8 + 4 + (8 + 4 + 8 + 4 + 4));
  REQUIRE(hb.substr(at, 4) == std::string(4, '\0'));
  hb.replace(at, 4, "\xff\xff\xff\xff");
  auto hr = decode_nothrow(frames_of({str(he[0]), hb}));
  REQUIRE_FALSE(hr);
  CHECK(hr.error().reason == Reason::kBadBody);
  CHECK(hr.error().detail.find("string of 4294967295 bytes") != std::string::npos);
}

// A count within the protocol's bound (kMaxBatch, kMaxText) but far beyond
// the bytes the body holds: each element needs at least one byte, so a
// decoder can refuse it before allocating. Today a 13-byte body makes
// the decoder allocate kMaxBatch elements (over 100 MB for a ResultBatch).
TEST_CASE("a count larger than the rest of the body is rejected without allocating for it") {
  struct Case {
    Kind kind;
    Frames frames;
    std::uint32_t count;
  };
  std::vector<Case> cases;
  cases.push_back({Kind::kSubmit, wire::encode(Kind::kSubmit, wire::TaskBatch{}), wire::kMaxBatch});
  cases.push_back(
      {Kind::kDeliver, wire::encode(Kind::kDeliver, wire::ResultBatch{}), wire::kMaxBatch});
  cases.push_back({Kind::kReject, wire::encode(Kind::kReject, wire::Reject{}), wire::kMaxText});
  for (auto& c : cases) {
    CAPTURE(std::string(wire::kind_name(c.kind)));
    auto b = str(c.frames[1]);
    std::string count(4, '\0');
    for (int i = 0; i < 4; ++i) count[i] = static_cast<char>((c.count >> (8 * i)) & 0xff);
    b.replace(b.size() - 4, 4, count);
    Frames frames = frames_of({str(c.frames[0]), b});
    tl::expected<wire::Message, DecodeError> r;
    auto largest = largest_allocation_during([&] { r = decode_nothrow(std::move(frames)); });
    REQUIRE_FALSE(r);
    CHECK(r.error().reason == Reason::kBadBody);
    CAPTURE(largest);
    CHECK(largest < 1024 * 1024);
  }
}

TEST_CASE("payload frames that do not match the batch size are rejected") {
  auto good = sample(Kind::kSubmit);  // two tasks, two payloads
  REQUIRE(good.size() == 4);

  Frames fewer = clone(good);
  fewer.pop_back();
  auto r1 = decode_nothrow(std::move(fewer));
  REQUIRE_FALSE(r1);
  CHECK(r1.error().reason == Reason::kFrameCount);
  CHECK(r1.error().detail == "SUBMIT declares 2 payloads but carries 1");

  Frames more = clone(good);
  more.push_back(msg("extra"));
  auto r2 = decode_nothrow(std::move(more));
  REQUIRE_FALSE(r2);
  CHECK(r2.error().reason == Reason::kFrameCount);
  CHECK(r2.error().detail == "SUBMIT declares 2 payloads but carries 3");

  Frames results = sample(Kind::kResult);
  results.pop_back();
  auto r3 = decode_nothrow(std::move(results));
  REQUIRE_FALSE(r3);
  CHECK(r3.error().reason == Reason::kFrameCount);

  Frames hello = sample(Kind::kHello);
  hello.push_back(msg("stray"));
  auto r4 = decode_nothrow(std::move(hello));
  REQUIRE_FALSE(r4);
  CHECK(r4.error().reason == Reason::kFrameCount);
  CHECK(r4.error().detail == "HELLO declares 0 payloads but carries 1");
}

TEST_CASE("random garbage bodies of every kind decode to a value or an error, never a throw") {
  std::mt19937_64 rng(20240601);
  std::size_t errors = 0, total = 0;
  for (Kind kind : kAllKinds) {
    CAPTURE(std::string(wire::kind_name(kind)));
    // Half the inputs start like a real body (endianness flag, class version 1)
    // so the garbage reaches the fields rather than dying on the first byte.
    const std::string prefix("\x01\x01\x00\x00\x00", 5);
    for (int i = 0; i < 3000; ++i) {
      std::string b = i % 2 ? prefix : std::string();
      auto len = rng() % 48;
      for (std::size_t j = 0; j < len; ++j) b += static_cast<char>(rng() & 0xff);
      Frames frames = frames_of({header(kind), b});
      for (auto n = rng() % 3; n > 0; --n) frames.push_back(msg("p"));
      auto r = decode_nothrow(std::move(frames));
      ++total;
      if (!r) {
        ++errors;
        bool expected_reason =
            r.error().reason == Reason::kBadBody || r.error().reason == Reason::kFrameCount;
        CHECK(expected_reason);
      } else {
        CHECK(r->kind == kind);
      }
    }
  }
  // Random bytes are almost never a valid body.
  CHECK(errors > total / 2);
}

TEST_CASE("a task's and a result's meta round-trip through encode_meta") {
  auto t = sample_task(5);
  auto dt = wire::decode_task(wire::encode_meta(t));
  REQUIRE(dt);
  CHECK(dt->id == 5);
  CHECK(dt->name == t.name);
  CHECK(dt->fingerprint == t.fingerprint);
  CHECK(dt->chunk == t.chunk);
  CHECK(dt->attempt == t.attempt);
  CHECK(dt->timeout_ms == 1500);
  CHECK(dt->retries == 7);
  CHECK(dt->priority == -42);

  auto r = sample_failure();
  auto dr = wire::decode_result(wire::encode_meta(r));
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
}

TEST_CASE("truncated or random meta is an error value, never a throw") {
  auto task = wire::encode_meta(sample_task(1));
  auto result = wire::encode_meta(sample_failure());
  for (std::size_t n = 0; n < task.size(); ++n) {
    CAPTURE(n);
    tl::expected<wire::Task, std::string> r;
    CHECK_NOTHROW(r = wire::decode_task(std::string_view(task).substr(0, n)));
    CHECK_FALSE(r);
  }
  for (std::size_t n = 0; n < result.size(); ++n) {
    CAPTURE(n);
    tl::expected<wire::Result, std::string> r;
    CHECK_NOTHROW(r = wire::decode_result(std::string_view(result).substr(0, n)));
    CHECK_FALSE(r);
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string b;
    auto len = rng() % 64;
    for (std::size_t j = 0; j < len; ++j) b += static_cast<char>(rng() & 0xff);
    CHECK_NOTHROW((void)wire::decode_task(b));
    CHECK_NOTHROW((void)wire::decode_result(b));
  }
}
