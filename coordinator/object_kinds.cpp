// What the data kinds of hosted object do with their verbs (semantics of
// Python's dict, list, queue.Queue and multiprocessing.Value), and what wakes
// parked puts and gets. The synchronisation kinds are in object_sync.cpp.
#include <cstring>

#include "object_store.hpp"

namespace dpool::internal {

using detail::Verb;

namespace {

calls::ObjectAnswer yes(bool v, std::uint64_t n = 0, std::string bytes = {}) {
  calls::ObjectAnswer a;
  a.yes = v;
  a.n = n;
  a.bytes = std::move(bytes);
  return a;
}

calls::ObjectAnswer no_time_left() {
  calls::ObjectAnswer a;
  a.timed_out = true;
  return a;
}

// A value's number: its bytes are a one-byte archive header and then the
// number as it is in memory (little-endian); `param` says which type.
enum NumberKind : std::uint64_t { kNotNumber = 0, kSigned = 1, kUnsigned = 2, kFloat = 3 };

template <class T>
T number(const std::string& bytes) {
  T v{};
  std::memcpy(&v, bytes.data() + 1, sizeof v);
  return v;
}
template <class T>
void add_into(std::string& value, const std::string& delta) {
  T sum = static_cast<T>(number<T>(value) + number<T>(delta));
  std::memcpy(value.data() + 1, &sum, sizeof sum);
}

// value += delta for the number type `param` names; false when it names none.
bool add(std::uint64_t param, std::string& value, const std::string& delta) {
  auto kind = param >> 8, size = param & 0xff;
  if (value.size() != size + 1 || delta.size() != size + 1) return false;
  if (kind == kSigned && size == 1) return add_into<std::int8_t>(value, delta), true;
  if (kind == kSigned && size == 2) return add_into<std::int16_t>(value, delta), true;
  if (kind == kSigned && size == 4) return add_into<std::int32_t>(value, delta), true;
  if (kind == kSigned && size == 8) return add_into<std::int64_t>(value, delta), true;
  if (kind == kUnsigned && size == 1) return add_into<std::uint8_t>(value, delta), true;
  if (kind == kUnsigned && size == 2) return add_into<std::uint16_t>(value, delta), true;
  if (kind == kUnsigned && size == 4) return add_into<std::uint32_t>(value, delta), true;
  if (kind == kUnsigned && size == 8) return add_into<std::uint64_t>(value, delta), true;
  if (kind == kFloat && size == 4) return add_into<float>(value, delta), true;
  if (kind == kFloat && size == 8) return add_into<double>(value, delta), true;
  return false;
}

}  // namespace

void ObjectStore::dict(Object& o, DictState& s, const Call& call) {
  auto& c = call.c;
  auto it = s.entries.find(c.a);
  bool found = it != s.entries.end();
  auto current = [&] {
    return found ? yes(true, it->second.version, it->second.value) : yes(false);
  };
  switch (c.verb) {
    case Verb::kSet:
    case Verb::kSwap: {
      if (c.verb == Verb::kSwap && (found ? it->second.version : 0) != c.n) {
        auto a = current();
        a.yes = false;
        a.n = found ? it->second.version : 0;
        return answer(call, std::move(a));
      }
      std::ptrdiff_t grow = static_cast<std::ptrdiff_t>(c.b.size()) -
                            (found ? static_cast<std::ptrdiff_t>(it->second.value.size())
                                   : -static_cast<std::ptrdiff_t>(c.a.size()));
      if (grow > 0 && !make_room(call, static_cast<std::size_t>(grow))) return;
      account(o, grow);
      auto& e = s.entries[c.a];
      e.value = std::move(c.b);
      e.version = next_version_++;
      record(call, o, Change::Kind::kSet, c.a, e.value, e.version);
      return answer(call, yes(true, e.version));
    }
    case Verb::kGet:
    case Verb::kRead:
      return answer(call, current());
    case Verb::kErase:
      if (found) {
        account(o, -static_cast<std::ptrdiff_t>(it->first.size() + it->second.value.size()));
        s.entries.erase(it);
        record(call, o, Change::Kind::kErase, c.a);
      }
      return answer(call, yes(found));
    case Verb::kContains:
      return answer(call, yes(found));
    case Verb::kSize:
      return answer(call, yes(true, s.entries.size()));
    case Verb::kItems: {
      calls::ObjectAnswer a;
      a.items.reserve(2 * s.entries.size());
      for (auto& [k, e] : s.entries) {
        a.items.push_back(k);
        a.items.push_back(e.value);
      }
      return answer(call, std::move(a));
    }
    default:
      unknown_verb(call, o);
  }
}

void ObjectStore::list(Object& o, ListState& s, const Call& call) {
  auto& c = call.c;
  switch (c.verb) {
    case Verb::kAppend:
      if (!make_room(call, c.a.size())) return;
      account(o, static_cast<std::ptrdiff_t>(c.a.size()));
      record(call, o, Change::Kind::kAppend, {}, c.a);
      s.items.push_back(std::move(c.a));
      return answer(call, yes(true, s.items.size()));
    case Verb::kGet:
      if (c.n >= s.items.size()) return answer(call, yes(false, s.items.size()));
      return answer(call, yes(true, s.items.size(), s.items[c.n]));
    case Verb::kSize:
      return answer(call, yes(true, s.items.size()));
    case Verb::kItems: {
      calls::ObjectAnswer a;
      a.items = s.items;
      return answer(call, std::move(a));
    }
    default:
      unknown_verb(call, o);
  }
}

void ObjectStore::queue(Object& o, QueueState& s, const Call& call) {
  auto& c = call.c;
  const auto maxsize = o.param;
  auto full = [&] { return maxsize != 0 && s.items.size() >= maxsize; };
  switch (c.verb) {
    case Verb::kPut:
      if (s.shut) return refuse(call, ErrorCode::kShutDown, "put on a queue that was shut down");
      if (!make_room(call, c.a.size())) return;
      if (!full() && s.putters.empty()) {
        ++s.unfinished;
        if (!s.getters.empty()) {  // straight to the first waiting get
          answer(take(s.getters.front()), yes(true, 0, std::move(c.a)));
        } else {
          account(o, static_cast<std::ptrdiff_t>(c.a.size()));
          record(call, o, Change::Kind::kPush, {}, c.a);
          s.items.push_back(std::move(c.a));
        }
        record_queue(call, o, s);
        return answer(call, yes(true));
      }
      if (c.timeout_ms == 0) return answer(call, no_time_left());
      account(o, static_cast<std::ptrdiff_t>(c.a.size()));  // a parked item counts
      park(call, s.putters, std::move(c.a));
      return;
    case Verb::kTake:
      if (!s.items.empty()) {
        std::string item = std::move(s.items.front());
        s.items.pop_front();
        account(o, -static_cast<std::ptrdiff_t>(item.size()));
        record(call, o, Change::Kind::kPop, {}, {}, 1);
        answer(call, yes(true, 0, std::move(item)));
        return admit_putters(call, o, s);
      }
      if (s.shut)
        return refuse(call, ErrorCode::kShutDown,
                      "get on a queue that was shut down and has nothing left");
      if (c.timeout_ms == 0) return answer(call, no_time_left());
      park(call, s.getters);
      return;
    case Verb::kSize:
      return answer(call, yes(full(), s.items.size()));
    case Verb::kTaskDone:
      if (s.unfinished == 0)
        return refuse(call, ErrorCode::kRefused, "task_done() called more times than put()");
      if (--s.unfinished == 0)
        while (!s.joiners.empty()) answer(take(s.joiners.front()), yes(true));
      record_queue(call, o, s);
      return answer(call, yes(true));
    case Verb::kJoin:
      if (s.unfinished == 0) return answer(call, yes(true));
      if (c.timeout_ms == 0) return answer(call, no_time_left());
      park(call, s.joiners);
      return;
    case Verb::kShutdown: {
      s.shut = true;
      const bool immediate = c.n != 0;
      if (immediate) {
        // As Python 3.13: what is left is dropped and counts as done.
        s.unfinished -= std::min<std::uint64_t>(s.unfinished, s.items.size());
        for (auto& item : s.items) account(o, -static_cast<std::ptrdiff_t>(item.size()));
        if (!s.items.empty()) record(call, o, Change::Kind::kPop, {}, {}, s.items.size());
        s.items.clear();
        if (s.unfinished == 0)
          while (!s.joiners.empty()) answer(take(s.joiners.front()), yes(true));
      }
      while (!s.putters.empty()) {
        Waiter p = take(s.putters.front());
        account(o, -static_cast<std::ptrdiff_t>(p.item.size()));
        refuse(p, ErrorCode::kShutDown, "put on a queue that was shut down");
      }
      if (s.items.empty())
        while (!s.getters.empty())
          refuse(take(s.getters.front()), ErrorCode::kShutDown,
                 "get on a queue that was shut down and has nothing left");
      record_queue(call, o, s);
      return answer(call, yes(true));
    }
    default:
      unknown_verb(call, o);
  }
}

// Parked puts move in while there is room, in the order they came.
void ObjectStore::admit_putters(const Call& call, Object& o, QueueState& s) {
  while (!s.putters.empty() && (o.param == 0 || s.items.size() < o.param)) {
    Waiter p = take(s.putters.front());
    ++s.unfinished;
    if (!s.getters.empty()) {
      account(o, -static_cast<std::ptrdiff_t>(p.item.size()));
      answer(take(s.getters.front()), yes(true, 0, std::move(p.item)));
    } else {
      record(call, o, Change::Kind::kPush, {}, p.item);
      s.items.push_back(std::move(p.item));
    }
    answer(p, yes(true));
    record_queue(call, o, s);
  }
}

void ObjectStore::value(Object& o, ValueState& s, const Call& call) {
  auto& c = call.c;
  if (s.bytes.empty() && o.param != kNotNumber && !c.a.empty()) {
    // Made by this call rather than by opening it (the coordinator restarted
    // without its state): the number starts at 0, in the caller's format.
    s.bytes.assign(c.a.size(), '\0');
    s.bytes[0] = c.a[0];
    account(o, static_cast<std::ptrdiff_t>(s.bytes.size()));
    record(call, o, Change::Kind::kValue, {}, s.bytes);
  }
  switch (c.verb) {
    case Verb::kGet:
      return answer(call, yes(true, 0, s.bytes));
    case Verb::kSet: {
      auto grow =
          static_cast<std::ptrdiff_t>(c.a.size()) - static_cast<std::ptrdiff_t>(s.bytes.size());
      if (grow > 0 && !make_room(call, static_cast<std::size_t>(grow))) return;
      account(o, grow);
      s.bytes = std::move(c.a);
      record(call, o, Change::Kind::kValue, {}, s.bytes);
      return answer(call, yes(true));
    }
    case Verb::kFetchAdd: {
      std::string old = s.bytes;
      if (!add(o.param, s.bytes, c.a))
        return refuse(
            call, ErrorCode::kSignatureMismatch,
            "fetch_add on the value '" + c.name + "', whose type " + o.type + " is not a number");
      record(call, o, Change::Kind::kValue, {}, s.bytes);
      return answer(call, yes(true, 0, std::move(old)));
    }
    case Verb::kCompareSwap: {
      bool equal = s.bytes == c.a;
      std::string old = s.bytes;
      if (equal) {
        auto grow =
            static_cast<std::ptrdiff_t>(c.b.size()) - static_cast<std::ptrdiff_t>(s.bytes.size());
        if (grow > 0 && !make_room(call, static_cast<std::size_t>(grow))) return;
        account(o, grow);
        s.bytes = std::move(c.b);
        record(call, o, Change::Kind::kValue, {}, s.bytes);
      }
      return answer(call, yes(equal, 0, std::move(old)));
    }
    default:
      unknown_verb(call, o);
  }
}

}  // namespace dpool::internal
