// The store's frame: opening objects, limits, what is kept, answers. What
// each kind does with its verbs is in object_kinds.cpp; waiting in object_waits.cpp.
#include "object_store.hpp"

#include <algorithm>

namespace dpool::internal {

using detail::ObjectKind;
using detail::Verb;

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

}  // namespace dpool::internal
