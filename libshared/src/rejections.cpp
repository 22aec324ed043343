#include "rejections.hpp"

namespace dpool::internal {

std::string Rejections::from(const Source& s) const {
  return s.who.empty() ? std::string() : " from " + s.who;
}

Rejections::Verdict Rejections::refuse(std::uint64_t source, std::string_view who,
                                       std::string_view why, bool hostile) {
  auto& s = sources_[source];
  if (s.who.empty()) s.who = who;
  ++s.count;
  ++total_;
  s.last_why = why;
  Verdict v;
  if (hostile && ++s.hostile == options_.drop_after) {
    v.drop = true;
    ++dropped_;
  }
  if ((s.lined && !v.drop) || lines_ >= options_.max_lines) {
    ++s.pending;
    if (v.drop) ++unlined_drops_;
    return v;
  }
  ++lines_;
  s.lined = true;
  v.line = "refused a " + options_.subject + from(s) + ": " + std::string(why) + " (" +
           std::to_string(s.count) + (s.who.empty() ? " so far)" : " from it so far)");
  if (s.pending) v.line += ", with " + std::to_string(s.pending) + " not logged before";
  s.pending = 0;
  if (v.drop)
    v.line += "; dropped it after " + std::to_string(options_.drop_after) +
              " refusals: what it sends from now on is ignored";
  return v;
}

std::vector<std::string> Rejections::report() {
  std::vector<std::string> lines;
  std::uint64_t rest = orphans_, rest_sources = orphan_sources_;
  for (auto& [id, s] : sources_) {
    s.lined = false;
    if (!s.pending) continue;
    if (lines.size() + 1 < options_.max_lines) {
      lines.push_back("refused " + std::to_string(s.pending) + " more " + options_.subject + "(s)" +
                      from(s) + " (" + std::to_string(s.count) +
                      " in all); the last: " + s.last_why);
    } else {
      rest += s.pending;
      ++rest_sources;
    }
    s.pending = 0;
  }
  if (rest || unlined_drops_) {
    std::string line;
    if (rest)
      line = "refused " + std::to_string(rest) + " more " + options_.subject + "(s) from " +
             std::to_string(rest_sources) + " other source(s)";
    if (unlined_drops_)
      line += (line.empty() ? "dropped " : " and dropped ") + std::to_string(unlined_drops_) +
              " source(s) that kept sending them";
    lines.push_back(line + " (" + std::to_string(total_) + " refused in all)");
  }
  orphans_ = orphan_sources_ = unlined_drops_ = 0;
  lines_ = 0;
  return lines;
}

void Rejections::forget(std::uint64_t source) {
  auto it = sources_.find(source);
  if (it == sources_.end()) return;
  if (it->second.pending) {
    orphans_ += it->second.pending;
    ++orphan_sources_;
  }
  sources_.erase(it);
}

}  // namespace dpool::internal
