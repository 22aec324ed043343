// What the synchronisation kinds of hosted object do with their verbs
// (semantics of threading's Lock, Semaphore, Event, Barrier and Condition),
// and what wakes parked acquires and waits.
#include "object_store.hpp"

namespace dpool::internal {

using detail::Verb;

namespace {

calls::ObjectAnswer yes(bool v, std::uint64_t n = 0) {
  calls::ObjectAnswer a;
  a.yes = v;
  a.n = n;
  return a;
}

}  // namespace

void ObjectStore::lock(Object& o, LockState& s, const Call& call) {
  auto& c = call.c;
  const bool condition = o.kind == detail::ObjectKind::kCondition;
  auto held_by_caller = [&] {
    for (std::size_t i = 0; i < s.holders.size(); ++i)
      if (s.holders[i].same_holder(call.who)) return i;
    return s.holders.size();
  };
  switch (c.verb) {
    case Verb::kAcquire:
      if (s.permits > 0 && s.acquirers.empty()) {
        --s.permits;
        s.holders.push_back(call.who);
        return answer(call, yes(true));
      }
      if (c.timeout_ms == 0) return answer(call, yes(false));
      park(call, s.acquirers);
      return;
    case Verb::kRelease: {
      auto i = held_by_caller();
      if (i == s.holders.size()) {
        if (o.kind == detail::ObjectKind::kSemaphore) {  // as Python's: anyone may release
          ++s.permits;
          grant(o, s);
          return answer(call, yes(true));
        }
        if (s.holders.empty())
          return refuse(call, ErrorCode::kRefused,
                        std::string("release of an unlocked ") +
                            (condition ? "condition" : "lock") + " '" + c.name + "'");
        if (condition)
          return refuse(call, ErrorCode::kRefused,
                        "release of the condition '" + c.name + "', which another holds");
        i = 0;  // a Lock is not owned: any caller may release it, as threading.Lock
      }
      release_one(o, s, i);
      return answer(call, yes(true));
    }
    case Verb::kWait: {
      if (!condition) return (void)unknown_verb(call, o);
      auto i = held_by_caller();
      if (i == s.holders.size())
        return refuse(call, ErrorCode::kRefused,
                      "wait on the condition '" + c.name + "' without holding its lock");
      release_one(o, s, i);
      if (c.timeout_ms == 0) {  // gives the lock back and takes it again at once
        auto id = park(call, s.acquirers);
        parked_.at(id).relocking = true;
        return grant(o, s);
      }
      park(call, s.waiters);
      return;
    }
    case Verb::kNotify: {
      if (!condition) return (void)unknown_verb(call, o);
      if (held_by_caller() == s.holders.size())
        return refuse(call, ErrorCode::kRefused,
                      "notify on the condition '" + c.name + "' without holding its lock");
      std::uint64_t n = c.n == 0 ? s.waiters.size() : c.n;
      for (; n > 0 && !s.waiters.empty(); --n) {
        WaitId id = s.waiters.front();
        s.waiters.pop_front();
        auto& w = parked_.at(id);
        unschedule(id, w);
        w.notified = true;
        w.relocking = true;
        s.acquirers.push_back(id);
      }
      return answer(call, yes(true));
    }
    default:
      unknown_verb(call, o);
  }
}

// Free permits go to the parked acquirers, first come first served.
void ObjectStore::grant(Object& o, LockState& s) {
  (void)o;
  while (s.permits > 0 && !s.acquirers.empty()) {
    Waiter w = take(s.acquirers.front());
    --s.permits;
    s.holders.push_back(w.who);
    // A condition's waiter returns once it has the lock again: notified or not.
    answer(w, yes(w.verb == Verb::kWait ? w.notified : true));
  }
}

void ObjectStore::release_one(Object& o, LockState& s, std::size_t holder) {
  s.holders.erase(s.holders.begin() + static_cast<std::ptrdiff_t>(holder));
  ++s.permits;
  grant(o, s);
}

void ObjectStore::event(EventState& s, const Call& call) {
  switch (call.c.verb) {
    case Verb::kSet:
      s.set = true;
      while (!s.waiters.empty()) answer(take(s.waiters.front()), yes(true));
      return answer(call, yes(true));
    case Verb::kClear:
      s.set = false;
      return answer(call, yes(true));
    case Verb::kIsSet:
      return answer(call, yes(s.set));
    case Verb::kWait:
      if (s.set) return answer(call, yes(true));
      if (call.c.timeout_ms == 0) return answer(call, yes(false));
      park(call, s.waiters);
      return;
    default:
      refuse(call, ErrorCode::kRefused, "an event has no such operation");
  }
}

void ObjectStore::barrier(Object& o, BarrierState& s, const Call& call) {
  switch (call.c.verb) {
    case Verb::kWait: {
      if (s.broken)
        return refuse(call, ErrorCode::kBrokenBarrier,
                      "the barrier '" + call.c.name + "' is broken");
      if (s.arrived.size() + 1 < o.param) {
        if (call.c.timeout_ms == 0) {
          refuse(call, ErrorCode::kBrokenBarrier,
                 "the barrier '" + call.c.name + "' broke: this wait timed out");
          return break_barrier(s, call.c.name);
        }
        park(call, s.arrived);
        return;
      }
      // The last party: every one goes on, each with its arrival index.
      std::uint64_t index = 0;
      while (!s.arrived.empty()) answer(take(s.arrived.front()), yes(true, index++));
      return answer(call, yes(true, index));
    }
    case Verb::kAbort:
      s.broken = true;
      break_barrier(s, call.c.name);
      return answer(call, yes(true));
    case Verb::kIsSet:  // broken?
      return answer(call, yes(s.broken, s.arrived.size()));
    default:
      unknown_verb(call, o);
  }
}

void ObjectStore::break_barrier(BarrierState& s, const std::string& name) {
  s.broken = true;
  while (!s.arrived.empty())
    refuse(take(s.arrived.front()), ErrorCode::kBrokenBarrier,
           "the barrier '" + name + "' broke while this party waited");
}

}  // namespace dpool::internal
