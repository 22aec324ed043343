// Drives the coordinator's ObjectStore (coordinator/object_store.hpp) on a
// fake clock, for its unit tests: callers, one call at a time, the answers.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "object_store.hpp"

namespace store_test {

using namespace dpool::internal;
using dpool::ErrorCode;
using dpool::detail::ObjectKind;
using dpool::detail::Verb;
using namespace std::chrono_literals;

inline constexpr PeerId kClient = 1, kNode = 101;
inline const ObjectStore::Caller kAlice{kClient, 0, 0};
inline const ObjectStore::Caller kBob{kNode, 4001, 7};    // an executor of the node
inline const ObjectStore::Caller kCarol{kNode, 4002, 8};  // another executor of it

struct Store {
  ObjectStore store{ObjectStore::Limits{}};
  ObjectStore::TimePoint now{};  // the fake clock
  std::uint64_t next_request = 1;

  explicit Store(ObjectStore::Limits limits = {}) : store(limits) {}

  // Makes one call and returns its request number.
  std::uint64_t call(const ObjectStore::Caller& who, ObjectKind kind, const std::string& name,
                     Verb verb, std::string a = {}, std::string b = {}, std::uint64_t n = 0,
                     std::int64_t timeout_ms = -1, std::uint64_t param = 0,
                     std::string type = "t") {
    calls::ObjectCall c;
    c.kind = kind;
    c.name = name;
    c.type = std::move(type);
    c.param = param;
    c.verb = verb;
    c.a = std::move(a);
    c.b = std::move(b);
    c.n = n;
    c.timeout_ms = timeout_ms;
    auto id = next_request++;
    store.call(who, id, std::move(c), now);
    return id;
  }
  // The answers so far, which must be exactly one, to `request`.
  ObjectStore::Answer only(std::uint64_t request) {
    auto all = store.take_answers();
    REQUIRE(all.size() == 1);
    CHECK(all[0].request == request);
    return all[0];
  }
  bool nothing_answered() { return store.take_answers().empty(); }
  void advance(std::chrono::milliseconds d) {
    now += d;
    store.expire(now);
  }
};

}  // namespace store_test
