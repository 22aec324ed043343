#include "status_view.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "json_text.hpp"

namespace dpool::internal {
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  va_list args, again;
  va_start(args, fmt);
  va_copy(again, args);
  int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out(static_cast<std::size_t>(std::max(n, 0)), '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, again);  // names may be long: no fixed buffer
  va_end(again);
  return out;
}

// "3m12s", "2h05m", "4d07h"; seconds under a minute: "42s".
std::string duration(std::int64_t ms) {
  auto s = std::max<std::int64_t>(ms, 0) / 1000;
  if (s < 60) return format("%" PRId64 "s", s);
  if (s < 3600) return format("%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
  if (s < 86400) return format("%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
  return format("%" PRId64 "d%02" PRId64 "h", s / 86400, s / 3600 % 24);
}

std::string bytes(std::uint64_t n) {
  if (n < 1024) return format("%" PRIu64 " B", n);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n) / 1024;
  std::size_t u = 0;
  for (; v >= 1024 && u + 1 < std::size(units); ++u) v /= 1024;
  return format("%.1f %s", v, units[u]);
}

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return format("%" PRIu64 " %s", n, n == 1 ? one : many);
}

std::string rate(double per_second) {
  return per_second >= 10 ? format("%.0f", per_second) : format("%.1f", per_second);
}

std::string heartbeat(std::int64_t age_ms) {
  if (age_ms < 0) return "in-process";
  return format("%.1fs ago", static_cast<double>(age_ms) / 1000);
}

// A name column wide enough for every name (and its heading).
template <class Rows>
int name_width(const Rows& rows, std::size_t heading) {
  std::size_t w = heading;
  for (auto& r : rows) w = std::max(w, r.name.size());
  return static_cast<int>(std::min<std::size_t>(w, 60)) + 2;
}

std::string number(double v) {
  return format("%.3f", v);
}

std::string seconds(std::int64_t ms) {
  return number(static_cast<double>(ms) / 1000);
}

// The name users catch it by (errors.hpp), without the k.
const char* error_name(dpool::ErrorCode code) {
  using dpool::ErrorCode;
  switch (code) {
    case ErrorCode::kNone:
      return "None";
    case ErrorCode::kTaskRaised:
      return "TaskRaised";
    case ErrorCode::kWorkerCrashed:
      return "WorkerCrashed";
    case ErrorCode::kWorkerLost:
      return "WorkerLost";
    case ErrorCode::kTaskTimeout:
      return "TaskTimeout";
    case ErrorCode::kCancelled:
      return "Cancelled";
    case ErrorCode::kUnknownTask:
      return "UnknownTask";
    case ErrorCode::kSignatureMismatch:
      return "SignatureMismatch";
    case ErrorCode::kSerialization:
      return "Serialization";
    case ErrorCode::kPoolClosed:
      return "PoolClosed";
    case ErrorCode::kConnection:
      return "Connection";
    case ErrorCode::kQueueFull:
      return "QueueFull";
    case ErrorCode::kRefused:
      return "Refused";
    case ErrorCode::kEOF:
      return "EOF";
    case ErrorCode::kFull:
      return "Full";
    case ErrorCode::kEmpty:
      return "Empty";
    case ErrorCode::kShutDown:
      return "ShutDown";
    case ErrorCode::kBrokenBarrier:
      return "BrokenBarrier";
    case ErrorCode::kAuthentication:
      return "Authentication";
  }
  return "Unknown";
}

}  // namespace

std::string status_table(const dpool::ClusterStatus& s, const std::string& address) {
  std::uint64_t executors = 0, busy = 0;
  for (auto& n : s.nodes) {
    executors += n.executors;
    busy += n.busy;
  }
  std::string out =
      format("coordinator %s  up %s  ", address.c_str(), duration(s.uptime_ms).c_str());
  out += plural(s.nodes.size(), "node", "nodes") + ", " +
         plural(executors, "executor", "executors") + format(" (%" PRIu64 " busy), ", busy) +
         plural(s.clients.size(), "client", "clients") + "\n";

  if (s.nodes.empty()) {
    out += "no nodes: start one with `dpool worker --connect " + address + " --exec PROGRAM`\n";
  } else {
    int w = name_width(s.nodes, 4);
    out += format("%-*s %-8s %-5s %-5s %-5s %-6s %-9s %-7s %-8s %s\n", w, "NODE", "PID", "EXEC",
                  "BUSY", "WAIT", "PROCS", "DONE", "FAILED", "RETRIED", "HEARTBEAT");
    for (auto& n : s.nodes)
      out += format("%-*s %-8u %-5u %-5u %-5" PRIu64 " %-6u %-9" PRIu64 " %-7" PRIu64 " %-8" PRIu64
                    " %s\n",
                    w, n.name.c_str(), n.pid, n.executors, n.busy, n.waiting, n.processes, n.done,
                    n.failed, n.retried, heartbeat(n.heartbeat_age_ms).c_str());
  }
  if (!s.clients.empty()) {
    int w = name_width(s.clients, 6);
    out += format("%-*s %-8s %-8s %s\n", w, "CLIENT", "QUEUED", "RUNNING", "DONE");
    for (auto& c : s.clients)
      out += format("%-*s %-8" PRIu64 " %-8" PRIu64 " %" PRIu64 "\n", w, c.name.c_str(), c.queued,
                    c.running, c.done);
  }
  // The few that matter most of the longest-running tasks and the failures.
  constexpr std::size_t kShown = 5;
  if (!s.longest_running.empty()) {
    out += "LONGEST RUNNING\n";
    for (std::size_t i = 0; i < std::min(kShown, s.longest_running.size()); ++i) {
      auto& t = s.longest_running[i];
      out += "  " + t.task + " on " + t.node + " for " + duration(t.running_ms) + " (" + t.client +
             ")\n";
    }
  }
  if (!s.failures.empty()) {
    out += "RECENT FAILURES\n";
    for (std::size_t i = 0; i < std::min(kShown, s.failures.size()); ++i) {
      auto& f = s.failures[i];
      auto line = f.message.substr(0, f.message.find('\n'));
      if (line.size() > 100) line = line.substr(0, 97) + "...";
      out += "  " + duration(f.age_ms) + " ago  " + f.task + " on " + f.node + ": " +
             error_name(f.code) + ": " + line + "\n";
    }
  }
  out += format("tasks: %" PRIu64 " queued, %" PRIu64 " running; since start %" PRIu64
                " submitted, %" PRIu64 " done, %" PRIu64 " failed, %" PRIu64 " retried\n",
                s.queued, s.running, s.submitted, s.done, s.failed, s.retried);
  out += "manager: " + plural(s.objects, "object", "objects") + ", " + bytes(s.object_bytes) +
         "     throughput: " + rate(s.throughput) + " tasks/s over the last minute\n";
  return out;
}

std::string status_json(const dpool::ClusterStatus& s, const std::string& address) {
  std::uint64_t executors = 0, busy = 0;
  for (auto& n : s.nodes) {
    executors += n.executors;
    busy += n.busy;
  }
  std::string out = "{\"address\":" + json_quoted(address) +
                    ",\"coordinator\":" + json_quoted(s.coordinator) +
                    ",\"endpoint\":" + json_quoted(s.endpoint) +
                    ",\"uptime_s\":" + number(static_cast<double>(s.uptime_ms) / 1000);
  out += format(",\"totals\":{\"nodes\":%zu,\"executors\":%" PRIu64 ",\"busy\":%" PRIu64
                ",\"clients\":%zu,\"queued\":%" PRIu64 ",\"running\":%" PRIu64
                ",\"submitted\":%" PRIu64 ",\"done\":%" PRIu64 ",\"failed\":%" PRIu64
                ",\"retried\":%" PRIu64 "}",
                s.nodes.size(), executors, busy, s.clients.size(), s.queued, s.running, s.submitted,
                s.done, s.failed, s.retried);
  out += ",\"throughput\":" + number(s.throughput);
  out += format(",\"manager\":{\"objects\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", s.objects,
                s.object_bytes);
  out += ",\"nodes\":[";
  for (std::size_t i = 0; i < s.nodes.size(); ++i) {
    auto& n = s.nodes[i];
    out += (i ? ",{\"name\":" : "{\"name\":") + json_quoted(n.name) +
           ",\"address\":" + json_quoted(n.address);
    out +=
        format(",\"pid\":%u,\"executors\":%u,\"busy\":%u,\"waiting\":%" PRIu64
               ",\"processes\":%u,\"done\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"retried\":%" PRIu64,
               n.pid, n.executors, n.busy, n.waiting, n.processes, n.done, n.failed, n.retried);
    out += ",\"heartbeat_age_s\":" +
           (n.heartbeat_age_ms < 0 ? std::string("null")
                                   : number(static_cast<double>(n.heartbeat_age_ms) / 1000)) +
           "}";
  }
  out += "],\"clients\":[";
  for (std::size_t i = 0; i < s.clients.size(); ++i) {
    auto& c = s.clients[i];
    out += (i ? ",{\"name\":" : "{\"name\":") + json_quoted(c.name) +
           ",\"address\":" + json_quoted(c.address);
    out += format(",\"queued\":%" PRIu64 ",\"running\":%" PRIu64 ",\"done\":%" PRIu64 "}", c.queued,
                  c.running, c.done);
  }
  out += "],\"longest_running\":[";
  for (std::size_t i = 0; i < s.longest_running.size(); ++i) {
    auto& t = s.longest_running[i];
    out += (i ? ",{\"task\":" : "{\"task\":") + json_quoted(t.task) +
           ",\"node\":" + json_quoted(t.node) + ",\"client\":" + json_quoted(t.client) +
           ",\"running_s\":" + seconds(t.running_ms) + "}";
  }
  out += "],\"failures\":[";
  for (std::size_t i = 0; i < s.failures.size(); ++i) {
    auto& f = s.failures[i];
    out += (i ? ",{\"task\":" : "{\"task\":") + json_quoted(f.task) +
           ",\"node\":" + json_quoted(f.node) + ",\"error\":" + json_quoted(error_name(f.code)) +
           ",\"message\":" + json_quoted(f.message) + ",\"age_s\":" + seconds(f.age_ms) + "}";
  }
  return out + "]}";
}

}  // namespace dpool::internal
