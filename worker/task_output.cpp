#include "task_output.hpp"

#include <utility>

namespace dpool::internal {

TaskOutput::TaskOutput(Limits limits, TimePoint now)
    : limits_(limits),
      lines_(limits.lines_per_second, limits.lines_per_second * limits.burst_seconds, now),
      bytes_(limits.bytes_per_second, limits.bytes_per_second * limits.burst_seconds, now) {}

void TaskOutput::add(std::uint64_t task, std::uint32_t pid, std::uint8_t stream,
                     std::string_view bytes, TimePoint now) {
  auto& p = partial_[{pid, stream}];
  if (!p.text.empty() && p.task != task) {  // the line of the task before ends here
    line({p.task, pid, stream}, p.text, now);
    p.text.clear();
  }
  p.task = task;
  const Source from{task, pid, stream};
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      p.text.append(bytes);
      break;
    }
    if (p.text.empty()) {
      line(from, bytes.substr(0, nl), now);
    } else {
      p.text.append(bytes.substr(0, nl));
      line(from, p.text, now);
      p.text.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
  while (p.text.size() >= limits_.max_line) {  // cut: a line need not end to be shown
    line(from, std::string_view(p.text).substr(0, limits_.max_line), now);
    p.text.erase(0, limits_.max_line);
  }
}

void TaskOutput::finish(std::uint32_t pid, TimePoint now) {
  for (auto it = partial_.lower_bound({pid, 0}); it != partial_.end() && it->first.first == pid;) {
    if (!it->second.text.empty())
      line({it->second.task, pid, it->first.second}, it->second.text, now);
    it = partial_.erase(it);
  }
  for (auto it = drops_.begin(); it != drops_.end();) {
    if (std::get<1>(it->first) != pid) {
      ++it;
      continue;
    }
    append(it->first, {}, it->second.count);
    it = drops_.erase(it);
  }
}

std::vector<wire::Lines> TaskOutput::take(TimePoint now) {
  for (auto it = drops_.begin(); it != drops_.end();) {
    if (now - it->second.since < limits_.report_dropped) {
      ++it;
      continue;
    }
    append(it->first, {}, it->second.count);
    it = drops_.erase(it);
  }
  return std::exchange(out_, {});
}

void TaskOutput::line(const Source& from, std::string_view text, TimePoint now) {
  // Both limits are checked before either is spent: a refused line costs nothing.
  const double size = static_cast<double>(text.size()) + 1;
  if (!lines_.has(1, now) || !bytes_.has(size, now)) {
    auto& d = drops_[from];
    if (d.count++ == 0) d.since = now;
    ++dropped_;
    return;
  }
  lines_.take(1, now);
  bytes_.take(size, now);
  std::uint32_t dropped = 0;
  if (auto d = drops_.find(from); d != drops_.end()) {
    dropped = d->second.count;
    drops_.erase(d);
  }
  append(from, text, dropped);
  out_.back().text += '\n';
}

void TaskOutput::append(const Source& from, std::string_view text, std::uint32_t dropped) {
  auto [task, pid, stream] = from;
  if (dropped == 0 && !out_.empty()) {
    auto& last = out_.back();
    if (last.task == task && last.pid == pid && last.stream == stream) {
      last.text.append(text);
      return;
    }
  }
  wire::Lines l;
  l.task = task;
  l.pid = pid;
  l.stream = stream;
  l.text = std::string(text);
  l.dropped = dropped;
  out_.push_back(std::move(l));
}

}  // namespace dpool::internal
