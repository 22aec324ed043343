// The coordinator's hosted pipes (pool.pipe; coordinator/object_pipe.cpp) on
// a fake clock: messages each way, receives and polls that park, the end of
// the stream when every holder of an end closed it or is gone, ends handed
// on, and a wait over several ends.
#include <doctest/doctest.h>

#include <chrono>

#include "calls.hpp"
#include "store_driver.hpp"

using namespace store_test;

namespace {

// Calls on pipes: `end` is the call's n, `duplex` its parameter.
struct Pipes : Store {
  std::uint64_t call(const ObjectStore::Caller& who, const std::string& name, Verb verb,
                     std::uint64_t end, std::string a = {}, std::int64_t timeout_ms = -1,
                     std::string b = {}, bool duplex = true) {
    return Store::call(who, ObjectKind::kPipe, name, verb, std::move(a), std::move(b), end,
                       timeout_ms, duplex ? 1 : 0, "pipe");
  }
  ObjectStore::Answer now_(const ObjectStore::Caller& who, const std::string& name, Verb verb,
                           std::uint64_t end, std::string a = {}) {
    return only(call(who, name, verb, end, std::move(a)));
  }
};

}  // namespace

TEST_CASE(
    "a hosted pipe carries messages each way, in order, and a receive parks until one comes") {
  Pipes p;
  CHECK(p.now_(kAlice, "P", Verb::kOpen, 0).failure.code == ErrorCode::kNone);
  CHECK(p.now_(kAlice, "P", Verb::kPut, 0, "a1").answer.yes);
  CHECK(p.now_(kAlice, "P", Verb::kPut, 0, "a2").answer.yes);
  CHECK(p.now_(kAlice, "P", Verb::kPut, 1, "b1").answer.yes);
  CHECK(p.now_(kAlice, "P", Verb::kTake, 1).answer.bytes == "a1");
  CHECK(p.now_(kAlice, "P", Verb::kTake, 1).answer.bytes == "a2");
  CHECK(p.now_(kAlice, "P", Verb::kTake, 0).answer.bytes == "b1");
  auto waiting = p.call(kAlice, "P", Verb::kTake, 1);
  CHECK(p.nothing_answered());
  auto sent = p.call(kAlice, "P", Verb::kPut, 0, "late");
  auto answers = p.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == waiting);
  CHECK(answers[0].answer.bytes == "late");
  CHECK(answers[1].request == sent);
  CHECK(p.store.bytes() == 0);  // handed straight over, never held
}

TEST_CASE("a one-way hosted pipe receives on end 0 and sends on end 1 only") {
  Pipes p;
  p.only(p.call(kAlice, "P", Verb::kOpen, 0, {}, -1, {}, false));
  auto send_on_reader = p.only(p.call(kAlice, "P", Verb::kPut, 0, "x", -1, {}, false));
  CHECK(send_on_reader.failure.code == ErrorCode::kRefused);
  CHECK(send_on_reader.failure.message.find("receiving end") != std::string::npos);
  auto recv_on_writer = p.only(p.call(kAlice, "P", Verb::kTake, 1, {}, -1, {}, false));
  CHECK(recv_on_writer.failure.code == ErrorCode::kRefused);
  CHECK(p.only(p.call(kAlice, "P", Verb::kPut, 1, "x", -1, {}, false)).answer.yes);
  CHECK(p.only(p.call(kAlice, "P", Verb::kTake, 0, {}, -1, {}, false)).answer.bytes == "x");
}

TEST_CASE("an end closed by its only holder gives the other end what is left, then end of stream") {
  Pipes p;
  p.only(p.call(kAlice, "P", Verb::kOpen, 0));
  p.only(p.call(kAlice, "P", Verb::kPut, 0, "last"));
  auto parked = p.call(kAlice, "P", Verb::kWait, 0);  // end 0's own inbox is empty
  CHECK(p.nothing_answered());
  auto release = p.call(kAlice, "P", Verb::kRelease, 0);  // end 0 closes
  auto woken = p.store.take_answers();
  REQUIRE(woken.size() == 2);
  CHECK(woken[0].request == parked);
  CHECK(woken[0].answer.bytes == "1");  // ready: a closed end does not block
  CHECK(woken[1].request == release);
  CHECK(woken[1].answer.yes);
  CHECK(p.now_(kAlice, "P", Verb::kTake, 1).answer.bytes == "last");
  auto eof = p.now_(kAlice, "P", Verb::kTake, 1).answer;
  CHECK_FALSE(eof.yes);
  CHECK_FALSE(eof.timed_out);
  auto send = p.now_(kAlice, "P", Verb::kPut, 1, "nobody");
  CHECK(send.failure.code == ErrorCode::kRefused);
  CHECK(send.failure.message.find("other end of the pipe is closed") != std::string::npos);
  CHECK(p.now_(kAlice, "P", Verb::kTake, 0).failure.code == ErrorCode::kRefused);
}

TEST_CASE("an end handed on stays open until adopted, and closes when its new holder is gone") {
  Pipes p;
  p.only(p.call(kAlice, "P", Verb::kOpen, 0));
  CHECK(p.now_(kAlice, "P", Verb::kShare, 1).answer.yes);  // end 1 goes to a Process
  p.only(p.call(kAlice, "P", Verb::kRelease, 1));          // the client drops its copy
  auto receive = p.call(kAlice, "P", Verb::kTake, 0);
  CHECK(p.nothing_answered());  // no end of stream: end 1 is on its way
  CHECK(p.now_(kBob, "P", Verb::kAdopt, 1).answer.yes);
  p.call(kBob, "P", Verb::kPut, 1, "hi");
  auto got = p.store.take_answers();
  REQUIRE(got.size() == 2);
  CHECK(got[0].request == receive);
  CHECK(got[0].answer.bytes == "hi");
  auto again = p.call(kAlice, "P", Verb::kTake, 0);
  CHECK(p.nothing_answered());
  p.store.gone(kNode, kBob.pid);  // the Process is killed
  auto eof = p.only(again);
  CHECK_FALSE(eof.answer.yes);
  auto events = p.store.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == "pipe 'P'");
}

TEST_CASE("an end held twice by one process closes at its second release") {
  Pipes p;
  p.only(p.call(kAlice, "P", Verb::kOpen, 0));
  p.only(p.call(kAlice, "P", Verb::kShare, 0));
  p.only(p.call(kAlice, "P", Verb::kAdopt, 0));  // the client holds end 0 twice now
  p.only(p.call(kAlice, "P", Verb::kRelease, 0));
  CHECK(p.only(p.call(kAlice, "P", Verb::kTake, 1, {}, 0)).answer.timed_out);  // no end yet
  p.only(p.call(kAlice, "P", Verb::kRelease, 0));
  auto eof = p.only(p.call(kAlice, "P", Verb::kTake, 1, {}, 0)).answer;
  CHECK_FALSE(eof.timed_out);
  CHECK_FALSE(eof.yes);
}

TEST_CASE("a wait over several ends parks until one can receive, and answers which") {
  Pipes p;
  p.only(p.call(kAlice, "A", Verb::kOpen, 0));
  p.only(p.call(kAlice, "B", Verb::kOpen, 0));
  auto ends = calls::encode_pipe_ends({{"A", 1}, {"B", 1}});
  auto waiting = p.call(kAlice, "A", Verb::kWait, 1, {}, -1, ends);
  CHECK(p.nothing_answered());
  p.call(kAlice, "B", Verb::kPut, 0, "to B");
  auto answers = p.store.take_answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].request == waiting);
  CHECK(answers[0].answer.bytes == "01");
  CHECK(p.store.parked() == 0);  // gone from A's watchers as well
  auto timed = p.call(kAlice, "A", Verb::kWait, 0, {}, 50, calls::encode_pipe_ends({{"A", 0}}));
  CHECK(p.nothing_answered());
  p.now += 50ms;
  p.store.expire(p.now);
  CHECK(p.only(timed).answer.timed_out);
  auto bad = p.only(p.call(kAlice, "A", Verb::kWait, 1, {}, -1, "garbage"));
  CHECK(bad.failure.code == ErrorCode::kRefused);
  auto missing =
      p.only(p.call(kAlice, "A", Verb::kWait, 1, {}, -1, calls::encode_pipe_ends({{"Z", 0}})));
  CHECK(missing.failure.message.find("no pipe end") != std::string::npos);
}
