// How a client shows what its tasks printed on their nodes (OUTPUT): each
// line on the same stream as the task wrote it, prefixed with where it came
// from, "[node:pid] ", and a note where the node's rate limit left lines out.
#pragma once

#include <cstdio>

#include "protocol.hpp"

namespace dpool::internal {

// Writes `output`'s lines to `out` (stdout's) and `err` (stderr's), each
// whole line with one call under the stream's lock, and flushes both (with
// them, what the program itself had buffered there, which came first).
void show_output(const wire::Output& output, std::FILE* out, std::FILE* err);

}  // namespace dpool::internal
