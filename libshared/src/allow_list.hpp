// The public keys a coordinator accepts, by role: every key file in the key
// directory's nodes/ and clients/ folders (keys.hpp). A key is known in logs
// and in ZAP's user id by its role and file name ("node:host2"). The lists are
// read again when either folder changes (its modification time), so a key
// added or removed applies to the next handshake. Loop thread only.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace dpool::internal {

class AllowList {
 public:
  // Reads both lists; a missing folder is an empty list. Bad files are
  // logged and left out.
  explicit AllowList(std::string dir);

  // The user id of a raw 32-byte public key, or empty if it is on no list.
  std::string user_id(std::string_view raw_key) const;
  // Whether a user id handed out before is still on its list.
  bool allows(std::string_view user_id) const { return user_ids_.contains(std::string(user_id)); }
  // Reads the lists again if a folder changed since; true if they did.
  bool refresh();

  const std::string& dir() const noexcept { return dir_; }
  std::size_t nodes() const noexcept { return nodes_; }
  std::size_t clients() const noexcept { return clients_; }

 private:
  void load();

  std::string dir_;
  std::unordered_map<std::string, std::string> by_key_;  // raw key -> user id
  std::unordered_set<std::string> user_ids_;
  timespec stamps_[2]{};  // the folders' modification times when read
  std::size_t nodes_ = 0, clients_ = 0;
};

// The role a user id names ("node" or "client"), or empty.
std::string_view role_of(std::string_view user_id);

}  // namespace dpool::internal
