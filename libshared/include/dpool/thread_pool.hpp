// dpool::ThreadPool: the Pool verbs on threads of this process, for I/O-bound
// work (multiprocessing.pool.ThreadPool). Tasks are registered functions, as
// for Pool; they run in this process, so they share its memory.
#pragma once

#include <dpool/export.hpp>
#include <dpool/pool.hpp>

namespace dpool {

class DPOOL_API ThreadPool : public PoolView {
 public:
  explicit ThreadPool(unsigned threads = 0);  // 0: cpu_count()
  // Terminates: queued tasks are cancelled; running ones finish first
  // (a thread cannot be killed), then the threads are joined.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  PoolView with(TaskOptions options) const { return PoolView(core_, options); }
  void close();      // no new work; queued work still runs
  void join();       // after close() or terminate(): waits for the threads' work
  void terminate();  // queued tasks fail with Cancelled; running ones finish
  unsigned size() const;
};

}  // namespace dpool
