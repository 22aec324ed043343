// dpool::Pool: the multiprocessing.Pool verbs over local or remote executors.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <dpool/async_result.hpp>
#include <dpool/detail/arguments.hpp>
#include <dpool/detail/states.hpp>
#include <dpool/export.hpp>
#include <dpool/manager.hpp>
#include <dpool/options.hpp>
#include <dpool/process.hpp>
#include <dpool/registry.hpp>
#include <dpool/results.hpp>
#include <memory>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace dpool {

class Coordinator;
namespace internal {
class PoolBackend;
}

namespace detail {

struct TaskRequest {
  std::string args;      // serialized argument tuple, or vector of tuples for a chunk
  std::size_t part = 0;  // which part of the sink this task fills
  bool chunk = false;
  std::string process;  // non-empty: a Process of this name (pool.process)
};

// The client side of a pool: queues tasks for the coordinator and delivers
// their outcomes to sinks. Implemented inside the library; thread-safe.
class DPOOL_API PoolCore : public Canceller {
 public:
  // Queues `tasks`, all calls of the task `name`, and binds them to `sink`
  // for cancel(). When the client's window of tasks in flight is full, waits
  // for room, or returns false at once if !block. Throws PoolClosed after
  // close() or terminate().
  virtual bool submit(const std::string& name, std::uint64_t fingerprint,
                      std::vector<TaskRequest>&& tasks, std::shared_ptr<StateBase> sink,
                      const TaskOptions& options, bool block = true) = 0;
  virtual unsigned executors() = 0;
  // Sends `signal` to the Process submitted as task `id` (pool.process), if
  // it still runs; a Process not started yet ends as if it killed it.
  virtual void signal(std::uint64_t /*id*/, int /*signal*/) {}
  virtual void close() = 0;
  virtual void join() = 0;
  virtual void terminate() = 0;
};

template <class R>
using MapResult = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;

// True when a starmap item (a tuple or pair) holds exactly the parameter types.
template <class Args, class V>
constexpr bool same_elements(std::type_identity<Args>, std::type_identity<V>) {
  return false;
}
template <class... P, class... E>
constexpr bool same_elements(std::type_identity<std::tuple<P...>>,
                             std::type_identity<std::tuple<E...>>) {
  if constexpr (sizeof...(P) != sizeof...(E)) {
    return false;
  } else {
    return (std::is_same_v<P, std::remove_cvref_t<E>> && ...);
  }
}
template <class... P, class E1, class E2>
constexpr bool same_elements(std::type_identity<std::tuple<P...>> args,
                             std::type_identity<std::pair<E1, E2>>) {
  return same_elements(args, std::type_identity<std::tuple<E1, E2>>{});
}

// map: the argument tuple is built from the item (Args(item)).
struct MapItem {
  template <class Args, class X>
  static void write(BufferOutputArchive& ar, X&& x) {
    using V = std::remove_cvref_t<X>;
    if constexpr (std::is_same_v<V, Args>) {
      ar(std::as_const(x));
    } else if constexpr (std::tuple_size_v<Args> == 1 &&
                         std::is_same_v<V, std::tuple_element_t<0, Args>>) {
      ar(std::as_const(x));
    } else {
      ar(Args(std::forward<X>(x)));
    }
  }
  template <class Args, class X>
  static auto block_value(X&& x) {
    return std::get<0>(Args(std::forward<X>(x)));
  }
};

// starmap: the item is a tuple of the arguments.
struct StarItem {
  template <class Args, class X>
  static void write(BufferOutputArchive& ar, X&& x) {
    if constexpr (same_elements(std::type_identity<Args>{},
                                std::type_identity<std::remove_cvref_t<X>>{})) {
      std::apply([&](const auto&... a) { write_each(ar, a...); }, x);
    } else {
      ar(make_args<Args>(std::forward<X>(x)));
    }
  }
  template <class Args, class X>
  static auto block_value(X&& x) {
    return std::get<0>(make_args<Args>(std::forward<X>(x)));
  }

 private:
  template <class... E>
  static void write_each(BufferOutputArchive& ar, const E&... e) {
    if constexpr (sizeof...(E) > 0) ar(e...);
  }
  template <class Args, class X>
  static Args make_args(X&& x) {
    return std::apply([](auto&&... a) { return Args(std::forward<decltype(a)>(a)...); },
                      std::forward<X>(x));
  }
};

// The next `n` items from `it` (which it advances) as one chunk: the bytes of
// a std::vector<Args> of them, where `Item` says how an item makes an Args.
// A single numeric argument goes as one block (see kBlockArgs).
template <class Args, class Item, class It>
std::string encode_items(It& it, std::size_t n) {
  std::string out;
  if constexpr (kBlockArgs<Args>) {
    using A = std::tuple_element_t<0, Args>;
    out.reserve(1 + sizeof(std::uint64_t) + n * sizeof(A));
    BufferOutputArchive ar(out);
    write_block<A>(ar, n, [&] {
      const A v = Item::template block_value<Args>(*it);
      ++it;
      return v;
    });
  } else {
    BufferOutputArchive ar(out);
    ar.write_count(n);
    for (std::size_t i = 0; i < n; ++i, ++it) Item::template write<Args>(ar, *it);
  }
  return out;
}

// Encodes items [first, last) exactly as std::vector of them would be.
template <class It>
std::string encode_chunk(It first, It last) {
  return encode_items<std::iter_value_t<It>, MapItem>(
      first, static_cast<std::size_t>(std::distance(first, last)));
}

// multiprocessing's rule: about four chunks per executor.
inline std::size_t auto_chunksize(std::size_t items, unsigned executors) {
  std::size_t per = std::max(1u, executors) * 4ul;
  std::size_t c = items / per + (items % per ? 1 : 0);
  return std::max<std::size_t>(c, 1);
}

}  // namespace detail

// The verbs of a pool with a fixed set of TaskOptions. Shares the pool it came
// from; thread-safe.
class DPOOL_API PoolView {
 public:
  // Submits one call. Blocks while this client's window of tasks in flight is
  // full (Local/Connect::max_in_flight).
  template <class F, class... A>
  auto apply_async(F f, A&&... args) -> AsyncResult<detail::ResultOf<F>> {
    return *submit_one(true, f, std::forward<A>(args)...);
  }
  // As apply_async, but returns nullopt at once instead of waiting for room.
  template <class F, class... A>
  auto try_apply_async(F f, A&&... args) -> std::optional<AsyncResult<detail::ResultOf<F>>> {
    return submit_one(false, f, std::forward<A>(args)...);
  }

  template <class F, class... A>
  auto apply(F f, A&&... args) -> detail::ResultOf<F> {
    return apply_async(f, std::forward<A>(args)...).get();
  }

  template <class F, std::ranges::input_range Range>
  auto map_async(F f, Range&& items, std::size_t chunksize = 0)
      -> AsyncResult<detail::MapResult<detail::ResultOf<F>>> {
    return submit_range<detail::MapItem>(detail::Callable<F>(f), items, chunksize);
  }

  template <class F, std::ranges::input_range Range>
  auto map(F f, Range&& items, std::size_t chunksize = 0)
      -> detail::MapResult<detail::ResultOf<F>> {
    return take(map_async(f, std::forward<Range>(items), chunksize));
  }

  template <class F, std::ranges::input_range Range>
  auto starmap_async(F f, Range&& tuples, std::size_t chunksize = 0)
      -> AsyncResult<detail::MapResult<detail::ResultOf<F>>> {
    return submit_range<detail::StarItem>(detail::Callable<F>(f), tuples, chunksize);
  }

  template <class F, std::ranges::input_range Range>
  auto starmap(F f, Range&& tuples, std::size_t chunksize = 0)
      -> detail::MapResult<detail::ResultOf<F>> {
    return take(starmap_async(f, std::forward<Range>(tuples), chunksize));
  }

  // Lazy, ordered: yields results in input order while reading the input a
  // few chunks per executor ahead.
  template <class F, std::ranges::input_range Range>
  auto imap(F f, Range&& items, std::size_t chunksize = 1) -> Results<detail::ResultOf<F>> {
    return lazy(detail::Callable<F>(f), std::forward<Range>(items), chunksize, true);
  }
  // Lazy, in completion order.
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F f, Range&& items, std::size_t chunksize = 1)
      -> Results<detail::ResultOf<F>> {
    return lazy(detail::Callable<F>(f), std::forward<Range>(items), chunksize, false);
  }

  const TaskOptions& options() const noexcept { return options_; }

 protected:
  friend class Pool;
  friend class ThreadPool;
  PoolView(std::shared_ptr<detail::PoolCore> core, TaskOptions options)
      : core_(std::move(core)), options_(options) {}

  std::shared_ptr<detail::PoolCore> core_;
  TaskOptions options_;

 private:
  // A sized range is encoded as it is read; any other is read into a vector
  // first, because the chunk size depends on how many items there are.
  template <class Item, class C, class Range>
  auto submit_range(C fn, Range& items, std::size_t chunksize)
      -> AsyncResult<detail::MapResult<typename detail::FnTraits<C>::Result>> {
    if constexpr (std::ranges::sized_range<Range>) {
      return submit_chunks<Item>(fn, items, std::ranges::size(items), chunksize);
    } else {
      std::vector<std::ranges::range_value_t<Range>> all;
      for (auto&& x : items) all.emplace_back(std::forward<decltype(x)>(x));
      return submit_chunks<Item>(fn, all, all.size(), chunksize);
    }
  }

  // Splits the first `total` items of `items` into chunks and submits them.
  template <class Item, class C, class Range>
  auto submit_chunks(C fn, Range& items, std::size_t total, std::size_t chunksize)
      -> AsyncResult<detail::MapResult<typename detail::FnTraits<C>::Result>> {
    using T = detail::FnTraits<C>;
    using R = typename T::Result;
    std::string name = detail::task_name(fn);
    if (chunksize == 0) chunksize = detail::auto_chunksize(total, core_->executors());
    const std::size_t chunks = total / chunksize + (total % chunksize ? 1 : 0);
    std::vector<std::size_t> sizes;
    std::vector<detail::TaskRequest> tasks;
    sizes.reserve(chunks);
    tasks.reserve(chunks);
    auto it = std::ranges::begin(items);
    for (std::size_t done = 0; done < total;) {
      const std::size_t n = std::min(chunksize, total - done);
      tasks.push_back({detail::encode_items<typename T::Args, Item>(it, n), sizes.size(), true});
      sizes.push_back(n);
      done += n;
    }
    auto state = std::make_shared<detail::MapState<R>>(name, T::signature(), std::move(sizes));
    if (detail::progress_wanted(options_.progress) && total > 0)
      state->show_progress(std::make_shared<detail::Progress>(name, total));
    if (!tasks.empty()) core_->submit(name, T::fingerprint(), std::move(tasks), state, options_);
    state->finish_if_empty();
    return AsyncResult<detail::MapResult<R>>(std::move(state));
  }

  template <class F, class... A>
  auto submit_one(bool block, F f, A&&... args) -> std::optional<AsyncResult<detail::ResultOf<F>>> {
    using C = detail::Callable<F>;
    using T = detail::FnTraits<C>;
    C fn = f;
    std::string name = detail::task_name(fn);
    std::vector<detail::TaskRequest> tasks;
    tasks.push_back({detail::encode_call<typename T::Args>(std::forward<A>(args)...), 0, false});
    auto state = std::make_shared<detail::SingleState<typename T::Result>>(name, T::signature());
    if (!core_->submit(name, T::fingerprint(), std::move(tasks), state, options_, block))
      return std::nullopt;
    return AsyncResult<typename T::Result>(std::move(state));
  }

  template <class C, class Range>
  auto lazy(C fn, Range&& items, std::size_t chunksize, bool ordered)
      -> Results<typename detail::FnTraits<C>::Result> {
    using T = detail::FnTraits<C>;
    using R = typename T::Result;
    using Args = typename T::Args;
    static_assert(!std::is_void_v<R>,
                  "imap needs a task that returns a value; use map for void tasks");
    using View = std::views::all_t<Range>;
    struct Source {
      View view;
      std::optional<std::ranges::iterator_t<View>> it;
    };
    auto source = std::make_shared<Source>(Source{std::views::all(std::forward<Range>(items)), {}});
    auto pull = [source](std::string& chunk, std::size_t n) -> std::size_t {
      if (!source->it) source->it = std::ranges::begin(source->view);
      auto& it = *source->it;
      // How many items there are is known only at the end: the count is
      // written last, over a placeholder.
      detail::BufferOutputArchive ar(chunk);
      const std::size_t count_at = chunk.size();
      ar.write_count(0);
      std::size_t count = 0;
      for (; count < n && it != std::ranges::end(source->view); ++count, ++it)
        detail::MapItem::write<Args>(ar, *it);
      const auto count64 = static_cast<std::uint64_t>(count);
      std::memcpy(chunk.data() + count_at, &count64, sizeof count64);
      return count;
    };
    std::string name = detail::task_name(fn);
    auto submit = [core = core_, name, options = options_](std::string chunk) {
      auto state = std::make_shared<detail::SingleState<std::vector<R>>>(name, T::signature());
      std::vector<detail::TaskRequest> tasks;
      tasks.push_back({std::move(chunk), 0, true});
      core->submit(name, T::fingerprint(), std::move(tasks), state, options);
      return AsyncResult<std::vector<R>>(std::move(state));
    };
    std::size_t window = 3 * std::max(1u, core_->executors());
    Results<R> results(std::move(submit), std::move(pull), chunksize, window, ordered);
    if (detail::progress_wanted(options_.progress)) {
      std::size_t total = 0;  // known for a sized input only
      if constexpr (std::ranges::sized_range<View>) total = std::ranges::size(source->view);
      results.show_progress(std::make_shared<detail::Progress>(name, total));
    }
    return results;
  }

  template <class T>
  static T take(AsyncResult<T> r) {
    r.wait();
    r.state()->rethrow();
    if constexpr (!std::is_void_v<T>) return r.state()->take();
  }
};

// A pool of executor processes, local or on a cluster. Destroying it
// terminates it, like leaving Python's `with Pool() as pool:` block.
// Thread-safe. AsyncResults and views may outlive it: their tasks then fail
// with Cancelled. A pool built on a Coordinator must be destroyed before it.
class DPOOL_API Pool : public PoolView {
 public:
  Pool();                             // local mode, cpu_count() executors
  explicit Pool(unsigned processes);  // local mode
  explicit Pool(Local options);
  explicit Pool(Connect options);           // cluster mode; ConnectionError if unreachable
  explicit Pool(Coordinator& coordinator);  // an embedded coordinator, in-process
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A view of this pool whose tasks carry `options`.
  PoolView with(TaskOptions options) const { return PoolView(core_, options); }

  void close();           // no new work; queued work still runs
  void join();            // after close(): waits for all work; after terminate(): for the stop
  void terminate();       // stops now; unfinished results fail with Cancelled
  unsigned size() const;  // executors currently available

  // A Process that a node of this pool's cluster runs (this machine's
  // in-process node in local mode), in a process of its own outside the
  // pool's executors; not started yet. f is a registered function. It can
  // reach the Manager and pool queues (dpool::this_task) like a task.
  template <class F, class... A>
  requires(!std::is_same_v<std::decay_t<F>, ProcessOptions>) Process process(F f, A&&... args) {
    return process(ProcessOptions{}, f, std::forward<A>(args)...);
  }
  template <class F, class... A>
  Process process(ProcessOptions options, F f, A&&... args) {
    return Process(core_, std::move(options), Process::make_call(f, std::forward<A>(args)...));
  }

  // The named objects of this pool's coordinator (see manager.hpp). Handles
  // outlive the pool, but their calls throw ConnectionError once it is gone.
  Manager manager() const { return Manager(channel()); }
  // A queue the coordinator hosts, reached from every node; it lives as
  // long as this pool's connection (maxsize 0: unbounded, up to the
  // coordinator's byte limit).
  template <class T>
  Queue<T> queue(std::size_t maxsize = 0) const {
    return Queue<T>(detail::hosted_queue(
        detail::HostedObject(channel(), detail::ObjectKind::kQueue, unique_queue_name(),
                             "queue<" + std::string(detail::type_name<T>()) + ">", maxsize,
                             /*owned=*/true)));
  }
  // A pipe the coordinator hosts: two ends, as dpool::pipe(duplex) makes,
  // that work from this program, from tasks on every node and from node
  // Processes (pass them as arguments). It lives as long as this pool's
  // connection. A receive or poll that must wait parks at the coordinator;
  // a message holds up to 64 MiB.
  std::pair<Connection, Connection> pipe(bool duplex = true) const;

 private:
  std::shared_ptr<detail::CallChannel> channel() const;
  static std::string unique_queue_name();
  static std::string unique_name(const char* kind);
  std::unique_ptr<internal::PoolBackend> backend_;  // what this pool started, if anything
};

}  // namespace dpool
