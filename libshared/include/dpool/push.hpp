// Shipping task code to a running cluster (`dpool push`): a task library
// (.so with DPOOL_REGISTER lines) goes to every node of a coordinator, and to
// nodes that join later; a node started with `--accept-code`
// (NodeOptions::accept_code) checks that it loads, then starts its new
// executors with it. The coordinator takes pushes only from the client keys
// it was told to (`--accept-push-from NAME`).
#pragma once

#include <dpool/export.hpp>
#include <dpool/options.hpp>
#include <string>
#include <vector>

namespace dpool {

// What one node did with a pushed library.
struct PushResult {
  std::string node;
  bool loaded = false;  // its executors started from now on have the library's tasks
  std::string error;    // why not: the node does not accept code, the library did not
                        // load there (the loader's message), or the node was lost
};

// Sends the library at `path` to the coordinator at `where.address` (its keys
// and timeouts as for Pool(Connect)) and returns each node's answer, in no
// particular order, once every node that was connected has answered (at most
// about a minute). A library of the same file name pushed before is replaced.
// Throws dpool::Error when `path` cannot be read or is too large (256 MiB),
// dpool::Error with the coordinator's reason when it refuses the push (this
// client's key may not push; it serves in the clear), and ConnectionError as
// cluster_status() does.
DPOOL_API std::vector<PushResult> push_library(const Connect& where, const std::string& path);

}  // namespace dpool
