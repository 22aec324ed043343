// One event-loop thread: an asio::io_context run from construction until
// destruction. Other threads reach it only through post()/call().
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <future>
#include <string>
#include <thread>

namespace dpool::internal {

class EventLoop {
 public:
  // Starts the loop thread, named "dpool-<name>" (cut to 15 characters).
  explicit EventLoop(std::string name);
  ~EventLoop();  // stops the loop and joins the thread
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  asio::io_context& io() noexcept { return io_; }
  bool in_loop_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }
  void stop();

  // Runs fn on the loop thread and waits for it; runs it inline when called
  // from the loop thread. Exceptions propagate to the caller.
  template <class F>
  auto call(F fn) -> decltype(fn()) {
    if (in_loop_thread() || stopped_) return fn();
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto future = task.get_future();
    asio::post(io_, [&task] { task(); });
    return future.get();
  }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  bool stopped_ = false;
};

// Runs `fn` on `io`'s thread and waits for it, given that the caller is not
// on that thread. For peers that share another component's loop.
template <class F>
auto call_on(asio::io_context& io, F fn) -> decltype(fn()) {
  if (io.get_executor().running_in_this_thread()) return fn();
  std::packaged_task<decltype(fn())()> task(std::move(fn));
  auto future = task.get_future();
  asio::post(io, [&task] { task(); });
  return future.get();
}

}  // namespace dpool::internal
