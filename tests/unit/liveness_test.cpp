// Who has been silent too long (libshared/src/liveness.hpp), on a fake
// clock: every time point is a fixed offset from the epoch, nothing sleeps.
#include "liveness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace dpool::internal;
using namespace std::chrono_literals;
using Peers = Liveness<std::uint64_t>;

constexpr auto kTimeout = 5000ms;

Peers::TimePoint at(std::chrono::milliseconds t) {
  return Peers::TimePoint{} + t;
}

std::vector<std::uint64_t> sorted(std::vector<std::uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("a peer silent for exactly the timeout is not yet expired") {
  Peers l(kTimeout);
  l.seen(7, at(1000ms));
  CHECK(l.expire(at(1000ms + kTimeout)).empty());
  CHECK(l.known(7));
}

TEST_CASE("a peer silent longer than the timeout is expired exactly once and then forgotten") {
  Peers l(kTimeout);
  l.seen(7, at(1000ms));
  CHECK(l.expire(at(1000ms + kTimeout + 1ms)) == std::vector<std::uint64_t>{7});
  CHECK_FALSE(l.known(7));
  // Later sweeps do not report it again.
  CHECK(l.expire(at(1000ms + kTimeout + 2ms)).empty());
  CHECK(l.expire(at(100'000ms)).empty());
}

TEST_CASE("a peer seen again just before the timeout stays alive for another full timeout") {
  Peers l(kTimeout);
  l.seen(7, at(0ms));
  l.seen(7, at(kTimeout - 1ms));  // a heartbeat just in time
  CHECK(l.expire(at(kTimeout + 1ms)).empty());
  CHECK(l.expire(at(2 * kTimeout - 1ms)).empty());
  CHECK(l.known(7));
  // Silent since the last heartbeat for longer than the timeout: now it is dead.
  CHECK(l.expire(at(2 * kTimeout)) == std::vector<std::uint64_t>{7});
}

TEST_CASE("a forgotten peer is never expired, and a heartbeat from it re-adds it harmlessly") {
  Peers l(kTimeout);
  l.seen(7, at(0ms));
  l.forget(7);
  CHECK_FALSE(l.known(7));
  CHECK(l.expire(at(10 * kTimeout)).empty());
  // A late heartbeat from the peer we said goodbye to: tracked afresh from now.
  l.seen(7, at(10 * kTimeout));
  CHECK(l.known(7));
  CHECK(l.expire(at(11 * kTimeout)).empty());
  CHECK(l.expire(at(11 * kTimeout + 1ms)) == std::vector<std::uint64_t>{7});
}

TEST_CASE("forgetting a peer that was never seen changes nothing") {
  Peers l(kTimeout);
  l.seen(1, at(0ms));
  l.forget(99);
  CHECK(l.known(1));
  CHECK_FALSE(l.known(99));
  CHECK(l.expire(at(kTimeout + 1ms)) == std::vector<std::uint64_t>{1});
}

TEST_CASE("a heartbeat from an expired peer re-adds it with a fresh timeout") {
  Peers l(kTimeout);
  l.seen(7, at(0ms));
  REQUIRE(l.expire(at(kTimeout + 1ms)) == std::vector<std::uint64_t>{7});
  l.seen(7, at(kTimeout + 2ms));
  CHECK(l.known(7));
  CHECK(l.expire(at(2 * kTimeout + 2ms)).empty());
  CHECK(l.expire(at(2 * kTimeout + 3ms)) == std::vector<std::uint64_t>{7});
  CHECK(l.expire(at(3 * kTimeout)).empty());
}

TEST_CASE("with many peers, exactly the silent ones expire, each once") {
  Peers l(kTimeout);
  // Peer i was last seen at i ms.
  constexpr std::uint64_t kPeers = 1000;
  for (std::uint64_t i = 0; i < kPeers; ++i)
    l.seen(i, at(std::chrono::milliseconds(static_cast<std::int64_t>(i))));
  // At timeout + 500 ms, peers 0..499 have been silent longer than the timeout.
  auto dead = sorted(l.expire(at(kTimeout + 500ms)));
  REQUIRE(dead.size() == 500);
  for (std::uint64_t i = 0; i < 500; ++i) CHECK(dead[i] == i);
  for (std::uint64_t i = 0; i < kPeers; ++i) CHECK(l.known(i) == (i >= 500));
  // The odd survivors speak up; the even ones stay silent.
  for (std::uint64_t i = 501; i < kPeers; i += 2) l.seen(i, at(kTimeout + 600ms));
  dead = sorted(l.expire(at(2 * kTimeout)));
  std::vector<std::uint64_t> even;
  for (std::uint64_t i = 500; i < kPeers; i += 2) even.push_back(i);
  CHECK(dead == even);
  for (std::uint64_t i = 501; i < kPeers; i += 2) CHECK(l.known(i));
  CHECK(l.expire(at(2 * kTimeout)).empty());
}

TEST_CASE("peers keyed by name work the same way") {
  Liveness<std::string> l(100ms);
  l.seen("node-a", Liveness<std::string>::TimePoint{} + 0ms);
  l.seen("node-b", Liveness<std::string>::TimePoint{} + 50ms);
  CHECK(l.expire(Liveness<std::string>::TimePoint{} + 120ms) == std::vector<std::string>{"node-a"});
  CHECK(l.known("node-b"));
}
