// Objects hosted by a coordinator (the Manager's and pool.queue's): the
// untyped handle that the typed ones in manager.hpp and queue.hpp wrap, and
// the channel its calls travel on.
#pragma once

#include <chrono>
#include <cstdint>
#include <dpool/export.hpp>
#include <memory>
#include <string>
#include <vector>

namespace dpool::detail {

// On the wire: append, never renumber.
enum class ObjectKind : std::uint8_t {
  kDict = 1,
  kList,
  kQueue,
  kValue,
  kLock,
  kSemaphore,
  kEvent,
  kBarrier,
  kCondition,
  kPipe,  // pool.pipe: two ends (n = 0 or 1 in every call), each with its inbox
};

// What a call does; which kinds take which verbs is in object_store.cpp.
enum class Verb : std::uint8_t {
  kOpen = 1,     // make the object or check that it has this kind and type
  kSize,         // dict, list, queue (n = maxsize, yes = full)
  kItems,        // dict (key, value, key, value, ...), list
  kSet,          // dict a = b; value = a; event set
  kGet,          // dict: a's value, yes = found; list: item n; value: load
  kErase,        // dict: yes = was there
  kContains,     // dict
  kRead,         // dict: a's value, yes = found, n = its version (for update)
  kSwap,         // dict: a = b if a's version is n (0: absent); else as kRead
  kAppend,       // list
  kPut,          // queue: a, waiting while full; pipe: end n sends a
  kTake,         // queue: the next item, waiting while empty; pipe: end n receives
                 // (yes = false: end of stream)
  kTaskDone,     // queue
  kJoin,         // queue: until every item put is done
  kShutdown,     // queue (n = 1: immediate)
  kFetchAdd,     // value: += a (a number of the value's kind); answer the old value
  kCompareSwap,  // value: = b if it is a; answer the current one, yes = swapped
  kAcquire,      // lock, semaphore, condition
  kRelease,      // lock, semaphore, condition; pipe: the caller closes its hold on end n
  kClear,        // event
  kIsSet,        // event
  kWait,         // event; barrier (n = arrival index); condition (yes = notified);
                 // pipe: until end n (or any end b lists) can receive; bytes: '1' per ready end
  kAbort,        // barrier
  kNotify,       // condition: n waiters (0: all)
  kShare,        // pipe: end n is being handed on (it stays open until kAdopt)
  kAdopt,        // pipe: the caller now holds end n (the one handed on)
};

// How calls reach the coordinator from this process: a client's pool
// connection, or the executor's path through its node. Thread-safe.
class DPOOL_API CallChannel {
 public:
  virtual ~CallChannel() = default;
  // Sends one ObjectCall (encoded) and waits for its ObjectAnswer (encoded).
  // Throws ConnectionError when the coordinator was lost or restarted
  // meanwhile, and the error of the code the coordinator refused it with.
  virtual std::string call_object(std::string request) = 0;
};

// The channel of this process when it runs a task (the executor's), or
// nullptr.
DPOOL_API std::shared_ptr<CallChannel> task_channel();

// An untyped handle to one hosted object. Cheap to copy; every copy names
// the same object. Serialized, it is a reference to the object, which a
// task on any node opens through its own channel.
class DPOOL_API HostedObject {
 public:
  struct Answer {
    bool timed_out = false;
    bool yes = false;
    std::uint64_t n = 0;
    std::string bytes;
    std::vector<std::string> items;
  };
  static constexpr std::chrono::milliseconds kForever{-1};

  HostedObject() = default;
  // Opens `name`, making it (with the bytes `initial`, for a value) when the
  // coordinator has none; throws SignatureMismatch when it exists as another
  // kind or type.
  HostedObject(std::shared_ptr<CallChannel> channel, ObjectKind kind, std::string name,
               std::string type, std::uint64_t param = 0, bool owned = false,
               std::string initial = {});

  // One call; blocking verbs wait up to `timeout` (kForever, or 0: not at all).
  Answer call(Verb verb, std::string a = {}, std::string b = {}, std::uint64_t n = 0,
              std::chrono::milliseconds timeout = kForever) const;

  const std::string& name() const noexcept { return ref_.name; }
  std::uint64_t param() const noexcept { return ref_.param; }
  // How its calls travel (the same for every object of one pool).
  const std::shared_ptr<CallChannel>& channel() const noexcept { return channel_; }

  struct Ref {
    ObjectKind kind{};
    std::string name, type;
    std::uint64_t param = 0;
    bool owned = false;
    template <class Ar>
    void serialize(Ar& ar) {
      ar(kind, name, type, param, owned);
    }
  };
  template <class Ar>
  void save(Ar& ar) const {
    ar(ref_);
  }
  // Inside a task: the object through the executor's channel. Elsewhere
  // (no channel to reach it): SerializationError.
  template <class Ar>
  void load(Ar& ar) {
    ar(ref_);
    attach();
  }

 private:
  void attach();
  std::shared_ptr<CallChannel> channel_;
  Ref ref_;
};

// The timeout of a blocking call in whole milliseconds, rounded up, so that
// a short wait is not a poll; kForever for TimePoint::max().
DPOOL_API std::chrono::milliseconds call_timeout(std::chrono::steady_clock::time_point deadline);

}  // namespace dpool::detail
