// The status call (calls::Op::kStatus): who may ask, what the answer holds
// (coordinator/status_report.hpp), and that it survives the wire.
#include "status_report.hpp"

#include <doctest/doctest.h>

#include "call_handler.hpp"
#include "calls.hpp"
#include "cluster_status.hpp"
#include "payloads.hpp"
#include "status_view.hpp"

namespace {

using namespace dpool::internal;
using namespace std::chrono_literals;
using dpool::ClusterStatus;
using dpool::ErrorCode;
using test_support::payload;

constexpr PeerId kClient = 1, kAsker = 2, kNode = 101, kLocalNode = 102;
const StatusInputs::TimePoint kStart{std::chrono::hours(3)};

wire::Request status_request(std::uint64_t id) {
  return wire::Request{id, static_cast<std::uint32_t>(calls::Op::kStatus), 0, 0};
}

const wire::Reply& only_reply(const Envelope& env) {
  auto& r = std::get<wire::Replies>(env.message.body).replies;
  REQUIRE(r.size() == 1);
  return r[0];
}

// A client with three tasks on a node of two executors (one held ahead),
// another on an in-process node, and a second client that asks.
struct Cluster {
  Scheduler s;
  ObjectStore store{ObjectStore::Limits{}};
  Cluster() {
    s.client_joined(kClient, "client:7");
    s.client_joined(kAsker, "status:8");
    s.node_joined(kNode, "node-a", 2, 3);
    std::vector<wire::Task> tasks(4);
    Payloads args;
    for (std::uint64_t i = 0; i < 4; ++i) {
      tasks[i].id = i + 1;
      tasks[i].name = "t";
      args.push_back(payload("x"));
    }
    s.submit(kClient, std::move(tasks), std::move(args));
    s.set_time(kStart + 5s);
    s.take_outbox();  // three go to node-a; one waits
    s.node_joined(kLocalNode, "local", 1, 0);
  }
  StatusInputs inputs() const {
    StatusInputs in;
    in.name = "coordinator";
    in.endpoint = "tcp://127.0.0.1:5555";
    in.started = kStart;
    in.now = kStart + 125s;
    in.throughput = 12.5;
    in.asking = kAsker;
    in.peers[kNode] = {"10.0.0.2", 4242, kStart + 124500ms};
    in.peers[kLocalNode] = {"", 99, std::nullopt};
    in.peers[kClient] = {"10.0.0.3", 7, kStart + 125s};
    return in;
  }
};

}  // namespace

TEST_CASE_FIXTURE(Cluster,
                  "a status report holds each node's load, the clients but the asker, totals") {
  auto r = status_report(s, store, inputs());
  CHECK(r.coordinator == "coordinator");
  CHECK(r.endpoint == "tcp://127.0.0.1:5555");
  CHECK(r.uptime_ms == 125000);
  REQUIRE(r.nodes.size() == 2);
  auto& a = r.nodes[0].name == "node-a" ? r.nodes[0] : r.nodes[1];
  auto& local = r.nodes[0].name == "node-a" ? r.nodes[1] : r.nodes[0];
  CHECK(a.address == "10.0.0.2");
  CHECK(a.pid == 4242);
  CHECK(a.executors == 2);
  CHECK(a.busy == 2);
  CHECK(a.waiting == 1);
  CHECK(a.heartbeat_age_ms == 500);
  CHECK(local.heartbeat_age_ms == -1);
  REQUIRE(r.clients.size() == 1);
  CHECK(r.clients[0].name == "client:7");
  CHECK(r.clients[0].address == "10.0.0.3");
  CHECK(r.clients[0].running + r.clients[0].queued == 4);
  CHECK(r.queued + r.running == 4);
  CHECK(r.submitted == 4);
  CHECK(r.throughput == 12.5);
  CHECK(r.objects == 0);
}

TEST_CASE_FIXTURE(Cluster,
                  "a client's status call is answered with the report, which survives the wire") {
  CallHandler h(s, store, [this](PeerId asking) {
    auto in = inputs();
    in.asking = asking;
    return status_report(s, store, in);
  });
  auto env = h.answer(kAsker, false, {{status_request(9)}}, Payloads(1), kStart);
  auto& reply = only_reply(env);
  CHECK(reply.id == 9);
  CHECK(reply.failure.code == ErrorCode::kNone);
  REQUIRE(env.message.payloads.size() == 1);
  auto decoded = wire::decode_meta<ClusterStatus>(env.message.payloads[0].view());
  REQUIRE(decoded);
  CHECK(decoded->nodes.size() == 2);
  CHECK(decoded->clients.size() == 1);
  CHECK(decoded->throughput == 12.5);
  CHECK(decoded->uptime_ms == 125000);
  CHECK(h.stats().answered == 1);
}

TEST_CASE_FIXTURE(Cluster, "a node may not ask for the status, and without a source nobody may") {
  int asked = 0;
  CallHandler h(s, store, [&](PeerId) {
    ++asked;
    return ClusterStatus{};
  });
  auto env = h.answer(kNode, true, {{status_request(3)}}, Payloads(1), kStart);
  CHECK(only_reply(env).failure.code == ErrorCode::kRefused);
  CHECK(asked == 0);

  CallHandler without(s, store);
  auto env2 = without.answer(kAsker, false, {{status_request(4)}}, Payloads(1), kStart);
  CHECK(only_reply(env2).failure.code == ErrorCode::kRefused);
  CHECK(only_reply(env2).failure.message == "this coordinator gives no status");
}

TEST_CASE("a status that claims more nodes than its bytes hold is refused when decoded") {
  ClusterStatus big;
  big.nodes.resize(3);
  auto bytes = wire::encode_meta(big);
  bytes.resize(bytes.size() / 2);
  CHECK_FALSE(wire::decode_meta<ClusterStatus>(bytes));
}

TEST_CASE_FIXTURE(Cluster,
                  "a status report lists the longest-running tasks and the recent failures, which "
                  "survive the wire and show in the JSON") {
  std::vector<wire::Result> failed(1);
  failed[0].id = 1;  // the scheduler's first id: dispatched to node-a
  failed[0].failure.code = ErrorCode::kTaskRaised;
  failed[0].failure.message = "it \"broke\"";
  Payloads payloads;
  payloads.push_back(payload("r"));
  s.set_time(kStart + 25s);
  s.results(kNode, std::move(failed), std::move(payloads));
  s.take_outbox();  // the waiting task goes to node-a

  auto r = status_report(s, store, inputs());
  REQUIRE(r.longest_running.size() == 3);
  CHECK(r.longest_running[0].task == "t");
  CHECK(r.longest_running[0].node == "node-a");
  CHECK(r.longest_running[0].client == "client:7");
  CHECK(r.longest_running[0].running_ms == 120000);
  CHECK(r.longest_running[2].running_ms == 100000);
  REQUIRE(r.failures.size() == 1);
  CHECK(r.failures[0].code == ErrorCode::kTaskRaised);
  CHECK(r.failures[0].node == "node-a");
  CHECK(r.failures[0].age_ms == 100000);

  auto decoded = wire::decode_meta<ClusterStatus>(wire::encode_meta(r));
  REQUIRE(decoded);
  REQUIRE(decoded->longest_running.size() == 3);
  CHECK(decoded->longest_running[2].running_ms == 100000);
  REQUIRE(decoded->failures.size() == 1);
  CHECK(decoded->failures[0].message == "it \"broke\"");

  auto json = status_json(*decoded, "tcp://127.0.0.1:5555");
  CHECK(json.find("\"longest_running\":[{\"task\":\"t\",\"node\":\"node-a\",\"client\":"
                  "\"client:7\",\"running_s\":120.000}") != std::string::npos);
  CHECK(json.find("\"failures\":[{\"task\":\"t\",\"node\":\"node-a\",\"error\":"
                  "\"TaskRaised\",\"message\":\"it \\\"broke\\\"\",\"age_s\":100.000}]}") !=
        std::string::npos);
}
