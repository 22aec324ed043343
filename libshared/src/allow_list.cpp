#include "allow_list.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <dpool/errors.hpp>
#include <filesystem>
#include <vector>

#include "keys.hpp"

namespace dpool::internal {
namespace {

constexpr const char* kRoles[2] = {kNodeRole, kClientRole};

timespec modified(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return st.st_mtim;
}

bool same(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

AllowList::AllowList(std::string dir) : dir_(std::move(dir)) {
  load();
}

std::string AllowList::user_id(std::string_view raw_key) const {
  auto it = by_key_.find(std::string(raw_key));
  return it == by_key_.end() ? std::string() : it->second;
}

bool AllowList::refresh() {
  for (int i = 0; i < 2; ++i) {
    if (same(modified(allow_list_dir(dir_, kRoles[i])), stamps_[i])) continue;
    load();
    return true;
  }
  return false;
}

void AllowList::load() {
  namespace fs = std::filesystem;
  std::unordered_map<std::string, std::string> keys;
  std::unordered_set<std::string> both;  // keys on both lists: a key has one role
  std::size_t counts[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    auto folder = allow_list_dir(dir_, kRoles[i]);
    stamps_[i] = modified(folder);
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      auto ext = entry.path().extension();
      if (ext == ".pub" || ext == ".key") files.push_back(entry.path());
    }
    for (const auto& path : files) {
      try {
        auto raw = decode_key(read_key_file(path.string(), false).public_key);
        auto id = std::string(kRoles[i]) + ":" + path.stem().string();
        auto [it, added] = keys.emplace(raw, id);
        if (added) {
          ++counts[i];
        } else if (role_of(it->second) != kRoles[i]) {
          both.insert(raw);
        }
      } catch (const Error& e) {
        spdlog::warn("coordinator: left out of the allow-list: {}", e.what());
      }
    }
  }
  for (const auto& raw : both) {
    spdlog::warn(
        "coordinator: the key {} is on both allow-lists ({}); a key has one role, so it "
        "is refused until it is removed from one",
        encode_key(raw), keys[raw]);
    --counts[role_of(keys[raw]) == kNodeRole ? 0 : 1];
    keys.erase(raw);
  }
  by_key_ = std::move(keys);
  user_ids_.clear();
  for (const auto& [raw, id] : by_key_) user_ids_.insert(id);
  nodes_ = counts[0];
  clients_ = counts[1];
}

std::string_view role_of(std::string_view user_id) {
  for (std::string_view role : kRoles)
    if (user_id.size() > role.size() && user_id.starts_with(role) && user_id[role.size()] == ':')
      return role;
  return {};
}

}  // namespace dpool::internal
