// dpool::Manager: named objects the coordinator hosts and every client, task
// and node reaches (multiprocessing.Manager across machines). The same name
// is the same object everywhere; asking for a name as another kind or type
// throws SignatureMismatch. Blocking calls wait at the coordinator, never by
// polling. A lock, condition or semaphore permit is leased to its holder (a
// client, or the executor process of a task) and given back, with a log line
// at the coordinator, when the holder dies or is lost; a barrier with a party
// that is gone breaks.
//
// Handles are cheap copyable values. As arguments of a task they travel as
// references and work on any node. Every call is one round trip to the
// coordinator (through the node, for a task); each throws ConnectionError
// when the coordinator is lost or restarts while the call waits, and
// QueueFull when the coordinator's limit of objects or bytes is reached.
#pragma once

#include <chrono>
#include <cstdint>
#include <dpool/async_result.hpp>
#include <dpool/detail/codec.hpp>
#include <dpool/detail/hosted.hpp>
#include <dpool/detail/type_name.hpp>
#include <dpool/errors.hpp>
#include <dpool/queue.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace dpool {
namespace detail {

// A timeout as whole milliseconds for the coordinator, rounded up.
template <class Rep, class Period>
std::chrono::milliseconds call_ms(std::chrono::duration<Rep, Period> timeout) {
  auto d = timeout_of(timeout);
  if (d <= std::chrono::steady_clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(d);
}

template <class T>
T decoded(const std::string& bytes, const char* what) {
  T value{};
  try {
    decode_into(bytes, value);
  } catch (const std::exception& e) {
    throw SerializationError(std::string(what) + ": what the coordinator holds could not be " +
                             "decoded as " + std::string(type_name<T>()) + ": " + e.what());
  }
  return value;
}

// The parts every hosted handle has: its object, and (de)serialization as a
// reference to it.
class HostedHandle {
 public:
  const std::string& name() const noexcept { return object_.name(); }
  // One function for both directions: ManagerValue has a load() of its own.
  template <class Ar>
  void serialize(Ar& ar) {
    ar(object_);
  }

 protected:
  HostedHandle() = default;
  explicit HostedHandle(HostedObject object) : object_(std::move(object)) {}
  HostedObject object_;
};

// acquire/release of a hosted lock, semaphore or condition; BasicLockable.
class HostedLockable : public HostedHandle {
 public:
  void acquire() { object_.call(Verb::kAcquire); }
  // False if it could not be acquired within `timeout` (0: try once).
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return object_.call(Verb::kAcquire, {}, {}, 0, call_ms(timeout)).yes;
  }
  // dpool::Error when the lock is not held.
  void release() { object_.call(Verb::kRelease); }
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(std::chrono::milliseconds(0)); }

 protected:
  using HostedHandle::HostedHandle;
  HostedLockable() = default;
};

}  // namespace detail

// A dict of K to V: mgr.dict<K, V>(name).
template <class K, class V>
class ManagerDict : public detail::HostedHandle {
 public:
  ManagerDict() = default;
  explicit ManagerDict(detail::HostedObject object) : HostedHandle(std::move(object)) {}

  void set(const K& key, const V& value) {
    object_.call(detail::Verb::kSet, detail::encode(key), detail::encode(value));
  }
  std::optional<V> get(const K& key) const {
    auto a = object_.call(detail::Verb::kGet, detail::encode(key));
    if (!a.yes) return std::nullopt;
    return detail::decoded<V>(a.bytes, "ManagerDict::get");
  }
  // True if the key was there.
  bool erase(const K& key) { return object_.call(detail::Verb::kErase, detail::encode(key)).yes; }
  bool contains(const K& key) const {
    return object_.call(detail::Verb::kContains, detail::encode(key)).yes;
  }
  std::size_t size() const { return object_.call(detail::Verb::kSize).n; }
  std::vector<std::pair<K, V>> items() const {
    auto a = object_.call(detail::Verb::kItems);
    std::vector<std::pair<K, V>> out;
    out.reserve(a.items.size() / 2);
    for (std::size_t i = 0; i + 1 < a.items.size(); i += 2)
      out.emplace_back(detail::decoded<K>(a.items[i], "ManagerDict::items"),
                       detail::decoded<V>(a.items[i + 1], "ManagerDict::items"));
    return out;
  }
  // Atomically replaces the key's value with fn(its value, or nullopt) and
  // returns the new value. fn runs here, in the caller, and runs again if
  // another writer changed the key in between (optimistic concurrency: no
  // code travels, and no lock is left behind by a caller that dies), so it
  // must not have other effects. 200 tasks adding 1 give exactly 200.
  template <class F>
  V update(const K& key, F fn) {
    auto k = detail::encode(key);
    auto seen = object_.call(detail::Verb::kRead, k);
    for (;;) {
      std::optional<V> old;
      if (seen.yes) old = detail::decoded<V>(seen.bytes, "ManagerDict::update");
      V next = fn(std::move(old));
      auto a = object_.call(detail::Verb::kSwap, k, detail::encode(next), seen.yes ? seen.n : 0);
      if (a.yes) return next;
      seen = std::move(a);  // another writer won: go again from its value
      seen.yes = seen.n != 0;
    }
  }
};

// A list of T: mgr.list<T>(name).
template <class T>
class ManagerList : public detail::HostedHandle {
 public:
  ManagerList() = default;
  explicit ManagerList(detail::HostedObject object) : HostedHandle(std::move(object)) {}

  void append(const T& value) { object_.call(detail::Verb::kAppend, detail::encode(value)); }
  // std::out_of_range past the end.
  T at(std::size_t i) const {
    auto a = object_.call(detail::Verb::kGet, {}, {}, i);
    if (!a.yes)
      throw std::out_of_range("ManagerList::at(" + std::to_string(i) + "): the list '" + name() +
                              "' has " + std::to_string(a.n) + " items");
    return detail::decoded<T>(a.bytes, "ManagerList::at");
  }
  std::size_t size() const { return object_.call(detail::Verb::kSize).n; }
  std::vector<T> items() const {
    auto a = object_.call(detail::Verb::kItems);
    std::vector<T> out;
    out.reserve(a.items.size());
    for (auto& item : a.items) out.push_back(detail::decoded<T>(item, "ManagerList::items"));
    return out;
  }
};

// A number: mgr.value<T>(name), 0 until stored.
template <class T>
class ManagerValue : public detail::HostedHandle {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>,
                "mgr.value holds a number; use mgr.dict or mgr.list for other types");

 public:
  ManagerValue() = default;
  explicit ManagerValue(detail::HostedObject object) : HostedHandle(std::move(object)) {}

  // What mgr.value tells the coordinator about T: its kind and size.
  static constexpr std::uint64_t kNumberKind = (std::is_floating_point_v<T> ? 3u
                                                : std::is_signed_v<T>       ? 1u
                                                                            : 2u)
                                                   << 8 |
                                               sizeof(T);

  T load() const {
    auto a = object_.call(detail::Verb::kGet);
    if (a.bytes.empty()) return T{};  // made by a call other than opening it: 0
    return detail::decoded<T>(a.bytes, "ManagerValue::load");
  }
  void store(T value) { object_.call(detail::Verb::kSet, detail::encode(value)); }
  // Adds `delta` at the coordinator; returns the value before.
  T fetch_add(T delta) {
    return detail::decoded<T>(object_.call(detail::Verb::kFetchAdd, detail::encode(delta)).bytes,
                              "ManagerValue::fetch_add");
  }
  // As std::atomic: stores `desired` if the value is `expected`; otherwise
  // loads the value into `expected` and returns false.
  bool compare_exchange(T& expected, T desired) {
    auto a =
        object_.call(detail::Verb::kCompareSwap, detail::encode(expected), detail::encode(desired));
    if (!a.yes) expected = detail::decoded<T>(a.bytes, "ManagerValue::compare_exchange");
    return a.yes;
  }
};

// A lock: mgr.lock(name). Not owned, as threading.Lock: any holder's
// release frees it; the holder that dies frees it too (a lease).
class ManagerLock : public detail::HostedLockable {
 public:
  ManagerLock() = default;
  explicit ManagerLock(detail::HostedObject object) : HostedLockable(std::move(object)) {}
};

// A semaphore: mgr.semaphore(name, value). Permits held by a holder that
// dies are given back.
class ManagerSemaphore : public detail::HostedLockable {
 public:
  ManagerSemaphore() = default;
  explicit ManagerSemaphore(detail::HostedObject object) : HostedLockable(std::move(object)) {}
};

// An event: mgr.event(name).
class ManagerEvent : public detail::HostedHandle {
 public:
  ManagerEvent() = default;
  explicit ManagerEvent(detail::HostedObject object) : HostedHandle(std::move(object)) {}
  void set() { object_.call(detail::Verb::kSet); }
  void clear() { object_.call(detail::Verb::kClear); }
  bool is_set() const { return object_.call(detail::Verb::kIsSet).yes; }
  void wait() { object_.call(detail::Verb::kWait); }
  // False if it was not set within `timeout`.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return object_.call(detail::Verb::kWait, {}, {}, 0, detail::call_ms(timeout)).yes;
  }
};

// A barrier: mgr.barrier(name, parties). wait returns this party's arrival
// index (0 .. parties - 1); it throws BrokenBarrierError when the barrier is
// aborted, a wait times out, or a party waiting in it is gone.
class ManagerBarrier : public detail::HostedHandle {
 public:
  ManagerBarrier() = default;
  explicit ManagerBarrier(detail::HostedObject object) : HostedHandle(std::move(object)) {}
  unsigned wait() { return static_cast<unsigned>(object_.call(detail::Verb::kWait).n); }
  template <class Rep, class Period>
  unsigned wait(std::chrono::duration<Rep, Period> timeout) {
    return static_cast<unsigned>(
        object_.call(detail::Verb::kWait, {}, {}, 0, detail::call_ms(timeout)).n);
  }
  void abort() { object_.call(detail::Verb::kAbort); }
  bool broken() const { return object_.call(detail::Verb::kIsSet).yes; }
  unsigned parties() const { return static_cast<unsigned>(object_.param()); }
};

// A condition with its own lock: mgr.condition(name), as Python's Condition().
class ManagerCondition : public detail::HostedLockable {
 public:
  ManagerCondition() = default;
  explicit ManagerCondition(detail::HostedObject object) : HostedLockable(std::move(object)) {}
  // Releases the lock, waits for a notify, takes the lock again.
  void wait() { object_.call(detail::Verb::kWait); }
  // False if no notify came within `timeout` (the lock is held again either way).
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return object_.call(detail::Verb::kWait, {}, {}, 0, detail::call_ms(timeout)).yes;
  }
  // Waits until pred() (evaluated here, with the lock held) is true or the
  // timeout passes; returns pred().
  template <class Pred, class Rep, class Period>
  bool wait_for(Pred pred, std::chrono::duration<Rep, Period> timeout) {
    auto deadline = detail::deadline_after(detail::timeout_of(timeout));
    while (!pred()) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero() || !wait(left)) return pred();
    }
    return true;
  }
  template <class Pred>
  void wait_for(Pred pred) {
    while (!pred()) wait();
  }
  void notify(unsigned n = 1) { object_.call(detail::Verb::kNotify, {}, {}, n); }
  void notify_all() { object_.call(detail::Verb::kNotify, {}, {}, 0); }
};

// The objects of one coordinator: pool.manager() in a client,
// dpool::this_task::manager() in a task. Cheap to copy.
class Manager {
 public:
  explicit Manager(std::shared_ptr<detail::CallChannel> channel) : channel_(std::move(channel)) {}

  template <class K, class V>
  ManagerDict<K, V> dict(const std::string& name) const {
    return ManagerDict<K, V>(open(detail::ObjectKind::kDict, name,
                                  "dict<" + std::string(detail::type_name<K>()) + ", " +
                                      std::string(detail::type_name<V>()) + ">"));
  }
  template <class T>
  ManagerList<T> list(const std::string& name) const {
    return ManagerList<T>(open(detail::ObjectKind::kList, name, typed<T>("list")));
  }
  // maxsize 0: unbounded (up to the coordinator's byte limit). The first
  // caller's maxsize holds for every later one.
  template <class T>
  Queue<T> queue(const std::string& name, std::size_t maxsize = 0) const {
    return Queue<T>(
        detail::hosted_queue(open(detail::ObjectKind::kQueue, name, typed<T>("queue"), maxsize)));
  }
  template <class T>
  ManagerValue<T> value(const std::string& name) const {
    return ManagerValue<T>(open(detail::ObjectKind::kValue, name, typed<T>("value"),
                                ManagerValue<T>::kNumberKind, detail::encode(T{})));
  }
  ManagerLock lock(const std::string& name) const {
    return ManagerLock(open(detail::ObjectKind::kLock, name, "lock"));
  }
  // The first caller's value holds for every later one.
  ManagerSemaphore semaphore(const std::string& name, unsigned value = 1) const {
    return ManagerSemaphore(open(detail::ObjectKind::kSemaphore, name, "semaphore", value));
  }
  ManagerEvent event(const std::string& name) const {
    return ManagerEvent(open(detail::ObjectKind::kEvent, name, "event"));
  }
  // SignatureMismatch if the name is a barrier of another number of parties.
  ManagerBarrier barrier(const std::string& name, unsigned parties) const {
    return ManagerBarrier(
        open(detail::ObjectKind::kBarrier, name, "barrier of " + std::to_string(parties), parties));
  }
  ManagerCondition condition(const std::string& name) const {
    return ManagerCondition(open(detail::ObjectKind::kCondition, name, "condition"));
  }

 private:
  template <class T>
  static std::string typed(const char* kind) {
    return std::string(kind) + "<" + std::string(detail::type_name<T>()) + ">";
  }
  detail::HostedObject open(detail::ObjectKind kind, const std::string& name, std::string type,
                            std::uint64_t param = 0, std::string initial = {}) const {
    return detail::HostedObject(channel_, kind, name, std::move(type), param, false,
                                std::move(initial));
  }
  std::shared_ptr<detail::CallChannel> channel_;
};

namespace this_task {
// The Manager of the coordinator that runs this task. dpool::Error outside a task.
DPOOL_API Manager manager();
}  // namespace this_task

}  // namespace dpool
