// Lets doctest print std::vector values in failed checks ("{1, 2, 3}").
#pragma once

#include <doctest/doctest.h>

#include <vector>

namespace doctest {
template <class T>
struct StringMaker<std::vector<T>> {
  static String convert(const std::vector<T>& v) {
    String s = "{";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + toString(v[i]);
    return s + "}";
  }
};
}  // namespace doctest
