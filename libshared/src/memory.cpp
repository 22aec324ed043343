// Memory hints for large buffers.
#include <sys/mman.h>

#include <cstdint>
#include <dpool/detail/codec.hpp>

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

}  // namespace dpool::detail
