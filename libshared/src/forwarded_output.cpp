#include "forwarded_output.hpp"

#include <string>
#include <string_view>

namespace dpool::internal {

void show_output(const wire::Output& output, std::FILE* out, std::FILE* err) {
  bool wrote[2] = {false, false};
  std::string line;
  for (auto& l : output.lines) {
    auto* to = l.stream == 2 ? err : out;
    wrote[l.stream == 2] = true;
    const std::string prefix = "[" + output.node + ":" + std::to_string(l.pid) + "] ";
    if (l.dropped) {
      line = prefix + "(" + std::to_string(l.dropped) + " line" + (l.dropped == 1 ? "" : "s") +
             " dropped: output rate limit)\n";
      std::fwrite(line.data(), 1, line.size(), to);
    }
    std::string_view text = l.text;
    while (!text.empty()) {
      auto end = text.find('\n');
      auto n = end == std::string_view::npos ? text.size() : end + 1;
      line.assign(prefix).append(text.substr(0, n));
      if (line.back() != '\n') line += '\n';
      std::fwrite(line.data(), 1, line.size(), to);
      text.remove_prefix(n);
    }
  }
  if (wrote[0]) std::fflush(out);
  if (wrote[1]) std::fflush(err);
}

}  // namespace dpool::internal
