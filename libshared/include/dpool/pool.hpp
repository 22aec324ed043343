// dpool::Pool: the multiprocessing.Pool verbs over local or remote executors.
#pragma once

#include <algorithm>
#include <dpool/async_result.hpp>
#include <dpool/detail/states.hpp>
#include <dpool/options.hpp>
#include <dpool/registry.hpp>
#include <dpool/results.hpp>
#include <memory>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
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
};

// The client side of a pool: queues tasks for the coordinator and delivers
// their outcomes to sinks. Implemented inside the library; thread-safe.
class PoolCore : public Canceller {
 public:
  // Queues `tasks`, all calls of the task `name`, and binds them to `sink`
  // for cancel(). When the client's window of tasks in flight is full, waits
  // for room, or returns false at once if !block. Throws PoolClosed after
  // close() or terminate().
  virtual bool submit(const std::string& name, std::uint64_t fingerprint,
                      std::vector<TaskRequest>&& tasks, std::shared_ptr<StateBase> sink,
                      const TaskOptions& options, bool block = true) = 0;
  virtual unsigned executors() = 0;
  virtual void close() = 0;
  virtual void join() = 0;
  virtual void terminate() = 0;
};

template <class F>
std::string task_name(const F& f) {
  if constexpr (std::is_pointer_v<F>) {
    auto* e = Registry::instance().find_fn(reinterpret_cast<const void*>(f));
    if (!e)
      throw UnknownTask(
          "this function is not registered as a task; add DPOOL_REGISTER(function_name) at "
          "namespace scope next to its definition");
    return e->name;
  } else {
    return f.name();
  }
}

// Function pointers and Remote handles; anything else is a compile error.
template <class F>
using Callable =
    std::conditional_t<std::is_function_v<std::remove_pointer_t<std::decay_t<F>>>,
                       std::add_pointer_t<std::remove_pointer_t<std::decay_t<F>>>, std::decay_t<F>>;

template <class F>
using ResultOf = typename FnTraits<Callable<F>>::Result;

template <class R>
using MapResult = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;

// Encodes items [first, last) exactly as std::vector of them would be.
template <class It>
std::string encode_chunk(It first, It last) {
  std::string out;
  thread_local StringSink sink;
  thread_local std::ostream stream(&sink);
  sink.reset(&out);
  cereal::PortableBinaryOutputArchive ar(stream);
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(last - first)));
  for (; first != last; ++first) ar(*first);
  return out;
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
class PoolView {
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
    using Args = typename detail::FnTraits<detail::Callable<F>>::Args;
    std::vector<Args> all;
    for (auto&& x : items) all.emplace_back(std::forward<decltype(x)>(x));
    return submit_chunks(detail::Callable<F>(f), all, chunksize);
  }

  template <class F, std::ranges::input_range Range>
  auto map(F f, Range&& items, std::size_t chunksize = 0)
      -> detail::MapResult<detail::ResultOf<F>> {
    return take(map_async(f, std::forward<Range>(items), chunksize));
  }

  template <class F, std::ranges::input_range Range>
  auto starmap_async(F f, Range&& tuples, std::size_t chunksize = 0)
      -> AsyncResult<detail::MapResult<detail::ResultOf<F>>> {
    using Args = typename detail::FnTraits<detail::Callable<F>>::Args;
    std::vector<Args> all;
    for (auto&& t : tuples)
      all.push_back(std::apply([](auto&&... a) { return Args(std::forward<decltype(a)>(a)...); },
                               std::forward<decltype(t)>(t)));
    return submit_chunks(detail::Callable<F>(f), all, chunksize);
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
  PoolView(std::shared_ptr<detail::PoolCore> core, TaskOptions options)
      : core_(std::move(core)), options_(options) {}

  std::shared_ptr<detail::PoolCore> core_;
  TaskOptions options_;

 private:
  template <class C, class Args>
  auto submit_chunks(C fn, const std::vector<Args>& all, std::size_t chunksize)
      -> AsyncResult<detail::MapResult<typename detail::FnTraits<C>::Result>> {
    using T = detail::FnTraits<C>;
    using R = typename T::Result;
    std::string name = detail::task_name(fn);
    if (chunksize == 0) chunksize = detail::auto_chunksize(all.size(), core_->executors());
    std::vector<std::size_t> sizes;
    std::vector<detail::TaskRequest> tasks;
    for (std::size_t first = 0; first < all.size(); first += chunksize) {
      std::size_t last = std::min(all.size(), first + chunksize);
      tasks.push_back(
          {detail::encode_chunk(all.begin() + first, all.begin() + last), sizes.size(), true});
      sizes.push_back(last - first);
    }
    auto state = std::make_shared<detail::MapState<R>>(name, T::signature(), std::move(sizes));
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
    typename T::Args tuple(std::forward<A>(args)...);
    std::vector<detail::TaskRequest> tasks;
    tasks.push_back({detail::encode(tuple), 0, false});
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
      std::vector<Args> batch;
      while (batch.size() < n && it != std::ranges::end(source->view)) {
        batch.emplace_back(*it);
        ++it;
      }
      chunk = detail::encode_chunk(batch.begin(), batch.end());
      return batch.size();
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
    return Results<R>(std::move(submit), std::move(pull), chunksize, window, ordered);
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
class Pool : public PoolView {
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

 private:
  std::unique_ptr<internal::PoolBackend> backend_;  // what this pool started, if anything
};

}  // namespace dpool
