// CurveZMQ keys for a coordinator, its nodes and its clients; see
// docs/security.md. `dpool keygen` is a thin command over these.
#pragma once

#include <dpool/export.hpp>
#include <string>

namespace dpool {

// Where the coordinator, `dpool worker` and Pool(Connect{...}) look for keys
// when none are given: $XDG_CONFIG_HOME/dpool, or ~/.config/dpool.
DPOOL_API std::string default_key_dir();

// Writes a new key set into `dir` (made 0700 if missing; every file 0600):
// the coordinator's pair (coordinator.key, and coordinator.pub for peers), a
// node pair (node.key) and a client pair (client.key), with the node's and the
// client's public keys on the coordinator's allow-lists (dir/nodes,
// dir/clients). Throws dpool::Error if `dir` holds keys already, or cannot be
// written.
DPOOL_API void generate_keys(const std::string& dir);

// Adds a pair for `role` ("node" or "client") to the key set in `dir`:
// dir/NAME.key, and its public half on the role's allow-list
// (dir/nodes/NAME.pub or dir/clients/NAME.pub). Gives a machine or a user a
// key of its own, which can be revoked alone. Throws dpool::Error if the
// role or the name is not valid, or a file of that name exists.
DPOOL_API void add_key(const std::string& dir, const std::string& role, const std::string& name);

}  // namespace dpool
