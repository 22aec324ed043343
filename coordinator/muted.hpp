// The connections a coordinator dropped for what they sent, by routing id:
// what they send from now on is counted and ignored, never decoded. libzmq
// 4.3 cannot close one connection of a ROUTER, so a dropped connection stays
// open until its peer leaves; past `capacity`, the oldest are forgotten (and
// would be dropped again). Pure; one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>
#include <utility>

namespace dpool::internal {

class Muted {
 public:
  explicit Muted(std::size_t capacity = 10000) : capacity_(capacity) {}

  void add(const std::string& routing_id) {
    if (!ids_.insert(routing_id).second) return;
    order_.push_back(routing_id);
    if (order_.size() > capacity_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }
  // True, and counted, if the message comes from a muted connection.
  bool ignore(const std::string& routing_id) {
    if (ids_.empty() || !ids_.contains(routing_id)) return false;
    ++ignored_;
    return true;
  }
  std::uint64_t ignored() const noexcept { return ignored_; }
  // Messages ignored since the previous call.
  std::uint64_t take_new() noexcept { return ignored_ - std::exchange(reported_, ignored_); }

 private:
  std::size_t capacity_;
  std::unordered_set<std::string> ids_;
  std::deque<std::string> order_;
  std::uint64_t ignored_ = 0, reported_ = 0;
};

}  // namespace dpool::internal
