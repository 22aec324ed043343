// Spinning waits (libshared/src/spin_wait.hpp): how many threads may spin
// at once, and when waits are worth spinning for.
#include "spin_wait.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace {

using dpool::internal::SpinAdvice;
using dpool::internal::SpinSlot;
using namespace std::chrono_literals;

TEST_CASE("at most one thread fewer than the CPUs holds a spinning slot") {
  const unsigned cpus = std::max(std::thread::hardware_concurrency(), 1u);
  std::vector<std::unique_ptr<SpinSlot>> held;
  for (unsigned i = 0; i < cpus + 2; ++i) {
    auto slot = std::make_unique<SpinSlot>();
    if (*slot) held.push_back(std::move(slot));
  }
  CHECK(held.size() == cpus - 1);
  if (held.empty()) return;  // one CPU: nobody spins
  CHECK_FALSE(static_cast<bool>(SpinSlot{}));
  held.back()->release();  // a released slot is free again at once
  CHECK(static_cast<bool>(SpinSlot{}));
  held.pop_back();  // destroying a released slot does not free another
  CHECK(held.size() + 1 == cpus - 1);
  SpinSlot again;
  CHECK(static_cast<bool>(again));
  CHECK_FALSE(static_cast<bool>(SpinSlot{}));
}

TEST_CASE("waits are worth spinning for while their running average is short") {
  SpinAdvice advice;
  CHECK(advice.worth_spinning());  // nothing known yet
  for (int i = 0; i < 8; ++i) advice.waited(30us);
  CHECK(advice.worth_spinning());
  // A few waits of a cluster round trip or a long task turn it off...
  int waits = 0;
  while (advice.worth_spinning() && waits < 100) {
    advice.waited(300us);
    ++waits;
  }
  CHECK(waits <= 8);
  CHECK_FALSE(advice.worth_spinning());
  // ...and short ones turn it back on.
  waits = 0;
  while (!advice.worth_spinning() && waits < 100) {
    advice.waited(20us);
    ++waits;
  }
  CHECK(waits <= 16);
  CHECK(advice.worth_spinning());
  // One long wait among many short ones does not.
  for (int i = 0; i < 32; ++i) advice.waited(20us);
  advice.waited(500us);
  CHECK(advice.worth_spinning());
}

}  // namespace
