#include "event_loop.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

namespace dpool::internal {

EventLoop::EventLoop(std::string name) : work_(asio::make_work_guard(io_)) {
  thread_ = std::thread([this, name = std::move(name)] {
    // "dpool-coordinator" and the like in top -H, gdb and perf (15 characters at most).
    ::pthread_setname_np(::pthread_self(), ("dpool-" + name).substr(0, 15).c_str());
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        // A handler must never unwind the loop that serves every peer; log and go on.
        spdlog::error("{} loop: unexpected exception: {}", name, e.what());
      }
    }
  });
}

EventLoop::~EventLoop() {
  stop();
}

void EventLoop::stop() {
  if (stopped_) return;
  work_.reset();
  io_.stop();
  if (thread_.joinable() && !in_loop_thread()) thread_.join();
  stopped_ = true;
}

}  // namespace dpool::internal
