#include "prometheus_text.hpp"

#include <charconv>
#include <set>

namespace dpool::internal {
namespace {

// A sample value: integers as integers, others in the shortest form that
// reads back as the same double.
std::string value(double v) {
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}
std::string value(std::uint64_t v) {
  return std::to_string(v);
}

// A label value: backslash, double quote and line feed escaped.
std::string label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"')
      out += {'\\', c};
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

class Writer {
 public:
  // One metric family: its HELP and TYPE lines.
  void family(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  template <class V>
  void sample(const char* name, V v) {
    out_ += std::string(name) + " " + value(v) + "\n";
  }
  template <class V>
  void sample(const char* name, const std::string& node, V v) {
    out_ += std::string(name) + "{node=\"" + label(node) + "\"} " + value(v) + "\n";
  }
  template <class V>
  void metric(const char* name, const char* type, const char* help, V v) {
    family(name, type, help);
    sample(name, v);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string prometheus_text(const ClusterStatus& s) {
  std::uint64_t executors = 0, busy = 0;
  for (auto& n : s.nodes) {
    executors += n.executors;
    busy += n.busy;
  }
  Writer w;
  w.metric("dpool_uptime_seconds", "gauge", "Seconds since the coordinator started.",
           static_cast<double>(s.uptime_ms) / 1000);
  w.metric("dpool_nodes", "gauge", "Worker nodes registered with the coordinator.",
           std::uint64_t{s.nodes.size()});
  w.metric("dpool_clients", "gauge", "Clients (pools) connected to the coordinator.",
           std::uint64_t{s.clients.size()});
  w.metric("dpool_executors", "gauge", "Executor processes over all nodes.", executors);
  w.metric("dpool_executors_busy", "gauge", "Executors running a task.", busy);
  w.metric("dpool_tasks_queued", "gauge", "Tasks waiting for a node.", std::uint64_t{s.queued});
  w.metric("dpool_tasks_running", "gauge",
           "Tasks dispatched to a node and not finished, those it holds ahead included.",
           std::uint64_t{s.running});
  w.metric("dpool_tasks_submitted_total", "counter", "Tasks submitted since start.", s.submitted);
  w.metric("dpool_tasks_done_total", "counter", "Tasks finished since start, failed ones included.",
           s.done);
  w.metric("dpool_tasks_failed_total", "counter",
           "Tasks finished with an error since start, WorkerLost included.", s.failed);
  w.metric("dpool_tasks_retried_total", "counter",
           "Re-runs of tasks whose node was lost, since start.", s.retried);
  w.metric("dpool_throughput_tasks_per_second", "gauge",
           "Tasks finished per second over the last minute.", s.throughput);
  w.metric("dpool_manager_objects", "gauge", "The Manager's objects and pool.queues.", s.objects);
  w.metric("dpool_manager_bytes", "gauge", "Bytes of the Manager's keys, values and items.",
           s.object_bytes);

  // Node names are not unique (--name is free text): a repeated one gets
  // "#2", "#3", ... so that each node is a series of its own.
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (auto& n : s.nodes) {
    auto name = n.name;
    for (int i = 2; !seen.insert(name).second; ++i) name = n.name + "#" + std::to_string(i);
    names.push_back(name);
  }
  auto per_node = [&](const char* name, const char* type, const char* help, auto get) {
    w.family(name, type, help);
    for (std::size_t i = 0; i < s.nodes.size(); ++i) w.sample(name, names[i], get(s.nodes[i]));
  };
  per_node("dpool_node_executors", "gauge", "The node's executor processes.",
           [](const NodeStatus& n) { return std::uint64_t{n.executors}; });
  per_node("dpool_node_busy", "gauge", "The node's executors running a task.",
           [](const NodeStatus& n) { return std::uint64_t{n.busy}; });
  per_node("dpool_node_waiting", "gauge", "Tasks the node holds ahead of a free executor.",
           [](const NodeStatus& n) { return n.waiting; });
  per_node("dpool_node_processes", "gauge", "Processes (pool.process) the node runs.",
           [](const NodeStatus& n) { return std::uint64_t{n.processes}; });
  per_node("dpool_node_done_total", "counter", "Results the node sent back.",
           [](const NodeStatus& n) { return n.done; });
  per_node("dpool_node_failed_total", "counter", "Results the node sent back with an error.",
           [](const NodeStatus& n) { return n.failed; });
  w.family("dpool_node_heartbeat_age_seconds", "gauge",
           "Seconds since the node was last heard from (remote nodes only).");
  for (std::size_t i = 0; i < s.nodes.size(); ++i)
    if (s.nodes[i].heartbeat_age_ms >= 0)
      w.sample("dpool_node_heartbeat_age_seconds", names[i],
               static_cast<double>(s.nodes[i].heartbeat_age_ms) / 1000);
  return w.take();
}

}  // namespace dpool::internal
