#include "allocation_tracking.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> g_track{false};
std::atomic<std::size_t> g_largest{0};

void* counted_alloc(std::size_t n) {
  if (g_track.load(std::memory_order_relaxed)) {
    auto prev = g_largest.load(std::memory_order_relaxed);
    while (n > prev && !g_largest.compare_exchange_weak(prev, n)) {
    }
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

namespace test_support {
void track_allocations(bool on) {
  if (on) g_largest = 0;
  g_track = on;
}
std::size_t largest_tracked_allocation() {
  return g_largest;
}
}  // namespace test_support

void* operator new(std::size_t n) {
  return counted_alloc(n);
}
void* operator new[](std::size_t n) {
  return counted_alloc(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
