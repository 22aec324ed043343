// A task library that only `dpool push` brings to a node: its task is in no
// test program and in no library a worker loads at start.
#include <dpool/registry.hpp>

namespace pushed_tasks {
int cube(int x) {
  return x * x * x;
}
}  // namespace pushed_tasks

DPOOL_REGISTER_AS(pushed_tasks::cube, "pushed_cube");
