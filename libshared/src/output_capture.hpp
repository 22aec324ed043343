// An executor's stdout and stderr, captured so that what a task prints
// reaches the client that submitted it. Fds 1 and 2 become pipes that this
// process reads itself, on a thread of its own, and every chunk read goes to
// the node tagged with the task running when it was read. end_task() takes
// what is still in the pipes under the same lock, so every byte a task wrote
// before it returned goes out tagged with that task, and ahead of its
// result; the tag then changes. Bytes written between tasks (by a thread the
// task left behind, an initializer) are tagged 0.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "protocol.hpp"

namespace dpool::internal {

class OutputCapture {
 public:
  // Sends one chunk to the node (an OUTPUT record). Called from the reader
  // thread or from end_task()'s caller, one call at a time, in the order the
  // bytes were written; it may block (the node reads slowly) but must not
  // call back into the capture.
  using Send = std::function<void(wire::Lines&&)>;

  // Replaces fds 1 and 2 with pipes and starts the reader thread (all
  // signals blocked in it). Throws std::system_error if the pipes cannot be
  // made; fds 1 and 2 are then as they were.
  explicit OutputCapture(Send send);
  // Stops the reader thread, sending what it has read. Fds 1 and 2 stay pipes.
  ~OutputCapture();
  OutputCapture(const OutputCapture&) = delete;
  OutputCapture& operator=(const OutputCapture&) = delete;

  // The main thread, around each task: what is read from now on is `task`'s.
  void begin_task(std::uint64_t task);
  // Flushes the C and C++ streams, sends what the pipes hold as the task's,
  // and tags what follows 0. Costs one poll() when the task printed nothing.
  void end_task();

 private:
  void run();
  // With mu_ held: reads what stream i's pipe holds now (up to a bound) and
  // sends it. False when it held nothing (or reached end-of-file).
  bool take(int i);

  Send send_;
  int pipes_[2] = {-1, -1};  // read ends, non-blocking: [0] stdout, [1] stderr
  int wake_[2] = {-1, -1};   // closing wake_[1] stops the reader thread
  std::uint32_t pid_;
  std::mutex mu_;
  // Guarded by mu_:
  std::uint64_t task_ = 0;
  bool eof_[2] = {false, false};
  std::string buffer_;
  std::thread thread_;
};

}  // namespace dpool::internal
