// The C++ type of the exception being handled, demangled: what a task's or a
// Process's error reports as its type.
#pragma once

#include <cxxabi.h>

#include <cstdlib>
#include <string>

namespace dpool::internal {

// Call from inside a catch block; "unknown" outside one.
inline std::string current_exception_type() {
  auto* t = abi::__cxa_current_exception_type();
  if (!t) return "unknown";
  int status = 0;
  char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
  std::string s = status == 0 && name ? name : t->name();
  std::free(name);
  return s;
}

}  // namespace dpool::internal
