// Payloads (libshared/src/payload.hpp) made from and read back as strings,
// for the tests of the pure cores and the protocol. Header-only; include it
// only in INTERNAL tests (payload.hpp is not part of the public API).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "payload.hpp"

namespace test_support {

// A payload holding a copy of `bytes`.
inline dpool::internal::Payload payload(std::string_view bytes) {
  return dpool::internal::Payload(bytes);
}

// A payload's bytes as a string.
inline std::string str(const dpool::internal::Payload& p) {
  return std::string(p.view());
}

// One payload per string, in order.
inline dpool::internal::Payloads payloads_of(std::initializer_list<std::string_view> parts) {
  dpool::internal::Payloads out;
  out.reserve(parts.size());
  for (auto p : parts) out.push_back(payload(p));
  return out;
}

// Copies of the payloads' bytes (not shared with them).
inline dpool::internal::Payloads copy_of(const dpool::internal::Payloads& payloads) {
  dpool::internal::Payloads out;
  out.reserve(payloads.size());
  for (auto& p : payloads) out.push_back(payload(p.view()));
  return out;
}

}  // namespace test_support
