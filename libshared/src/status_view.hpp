// How a ClusterStatus is shown: a table for people (`dpool status`), one
// JSON object for programs (`dpool status --json`, and the coordinator's
// HTTP endpoint at /api/status, which must print the same). Pure: a
// snapshot in, text out; any thread. Compiled into the library and into the
// `dpool` command, which sees only the exported API.
#pragma once

#include <dpool/status.hpp>
#include <string>

namespace dpool::internal {

// `address`: where the command asked, shown as the coordinator's.
std::string status_table(const dpool::ClusterStatus& s, const std::string& address);
// One line: an object with "address", "coordinator", "uptime_s", "totals",
// "throughput", "manager", "nodes", "clients", "longest_running" and
// "failures" (an error as its code's name, e.g. "TaskRaised", and its text).
std::string status_json(const dpool::ClusterStatus& s, const std::string& address);

}  // namespace dpool::internal
