// Lock, RLock, Event, Condition and Barrier over process-shared pthread
// objects in SharedBlocks (shared_sync.hpp), and the blocks themselves
// (Semaphore: semaphore.cpp).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dpool/shared_value.hpp>
#include <dpool/sync.hpp>
#include <new>
#include <stdexcept>
#include <string>

#include "shared_sync.hpp"

namespace dpool {
namespace internal {
namespace {

struct EventShared {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  std::uint32_t flag;
};

struct ConditionShared {
  pthread_cond_t cv;
};

// Threading.Barrier's states: filling, draining (released), resetting, broken.
enum BarrierState : std::int32_t { kFilling = 0, kDraining = 1, kResetting = -1, kBroken = -2 };

struct BarrierShared {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  std::uint32_t parties;
  std::uint32_t count;  // parties inside wait()
  std::int32_t state;
};

template <class T>
T& in(const std::shared_ptr<detail::SharedBlock>& block) {
  if (!block) throw Error("this dpool synchronisation handle refers to nothing");
  return *static_cast<T*>(block->data());
}

template <class T>
std::shared_ptr<detail::SharedBlock> make_block() {
  auto block = detail::SharedBlock::create(sizeof(T));
  new (block->data()) T{};
  return block;
}

[[noreturn]] void fail(const char* what) {
  throw Error(std::string("dpool shared memory: ") + what + ": " + std::strerror(errno));
}

}  // namespace
}  // namespace internal

namespace detail {

std::shared_ptr<SharedBlock> SharedBlock::create(std::size_t size) {
  int fd = ::memfd_create("dpool-shared", MFD_CLOEXEC);
  if (fd < 0) internal::fail("memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    ::close(fd);
    internal::fail("ftruncate");
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    internal::fail("mmap");
  }
  return std::shared_ptr<SharedBlock>(new SharedBlock(fd, p, size));
}

std::shared_ptr<SharedBlock> SharedBlock::attach(int fd) {
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size <= 0) {
    ::close(fd);
    throw Error("dpool shared memory: the descriptor passed is not a shared block");
  }
  void* p =
      ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    internal::fail("mmap");
  }
  return std::shared_ptr<SharedBlock>(new SharedBlock(fd, p, static_cast<std::size_t>(size)));
}

namespace {

const std::string& this_boot() {
  static const std::string id = [] {
    std::string s;
    if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
      char buf[64] = {};
      if (std::fgets(buf, sizeof buf, f)) s = buf;
      std::fclose(f);
    }
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }();
  return id;
}

const std::string& this_host() {
  static const std::string host = [] {
    char h[256] = "localhost";
    ::gethostname(h, sizeof h - 1);
    return std::string(h);
  }();
  return host;
}

}  // namespace

SharedBlock::Ref SharedBlock::ref() const {
  Ref r;
  if (collecting_fds()) {
    r.kind = 0;
    r.index = pass_fd(fd_);
    return r;
  }
  r.kind = 1;
  r.boot = this_boot();
  r.host = this_host();
  r.pid = static_cast<std::int32_t>(::getpid());
  r.fd = fd_;
  return r;
}

std::shared_ptr<SharedBlock> SharedBlock::from(const Ref& r, const char* what,
                                               const char* manager_equivalent) {
  if (r.kind == 0) return attach(take_fd(r.index));
  if (r.kind != 1) throw SerializationError(std::string(what) + " arrived in an unknown form");
  if (r.boot != this_boot() || r.boot.empty())
    throw SerializationError(std::string(what) + " made on " + r.host +
                             " lives in that machine's memory and cannot be used on " +
                             this_host() + "; use " + manager_equivalent +
                             " for an object that every node reaches");
  auto path = "/proc/" + std::to_string(r.pid) + "/fd/" + std::to_string(r.fd);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    throw SerializationError(std::string(what) + " is gone: the program that made it (pid " +
                             std::to_string(r.pid) +
                             ") no longer holds it; keep the handle alive until the task ran");
  return attach(fd);
}

SharedBlock::~SharedBlock() {
  ::munmap(data_, size_);
  ::close(fd_);
}

// ---- SharedMutex (Lock, RLock) ----------------------------------------------

void* SharedMutex::native() const {
  if (!block_) throw Error("this dpool lock refers to nothing");
  return static_cast<char*>(block_->data()) + offset_;
}

void SharedMutex::lock() {
  auto* mu = static_cast<pthread_mutex_t*>(native());
  int rc = pthread_mutex_lock(mu);
  if (rc == 0) return;
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(mu);  // its holder died: the lock is ours now
    return;
  }
  if (rc == EDEADLK)
    throw Error(
        "Lock::acquire: this thread already holds the lock, so waiting for it would never end; "
        "use an RLock to acquire a lock again");
  throw Error(std::string("Lock::acquire: ") + std::strerror(rc));
}

void SharedMutex::unlock() {
  int rc = pthread_mutex_unlock(static_cast<pthread_mutex_t*>(native()));
  if (rc == EPERM) throw std::logic_error("release of a lock that this thread does not hold");
  if (rc) throw Error(std::string("Lock::release: ") + std::strerror(rc));
}

bool SharedMutex::try_lock() {
  return acquire_until(SyncDeadline::min());
}

bool SharedMutex::acquire_until(SyncDeadline deadline) {
  return internal::lock_until(*static_cast<pthread_mutex_t*>(native()), deadline);
}

}  // namespace detail

Lock::Lock() : SharedMutex(internal::make_block<pthread_mutex_t>(), 0) {
  internal::init_robust_mutex(*static_cast<pthread_mutex_t*>(native()), false);
}

RLock::RLock() : SharedMutex(internal::make_block<pthread_mutex_t>(), 0) {
  internal::init_robust_mutex(*static_cast<pthread_mutex_t*>(native()), true);
}

// ---- Event ------------------------------------------------------------------

Event::Event() : BlockHandle(internal::make_block<internal::EventShared>()) {
  auto& s = internal::in<internal::EventShared>(block_);
  internal::init_robust_mutex(s.mu, false);
  internal::init_shared_cond(s.cv);
}

void Event::set() {
  auto& s = internal::in<internal::EventShared>(block_);
  internal::RobustLock lock(s.mu);
  s.flag = 1;
  pthread_cond_broadcast(&s.cv);
}

void Event::clear() {
  auto& s = internal::in<internal::EventShared>(block_);
  internal::RobustLock lock(s.mu);
  s.flag = 0;
}

bool Event::is_set() const {
  auto& s = internal::in<internal::EventShared>(block_);
  internal::RobustLock lock(s.mu);
  return s.flag != 0;
}

bool Event::wait_until(detail::SyncDeadline deadline) {
  auto& s = internal::in<internal::EventShared>(block_);
  internal::RobustLock lock(s.mu);
  while (!s.flag)
    if (deadline <= std::chrono::steady_clock::now() || !internal::wait_until(s.cv, s.mu, deadline))
      return s.flag != 0;
  return true;
}

// ---- Condition --------------------------------------------------------------

Condition::Condition(const detail::SharedMutex& lock)
    : lock_(lock.block(), lock.offset()),
      block_(internal::make_block<internal::ConditionShared>()) {
  internal::init_shared_cond(internal::in<internal::ConditionShared>(block_).cv);
}

bool Condition::wait_until(detail::SyncDeadline deadline) {
  auto& cv = internal::in<internal::ConditionShared>(block_).cv;
  auto& mu = *static_cast<pthread_mutex_t*>(lock_.native());
  if (deadline <= std::chrono::steady_clock::now() && deadline != detail::SyncDeadline::max())
    return false;
  return internal::wait_until(cv, mu, deadline);
}

void Condition::notify(unsigned n) {
  auto& cv = internal::in<internal::ConditionShared>(block_).cv;
  for (unsigned i = 0; i < n; ++i) pthread_cond_signal(&cv);
}

void Condition::notify_all() {
  pthread_cond_broadcast(&internal::in<internal::ConditionShared>(block_).cv);
}

// ---- Barrier (threading.Barrier's algorithm, across processes) -------------

Barrier::Barrier(unsigned parties) : BlockHandle(internal::make_block<internal::BarrierShared>()) {
  if (parties == 0) throw std::invalid_argument("a Barrier needs at least one party");
  auto& s = internal::in<internal::BarrierShared>(block_);
  internal::init_robust_mutex(s.mu, false);
  internal::init_shared_cond(s.cv);
  s.parties = parties;
}

unsigned Barrier::wait_until(detail::SyncDeadline deadline) {
  using namespace internal;
  auto& s = in<BarrierShared>(block_);
  RobustLock lock(s.mu);
  auto broken = [] {
    return BrokenBarrierError(
        "the Barrier is broken (aborted, reset, or a party's wait timed out)");
  };
  // Wait while a previous round drains or resets.
  while (s.state == kDraining || s.state == kResetting)
    internal::wait_until(s.cv, s.mu, detail::SyncDeadline::max());
  if (s.state < 0) throw broken();
  unsigned index = s.count++;
  auto leave = [&] {
    --s.count;
    if (s.count == 0 && (s.state == kResetting || s.state == kDraining)) {
      s.state = kFilling;  // the last one out lets the next round in
      pthread_cond_broadcast(&s.cv);
    }
  };
  if (index + 1 == s.parties) {
    s.state = kDraining;  // everyone is here
    pthread_cond_broadcast(&s.cv);
  } else {
    while (s.state == kFilling) {
      if (!internal::wait_until(s.cv, s.mu, deadline) && s.state == kFilling) {
        s.state = kBroken;  // a timeout breaks it for every party
        pthread_cond_broadcast(&s.cv);
      }
    }
    if (s.state < 0) {
      leave();
      throw broken();
    }
  }
  leave();
  return index;
}

void Barrier::abort() {
  auto& s = internal::in<internal::BarrierShared>(block_);
  internal::RobustLock lock(s.mu);
  s.state = internal::kBroken;
  pthread_cond_broadcast(&s.cv);
}

void Barrier::reset() {
  auto& s = internal::in<internal::BarrierShared>(block_);
  internal::RobustLock lock(s.mu);
  if (s.count > 0) {
    s.state = internal::kResetting;  // those waiting get BrokenBarrierError; the last resets
  } else {
    s.state = internal::kFilling;
  }
  pthread_cond_broadcast(&s.cv);
}

unsigned Barrier::parties() const {
  return internal::in<internal::BarrierShared>(block_).parties;
}

unsigned Barrier::n_waiting() const {
  auto& s = internal::in<internal::BarrierShared>(block_);
  internal::RobustLock lock(s.mu);
  return s.state == internal::kFilling ? s.count : 0;
}

bool Barrier::broken() const {
  auto& s = internal::in<internal::BarrierShared>(block_);
  internal::RobustLock lock(s.mu);
  return s.state == internal::kBroken;
}

}  // namespace dpool

namespace dpool::detail {

RLock make_embedded_rlock(const std::shared_ptr<SharedBlock>& block) {
  static_assert(sizeof(pthread_mutex_t) <= SharedArrayLayout<char>::kMutexBytes);
  internal::init_robust_mutex(*static_cast<pthread_mutex_t*>(block->data()), true);
  return RLock(block, 0);
}

}  // namespace dpool::detail
