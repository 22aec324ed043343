// A ClusterStatus in the Prometheus text exposition format (version 0.0.4),
// for the HTTP endpoint's /metrics: cluster gauges and counters, then one
// series per node labelled `node`. Pure: a snapshot in, text out; any thread.
#pragma once

#include <dpool/status.hpp>
#include <string>

namespace dpool::internal {

// The Content-Type that goes with it.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string prometheus_text(const ClusterStatus& status);

}  // namespace dpool::internal
