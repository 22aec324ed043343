// The objects a coordinator hosts: the Manager's named dicts, lists, queues,
// values, locks, semaphores, events, barriers and conditions, and the queues
// and pipes of pool.queue and pool.pipe. Blocking calls park here with their deadline and are
// answered when they can go on or time out; nothing polls. A lock or
// semaphore permit is leased to its holder (a client, or one executor of a
// node) and given back when the holder is gone.
// Pure: calls and the time in, answers out; no sockets or clocks. Loop
// thread only.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "calls.hpp"
#include "scheduler.hpp"

namespace dpool::internal {

// "dict", "queue", ...: a kind as messages name it.
const char* kind_name(detail::ObjectKind k);

class ObjectStore {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  struct Limits {
    std::size_t max_objects = 100000;
    std::size_t max_bytes = std::size_t{1} << 30;  // keys, values and items held
  };
  // Who calls: a client (pid 0), or executor `pid` of node `peer`, running `task`.
  struct Caller {
    PeerId peer = 0;
    std::uint32_t pid = 0;
    std::uint64_t task = 0;
    bool same_holder(const Caller& o) const { return peer == o.peer && pid == o.pid; }
  };
  // The answer to request `request` of `peer`.
  struct Answer {
    PeerId peer = 0;
    std::uint64_t request = 0;
    detail::Failure failure;
    calls::ObjectAnswer answer;
  };
  // Something an operator should hear of: a lease given back or a barrier
  // broken by a holder that is gone (warnings), a waiting call of a caller
  // that is gone dropped (information).
  struct Event {
    Caller holder;
    std::string what;  // "lock 'L'"
    std::string how;   // "released: its holder is gone", ...
    bool warning = true;
  };
  struct Stats {
    std::uint64_t calls = 0, parked = 0, refused = 0, leases_released = 0;
  };
  // One change to a named object's contents, for a durable copy (pool.queue's
  // queues, which end with their client, are not kept).
  struct Change {
    enum class Kind : std::uint8_t {
      kMade,        // kind, type in `key`, param in `n`, a value's bytes in `value`
      kSet,         // a dict's `key` = `value`, version `n`
      kErase,       // a dict's `key`
      kAppend,      // `value` at the end of a list
      kPush,        // `value` at the back of a queue
      kPop,         // `n` items from the front of a queue
      kValue,       // a value's bytes, `value`
      kQueueState,  // a queue's unfinished count `n`, shut down if `flag`
    };
    Kind kind{};
    std::string object;
    detail::ObjectKind object_kind{};
    std::string key, value;
    std::uint64_t n = 0;
    bool flag = false;
  };
  // A named object as kept, to make again at start.
  struct Image {
    detail::ObjectKind kind{};
    std::string type;
    std::uint64_t param = 0;
    struct Entry {
      std::string key, value;
      std::uint64_t version = 0;
    };
    std::vector<Entry> entries;      // a dict's
    std::vector<std::string> items;  // a list's or a queue's, front first
    std::string value;               // a value's bytes
    std::uint64_t unfinished = 0;    // a queue's
    bool shut = false;
  };

  explicit ObjectStore(Limits limits) : limits_(limits) {}

  // One call. Its answer comes out of take_answers(): after this call, or
  // later, when a parked call can go on, times out, or its object goes.
  void call(const Caller& who, std::uint64_t request, calls::ObjectCall&& c, TimePoint now);
  // Answers the parked calls whose deadline is `now` or earlier.
  void expire(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  // A client or node is gone: its leases end, its parked calls are dropped
  // (unanswered), the objects it owned (pool.queue) go.
  void gone(PeerId peer);
  // One executor of node `node` is gone: the same for what it held and waited on.
  void gone(PeerId node, std::uint32_t pid);
  // No one will hear the answer to `peer`'s call `request` (the line it came
  // on closed): if it waits, it is dropped as a gone caller's would be.
  void withdraw(PeerId peer, std::uint64_t request);

  // Records every change to named objects from now on, for take_changes().
  void keep_changes() { keep_changes_ = true; }
  std::vector<Change> take_changes() { return std::exchange(changes_, {}); }
  // Makes a kept object again (at start, before any call).
  void restore(const std::string& name, Image&& image);

  std::vector<Answer> take_answers() { return std::exchange(answers_, {}); }
  std::vector<Event> take_events() { return std::exchange(events_, {}); }

  std::size_t objects() const noexcept { return objects_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t parked() const noexcept { return parked_.size(); }
  const Stats& stats() const noexcept { return stats_; }

 private:
  using WaitId = std::uint64_t;
  // A parked call.
  struct Waiter {
    Caller who;
    std::uint64_t request = 0;
    std::string object;
    detail::Verb verb{};
    TimePoint deadline = TimePoint::max();
    std::string item;                     // a put's item
    bool notified = false;                // a condition's waiter, woken by notify
    bool relocking = false;               // a condition's waiter, now waiting for the lock
    std::vector<calls::PipeEnd> watched;  // a pipe's kWait: every end it waits for
  };
  struct Entry {
    std::string value;
    std::uint64_t version = 0;
  };
  struct DictState {
    std::unordered_map<std::string, Entry> entries;
  };
  struct ListState {
    std::vector<std::string> items;
  };
  struct QueueState {
    std::deque<std::string> items;
    std::uint64_t unfinished = 0;
    bool shut = false;
    std::deque<WaitId> getters, putters, joiners;
  };
  struct ValueState {
    std::string bytes;
  };
  // A lock (one permit), a semaphore, or a condition's lock, with its waiters.
  struct LockState {
    std::uint64_t permits = 1;
    std::vector<Caller> holders;
    std::deque<WaitId> acquirers;
    std::deque<WaitId> waiters;  // a condition's, until notified or timed out
  };
  struct EventState {
    bool set = false;
    std::deque<WaitId> waiters;
  };
  struct BarrierState {
    std::deque<WaitId> arrived;
    bool broken = false;
  };
  // pool.pipe: two ends; what one end sends waits in the other's inbox. An
  // end is open while a holder has it (each counted per process) or it is
  // being handed on; when neither is left it closes for good, and the other
  // end reads what is left and then the end of the stream.
  struct PipeState {
    struct End {
      std::deque<std::string> inbox;
      std::vector<std::pair<Caller, std::uint32_t>> holders;
      std::uint64_t handed = 0;  // kShare calls not yet matched by a kAdopt
      bool closed = false;
      std::deque<WaitId> receivers;  // parked kTake
      std::deque<WaitId> watchers;   // parked kWait
    };
    End ends[2];
  };
  struct Object {
    detail::ObjectKind kind{};
    std::string type;
    std::uint64_t param = 0;
    PeerId owner = 0;  // pool.queue: the client it goes with; 0 for named objects
    std::size_t bytes = 0;
    std::variant<DictState, ListState, QueueState, ValueState, LockState, EventState, BarrierState,
                 PipeState>
        state;
  };
  // The call being answered.
  struct Call {
    const Caller& who;
    std::uint64_t request;
    calls::ObjectCall& c;
    TimePoint now;
  };

  Object* open(const Call& call);
  void dispatch(Object& o, const Call& call);
  void dict(Object& o, DictState& s, const Call& call);
  void list(Object& o, ListState& s, const Call& call);
  void queue(Object& o, QueueState& s, const Call& call);
  void value(Object& o, ValueState& s, const Call& call);
  void lock(Object& o, LockState& s, const Call& call);
  void event(EventState& s, const Call& call);
  void barrier(Object& o, BarrierState& s, const Call& call);
  void pipe(Object& o, PipeState& s, const Call& call);

  // Answers.
  void answer(const Call& call, calls::ObjectAnswer a = {});
  void answer(const Waiter& w, calls::ObjectAnswer a = {});
  void refuse(const Call& call, ErrorCode code, std::string why);
  void refuse(const Waiter& w, ErrorCode code, std::string why);
  bool unknown_verb(const Call& call, const Object& o);
  // Room for `more` bytes in the store; refuses the call when there is none.
  bool make_room(const Call& call, std::size_t more);
  void account(Object& o, std::ptrdiff_t delta);

  // Parking.
  WaitId park(const Call& call, std::deque<WaitId>& where, std::string item = {});
  Waiter take(WaitId id);                 // unparks: the waiter leaves every table
  void unschedule(WaitId id, Waiter& w);  // no deadline any more
  // A parked put's item leaves the store without entering its queue.
  void forget_item(Object& o, const Waiter& w);
  // Drops the parked calls `which` picks, unanswered; a barrier one waited
  // in breaks for the others.
  void drop_parked(const std::function<bool(const Waiter&)>& which);

  // What wakes parked calls.
  void admit_putters(const Call& call, Object& o, QueueState& s);
  // Records a change to `o`, named by the call, when changes are kept.
  // Copies nothing unless changes are kept: it is on every write's path.
  void record(const Call& call, const Object& o, Change::Kind kind, std::string_view key = {},
              std::string_view value = {}, std::uint64_t n = 0, bool flag = false);
  void record_queue(const Call& call, const Object& o, const QueueState& s);
  void grant(Object& o, LockState& s);
  void release_one(Object& o, LockState& s, std::size_t holder);
  void break_barrier(BarrierState& s, const std::string& name);
  void expired(WaitId id);
  // Pipes (object_pipe.cpp).
  void pipe_wait(const Call& call);
  // '1' or '0' per end: could it receive without waiting (or is it gone)?
  std::string pipe_readiness(const std::vector<calls::PipeEnd>& ends) const;
  void wake_watchers(PipeState::End& e);
  void close_pipe_end(Object& o, PipeState& s, int end);
  void pipe_holders_gone(const Caller& holder, bool whole_peer);
  // Ends what `holder` (or, with `whole_peer`, every caller of its peer) held and waited on.
  void end_holder(const Caller& holder, bool whole_peer);

  Limits limits_;
  std::unordered_map<std::string, Object> objects_;
  std::unordered_map<WaitId, Waiter> parked_;
  std::multimap<TimePoint, WaitId> deadlines_;
  WaitId next_wait_ = 1;
  std::size_t bytes_ = 0;
  std::uint64_t next_version_ = 1;
  std::vector<Answer> answers_;
  std::vector<Event> events_;
  bool keep_changes_ = false;
  std::vector<Change> changes_;
  Stats stats_;
};

}  // namespace dpool::internal
