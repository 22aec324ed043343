// The coordinator's answers to calls (coordinator/call_handler.hpp): who may
// ask what, and that every request gets exactly one reply, in order.
#include "call_handler.hpp"

#include <doctest/doctest.h>

#include "calls.hpp"

namespace {

using namespace dpool::internal;
using dpool::ErrorCode;

constexpr PeerId kClient = 1, kNode = 101, kOtherNode = 102;
const ObjectStore::TimePoint kNow{};

// A scheduler with one client and two nodes, and the client's one task
// dispatched to one of them. Returns the scheduler's id of that task.
std::uint64_t one_running_task(Scheduler& s, PeerId& ran_on) {
  s.client_joined(kClient, "client:4242");
  s.node_joined(kNode, "node-a", 1, 1);
  s.node_joined(kOtherNode, "node-b", 1, 1);
  wire::Task t;
  t.id = 7;
  t.name = "whoami";
  Payloads args;
  args.emplace_back(std::string_view("x"));
  s.submit(kClient, {t}, std::move(args));
  for (auto& env : s.take_outbox())
    if (auto* d = std::get_if<wire::Dispatch>(&env.message.body)) {
      ran_on = env.to;
      return d->tasks.at(0).id;
    }
  FAIL("nothing was dispatched");
  return 0;
}

wire::Request request(std::uint64_t id, calls::Op op, std::uint64_t task, std::uint32_t pid) {
  return wire::Request{id, static_cast<std::uint32_t>(op), task, pid};
}

const wire::Replies& replies(const Envelope& env) {
  return std::get<wire::Replies>(env.message.body);
}

// One client's task running on one of two nodes.
struct OneTask {
  Scheduler s;
  ObjectStore store{ObjectStore::Limits{}};
  CallHandler h{s, store};
  PeerId node = 0;
  std::uint64_t task = one_running_task(s, node);
};

}  // namespace

TEST_CASE_FIXTURE(OneTask, "a running task's call from its own node is answered with who it is") {
  Payloads args(1);
  auto env =
      h.answer(node, true, {{request(5, calls::Op::kTaskInfo, task, 999)}}, std::move(args), kNow);
  CHECK(env.to == node);
  REQUIRE(replies(env).replies.size() == 1);
  auto& r = replies(env).replies[0];
  CHECK(r.id == 5);
  CHECK(r.failure.code == ErrorCode::kNone);
  REQUIRE(env.message.payloads.size() == 1);
  dpool::CurrentTask who;
  dpool::detail::decode_into(env.message.payloads[0].view(), who);
  CHECK(who.name == "whoami");
  CHECK(who.id == task);
  CHECK(who.attempt == 1);
  CHECK(who.node == (node == kNode ? "node-a" : "node-b"));
  CHECK(who.pid == 999);
  CHECK(who.client == "client:4242");
  CHECK(h.stats().answered == 1);
}

TEST_CASE_FIXTURE(OneTask, "a call for a task that runs elsewhere, or no longer runs, is refused") {
  PeerId other = node == kNode ? kOtherNode : kNode;
  auto env =
      h.answer(other, true, {{request(1, calls::Op::kTaskInfo, task, 5)}}, Payloads(1), kNow);
  CHECK(replies(env).replies.at(0).failure.code == ErrorCode::kCancelled);
  CHECK(env.message.payloads.at(0).empty());

  wire::Result done;
  done.id = task;
  Payloads result(1);
  s.results(node, {done}, std::move(result));
  env = h.answer(node, true, {{request(2, calls::Op::kTaskInfo, task, 5)}}, Payloads(1), kNow);
  CHECK(replies(env).replies.at(0).failure.code == ErrorCode::kCancelled);
  CHECK(h.stats().refused == 2);
}

TEST_CASE_FIXTURE(OneTask,
                  "a client cannot ask as a task, and an unknown call is refused by number") {
  auto env =
      h.answer(kClient, false, {{request(3, calls::Op::kTaskInfo, task, 0)}}, Payloads(1), kNow);
  CHECK(replies(env).replies.at(0).failure.code == ErrorCode::kRefused);
  env = h.answer(node, true, {{wire::Request{4, 9999, task, 1}}}, Payloads(1), kNow);
  auto& f = replies(env).replies.at(0).failure;
  CHECK(f.code == ErrorCode::kRefused);
  CHECK(f.message.find("9999") != std::string::npos);
}

TEST_CASE_FIXTURE(OneTask,
                  "a batch of calls gets one reply each, in order, with the callers' ids") {
  wire::Requests batch;
  for (std::uint64_t id : {30, 10, 20})
    batch.requests.push_back(request(id, calls::Op::kTaskInfo, id == 10 ? 0 : task, 1));
  auto env = h.answer(node, true, std::move(batch), Payloads(3), kNow);
  auto& r = replies(env).replies;
  REQUIRE(r.size() == 3);
  CHECK(r[0].id == 30);
  CHECK(r[1].id == 10);
  CHECK(r[2].id == 20);
  CHECK(r[0].failure.code == ErrorCode::kNone);
  CHECK(r[1].failure.code == ErrorCode::kRefused);  // task 0: not a task's call
  CHECK(r[2].failure.code == ErrorCode::kNone);
  CHECK(env.message.payloads.size() == 3);
}

TEST_CASE_FIXTURE(OneTask, "a client's local Process holds a lease of its own, ended by its exit") {
  auto lock_call = [](dpool::detail::Verb verb) {
    calls::ObjectCall c;
    c.kind = dpool::detail::ObjectKind::kLock;
    c.name = "L";
    c.type = "lock";
    c.verb = verb;
    c.timeout_ms = 0;
    return Payload::adopt(wire::encode_meta(c));
  };
  auto call = [&](std::uint64_t id, std::uint32_t pid) {
    Payloads args;
    args.push_back(lock_call(dpool::detail::Verb::kAcquire));
    h.answer(kClient, false, {{request(id, calls::Op::kObject, 0, pid)}}, std::move(args), kNow);
    auto answers = store.take_answers();
    REQUIRE(answers.size() == 1);
    return answers[0].answer.yes && !answers[0].answer.timed_out;
  };
  CHECK(call(1, 4321));     // the client's Process 4321 takes the lock
  CHECK_FALSE(call(2, 0));  // the client itself is another holder
  // The client may not end its own leases this way, only its Processes'.
  auto refused =
      h.answer(kClient, false, {{request(3, calls::Op::kExecutorExited, 0, 0)}}, Payloads(1), kNow);
  CHECK(replies(refused).replies.at(0).failure.code == ErrorCode::kRefused);
  auto exited = h.answer(kClient, false, {{request(4, calls::Op::kExecutorExited, 0, 4321)}},
                         Payloads(1), kNow);
  CHECK(replies(exited).replies.at(0).failure.code == ErrorCode::kNone);
  CHECK(call(5, 0));  // the Process's lease ended with it
}
