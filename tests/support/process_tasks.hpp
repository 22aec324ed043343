// Functions the Process tests run in child processes. Compiled into the
// test program, which the children are copies of.
#pragma once

#include <string>

namespace process_tasks {

// Appends "<text> <current_process().name()> <getpid()>\n" to the file at `path`.
void note(std::string path, std::string text);
// Appends `id` to the file at `path`; below `depth` 0, starts two Processes
// doing the same with ids id+"0" and id+"1" and one depth less, and joins them.
void tree(std::string path, std::string id, int depth);

}  // namespace process_tasks
