// How `dpool status` shows a ClusterStatus: a table for people, one JSON
// object for programs. Pure: a snapshot in, text out.
#pragma once

#include <dpool/status.hpp>
#include <string>

namespace dpool_cli {

// `address`: where the command asked, shown as the coordinator's.
std::string status_table(const dpool::ClusterStatus& s, const std::string& address);
// One line: an object with "address", "coordinator", "uptime_s", "totals",
// "throughput", "manager", "nodes" and "clients".
std::string status_json(const dpool::ClusterStatus& s, const std::string& address);

}  // namespace dpool_cli
