// dpool::detail::QueueCore: a queue of byte strings in a memfd that every
// process holding its descriptor maps. Layout: the Shared header, then the
// ring. An item in the ring is a u64 length and its bytes, wrapping at the
// end. The header only changes after an item is fully copied in or out, so
// a process killed while holding the (robust) mutex leaves the queue as it
// was before its operation.
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <dpool/queue.hpp>
#include <stdexcept>
#include <system_error>

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

// Locks the robust mutex; a holder that died leaves it to us, consistent.
class Lock {
 public:
  explicit Lock(pthread_mutex_t& mu) : mu_(mu) {
    if (pthread_mutex_lock(&mu_) == EOWNERDEAD) pthread_mutex_consistent(&mu_);
  }
  ~Lock() { pthread_mutex_unlock(&mu_); }
  pthread_mutex_t& mutex() { return mu_; }

 private:
  pthread_mutex_t& mu_;
};

// Waits on `cv` until `deadline`; false at the deadline.
bool wait(pthread_cond_t& cv, Lock& lock, QueueCore::TimePoint deadline) {
  int rc;
  if (deadline == QueueCore::TimePoint::max()) {
    rc = pthread_cond_wait(&cv, &lock.mutex());
  } else {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
    timespec ts{static_cast<time_t>(ns.count() / 1'000'000'000),
                static_cast<long>(ns.count() % 1'000'000'000)};
    rc = pthread_cond_timedwait(&cv, &lock.mutex(), &ts);  // CLOCK_MONOTONIC, as steady_clock
  }
  if (rc == EOWNERDEAD) pthread_mutex_consistent(&lock.mutex());
  return rc != ETIMEDOUT;
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

[[noreturn]] void fail(const char* what) {
  throw Error(std::string("dpool::Queue: ") + what + ": " + std::strerror(errno));
}

}  // namespace

std::shared_ptr<QueueCore> QueueCore::create(std::size_t maxsize, std::size_t ring_bytes) {
  int fd = ::memfd_create("dpool-queue", MFD_CLOEXEC);
  if (fd < 0) fail("memfd_create");
  std::size_t size = sizeof(Shared) + ring_bytes;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    ::close(fd);
    fail("ftruncate");
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    fail("mmap");
  }
  auto* s = new (p) Shared{};
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&s->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  for (auto* cv : {&s->not_empty, &s->not_full, &s->all_done}) pthread_cond_init(cv, &ca);
  pthread_condattr_destroy(&ca);
  s->ring_bytes = ring_bytes;
  s->maxsize = maxsize;
  return std::shared_ptr<QueueCore>(new QueueCore(fd, s, size));
}

std::shared_ptr<QueueCore> QueueCore::attach(int fd) {
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < static_cast<off_t>(sizeof(Shared))) {
    ::close(fd);
    throw Error("dpool::Queue: the descriptor passed is not a queue");
  }
  void* p =
      ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    fail("mmap");
  }
  return std::shared_ptr<QueueCore>(
      new QueueCore(fd, static_cast<Shared*>(p), static_cast<std::size_t>(size)));
}

QueueCore::QueueCore(int fd, Shared* shared, std::size_t mapped)
    : fd_(fd), shared_(shared), mapped_(mapped) {}

QueueCore::~QueueCore() {
  ::munmap(shared_, mapped_);
  ::close(fd_);
}

QueueCore::Status QueueCore::put(std::string_view item, TimePoint deadline) {
  auto& s = *shared_;
  std::uint64_t need = kLength + item.size();
  if (need > s.ring_bytes)
    throw Error("dpool::Queue::put: an item of " + std::to_string(item.size()) +
                " bytes does not fit in the queue, which holds " + std::to_string(s.ring_bytes) +
                " bytes of items; send it through a pipe or a file instead");
  Lock lock(s.mu);
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
  Lock lock(s.mu);
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
  Lock lock(shared_->mu);
  return shared_->count;
}

bool QueueCore::full() const {
  Lock lock(shared_->mu);
  auto& s = *shared_;
  return s.maxsize > 0 && s.count >= s.maxsize;
}

std::size_t QueueCore::maxsize() const {
  return shared_->maxsize;
}

void QueueCore::task_done() {
  auto& s = *shared_;
  Lock lock(s.mu);
  if (s.unfinished == 0)
    throw std::logic_error("Queue::task_done() called more times than there were items put");
  if (--s.unfinished == 0) pthread_cond_broadcast(&s.all_done);
}

void QueueCore::join() {
  auto& s = *shared_;
  Lock lock(s.mu);
  while (s.unfinished > 0) wait(s.all_done, lock, TimePoint::max());
}

void QueueCore::shutdown(bool immediate) {
  auto& s = *shared_;
  Lock lock(s.mu);
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
