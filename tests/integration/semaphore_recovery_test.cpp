// Semaphore permits held by a Process that dies come back: its tracker sees
// it gone and gives them back, waking a waiter blocked in acquire(). The
// tests wait on the acquire itself; its timeout only bounds a failure.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <dpool/dpool.hpp>
#include <stdexcept>
#include <thread>

#include "processes.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace ts = test_support;

namespace {

// Takes `n` permits, says so, and waits to be killed.
void hold_permits(dpool::Semaphore s, int n, dpool::Event holding) {
  for (int i = 0; i < n; ++i) s.acquire();
  holding.set();
  ::pause();
}

// Takes one permit, gives it back, takes `keep`, says so, waits for `go`
// and ends normally: by returning, or by throwing if `throw_at_end`.
void take_release_keep(dpool::Semaphore s, int keep, dpool::Event took, dpool::Event go,
                       bool throw_at_end) {
  s.acquire();
  s.release();
  for (int i = 0; i < keep; ++i) s.acquire();
  took.set();
  go.wait();
  if (throw_at_end) throw std::runtime_error("ends by throwing");
}

}  // namespace

DPOOL_REGISTER(hold_permits);
DPOOL_REGISTER(take_release_keep);

TEST_CASE("a waiter blocked in acquire wakes when the Process holding the permits is killed") {
  dpool::Semaphore s(2);
  dpool::Event holding;
  dpool::Process p(hold_permits, s, 2, holding);
  p.start();
  REQUIRE(holding.wait(20s));
  CHECK(s.value() == 0);
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = s.acquire(20s); });  // blocks: no permit is left
  auto t0 = test_support::Clock::now();
  p.kill();
  p.join();
  waiter.join();
  CHECK(got);
  CHECK_WITHIN(t0, 20.0);
  CHECK(s.value() == 1);  // both came back; the waiter holds one
  s.release();
  CHECK(s.value() == 2);
}

TEST_CASE("a BoundedSemaphore gets back a killed holder's permit and stays within its bound") {
  dpool::BoundedSemaphore b(2);
  b.acquire();  // this program holds one
  dpool::Event holding;
  dpool::Process p(hold_permits, dpool::Semaphore(b), 1, holding);
  p.start();
  REQUIRE(holding.wait(20s));
  CHECK(b.value() == 0);
  p.kill();
  p.join();
  REQUIRE(b.acquire(20s));  // the killed Process's permit
  b.release();
  b.release();  // ours
  CHECK(b.value() == 2);
  CHECK_THROWS_AS(b.release(), std::logic_error);
}

TEST_CASE("a Process that ends normally keeps the permits it took, as in Python") {
  // A semaphore used as a signal: the consumer's permits are consumed, not
  // held, and must not come back when it ends.
  for (bool throws : {false, true}) {
    CAPTURE(throws);
    dpool::Semaphore s(1);
    dpool::Event took, go;
    dpool::Process p(take_release_keep, s, 1, took, go, throws);
    p.start();
    REQUIRE(took.wait(20s));
    auto trackers = ts::children_of(p.pid());  // its tracker, started by its first acquire
    REQUIRE(trackers.size() == 1);
    go.set();
    p.join();
    CHECK(p.exitcode() == (throws ? 1 : 0));
    REQUIRE(ts::wait_gone(trackers[0], 20s));  // the tracker has done what it does at the end
    CHECK(s.value() == 0);                     // the permit it ended with stays taken
  }
}

TEST_CASE("what a killed Process released counts once: only the permit it held comes back") {
  dpool::Semaphore s(1);
  dpool::Event took, go;
  dpool::Process p(take_release_keep, s, 1, took, go, false);
  p.start();
  REQUIRE(took.wait(20s));
  p.kill();
  p.join();
  REQUIRE(s.acquire(20s));  // the permit it held comes back once its tracker sees it gone
  CHECK(s.value() == 0);    // and only that one
  s.release();
}
