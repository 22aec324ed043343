// Who has been silent too long (the Paranoid Pirate pattern): any frame from
// a peer counts as a sign of life. Pure: the caller supplies the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace dpool::internal {

template <class Key>
class Liveness {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit Liveness(std::chrono::milliseconds timeout) : timeout_(timeout) {}
  void seen(const Key& peer, TimePoint now) { last_[peer] = now; }
  void forget(const Key& peer) { last_.erase(peer); }
  bool known(const Key& peer) const { return last_.contains(peer); }
  // When the peer was last seen; none if never, or forgotten.
  std::optional<TimePoint> last_seen(const Key& peer) const {
    auto it = last_.find(peer);
    if (it == last_.end()) return std::nullopt;
    return it->second;
  }
  // Peers silent for longer than the timeout; they are forgotten.
  std::vector<Key> expire(TimePoint now) {
    std::vector<Key> dead;
    for (auto it = last_.begin(); it != last_.end();) {
      if (now - it->second > timeout_) {
        dead.push_back(it->first);
        it = last_.erase(it);
      } else {
        ++it;
      }
    }
    return dead;
  }

 private:
  std::chrono::milliseconds timeout_;
  std::unordered_map<Key, TimePoint> last_;
};

}  // namespace dpool::internal
