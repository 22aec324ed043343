// Readable compile-time names of types, used for task signatures and their
// fingerprints. Both sides of a call compute them the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace dpool::detail {

template <class T>
constexpr std::string_view type_name() {
  std::string_view p = __PRETTY_FUNCTION__;  // "... type_name() [with T = int; ...]"
  auto start = p.find("T = ") + 4;
  auto end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

// "R(A1, A2)" with cv-ref qualifiers stripped, as arguments travel by value.
template <class R, class... A>
std::string signature_of() {
  std::string s(type_name<std::decay_t<R>>());
  s += '(';
  bool first = true;
  ((s += first ? "" : ", ", s += type_name<std::decay_t<A>>(), first = false), ...);
  s += ')';
  return s;
}

inline std::uint64_t fingerprint_of(std::string_view signature) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : signature) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace dpool::detail
