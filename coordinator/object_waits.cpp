// Calls on objects that wait: parked calls, their timeouts, and what happens
// when a holder goes (its parked calls dropped, what it held let go).
#include <algorithm>

#include "object_store.hpp"

namespace dpool::internal {

using detail::Verb;

// ---- parking ---------------------------------------------------------------

ObjectStore::WaitId ObjectStore::park(const Call& call, std::deque<WaitId>& where,
                                      std::string item) {
  WaitId id = next_wait_++;
  Waiter w{call.who, call.request, call.c.name, call.c.verb, TimePoint::max(), std::move(item)};
  if (call.c.timeout_ms >= 0) {
    w.deadline = call.now + std::chrono::milliseconds(call.c.timeout_ms);
    deadlines_.emplace(w.deadline, id);
  }
  parked_.emplace(id, std::move(w));
  where.push_back(id);
  ++stats_.parked;
  return id;
}

ObjectStore::Waiter ObjectStore::take(WaitId id) {
  auto it = parked_.find(id);
  unschedule(id, it->second);
  Waiter w = std::move(it->second);
  parked_.erase(it);
  // Out of the objects' lists too (a no-op for one already popped from them).
  std::vector<std::string_view> names{w.object};
  for (auto& e : w.watched) names.push_back(e.name);
  for (auto name : names) {
    auto o = objects_.find(std::string(name));
    if (o == objects_.end()) continue;
    auto drop = [id](std::deque<WaitId>& q) { std::erase(q, id); };
    std::visit(
        [&](auto& s) {
          using S = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<S, QueueState>) {
            drop(s.getters);
            drop(s.putters);
            drop(s.joiners);
          }
          if constexpr (std::is_same_v<S, LockState>) {
            drop(s.acquirers);
            drop(s.waiters);
          }
          if constexpr (std::is_same_v<S, EventState>) drop(s.waiters);
          if constexpr (std::is_same_v<S, BarrierState>) drop(s.arrived);
          if constexpr (std::is_same_v<S, PipeState>)
            for (auto& e : s.ends) {
              drop(e.receivers);
              drop(e.watchers);
            }
        },
        o->second.state);
  }
  return w;
}

void ObjectStore::forget_item(Object& o, const Waiter& w) {
  if (w.verb == Verb::kPut) account(o, -static_cast<std::ptrdiff_t>(w.item.size()));
}

void ObjectStore::unschedule(WaitId id, Waiter& w) {
  if (w.deadline == TimePoint::max()) return;
  auto [first, last] = deadlines_.equal_range(w.deadline);
  for (auto d = first; d != last; ++d)
    if (d->second == id) {
      deadlines_.erase(d);
      break;
    }
  w.deadline = TimePoint::max();
}

std::optional<ObjectStore::TimePoint> ObjectStore::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void ObjectStore::expire(TimePoint now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now)
    expired(deadlines_.begin()->second);
}

void ObjectStore::expired(WaitId id) {
  auto& w = parked_.at(id);
  auto& o = objects_.at(w.object);
  if (auto* s = std::get_if<LockState>(&o.state); s && w.verb == Verb::kWait && !w.relocking) {
    // A condition's wait ran out: it takes the lock back before it returns.
    unschedule(id, w);
    w.relocking = true;
    std::erase(s->waiters, id);
    s->acquirers.push_back(id);
    return grant(o, *s);
  }
  if (auto* s = std::get_if<BarrierState>(&o.state)) {
    // As threading.Barrier: a wait that times out breaks the barrier.
    Waiter late = take(id);
    refuse(late, ErrorCode::kBrokenBarrier,
           "the barrier '" + late.object + "' broke: this wait timed out");
    return break_barrier(*s, late.object);
  }
  Waiter late = take(id);
  forget_item(o, late);
  calls::ObjectAnswer a;
  a.timed_out = true;
  answer(late, std::move(a));
}

// ---- holders that are gone -------------------------------------------------

void ObjectStore::gone(PeerId peer) {
  end_holder(Caller{peer, 0, 0}, true);
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (it->second.owner != peer) {
      ++it;
      continue;
    }
    // Calls parked on it by others (tasks) end with the object.
    std::vector<WaitId> waiting;
    for (auto& [id, w] : parked_)
      if (w.object == it->first) waiting.push_back(id);
    std::string name = it->first;
    bytes_ -= it->second.bytes;
    for (auto id : waiting)
      refuse(take(id), ErrorCode::kShutDown,
             "the object is gone: the client that made it (pool.queue, pool.pipe) left");
    objects_.erase(name);
    it = objects_.begin();
  }
}

void ObjectStore::gone(PeerId node, std::uint32_t pid) {
  end_holder(Caller{node, pid, 0}, false);
}

void ObjectStore::withdraw(PeerId peer, std::uint64_t request) {
  drop_parked([&](const Waiter& w) { return w.who.peer == peer && w.request == request; });
}

void ObjectStore::drop_parked(const std::function<bool(const Waiter&)>& which) {
  std::vector<WaitId> mine;
  for (auto& [id, w] : parked_)
    if (which(w)) mine.push_back(id);
  for (auto id : mine) {
    auto it = parked_.find(id);
    if (it == parked_.end()) continue;  // answered by a barrier broken just now
    Waiter w = take(id);
    auto& o = objects_.at(w.object);
    forget_item(o, w);
    if (auto* b = std::get_if<BarrierState>(&o.state)) {
      events_.push_back(
          {w.who, "barrier '" + w.object + "'", "broken: a party waiting in it is gone"});
      break_barrier(*b, w.object);
    } else {
      events_.push_back({w.who, std::string(kind_name(o.kind)) + " '" + w.object + "'",
                         "its waiting call was dropped: the caller is gone", false});
    }
  }
}

void ObjectStore::end_holder(const Caller& holder, bool whole_peer) {
  auto matches = [&](const Caller& c) {
    return whole_peer ? c.peer == holder.peer : c.same_holder(holder);
  };
  // Its parked calls go unanswered (no one is left to hear them).
  drop_parked([&](const Waiter& w) { return matches(w.who); });
  // Its leases end: the permits go to the next waiters.
  for (auto& [name, o] : objects_) {
    auto* s = std::get_if<LockState>(&o.state);
    if (!s) continue;
    for (std::size_t i = s->holders.size(); i-- > 0;) {
      if (!matches(s->holders[i])) continue;
      events_.push_back({s->holders[i], std::string(kind_name(o.kind)) + " '" + name + "'",
                         "released: its holder is gone"});
      ++stats_.leases_released;
      release_one(o, *s, i);
    }
  }
  pipe_holders_gone(holder, whole_peer);
}

}  // namespace dpool::internal
