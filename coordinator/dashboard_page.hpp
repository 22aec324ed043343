// The dashboard the HTTP endpoint serves at /: one self-contained HTML page
// (inline CSS and JavaScript; nothing fetched from elsewhere) that reads
// api/history once and polls api/status every second, passing on the
// ?token= it was opened with, and shows the nodes, tasks per second and
// queue depth over time, the longest-running tasks and the recent failures.
// Any thread.
#pragma once

#include <string_view>

namespace dpool::internal {

std::string_view dashboard_page() noexcept;

}  // namespace dpool::internal
