// The coordinator's hosted objects (coordinator/object_store.hpp) on a fake
// clock: what each kind answers, parked calls and their deadlines, leases
// that end with their holder, barriers that break, and the limits.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <set>

#include "store_driver.hpp"

using namespace store_test;

TEST_CASE("a dict sets, gets, erases, counts and lists its entries") {
  Store s;
  auto dict = [&](Verb v, std::string a = {}, std::string b = {}, std::uint64_t n = 0) {
    return s.only(s.call(kAlice, ObjectKind::kDict, "d", v, a, b, n)).answer;
  };
  CHECK(dict(Verb::kSet, "k", "1").yes);
  CHECK(dict(Verb::kSet, "j", "2").yes);
  auto got = dict(Verb::kGet, "k");
  CHECK(got.yes);
  CHECK(got.bytes == "1");
  CHECK_FALSE(dict(Verb::kGet, "nope").yes);
  CHECK(dict(Verb::kContains, "j").yes);
  CHECK(dict(Verb::kSize).n == 2);
  CHECK(dict(Verb::kItems).items.size() == 4);
  CHECK(dict(Verb::kErase, "j").yes);
  CHECK_FALSE(dict(Verb::kErase, "j").yes);
  CHECK(dict(Verb::kSize).n == 1);
}

TEST_CASE("a dict's swap succeeds only against the version it read") {
  Store s;
  auto dict = [&](Verb v, std::string a = {}, std::string b = {}, std::uint64_t n = 0) {
    return s.only(s.call(kAlice, ObjectKind::kDict, "d", v, a, b, n)).answer;
  };
  auto absent = dict(Verb::kRead, "k");
  CHECK_FALSE(absent.yes);
  CHECK(dict(Verb::kSwap, "k", "1", 0).yes);  // version 0: the key was absent
  auto first = dict(Verb::kRead, "k");
  REQUIRE(first.yes);
  CHECK(dict(Verb::kSwap, "k", "2", first.n).yes);
  // A writer holding the old version loses and hears the current one.
  auto lost = dict(Verb::kSwap, "k", "3", first.n);
  CHECK_FALSE(lost.yes);
  CHECK(lost.bytes == "2");
  CHECK(lost.n != first.n);
  CHECK(dict(Verb::kSwap, "k", "3", lost.n).yes);
  CHECK(dict(Verb::kGet, "k").bytes == "3");
  CHECK_FALSE(dict(Verb::kSwap, "fresh", "x", 12345).yes);  // absent is version 0 only
}

TEST_CASE("a name asked for as another kind or type is a signature mismatch") {
  Store s;
  s.only(
      s.call(kAlice, ObjectKind::kDict, "shared", Verb::kOpen, {}, {}, 0, -1, 0, "dict<int, int>"));
  auto other_type = s.only(s.call(kBob, ObjectKind::kDict, "shared", Verb::kOpen, {}, {}, 0, -1, 0,
                                  "dict<int, double>"));
  CHECK(other_type.failure.code == ErrorCode::kSignatureMismatch);
  CHECK(other_type.failure.message.find("dict<int, int>") != std::string::npos);
  auto other_kind = s.only(
      s.call(kBob, ObjectKind::kList, "shared", Verb::kOpen, {}, {}, 0, -1, 0, "dict<int, int>"));
  CHECK(other_kind.failure.code == ErrorCode::kSignatureMismatch);
  CHECK(s.store.objects() == 1);
}

TEST_CASE("a list appends and reads by index") {
  Store s;
  auto list = [&](Verb v, std::string a = {}, std::uint64_t n = 0) {
    return s.only(s.call(kAlice, ObjectKind::kList, "l", v, a, {}, n)).answer;
  };
  CHECK(list(Verb::kAppend, "a").n == 1);
  CHECK(list(Verb::kAppend, "b").n == 2);
  CHECK(list(Verb::kGet, {}, 1).bytes == "b");
  CHECK_FALSE(list(Verb::kGet, {}, 2).yes);  // out of range
  CHECK(list(Verb::kItems).items == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a queue's get parks until a put, and times out with nothing taken") {
  Store s;
  auto get = s.call(kBob, ObjectKind::kQueue, "q", Verb::kTake);
  CHECK(s.nothing_answered());
  CHECK(s.store.parked() == 1);
  auto put = s.call(kAlice, ObjectKind::kQueue, "q", Verb::kPut, "item");
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);  // the get gets the item, the put is done
  CHECK(answers[0].request == get);
  CHECK(answers[0].answer.bytes == "item");
  CHECK(answers[1].request == put);
  CHECK(s.store.parked() == 0);

  auto late = s.call(kBob, ObjectKind::kQueue, "q", Verb::kTake, {}, {}, 0, 50);
  CHECK(s.nothing_answered());
  REQUIRE(s.store.next_deadline().has_value());
  s.advance(49ms);
  CHECK(s.nothing_answered());
  s.advance(1ms);
  CHECK(s.only(late).answer.timed_out);
  CHECK_FALSE(s.store.next_deadline().has_value());
  // A nowait get on an empty queue answers at once.
  CHECK(s.only(s.call(kBob, ObjectKind::kQueue, "q", Verb::kTake, {}, {}, 0, 0)).answer.timed_out);
}

TEST_CASE("a bounded queue parks puts in order and admits them as room is made") {
  Store s;
  auto put = [&](std::string item, std::int64_t timeout = -1) {
    return s.call(kAlice, ObjectKind::kQueue, "b", Verb::kPut, item, {}, 0, timeout, 1);
  };
  s.only(put("1"));
  auto second = put("2");
  auto third = put("3", 100);
  CHECK(s.nothing_answered());
  auto size = s.only(s.call(kAlice, ObjectKind::kQueue, "b", Verb::kSize, {}, {}, 0, -1, 1)).answer;
  CHECK(size.n == 1);
  CHECK(size.yes);  // full
  auto take = s.call(kBob, ObjectKind::kQueue, "b", Verb::kTake, {}, {}, 0, -1, 1);
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == take);
  CHECK(answers[0].answer.bytes == "1");
  CHECK(answers[1].request == second);  // the first parked put moved in
  const auto held = s.store.bytes();
  s.advance(100ms);
  CHECK(s.only(third).answer.timed_out);
  CHECK(s.store.bytes() == held - 1);  // the expired put's item left the store
}

TEST_CASE("join returns when every put item is done; an extra task_done is refused") {
  Store s;
  auto q = [&](Verb v, std::string a = {}) {
    return s.call(kAlice, ObjectKind::kQueue, "j", v, a, {}, 0, -1, 0);
  };
  s.only(q(Verb::kPut, "x"));
  auto join = q(Verb::kJoin);
  CHECK(s.nothing_answered());
  s.only(q(Verb::kTake));
  auto done = q(Verb::kTaskDone);
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == join);
  CHECK(answers[1].request == done);
  auto extra = s.only(q(Verb::kTaskDone));
  CHECK(extra.failure.code == ErrorCode::kRefused);
}

TEST_CASE("shutdown wakes blocked gets and puts with ShutDown; immediate drops what is left") {
  Store s;
  auto q = [&](Verb v, std::string a = {}, std::uint64_t n = 0, std::uint64_t max = 1) {
    return s.call(kAlice, ObjectKind::kQueue, "s", v, a, {}, n, -1, max);
  };
  s.only(q(Verb::kPut, "a"));
  auto blocked_put = q(Verb::kPut, "b");
  CHECK(s.nothing_answered());
  auto shut = q(Verb::kShutdown);
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == blocked_put);
  CHECK(answers[0].failure.code == ErrorCode::kShutDown);
  CHECK(answers[1].request == shut);
  // What was in it can still be taken; then get says ShutDown.
  CHECK(s.only(q(Verb::kTake)).answer.bytes == "a");
  CHECK(s.only(q(Verb::kTake)).failure.code == ErrorCode::kShutDown);
  CHECK(s.only(q(Verb::kPut, "c")).failure.code == ErrorCode::kShutDown);

  // Immediate: items dropped, blocked gets woken.
  auto other = [&](Verb v, std::string a = {}, std::uint64_t n = 0) {
    return s.call(kBob, ObjectKind::kQueue, "t", v, a, {}, n, -1, 0);
  };
  auto waiting_get = other(Verb::kTake);
  CHECK(s.nothing_answered());
  other(Verb::kShutdown, {}, 1);
  answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == waiting_get);
  CHECK(answers[0].failure.code == ErrorCode::kShutDown);
  CHECK(s.store.bytes() == 0);
}

TEST_CASE("a value loads, stores, adds and compares-and-swaps") {
  Store s;
  // A 4-byte signed number: one header byte, then the number.
  auto num = [](std::int32_t v) {
    std::string b(5, '\0');
    std::memcpy(b.data() + 1, &v, 4);
    return b;
  };
  const std::uint64_t int32_kind = (1u << 8) | 4u;
  auto value = [&](Verb v, std::string a = {}, std::string b = {}) {
    return s.only(s.call(kAlice, ObjectKind::kValue, "v", v, a, b, 0, -1, int32_kind)).answer;
  };
  s.only(s.call(kAlice, ObjectKind::kValue, "v", Verb::kOpen, num(5), {}, 0, -1, int32_kind));
  CHECK(value(Verb::kGet).bytes == num(5));
  CHECK(value(Verb::kFetchAdd, num(3)).bytes == num(5));  // the old value
  CHECK(value(Verb::kGet).bytes == num(8));
  CHECK_FALSE(value(Verb::kCompareSwap, num(7), num(100)).yes);
  auto swapped = value(Verb::kCompareSwap, num(8), num(100));
  CHECK(swapped.yes);
  CHECK(swapped.bytes == num(8));
  CHECK(value(Verb::kGet).bytes == num(100));
  // A value that is not a number cannot be added to.
  s.only(s.call(kAlice, ObjectKind::kValue, "text", Verb::kOpen, "abc", {}, 0, -1, 0));
  auto refused = s.only(s.call(kAlice, ObjectKind::kValue, "text", Verb::kFetchAdd, "abc"));
  CHECK(refused.failure.code == ErrorCode::kSignatureMismatch);
}

TEST_CASE("a lock is granted first come first served, and acquire times out") {
  Store s;
  auto lock = [&](const ObjectStore::Caller& who, Verb v, std::int64_t timeout = -1) {
    return s.call(who, ObjectKind::kLock, "L", v, {}, {}, 0, timeout);
  };
  CHECK(s.only(lock(kAlice, Verb::kAcquire)).answer.yes);
  CHECK_FALSE(s.only(lock(kBob, Verb::kAcquire, 0)).answer.yes);  // try once
  auto bob = lock(kBob, Verb::kAcquire);
  auto carol = lock(kCarol, Verb::kAcquire, 30);
  CHECK(s.nothing_answered());
  s.advance(30ms);
  CHECK(s.only(carol).answer.timed_out);
  auto release = lock(kAlice, Verb::kRelease);
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == bob);
  CHECK(answers[0].answer.yes);
  CHECK(answers[1].request == release);
  s.only(lock(kBob, Verb::kRelease));
  CHECK(s.only(lock(kBob, Verb::kRelease)).failure.code == ErrorCode::kRefused);  // unlocked
}

TEST_CASE("a lock held by an executor that dies goes to the next waiter, and is logged") {
  Store s;
  auto lock = [&](const ObjectStore::Caller& who, Verb v) {
    return s.call(who, ObjectKind::kLock, "L", v);
  };
  s.only(lock(kBob, Verb::kAcquire));
  auto alice = lock(kAlice, Verb::kAcquire);
  auto carol_waits = lock(kCarol, Verb::kAcquire);
  CHECK(s.nothing_answered());
  s.store.gone(kNode, kCarol.pid);  // a waiter dies: its parked call goes, unanswered
  CHECK(s.nothing_answered());
  auto dropped = s.store.take_events();
  REQUIRE(dropped.size() == 1);
  CHECK_FALSE(dropped[0].warning);
  CHECK(dropped[0].holder.pid == kCarol.pid);
  s.store.gone(kNode, kBob.pid);  // the holder dies
  CHECK(s.only(alice).answer.yes);
  auto events = s.store.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].holder.pid == kBob.pid);
  CHECK(events[0].what == "lock 'L'");
  CHECK(events[0].warning);
  CHECK(s.store.stats().leases_released == 1);
  CHECK(s.store.parked() == 0);
  (void)carol_waits;
}

TEST_CASE("a node lost ends the leases of all its executors; a client lost ends its own") {
  Store s;
  s.only(s.call(kBob, ObjectKind::kSemaphore, "S", Verb::kAcquire, {}, {}, 0, -1, 2));
  s.only(s.call(kCarol, ObjectKind::kSemaphore, "S", Verb::kAcquire, {}, {}, 0, -1, 2));
  auto alice = s.call(kAlice, ObjectKind::kSemaphore, "S", Verb::kAcquire, {}, {}, 0, -1, 2);
  CHECK(s.nothing_answered());
  s.store.gone(kNode);
  CHECK(s.only(alice).answer.yes);
  CHECK(s.store.take_events().size() == 2);
  s.store.gone(kClient);
  CHECK(s.store.take_events().size() == 1);
  // All permits are free again.
  CHECK(s.only(s.call(kBob, ObjectKind::kSemaphore, "S", Verb::kAcquire, {}, {}, 0, 0, 2))
            .answer.yes);
  CHECK(s.only(s.call(kCarol, ObjectKind::kSemaphore, "S", Verb::kAcquire, {}, {}, 0, 0, 2))
            .answer.yes);
}

TEST_CASE("an event wakes every waiter; a wait with a timeout returns false") {
  Store s;
  auto ev = [&](const ObjectStore::Caller& who, Verb v, std::int64_t timeout = -1) {
    return s.call(who, ObjectKind::kEvent, "E", v, {}, {}, 0, timeout);
  };
  auto w1 = ev(kBob, Verb::kWait);
  auto w2 = ev(kCarol, Verb::kWait, 10);
  s.advance(10ms);
  CHECK(s.only(w2).answer.timed_out);
  ev(kAlice, Verb::kSet);
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == w1);
  CHECK(s.only(ev(kAlice, Verb::kIsSet)).answer.yes);
  CHECK(s.only(ev(kBob, Verb::kWait)).answer.yes);  // already set
  s.only(ev(kAlice, Verb::kClear));
  CHECK_FALSE(s.only(ev(kAlice, Verb::kIsSet)).answer.yes);
}

TEST_CASE("a barrier lets all parties go with distinct indexes, and breaks when a party dies") {
  Store s;
  auto wait = [&](const ObjectStore::Caller& who, const std::string& name) {
    return s.call(who, ObjectKind::kBarrier, name, Verb::kWait, {}, {}, 0, -1, 3);
  };
  wait(kAlice, "B");
  wait(kBob, "B");
  CHECK(s.nothing_answered());
  wait(kCarol, "B");
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 3);
  std::set<std::uint64_t> indexes;
  for (auto& a : answers) indexes.insert(a.answer.n);
  CHECK(indexes == std::set<std::uint64_t>{0, 1, 2});

  auto alice = wait(kAlice, "C");
  wait(kBob, "C");
  s.store.gone(kNode, kBob.pid);
  auto broken = s.only(alice);
  CHECK(broken.failure.code == ErrorCode::kBrokenBarrier);
  CHECK(s.store.take_events().size() == 1);
  CHECK(s.only(wait(kCarol, "C")).failure.code == ErrorCode::kBrokenBarrier);
}

TEST_CASE("a notified condition waiter returns true once it holds the lock again") {
  Store s;
  auto cond = [&](const ObjectStore::Caller& who, Verb v, std::int64_t timeout = -1) {
    return s.call(who, ObjectKind::kCondition, "C", v, {}, {}, 1, timeout);
  };
  s.only(cond(kBob, Verb::kAcquire));
  auto waiting = cond(kBob, Verb::kWait);
  CHECK(s.nothing_answered());
  s.only(cond(kAlice, Verb::kAcquire));
  s.only(cond(kAlice, Verb::kNotify));
  auto release = cond(kAlice, Verb::kRelease);
  auto answers = s.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == waiting);
  CHECK(answers[0].answer.yes);  // notified
  CHECK(answers[1].request == release);
  // A wait that times out also returns holding the lock, with false.
  auto timed = cond(kBob, Verb::kWait, 20);
  s.advance(20ms);
  auto late = s.only(timed);
  CHECK_FALSE(late.answer.yes);
  CHECK(s.only(cond(kBob, Verb::kRelease)).answer.yes);  // so it can release it
}

TEST_CASE("the limits on objects and bytes refuse with a clear error and keep what is there") {
  Store s(ObjectStore::Limits{.max_objects = 2, .max_bytes = 10});
  s.only(s.call(kAlice, ObjectKind::kDict, "one", Verb::kOpen));
  s.only(s.call(kAlice, ObjectKind::kDict, "two", Verb::kOpen));
  auto third = s.only(s.call(kAlice, ObjectKind::kDict, "three", Verb::kOpen));
  CHECK(third.failure.code == ErrorCode::kQueueFull);
  CHECK(s.store.objects() == 2);
  CHECK(s.only(s.call(kAlice, ObjectKind::kDict, "one", Verb::kSet, "k", "12345678")).answer.yes);
  CHECK(s.store.bytes() == 9);
  auto big = s.only(s.call(kAlice, ObjectKind::kDict, "one", Verb::kSet, "j", "xx"));
  CHECK(big.failure.code == ErrorCode::kQueueFull);
  CHECK(big.failure.message.find("--manager-max-bytes") != std::string::npos);
  CHECK(s.store.bytes() == 9);
  s.only(s.call(kAlice, ObjectKind::kDict, "one", Verb::kErase, "k"));
  CHECK(s.store.bytes() == 0);
}

TEST_CASE("a queue owned by a client goes with it; calls parked on it end with ShutDown") {
  Store s;
  calls::ObjectCall c;
  c.kind = ObjectKind::kQueue;
  c.name = "owned";
  c.type = "t";
  c.owned = true;
  c.verb = Verb::kPut;
  c.a = "item";
  s.store.call(kAlice, 1, std::move(c), s.now);
  s.only(1);
  s.only(s.call(kBob, ObjectKind::kQueue, "owned", Verb::kTake));  // the item
  auto waiting = s.call(kBob, ObjectKind::kQueue, "owned", Verb::kTake);
  CHECK(s.nothing_answered());
  s.store.gone(kClient);
  CHECK(s.only(waiting).failure.code == ErrorCode::kShutDown);
  CHECK(s.store.objects() == 0);
  CHECK(s.store.parked() == 0);
}
