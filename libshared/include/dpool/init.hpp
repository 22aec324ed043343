// Start-up: the first line of every program that uses dpool.
#pragma once

#include <dpool/export.hpp>
#include <string>

namespace dpool {

// Call first in main(). In a process started as an executor (dpool sets an
// environment variable when it spawns one), this runs the executor loop and
// never returns, like Python's `if __name__ == "__main__":` guard. Otherwise it
// records argv so local-mode pools can re-run this program as executors.
DPOOL_API void init(int argc, char** argv);

// True once init() has run in this (non-executor) process.
DPOOL_API bool initialized() noexcept;

// Sets the level of dpool's log on stderr: trace, debug, info, warn, error,
// off. The default is warn, or the DPOOL_LOG environment variable.
DPOOL_API void set_log_level(const std::string& level);

// Logical cores of this machine (at least 1).
DPOOL_API unsigned cpu_count();

}  // namespace dpool
