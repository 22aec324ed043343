// RecordReader (libshared/src/exec_channel.hpp): records come out whole and in
// order however the byte stream is split, large payloads included, and a
// malformed header is an error value.
#include "exec_channel.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace dpool::internal;

struct Plain {
  RecordKind kind;
  std::string meta;
  std::string payload;
};

std::string serialize(const Plain& r) {
  std::string out(kRecordHeaderBytes, '\0');
  put_record_header(out.data(), r.kind, r.meta.size(), r.payload.size());
  out += r.meta;
  out += r.payload;
  return out;
}

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Feeds `stream` to a reader in pieces whose sizes `next_piece` picks (capped by
// what the reader's buffer takes), collecting every record. Fails the test on
// an error value.
template <class Pick>
std::vector<Plain> feed(const std::string& stream, Pick next_piece) {
  RecordReader reader;
  std::vector<Plain> out;
  std::size_t pos = 0;
  auto drain = [&] {
    for (;;) {
      auto r = reader.next();
      REQUIRE(r);
      if (!*r) return;
      auto& rec = **r;
      out.push_back({rec.kind, rec.meta, std::string(rec.payload.view())});
    }
  };
  while (pos < stream.size()) {
    auto span = reader.buffer();
    REQUIRE(span.size() > 0);
    std::size_t n =
        std::min({span.size(), stream.size() - pos, std::max<std::size_t>(1, next_piece())});
    std::memcpy(span.data(), stream.data() + pos, n);
    reader.commit(n);
    pos += n;
    drain();
  }
  drain();
  return out;
}

void check_same(const std::vector<Plain>& got, const std::vector<Plain>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].kind == want[i].kind);
    CHECK(got[i].meta == want[i].meta);
    CHECK(got[i].payload.size() == want[i].payload.size());
    CHECK(got[i].payload == want[i].payload);
  }
}

std::vector<Plain> sample_records() {
  return {
      {RecordKind::kReady, "ready-meta", ""},
      {RecordKind::kRun, "task-meta-1", "arguments"},
      {RecordKind::kRun, "", ""},
      {RecordKind::kDone, "result-meta", pattern(1000, 1)},
      {RecordKind::kInit, std::string(3, '\0'), pattern(70'000, 2)},
      {RecordKind::kDone, pattern(5000, 3), "x"},
  };
}

std::string stream_of(const std::vector<Plain>& records) {
  std::string s;
  for (auto& r : records) s += serialize(r);
  return s;
}

// The header of one record, with a raw kind and lengths.
std::string raw_header(std::uint32_t kind, std::uint32_t meta, std::uint64_t payload) {
  std::string h(kRecordHeaderBytes, '\0');
  for (int i = 0; i < 4; ++i) h[i] = static_cast<char>((kind >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>((meta >> (8 * i)) & 0xff);
  for (int i = 0; i < 8; ++i) h[8 + i] = static_cast<char>((payload >> (8 * i)) & 0xff);
  return h;
}

// What next() says once `bytes` have been fed.
tl::expected<std::optional<Record>, std::string> after(const std::string& bytes) {
  RecordReader reader;
  auto span = reader.buffer();
  REQUIRE(span.size() >= bytes.size());
  std::memcpy(span.data(), bytes.data(), bytes.size());
  reader.commit(bytes.size());
  return reader.next();
}

}  // namespace

TEST_CASE("the record header is kind, meta length and payload length, little-endian") {
  char h[kRecordHeaderBytes];
  put_record_header(h, RecordKind::kDone, 0x0102, 0x0000000304050607ull);
  CHECK(std::string(h, sizeof h) == raw_header(3, 0x0102, 0x0000000304050607ull));
  CHECK(std::string(h, 4) == std::string("\x03\x00\x00\x00", 4));
}

TEST_CASE("records fed in one piece come out identical and in order") {
  auto want = sample_records();
  auto stream = stream_of(want);
  check_same(feed(stream, [] { return std::size_t(1) << 30; }), want);
}

TEST_CASE("records fed byte by byte come out identical and in order") {
  auto want = sample_records();
  want.pop_back();  // keep the byte-by-byte run short
  want.pop_back();
  check_same(feed(stream_of(want), [] { return std::size_t(1); }), want);
}

TEST_CASE("records fed in random split sizes come out identical and in order") {
  auto want = sample_records();
  for (int i = 0; i < 40; ++i)
    want.push_back({RecordKind::kRun, "m" + std::to_string(i), pattern(i * 37, i)});
  auto stream = stream_of(want);
  for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    check_same(feed(stream, [&] { return std::size_t(rng() % 3000); }), want);
  }
}

TEST_CASE("nothing comes out of an incomplete record") {
  auto bytes = serialize({RecordKind::kRun, "meta", "payload"});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    auto r = after(bytes.substr(0, n));
    REQUIRE(r);
    CHECK_FALSE(r->has_value());
  }
  auto whole = after(bytes);
  REQUIRE(whole);
  REQUIRE(whole->has_value());
  CHECK((*whole)->meta == "meta");
  CHECK((*whole)->payload.view() == "payload");
}

TEST_CASE("a 5 MiB payload, read in place, reassembles whatever the split") {
  std::vector<Plain> want = {
      {RecordKind::kRun, "before", "small"},
      {RecordKind::kDone, "big-meta", pattern(5u << 20, 9)},
      {RecordKind::kRun, "after", "tail"},
  };
  auto stream = stream_of(want);
  check_same(feed(stream, [] { return std::size_t(1) << 30; }), want);
  std::mt19937 rng(11);
  check_same(feed(stream, [&] { return std::size_t(rng() % 200'000); }), want);
  check_same(feed(stream, [] { return std::size_t(4096); }), want);
}

TEST_CASE("a payload just above the in-place threshold reassembles") {
  std::vector<Plain> want = {
      {RecordKind::kDone, "m", pattern((1u << 20) + 1, 4)},
      {RecordKind::kDone, "n", pattern(1u << 20, 5)},
  };
  std::mt19937 rng(12);
  check_same(feed(stream_of(want), [&] { return std::size_t(rng() % 100'000); }), want);
}

TEST_CASE("an unknown record kind is an error value") {
  for (std::uint32_t kind : {0u, kMaxRecordKind + 1, 0xffffffffu}) {
    CAPTURE(kind);
    auto r = after(raw_header(kind, 0, 0));
    REQUIRE_FALSE(r);
    CHECK(r.error() == "unknown record kind " + std::to_string(kind));
  }
}

TEST_CASE("an oversized meta length is an error value") {
  auto r = after(raw_header(2, kMaxMetaBytes + 1, 0));
  REQUIRE_FALSE(r);
  CHECK(r.error() == "oversized record meta");
  // The bound itself is accepted: the reader waits for the bytes.
  auto ok = after(raw_header(2, kMaxMetaBytes, 0));
  REQUIRE(ok);
  CHECK_FALSE(ok->has_value());
}

TEST_CASE("an oversized payload length is an error value") {
  for (std::uint64_t payload : {kMaxPayloadBytes + 1, std::uint64_t(-1)}) {
    CAPTURE(payload);
    auto r = after(raw_header(3, 0, payload));
    REQUIRE_FALSE(r);
    CHECK(r.error() == "oversized record payload");
  }
}

namespace {
// Reads one whole record from `stream` with `reader`.
Record read_one(RecordReader& reader, const std::string& stream) {
  std::size_t pos = 0;
  for (;;) {
    auto r = reader.next();
    REQUIRE(r);
    if (*r) return std::move(**r);
    REQUIRE(pos < stream.size());
    auto span = reader.buffer();
    std::size_t n = std::min(span.size(), stream.size() - pos);
    std::memcpy(span.data(), stream.data() + pos, n);
    reader.commit(n);
    pos += n;
  }
}
}  // namespace

TEST_CASE("a recycled large payload buffer carries the next large payload that fits") {
  RecordReader reader;
  auto big = pattern(3 << 20, 1);
  auto first = read_one(reader, serialize({RecordKind::kRun, "m1", big}));
  CHECK(first.payload.view() == big);
  const char* buffer = first.payload.data.get();
  reader.recycle(std::move(first.payload));

  auto smaller = pattern(2 << 20, 2);  // fits: the same memory, new contents
  auto second = read_one(reader, serialize({RecordKind::kRun, "m2", smaller}));
  CHECK(second.payload.data.get() == buffer);
  CHECK(second.payload.view() == smaller);
  reader.recycle(std::move(second.payload));

  auto larger = pattern(4 << 20, 3);  // does not fit: a fresh buffer
  auto third = read_one(reader, serialize({RecordKind::kRun, "m3", larger}));
  CHECK(third.payload.view() == larger);
  CHECK(third.payload.size == larger.size());

  CHECK(third.payload.data.get() != buffer);

  auto again = read_one(reader, serialize({RecordKind::kRun, "m4", smaller}));
  CHECK(again.payload.data.get() == buffer);  // the spare waited for a payload it fits
  CHECK(again.payload.view() == smaller);
}
