// Results<R>: the lazy result range of Pool::imap and Pool::imap_unordered.
#pragma once

#include <deque>
#include <dpool/async_result.hpp>
#include <dpool/detail/next_iterator.hpp>
#include <dpool/detail/progress.hpp>
#include <dpool/detail/states.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace dpool {

// The results of imap (input order) or imap_unordered (completion order), as
// a single-pass input range of R. The input is read lazily, a bounded window
// of chunks ahead of the consumer: an endless input works in bounded memory,
// and a consumer that stops reading stops the reading of the input.
//
// A task's error is thrown when iteration reaches it; iteration may go on
// after it. An exception thrown by the input itself is thrown after the
// results of the chunks read before it, and ends the range. Destroying an
// unfinished range cancels its queued tasks without waiting.
// Not thread-safe: one consumer.
template <class R>
class Results {
 public:
  // Submits one chunk (the serialized argument tuples) and returns its result.
  using Submit = std::function<AsyncResult<std::vector<R>>(std::string chunk)>;
  // Appends up to `n` serialized items to a chunk; returns how many, 0 at the
  // end of the input. Throws what the input throws.
  using Pull = std::function<std::size_t(std::string& chunk, std::size_t n)>;

  Results(Submit submit, Pull pull, std::size_t chunksize, std::size_t window, bool ordered)
      : impl_(std::make_unique<Impl>()) {
    impl_->submit = std::move(submit);
    impl_->pull = std::move(pull);
    impl_->chunksize = std::max<std::size_t>(1, chunksize);
    impl_->window = std::max<std::size_t>(2, window);
    impl_->ordered = ordered;
    impl_->fill();
  }
  Results(Results&&) noexcept = default;
  Results& operator=(Results&&) noexcept = default;
  ~Results() {
    if (!impl_) return;
    for (auto& c : impl_->chunks)
      if (c.result.state()) c.result.state()->drop();
  }

  // The next result; nullopt at the end. Throws the task's or the input's error.
  std::optional<R> next() {
    return counted(impl_->next(std::chrono::steady_clock::time_point::max(), {}));
  }
  // As next(), but throws TimeoutError if nothing arrives in time; the range
  // stays usable. Any duration type works, floating-point ones too.
  template <class Rep, class Period>
  std::optional<R> next(std::chrono::duration<Rep, Period> timeout) {
    const auto d = detail::timeout_of(timeout);
    return counted(impl_->next(detail::deadline_after(d), d));
  }
  // Shows on stderr how many results were taken (see detail::Progress).
  void show_progress(std::shared_ptr<detail::Progress> p) { progress_ = std::move(p); }
  // Items read from the input so far.
  std::size_t pulled() const noexcept { return impl_->pulled; }

  using iterator = detail::NextIterator<Results, R>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  std::optional<R> counted(std::optional<R> r) {
    if (progress_) {
      if (r)
        progress_->advance(1);
      else
        progress_->finish();
    }
    return r;
  }

  struct Chunk {
    AsyncResult<std::vector<R>> result;
    std::size_t index = 0;
    bool taken = false;
  };
  struct Impl {
    Submit submit;
    Pull pull;
    std::size_t chunksize = 1, window = 2;
    bool ordered = true;
    std::deque<Chunk> chunks;  // submitted, not yet consumed, in input order
    std::shared_ptr<detail::Waiter> waiter = std::make_shared<detail::Waiter>();
    std::size_t submitted = 0, pulled = 0;
    bool input_done = false;
    std::exception_ptr input_error;
    std::deque<R> ready;  // results of the chunk being consumed

    void fill() {
      while (!input_done && chunks.size() < window) {
        std::string chunk;
        std::size_t n = 0;
        try {
          n = pull(chunk, chunksize);
        } catch (...) {
          input_error = std::current_exception();  // surfaces after what came before
          input_done = true;
          return;
        }
        pulled += n;
        if (n == 0) {
          input_done = true;
          return;
        }
        Chunk c{submit(std::move(chunk)), submitted++, false};
        if (!ordered) c.result.state()->watch(waiter, c.index);
        chunks.push_back(std::move(c));
      }
    }

    std::optional<R> next(std::chrono::steady_clock::time_point deadline,
                          std::chrono::steady_clock::duration timeout) {
      for (;;) {
        if (!ready.empty()) {
          R r = std::move(ready.front());
          ready.pop_front();
          return r;
        }
        if (chunks.empty()) {
          if (input_error) std::rethrow_exception(std::exchange(input_error, nullptr));
          return std::nullopt;
        }
        auto it = chunks.begin();
        if (ordered) {
          if (!it->result.state()->wait_until(deadline)) timed_out(timeout);
        } else {
          it = take_finished(deadline, timeout);
        }
        auto result = std::move(it->result);
        chunks.erase(it);
        fill();
        result.state()->rethrow();  // the task's error, at its place
        auto values = result.state()->take();
        for (auto& v : values) ready.push_back(std::move(v));
      }
    }

    typename std::deque<Chunk>::iterator take_finished(
        std::chrono::steady_clock::time_point deadline,
        std::chrono::steady_clock::duration timeout) {
      for (;;) {
        auto index = waiter->next(deadline);
        if (!index) timed_out(timeout);
        for (auto it = chunks.begin(); it != chunks.end(); ++it)
          if (it->index == *index) return it;
      }
    }

    [[noreturn]] void timed_out(std::chrono::steady_clock::duration timeout) {
      throw TimeoutError("no result of the imap arrived within " + detail::describe(timeout) +
                         "; the tasks keep running and the range can still be read");
    }
  };

  std::unique_ptr<Impl> impl_;
  std::shared_ptr<detail::Progress> progress_;  // finished when the range ends or goes
};

}  // namespace dpool
