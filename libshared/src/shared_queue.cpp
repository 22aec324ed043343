// dpool::detail::QueueCore: a queue of byte strings in a memfd that every
// process holding its descriptor maps. Layout: the Shared header, then the
// ring. An item in the ring is a u64 length and its bytes, wrapping at the
// end. The header only changes after an item is fully copied in or out, so
// a process killed while holding the (robust) mutex leaves the queue as it
// was before its operation.
#include <pthread.h>

#include <cerrno>
#include <cstring>
#include <dpool/queue.hpp>
#include <stdexcept>
#include <system_error>

#include "shared_sync.hpp"

namespace dpool::detail {

struct QueueCore::Shared {
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full, all_done;
  std::uint64_t ring_bytes;  // size of the ring after this header
  std::uint64_t head, tail;  // byte positions, growing without bound (mod ring_bytes)
  std::uint64_t count;       // items in the ring
  std::uint64_t maxsize;     // 0: no limit
  std::uint64_t unfinished;  // put and not yet task_done
  std::uint32_t shut_down;
  char* ring() { return reinterpret_cast<char*>(this + 1); }
};

namespace {

constexpr std::uint64_t kLength = sizeof(std::uint64_t);
using internal::RobustLock;

// Waits on `cv` until `deadline`; false at the deadline.
bool wait(pthread_cond_t& cv, RobustLock& lock, QueueCore::TimePoint deadline) {
  return internal::wait_until(cv, lock.mutex(), deadline);
}

void copy_in(QueueCore::Shared& s, std::uint64_t at, const char* data, std::uint64_t n) {
  auto off = at % s.ring_bytes;
  auto first = std::min(n, s.ring_bytes - off);
  std::memcpy(s.ring() + off, data, first);
  std::memcpy(s.ring(), data + first, n - first);
}

void copy_out(QueueCore::Shared& s, std::uint64_t at, char* data, std::uint64_t n) {
  auto off = at % s.ring_bytes;
  auto first = std::min(n, s.ring_bytes - off);
  std::memcpy(data, s.ring() + off, first);
  std::memcpy(data + first, s.ring(), n - first);
}

}  // namespace

std::shared_ptr<QueueCore> QueueCore::create(std::size_t maxsize, std::size_t ring_bytes) {
  auto block = SharedBlock::create(sizeof(Shared) + ring_bytes);
  auto* s = new (block->data()) Shared{};
  internal::init_robust_mutex(s->mu, false);
  for (auto* cv : {&s->not_empty, &s->not_full, &s->all_done}) internal::init_shared_cond(*cv);
  s->ring_bytes = ring_bytes;
  s->maxsize = maxsize;
  return attach(std::move(block));
}

std::shared_ptr<QueueCore> QueueCore::attach(std::shared_ptr<SharedBlock> block) {
  if (block->size() < sizeof(Shared))
    throw Error("dpool::Queue: the shared block passed is not a queue");
  return std::shared_ptr<QueueCore>(new QueueCore(std::move(block)));
}

QueueCore::QueueCore(std::shared_ptr<SharedBlock> block)
    : block_(std::move(block)), shared_(static_cast<Shared*>(block_->data())) {}

QueueCore::Status QueueCore::put(std::string_view item, TimePoint deadline) {
  auto& s = *shared_;
  std::uint64_t need = kLength + item.size();
  if (need > s.ring_bytes)
    throw Error("dpool::Queue::put: an item of " + std::to_string(item.size()) +
                " bytes does not fit in the queue, which holds " + std::to_string(s.ring_bytes) +
                " bytes of items; send it through a pipe or a file instead");
  RobustLock lock(s.mu);
  for (;;) {
    if (s.shut_down) return Status::kShutDown;
    bool room = (s.maxsize == 0 || s.count < s.maxsize) && s.tail - s.head + need <= s.ring_bytes;
    if (room) break;
    if (deadline <= std::chrono::steady_clock::now() || !wait(s.not_full, lock, deadline)) {
      if (!s.shut_down && (s.maxsize == 0 || s.count < s.maxsize) &&
          s.tail - s.head + need <= s.ring_bytes)
        break;  // room came with the deadline
      return s.shut_down ? Status::kShutDown : Status::kTimeout;
    }
  }
  std::uint64_t length = item.size();
  copy_in(s, s.tail, reinterpret_cast<const char*>(&length), kLength);
  copy_in(s, s.tail + kLength, item.data(), item.size());
  s.tail += need;  // visible only now
  ++s.count;
  ++s.unfinished;
  pthread_cond_signal(&s.not_empty);
  return Status::kDone;
}

QueueCore::Status QueueCore::get(std::string& item, TimePoint deadline) {
  auto& s = *shared_;
  RobustLock lock(s.mu);
  while (s.count == 0) {
    if (s.shut_down) return Status::kShutDown;
    if (deadline <= std::chrono::steady_clock::now() || !wait(s.not_empty, lock, deadline)) {
      if (s.count > 0) break;
      return s.shut_down ? Status::kShutDown : Status::kTimeout;
    }
  }
  std::uint64_t length = 0;
  copy_out(s, s.head, reinterpret_cast<char*>(&length), kLength);
  item.resize(length);
  copy_out(s, s.head + kLength, item.data(), length);
  s.head += kLength + length;  // taken only now
  --s.count;
  pthread_cond_signal(&s.not_full);
  return Status::kDone;
}

std::size_t QueueCore::qsize() const {
  RobustLock lock(shared_->mu);
  return shared_->count;
}

bool QueueCore::full() const {
  RobustLock lock(shared_->mu);
  auto& s = *shared_;
  return s.maxsize > 0 && s.count >= s.maxsize;
}

std::size_t QueueCore::maxsize() const {
  return shared_->maxsize;
}

void QueueCore::task_done() {
  auto& s = *shared_;
  RobustLock lock(s.mu);
  if (s.unfinished == 0)
    throw std::logic_error("Queue::task_done() called more times than there were items put");
  if (--s.unfinished == 0) pthread_cond_broadcast(&s.all_done);
}

void QueueCore::join() {
  auto& s = *shared_;
  RobustLock lock(s.mu);
  while (s.unfinished > 0) wait(s.all_done, lock, TimePoint::max());
}

void QueueCore::shutdown(bool immediate) {
  auto& s = *shared_;
  RobustLock lock(s.mu);
  s.shut_down = 1;
  if (immediate) {
    // What is left is dropped, and counts as done for join().
    s.unfinished -= std::min(s.unfinished, s.count);
    s.head = s.tail;
    s.count = 0;
    pthread_cond_broadcast(&s.all_done);
  }
  pthread_cond_broadcast(&s.not_empty);
  pthread_cond_broadcast(&s.not_full);
}

}  // namespace dpool::detail
