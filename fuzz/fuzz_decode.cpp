// The message decoder on hostile bytes: never a crash, a leak or undefined
// behaviour; and what it accepts encodes and decodes again to the same kind.
#include <cstdint>
#include <cstdlib>

#include "fuzz_frames.hpp"
#include "protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace wire = dpool::internal::wire;
  auto frames = dpool_fuzz::split_frames({reinterpret_cast<const char*>(data), size});
  auto m = wire::decode(std::move(frames));
  if (!m) return 0;
  const auto number = m->kind().number;
  const auto payloads = m->payloads.size();
  auto again = wire::decode(wire::encode(std::move(*m)));
  if (!again || again->kind().number != number || again->payloads.size() != payloads)
    std::abort();  // the decoder accepted what the encoder cannot reproduce
  return 0;
}
