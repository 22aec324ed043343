// What dpool::init recorded about this program, for local-mode pools.
#pragma once

#include <string>
#include <vector>

namespace dpool::internal {

// argv as passed to dpool::init; empty if init was never called.
const std::vector<std::string>& program_argv();

// Throws dpool::Error with the fix if dpool::init has not run in this process.
void require_init(const char* what);

}  // namespace dpool::internal
