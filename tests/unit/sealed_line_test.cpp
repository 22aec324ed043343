// The frames of a direct line (libshared/src/sealed_line.hpp): what one side
// seals the other opens, once, in order, and only with the key and the
// direction it was sealed for.
#include "sealed_line.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using dpool::internal::Opener;
using dpool::internal::Sealer;
namespace direct = dpool::internal::direct;
using direct::Direction;

// The sealed bytes of each frame of `frames` (the length taken off, checked).
std::vector<std::string> sealed_parts(const std::string& frames) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at < frames.size()) {
    REQUIRE(frames.size() - at >= direct::kLengthBytes);
    auto n = direct::read_u32(reinterpret_cast<const unsigned char*>(frames.data() + at));
    at += direct::kLengthBytes;
    REQUIRE(frames.size() - at >= n);
    parts.push_back(frames.substr(at, n));
    at += n;
  }
  return parts;
}

}  // namespace

TEST_CASE("frames open in order, with their text, and carry their length") {
  auto key = direct::random_bytes(direct::kKeyBytes);
  Sealer out(key, Direction::kToCoordinator);
  Opener in(key, Direction::kToCoordinator);
  std::string frames;
  std::vector<std::string> texts = {"", "a", std::string(100000, 'x'), "last"};
  for (auto& t : texts) out.seal(t, frames);
  auto parts = sealed_parts(frames);
  REQUIRE(parts.size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    CHECK(parts[i].size() == texts[i].size() + direct::kSealBytes);
    auto plain = in.open(parts[i]);
    REQUIRE(plain);
    CHECK(*plain == texts[i]);
  }
}

TEST_CASE(
    "a frame replayed, reordered, reflected, tampered with or under another key does not open") {
  auto key = direct::random_bytes(direct::kKeyBytes);
  Sealer out(key, Direction::kToCoordinator);
  std::string frames;
  out.seal("first", frames);
  out.seal("second", frames);
  auto parts = sealed_parts(frames);

  SUBCASE("replayed") {
    Opener in(key, Direction::kToCoordinator);
    REQUIRE(in.open(parts[0]));
    CHECK_FALSE(in.open(parts[0]));
  }
  SUBCASE("reordered") {
    Opener in(key, Direction::kToCoordinator);
    CHECK_FALSE(in.open(parts[1]));
  }
  SUBCASE("sent back the other way") {
    Opener in(key, Direction::kToClient);
    CHECK_FALSE(in.open(parts[0]));
  }
  SUBCASE("one byte changed") {
    Opener in(key, Direction::kToCoordinator);
    for (std::size_t i = 0; i < parts[0].size(); ++i) {
      auto bad = parts[0];
      bad[i] = static_cast<char>(bad[i] ^ 1);
      CHECK_FALSE(in.open(bad));
    }
    CHECK(in.open(parts[0]) == std::string("first"));  // a failed open moves nothing on
  }
  SUBCASE("another key") {
    Opener in(direct::random_bytes(direct::kKeyBytes), Direction::kToCoordinator);
    CHECK_FALSE(in.open(parts[0]));
  }
  SUBCASE("too short to hold a seal") {
    Opener in(key, Direction::kToCoordinator);
    CHECK_FALSE(in.open(std::string(direct::kSealBytes - 1, '\0')));
  }
}

TEST_CASE("little-endian numbers as the ticket and the lengths use them") {
  std::string s;
  direct::append_u64(s, 0x0102030405060708ull);
  REQUIRE(s.size() == 8);
  CHECK(s[0] == 8);
  CHECK(direct::read_u64(reinterpret_cast<const unsigned char*>(s.data())) ==
        0x0102030405060708ull);
}

TEST_CASE("the host of a coordinator's address, where its direct port is") {
  CHECK(direct::tcp_host("tcp://127.0.0.1:5555") == "127.0.0.1");
  CHECK(direct::tcp_host("tcp://head.cluster:*") == "head.cluster");
  CHECK(direct::tcp_host("tcp://[::1]:5555") == "::1");
  CHECK(direct::tcp_host("ipc:///tmp/dpool.sock").empty());
  CHECK(direct::tcp_host("inproc://x").empty());
}
