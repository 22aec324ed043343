// How dpool's own in-process peers (a Pool or a Node built on a
// dpool::Coordinator) reach the coordinator's loop without the public header
// handing an internal type out. Defined beside the coordinator server.
#pragma once

#include <dpool/coordinator.hpp>

#include "link.hpp"

namespace dpool::internal {

struct CoordinatorAccess {
  // The coordinator's in-process entry; valid as long as `c` lives.
  static Hub& hub(Coordinator& c);
};

}  // namespace dpool::internal
