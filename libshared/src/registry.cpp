#include <algorithm>
#include <dpool/registry.hpp>

namespace dpool::detail {

Registry& Registry::instance() {
  static Registry r;
  return r;
}

void Registry::add(TaskEntry entry) {
  // A second registration of a name replaces the first (a library loaded twice).
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const TaskEntry& e) { return e.name == entry.name; });
  if (it != entries_.end())
    *it = std::move(entry);
  else
    entries_.push_back(std::move(entry));
}

const TaskEntry* Registry::find(std::string_view name) const {
  for (auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const TaskEntry* Registry::find_fn(const void* fn) const {
  for (auto& e : entries_)
    if (e.fn == fn) return &e;
  return nullptr;
}

std::vector<std::string> Registry::names(std::size_t max) const {
  std::vector<std::string> all;
  for (auto& e : entries_) all.push_back(e.name);
  std::sort(all.begin(), all.end());
  if (all.size() > max) all.resize(max);
  return all;
}

}  // namespace dpool::detail
