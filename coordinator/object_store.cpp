// The store's frame: opening objects, limits, answers, parking, timeouts and
// the end of holders. What each kind does with its verbs is in object_kinds.cpp.
#include "object_store.hpp"

#include <algorithm>

namespace dpool::internal {

using detail::ObjectKind;
using detail::Verb;

namespace {

const char* kind_name(ObjectKind k) {
  switch (k) {
    case ObjectKind::kDict:
      return "dict";
    case ObjectKind::kList:
      return "list";
    case ObjectKind::kQueue:
      return "queue";
    case ObjectKind::kValue:
      return "value";
    case ObjectKind::kLock:
      return "lock";
    case ObjectKind::kSemaphore:
      return "semaphore";
    case ObjectKind::kEvent:
      return "event";
    case ObjectKind::kBarrier:
      return "barrier";
    case ObjectKind::kCondition:
      return "condition";
    case ObjectKind::kPipe:
      return "pipe";
  }
  return nullptr;
}

}  // namespace

void ObjectStore::call(const Caller& who, std::uint64_t request, calls::ObjectCall&& c,
                       TimePoint now) {
  ++stats_.calls;
  Call call{who, request, c, now};
  if (Object* o = open(call)) dispatch(*o, call);
}

ObjectStore::Object* ObjectStore::open(const Call& call) {
  auto& c = call.c;
  const char* kind = kind_name(c.kind);
  if (!kind) {
    refuse(call, ErrorCode::kRefused,
           "the coordinator knows no object kind " + std::to_string(static_cast<int>(c.kind)) +
               "; run the same dpool release everywhere");
    return nullptr;
  }
  auto it = objects_.find(c.name);
  if (it != objects_.end()) {
    Object& o = it->second;
    if (o.kind != c.kind || o.type != c.type) {
      refuse(call, ErrorCode::kSignatureMismatch,
             "the manager's object '" + c.name + "' is a " + o.type + ", not a " + c.type);
      return nullptr;
    }
    return &o;
  }
  if (objects_.size() >= limits_.max_objects) {
    refuse(call, ErrorCode::kQueueFull,
           "the coordinator holds " + std::to_string(objects_.size()) + " objects, its limit; '" +
               c.name + "' was not made");
    return nullptr;
  }
  Object o;
  o.kind = c.kind;
  o.type = c.type;
  o.param = c.param;
  if (c.owned) {
    // Only the client that makes it with pool.queue or pool.pipe makes it; a task's call
    // on one that is gone must not make it again, owned by the task's node.
    if (call.who.pid != 0) {
      refuse(call, ErrorCode::kShutDown,
             std::string(kind) + " '" + c.name +
                 "' is gone: the client that made it with pool.queue or pool.pipe left, or the "
                 "coordinator restarted");
      return nullptr;
    }
    o.owner = call.who.peer;
  }
  switch (c.kind) {
    case ObjectKind::kDict:
      o.state = DictState{};
      break;
    case ObjectKind::kList:
      o.state = ListState{};
      break;
    case ObjectKind::kQueue:
      o.state = QueueState{};
      break;
    case ObjectKind::kValue:
      // kOpen carries the value's initial bytes (T{}, encoded).
      if (!make_room(call, c.a.size())) return nullptr;
      o.state = ValueState{c.verb == Verb::kOpen ? c.a : std::string()};
      break;
    case ObjectKind::kLock:
    case ObjectKind::kCondition:
      o.state = LockState{};
      break;
    case ObjectKind::kSemaphore:
      o.state = LockState{.permits = c.param};
      break;
    case ObjectKind::kEvent:
      o.state = EventState{};
      break;
    case ObjectKind::kBarrier:
      if (c.param == 0) {
        refuse(call, ErrorCode::kRefused, "a barrier needs at least one party");
        return nullptr;
      }
      o.state = BarrierState{};
      break;
    case ObjectKind::kPipe: {
      // Its maker holds both ends.
      PipeState p;
      for (auto& e : p.ends) e.holders.push_back({call.who, 1});
      o.state = std::move(p);
      break;
    }
  }
  auto& made = objects_.emplace(c.name, std::move(o)).first->second;
  const auto* v = std::get_if<ValueState>(&made.state);
  if (v) account(made, static_cast<std::ptrdiff_t>(v->bytes.size()));
  record(call, made, Change::Kind::kMade, made.type, v ? std::string_view(v->bytes) : "",
         made.param);
  return &made;
}

void ObjectStore::dispatch(Object& o, const Call& call) {
  if (call.c.verb == Verb::kOpen) return answer(call);
  std::visit(
      [&](auto& s) {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, DictState>) dict(o, s, call);
        if constexpr (std::is_same_v<S, ListState>) list(o, s, call);
        if constexpr (std::is_same_v<S, QueueState>) queue(o, s, call);
        if constexpr (std::is_same_v<S, ValueState>) value(o, s, call);
        if constexpr (std::is_same_v<S, LockState>) lock(o, s, call);
        if constexpr (std::is_same_v<S, EventState>) event(s, call);
        if constexpr (std::is_same_v<S, BarrierState>) barrier(o, s, call);
        if constexpr (std::is_same_v<S, PipeState>) pipe(o, s, call);
      },
      o.state);
}

// ---- what is kept -----------------------------------------------------------

void ObjectStore::record(const Call& call, const Object& o, Change::Kind kind, std::string_view key,
                         std::string_view value, std::uint64_t n, bool flag) {
  if (!keep_changes_ || o.owner != 0) return;
  changes_.push_back(
      Change{kind, call.c.name, o.kind, std::string(key), std::string(value), n, flag});
}

void ObjectStore::record_queue(const Call& call, const Object& o, const QueueState& s) {
  record(call, o, Change::Kind::kQueueState, {}, {}, s.unfinished, s.shut);
}

void ObjectStore::restore(const std::string& name, Image&& image) {
  Object o;
  o.kind = image.kind;
  o.type = std::move(image.type);
  o.param = image.param;
  std::size_t bytes = 0;
  switch (image.kind) {
    case ObjectKind::kDict: {
      DictState d;
      for (auto& e : image.entries) {
        bytes += e.key.size() + e.value.size();
        next_version_ = std::max(next_version_, e.version + 1);
        d.entries[std::move(e.key)] = Entry{std::move(e.value), e.version};
      }
      o.state = std::move(d);
      break;
    }
    case ObjectKind::kList:
      for (auto& item : image.items) bytes += item.size();
      o.state = ListState{std::move(image.items)};
      break;
    case ObjectKind::kQueue: {
      QueueState q;
      for (auto& item : image.items) {
        bytes += item.size();
        q.items.push_back(std::move(item));
      }
      q.unfinished = image.unfinished;
      q.shut = image.shut;
      o.state = std::move(q);
      break;
    }
    case ObjectKind::kValue:
      bytes = image.value.size();
      o.state = ValueState{std::move(image.value)};
      break;
    case ObjectKind::kSemaphore:
      o.state = LockState{.permits = o.param};
      break;
    case ObjectKind::kLock:
    case ObjectKind::kCondition:
      o.state = LockState{};
      break;
    case ObjectKind::kEvent:
      o.state = EventState{};
      break;
    case ObjectKind::kBarrier:
      o.state = BarrierState{};
      break;
    case ObjectKind::kPipe:  // owned by a client, so never kept; made empty if asked
      o.state = PipeState{};
      break;
  }
  auto& made = objects_.insert_or_assign(name, std::move(o)).first->second;
  account(made, static_cast<std::ptrdiff_t>(bytes));
}

// ---- answers ---------------------------------------------------------------

void ObjectStore::answer(const Call& call, calls::ObjectAnswer a) {
  answers_.push_back({call.who.peer, call.request, {}, std::move(a)});
}

void ObjectStore::answer(const Waiter& w, calls::ObjectAnswer a) {
  answers_.push_back({w.who.peer, w.request, {}, std::move(a)});
}

void ObjectStore::refuse(const Call& call, ErrorCode code, std::string why) {
  ++stats_.refused;
  Answer a{call.who.peer, call.request, {}, {}};
  a.failure.code = code;
  a.failure.message = std::move(why);
  answers_.push_back(std::move(a));
}

void ObjectStore::refuse(const Waiter& w, ErrorCode code, std::string why) {
  Answer a{w.who.peer, w.request, {}, {}};
  a.failure.code = code;
  a.failure.message = std::move(why);
  answers_.push_back(std::move(a));
}

bool ObjectStore::unknown_verb(const Call& call, const Object& o) {
  refuse(call, ErrorCode::kRefused,
         std::string("a ") + kind_name(o.kind) + " has no operation number " +
             std::to_string(static_cast<int>(call.c.verb)));
  return false;
}

bool ObjectStore::make_room(const Call& call, std::size_t more) {
  if (bytes_ + more <= limits_.max_bytes) return true;
  refuse(call, ErrorCode::kQueueFull,
         "the coordinator's objects hold " + std::to_string(bytes_) + " bytes; " +
             std::to_string(more) + " more would pass its limit of " +
             std::to_string(limits_.max_bytes) +
             " (dpool coordinator --manager-max-bytes): take items out, or raise the limit");
  return false;
}

void ObjectStore::account(Object& o, std::ptrdiff_t delta) {
  o.bytes += delta;
  bytes_ += delta;
}

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
