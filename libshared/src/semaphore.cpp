// Semaphore and BoundedSemaphore over a SemaphoreShared block, with the
// holder table that lets a process's tracker give back what it held.
#include <unistd.h>

#include <dpool/sync.hpp>
#include <new>
#include <stdexcept>

#include "semaphore_shared.hpp"
#include "shared_sync.hpp"
#include "shm_tracker.hpp"

namespace dpool {
namespace internal {
namespace {

SemaphoreShared& shared(const std::shared_ptr<detail::SharedBlock>& block) {
  if (!block) throw Error("this dpool::Semaphore refers to nothing");
  return *static_cast<SemaphoreShared*>(block->data());
}

SemaphoreHolder* slot_of(SemaphoreShared& s, pid_t pid) {
  for (auto& h : s.holders)
    if (h.pid == pid) return &h;
  return nullptr;
}

}  // namespace

void note_acquired(SemaphoreShared& s, pid_t pid) {
  auto* h = slot_of(s, pid);
  if (!h) h = slot_of(s, 0);
  if (!h) return;  // the table is full: this holder's permits are not recovered
  h->pid = pid;
  ++h->held;
}

void note_released(SemaphoreShared& s, pid_t pid) {
  auto* h = slot_of(s, pid);
  if (!h || h->held == 0) return;  // a permit that another process acquired
  if (--h->held == 0) h->pid = 0;
}

void give_back(SemaphoreShared& s, pid_t pid) {
  RobustLock lock(s.mu);
  auto* h = slot_of(s, pid);
  if (!h) return;
  std::uint64_t count = std::uint64_t{s.count} + h->held;
  if (s.bound && count > s.bound) count = s.bound;
  s.count = static_cast<std::uint32_t>(count);
  *h = SemaphoreHolder{};
  pthread_cond_broadcast(&s.cv);
}

}  // namespace internal

Semaphore::Semaphore(unsigned value, unsigned bound)
    : BlockHandle(detail::SharedBlock::create(sizeof(internal::SemaphoreShared))) {
  auto& s = *new (block_->data()) internal::SemaphoreShared{};
  internal::init_robust_mutex(s.mu, false);
  internal::init_shared_cond(s.cv);
  s.count = value;
  s.bound = bound;
}

bool Semaphore::acquire_until(detail::SyncDeadline deadline) {
  auto& s = internal::shared(block_);
  internal::semaphore_watch(block_->fd());  // before any permit is ours
  internal::RobustLock lock(s.mu);
  while (s.count == 0)
    if (deadline <= std::chrono::steady_clock::now() || !internal::wait_until(s.cv, s.mu, deadline))
      if (s.count == 0) return false;
  --s.count;  // then noted: a death in between loses one permit rather than adds one
  internal::note_acquired(s, ::getpid());
  return true;
}

void Semaphore::release() {
  auto& s = internal::shared(block_);
  internal::RobustLock lock(s.mu);
  if (s.bound && s.count >= s.bound)
    throw std::logic_error("BoundedSemaphore released more times than it was acquired");
  internal::note_released(s, ::getpid());
  ++s.count;
  pthread_cond_signal(&s.cv);
}

unsigned Semaphore::value() const {
  auto& s = internal::shared(block_);
  internal::RobustLock lock(s.mu);
  return s.count;
}

}  // namespace dpool
