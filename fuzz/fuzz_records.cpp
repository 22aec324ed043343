// The node's reader of executor records on hostile bytes, fed in pieces of
// the sizes the input chooses: never a crash or an unbounded allocation; a
// bad header ends the stream with an error.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>

#include "exec_channel.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dpool::internal;
  FuzzedDataProvider in(data, size);
  // Payloads up to a few times the size read in place (kLargeRecordBytes),
  // so both paths run without gigabyte allocations slowing every input.
  RecordReader reader(4 * kLargeRecordBytes);
  while (in.remaining_bytes() > 0) {
    auto span = reader.buffer();
    auto piece = in.ConsumeBytes<char>(in.ConsumeIntegralInRange<std::size_t>(1, 4096));
    std::size_t n = std::min(piece.size(), span.size());
    if (n) std::memcpy(span.data(), piece.data(), n);
    reader.commit(n);
    for (;;) {
      auto r = reader.next();
      if (!r) return 0;  // malformed: the node distrusts the executor
      if (!*r) break;
      if ((*r)->meta.size() > kMaxMetaBytes) __builtin_trap();
    }
  }
  return 0;
}
