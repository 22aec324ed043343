// The coordinator's scheduler fed what peers send, decoded from hostile
// bytes, in any order with joins, losses and time passing: never a crash or
// undefined behaviour, and every DISPATCH goes to a node that is there.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <vector>

#include "fuzz_frames.hpp"
#include "protocol.hpp"
#include "scheduler.hpp"

namespace {

using namespace dpool::internal;

struct FromClient {
  Scheduler& s;
  PeerId peer;
  void on(wire::Submit&& m, Payloads&& p) { s.submit(peer, std::move(m.tasks), std::move(p)); }
  void on(wire::Cancel&& m) { s.cancel(peer, m); }
  void on(wire::Signal&& m) { s.signal(peer, m); }
};

struct FromNode {
  Scheduler& s;
  PeerId peer;
  Scheduler::TimePoint now;
  void on(wire::Results&& m, Payloads&& p) { s.results(peer, std::move(m.results), std::move(p)); }
  void on(wire::Credit&& m) { s.credit(peer, m.slots, m.executors); }
  void on(wire::Returned&& m) { s.returned(peer, m.ids); }
  void on(wire::Heartbeat&& m) {
    s.heartbeat(peer, m.holding, m.received, now, std::chrono::seconds(5));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Scheduler s(Scheduler::Options{.max_queued = 64, .node_loss_retries = 2, .seed = 1});
  std::set<PeerId> clients, nodes;
  std::vector<std::uint64_t> dispatched;  // ids the nodes were given
  auto now = Scheduler::TimePoint{} + std::chrono::hours(1);
  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
      case 0: {
        PeerId c = in.ConsumeIntegralInRange<PeerId>(1, 3);
        s.client_joined(c, "client");
        clients.insert(c);
        break;
      }
      case 1: {
        PeerId n = in.ConsumeIntegralInRange<PeerId>(101, 103);
        s.node_joined(n, "node", in.ConsumeIntegralInRange<std::uint32_t>(0, 8),
                      in.ConsumeIntegralInRange<std::uint32_t>(0, 16));
        nodes.insert(n);
        break;
      }
      case 2: {  // a message from a client
        PeerId c = in.ConsumeIntegralInRange<PeerId>(1, 3);
        auto m = wire::decode(dpool_fuzz::split_frames(in.ConsumeRandomLengthString(2048)));
        FromClient h{s, c};
        if (m) wire::dispatch(h, std::move(*m));
        break;
      }
      case 3: {  // a message from a node
        PeerId n = in.ConsumeIntegralInRange<PeerId>(101, 103);
        auto m = wire::decode(dpool_fuzz::split_frames(in.ConsumeRandomLengthString(2048)));
        FromNode h{s, n, now};
        if (m) wire::dispatch(h, std::move(*m));
        break;
      }
      case 4: {  // a result, or a started report, for a task some node was given
        if (dispatched.empty()) break;
        std::vector<wire::Result> r(1);
        r[0].id = dispatched[in.ConsumeIntegralInRange<std::size_t>(0, dispatched.size() - 1)];
        r[0].failure.code = static_cast<dpool::ErrorCode>(
            in.PickValueInArray<std::uint16_t>({0, 1, 2, 3, 6, 13, 256}));
        Payloads p(1);
        s.results(in.ConsumeIntegralInRange<PeerId>(101, 103), std::move(r), std::move(p));
        break;
      }
      case 5: {
        PeerId n = in.ConsumeIntegralInRange<PeerId>(101, 103);
        s.node_left(n);
        nodes.erase(n);
        break;
      }
      case 6: {
        PeerId c = in.ConsumeIntegralInRange<PeerId>(1, 3);
        s.client_left(c);
        clients.erase(c);
        break;
      }
      case 7: {  // a heartbeat listing some of what was dispatched
        PeerId n = in.ConsumeIntegralInRange<PeerId>(101, 103);
        std::vector<std::uint64_t> holding;
        for (auto id : dispatched)
          if (in.ConsumeBool()) holding.push_back(id);
        s.heartbeat(n, holding, in.ConsumeIntegral<std::uint64_t>() % 64, now,
                    std::chrono::seconds(5));
        break;
      }
      case 8:
        now += std::chrono::milliseconds(in.ConsumeIntegralInRange<int>(0, 10000));
        break;
      default:
        for (auto& e : s.take_outbox()) {
          if (auto* d = std::get_if<wire::Dispatch>(&e.message.body)) {
            if (!nodes.count(e.to)) std::abort();  // work for a node that is not there
            if (e.message.payloads.size() != d->tasks.size()) std::abort();
            for (auto& t : d->tasks) dispatched.push_back(t.id);
          }
        }
    }
  }
  return 0;
}
