// Memory hints for large buffers.
#include <sys/mman.h>

#include <cstdint>
#include <dpool/detail/codec.hpp>
#include <mutex>
#include <utility>

namespace dpool::detail {

void advise_huge_pages(void* data, std::size_t n) noexcept {
  constexpr std::uintptr_t kHuge = 2u << 20;
  if (n < kLargeBuffer) return;
  // Only whole 2 MiB pages inside the block can be huge; the hint is for those.
  auto begin = reinterpret_cast<std::uintptr_t>(data);
  auto first = (begin + kHuge - 1) & ~(kHuge - 1);
  auto last = (begin + n) & ~(kHuge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

namespace {

// Never destroyed: ZeroMQ's I/O threads may hand buffers back during exit.
struct Kept {
  std::mutex mu;
  std::string buffer;  // empty, or a spent one of kLargeBuffer to kMaxKeptBuffer bytes
};
Kept& kept() {
  static auto* k = new Kept;
  return *k;
}

}  // namespace

std::string large_buffer(std::size_t n) {
  std::string out;
  {
    auto& k = kept();
    std::lock_guard lock(k.mu);
    // Not one much larger than asked for: the payload may live long (a
    // queued task's arguments) and hold all of it.
    if (k.buffer.capacity() >= n && k.buffer.capacity() / 2 <= n) out.swap(k.buffer);
  }
  if (out.capacity() < n) {
    out.reserve(n);
    advise_huge_pages(out.data(), n);
  }
  out.clear();
  return out;
}

void keep_large_buffer(std::string&& spent) noexcept {
  const std::size_t n = spent.capacity();
  if (n < kLargeBuffer || n > kMaxKeptBuffer) return;
  std::string old;  // freed outside the lock
  auto& k = kept();
  std::lock_guard lock(k.mu);
  old.swap(k.buffer);
  k.buffer.swap(spent);
}

}  // namespace dpool::detail
