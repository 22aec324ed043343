// CodeShelf, the coordinator's pushed task libraries: who gets CODE, when a
// push is answered (every node said LOADED, left, or its time was up), and
// what a node that joins later gets. Pure, on a fake clock.
#include "code_shelf.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using dpool::internal::CodeShelf;
using dpool::internal::Envelope;
namespace wire = dpool::internal::wire;
namespace calls = dpool::internal::calls;

namespace {

const CodeShelf::TimePoint t0{};
constexpr dpool::internal::PeerId kClient = 1, kNodeA = 10, kNodeB = 11;

calls::PushCall library(std::string name, std::string bytes = "ELF...") {
  return calls::PushCall{std::move(name), std::move(bytes)};
}

// The CODE messages in `out`, as "peer:name".
std::vector<std::string> codes(const std::vector<Envelope>& out) {
  std::vector<std::string> s;
  for (auto& e : out)
    if (auto* c = std::get_if<wire::Code>(&e.message.body))
      s.push_back(std::to_string(e.to) + ":" + c->name);
  return s;
}

std::uint64_t seq_of(const std::vector<Envelope>& out) {
  for (auto& e : out)
    if (auto* c = std::get_if<wire::Code>(&e.message.body)) return c->seq;
  return 0;
}

// The answer to `client`'s push in `out`, if there is one.
std::optional<calls::PushAnswer> answer_in(const std::vector<Envelope>& out,
                                           std::uint64_t request) {
  for (auto& e : out) {
    auto* r = std::get_if<wire::Replies>(&e.message.body);
    if (!r || e.to != kClient || r->replies.at(0).id != request) continue;
    auto a = wire::decode_meta<calls::PushAnswer>(e.message.payloads.at(0).view());
    REQUIRE(a);
    return *a;
  }
  return std::nullopt;
}

wire::Loaded loaded(std::uint64_t seq, std::string error = {}) {
  return wire::Loaded{seq, error.empty(), std::move(error)};
}

}  // namespace

TEST_CASE("a push goes to every node and is answered once each has said LOADED") {
  CodeShelf shelf;
  shelf.push(kClient, 7, library("libt.so", "bytes"), {{kNodeA, "a"}, {kNodeB, "b"}}, t0);
  auto out = shelf.take_outbox();
  CHECK(codes(out) == std::vector<std::string>{"10:libt.so", "11:libt.so"});
  auto& code = std::get<wire::Code>(out[0].message.body);
  CHECK(code.digest.size() == 64);  // SHA-256, hex
  CHECK(out[0].message.payloads.at(0).view() == "bytes");
  auto seq = code.seq;
  shelf.loaded(kNodeB, loaded(seq, "it does not load: nope"));
  CHECK_FALSE(answer_in(shelf.take_outbox(), 7));  // a is still due
  shelf.loaded(kNodeA, loaded(seq));
  auto a = answer_in(shelf.take_outbox(), 7);
  REQUIRE(a);
  REQUIRE(a->nodes.size() == 2);
  CHECK(a->nodes[0].node == "a");
  CHECK(a->nodes[0].loaded);
  CHECK(a->nodes[1].node == "b");
  CHECK_FALSE(a->nodes[1].loaded);
  CHECK(a->nodes[1].error == "it does not load: nope");
}

TEST_CASE("with no node the push is answered at once; a node that joins later gets it") {
  CodeShelf shelf;
  shelf.push(kClient, 1, library("libt.so"), {}, t0);
  auto a = answer_in(shelf.take_outbox(), 1);
  REQUIRE(a);
  CHECK(a->nodes.empty());
  CHECK(shelf.libraries() == 1);
  shelf.node_joined(kNodeA, "late");
  auto out = shelf.take_outbox();
  CHECK(codes(out) == std::vector<std::string>{"10:libt.so"});
  shelf.loaded(kNodeA, loaded(seq_of(out)));
  auto events = shelf.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].node == "late");
  CHECK(events[0].library == "libt.so");
  CHECK(events[0].loaded);
  CHECK(shelf.take_outbox().empty());  // nobody waits for a joiner's answer
}

TEST_CASE("a node lost before it answers counts as not loaded; so does one past the deadline") {
  CodeShelf shelf;
  shelf.push(kClient, 3, library("libt.so"), {{kNodeA, "a"}, {kNodeB, "b"}}, t0);
  shelf.take_outbox();
  shelf.node_left(kNodeA);
  CHECK_FALSE(answer_in(shelf.take_outbox(), 3));
  REQUIRE(shelf.next_deadline());
  CHECK(*shelf.next_deadline() == t0 + CodeShelf::kAnswerWithin);
  shelf.expire(t0 + CodeShelf::kAnswerWithin - 1ms);
  CHECK_FALSE(answer_in(shelf.take_outbox(), 3));
  shelf.expire(t0 + CodeShelf::kAnswerWithin);
  auto a = answer_in(shelf.take_outbox(), 3);
  REQUIRE(a);
  REQUIRE(a->nodes.size() == 2);
  CHECK(a->nodes[0].error == "the node was lost before it answered");
  CHECK(a->nodes[1].error == "no answer within 60 s");
  CHECK_FALSE(shelf.next_deadline());
}

TEST_CASE(
    "a library pushed again under its name replaces the first; a gone client gets no answer") {
  CodeShelf shelf;
  shelf.push(kClient, 1, library("libt.so", "v1"), {}, t0);
  shelf.push(kClient, 2, library("libt.so", "v2"), {}, t0);
  shelf.take_outbox();
  CHECK(shelf.libraries() == 1);
  shelf.node_joined(kNodeA, "a");
  auto out = shelf.take_outbox();
  REQUIRE(codes(out).size() == 1);
  CHECK(out[0].message.payloads.at(0).view() == "v2");

  shelf.push(kClient, 9, library("other.so"), {{kNodeA, "a"}}, t0);
  shelf.take_outbox();
  shelf.client_left(kClient);
  shelf.node_left(kNodeA);
  CHECK(shelf.take_outbox().empty());
}
