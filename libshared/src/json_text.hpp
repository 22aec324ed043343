// JSON string literals for the JSON that dpool writes by hand (`dpool status
// --json`, the HTTP endpoint, the benchmarks' records). Header-only so that
// the benchmarks, which link the public library only, share it.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace dpool::internal {

// `s` as a JSON string, quotes included: quotes, backslashes and control
// characters escaped; other bytes pass as they are (names are UTF-8 or ASCII).
inline std::string json_quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char code[8];
          std::snprintf(code, sizeof code, "\\u%04x", c);
          out += code;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace dpool::internal
