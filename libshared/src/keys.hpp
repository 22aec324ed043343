// CurveZMQ keys on disk: making them, finding them, reading them. A key
// directory, written by `dpool keygen` or by a coordinator's first start in
// the default directory, holds (directory 0700, every file 0600):
//   coordinator.key  coordinator.pub   the coordinator's pair, and its public half
//   node.key  client.key               a node's and a client's pair
//   nodes/*.pub  clients/*.pub         the coordinator's allow-lists, one key a file
// Key files are ZPL text, as CZMQ's zcert writes them, holding Z85 keys made
// by libzmq's zmq_curve_keypair. Functions here may be called from any
// thread. The public side (default_key_dir, generate_keys, add_key) is in
// dpool/keys.hpp.
#pragma once

#include <string>
#include <string_view>

namespace dpool::internal {

inline constexpr std::size_t kZ85KeyChars = 40;
inline constexpr std::size_t kRawKeyBytes = 32;
inline constexpr const char* kNodeRole = "node";
inline constexpr const char* kClientRole = "client";

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85; empty when read from a public key file
};

// A new pair from libzmq (libsodium). Throws Error if libzmq has no CURVE.
KeyPair make_key_pair();

// 32 raw bytes of a Z85 key, or empty if `z85` is not one.
std::string decode_key(std::string_view z85);
// The Z85 text of 32 raw bytes.
std::string encode_key(std::string_view raw);

// The allow-list folder of a role ("node" -> DIR/nodes) in key directory `dir`.
std::string allow_list_dir(const std::string& dir, std::string_view role);

// Writes a complete key set into `dir`, made 0700 with its missing parents.
// Returns false, writing nothing, if `dir` already has coordinator.key. Other
// processes doing the same at once wait on a lock file. Throws Error if any
// other file of the set is there already (a copy meant for a node or a
// client), or if the directory or a file cannot be written.
bool write_key_set(const std::string& dir);

// Reads a key file; with `need_secret`, a pair. Logs a warning when a file
// with a secret key can be read by other users. Throws Error naming the file
// and what is wrong with it.
KeyPair read_key_file(const std::string& path, bool need_secret);

// What a node or a client needs to reach a coordinator over CurveZMQ.
struct PeerKeys {
  KeyPair own;
  std::string server_public;  // the coordinator's public key
  std::string own_file;       // where `own` and `server_public` came from, for messages
  std::string server_file;
};

// The keys of a peer of `role` ("node" or "client"). `where` is a key
// directory (its ROLE.key and coordinator.pub), or a key file with
// coordinator.pub beside it; empty means the default directory. Throws
// ConnectionError saying where it looked and what to run.
PeerKeys find_peer_keys(const std::string& where, std::string_view role);

// How a user names the key of a peer of `role`, for messages
// ("Connect::key_file" for a client).
std::string key_option(std::string_view role);

// The coordinator's pair from `dir`; empty `dir` means the default
// directory, where a missing set is created (`created` says so). Throws
// Error when there is no coordinator key and it may not create one.
struct CoordinatorKeys {
  KeyPair own;
  std::string dir;
  bool created = false;
};
CoordinatorKeys coordinator_keys(const std::string& dir);

}  // namespace dpool::internal
