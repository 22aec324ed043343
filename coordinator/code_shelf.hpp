// The task libraries pushed to the cluster (`dpool push`), and the pushes
// waiting for their nodes' answers. A push is kept (replacing one of the
// same file name), sent to every node as CODE, and answered once each node
// has said LOADED, left, or a minute has passed; a node that joins later
// gets every library kept. Pure: events in, envelopes out; the server gives
// it the time. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "calls.hpp"
#include "scheduler.hpp"

namespace dpool::internal {

class CodeShelf {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // A push waits this long for its nodes, then is answered with what came.
  static constexpr std::chrono::seconds kAnswerWithin{60};

  // `client`'s call `request` pushes `push`; `nodes` (peer, name) are the
  // nodes to wait for. With none, the answer goes at once (an empty list).
  void push(PeerId client, std::uint64_t request, calls::PushCall&& push,
            const std::vector<std::pair<PeerId, std::string>>& nodes, TimePoint now);
  // A node joined: it gets every library kept, and its answers are events.
  void node_joined(PeerId node, const std::string& name);
  void loaded(PeerId node, const wire::Loaded& answer);
  void node_left(PeerId node);      // its answers still due: "lost"
  void client_left(PeerId client);  // its pushes are answered to nobody
  // Answers the pushes whose time is up.
  void expire(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  std::vector<Envelope> take_outbox() { return std::exchange(outbox_, {}); }
  // What nodes said of libraries, for the log.
  struct Event {
    std::string node, library;
    bool loaded = false;
    std::string error;
  };
  std::vector<Event> take_events() { return std::exchange(events_, {}); }
  std::size_t libraries() const noexcept { return libraries_.size(); }

 private:
  struct Library {
    std::uint64_t seq = 0;
    std::string digest;
    Payload bytes;
  };
  struct Pending {
    PeerId client = 0;  // 0: the client left
    std::uint64_t request = 0;
    std::string library;
    TimePoint deadline{};
    std::map<PeerId, std::string> waiting;  // node -> its name
    std::vector<PushResult> answers;
  };

  void send(PeerId node, const std::string& name, const Library& library);
  void answer(Pending& p);
  void settle(std::map<std::uint64_t, Pending>::iterator it);  // answers it if nothing is due

  std::map<std::string, Library> libraries_;                        // by file name
  std::map<std::uint64_t, std::string> names_;                      // seq -> file name
  std::map<std::uint64_t, Pending> pending_;                        // by seq
  std::map<std::pair<PeerId, std::uint64_t>, std::string> joined_;  // (node, seq) -> node name
  std::uint64_t next_seq_ = 1;
  std::vector<Envelope> outbox_;
  std::vector<Event> events_;
};

}  // namespace dpool::internal
