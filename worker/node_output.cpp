// The node's part in forwarding what tasks print: OUTPUT records from its
// executors into lines (TaskOutput), and OUTPUT messages to the coordinator,
// always ahead of the results that follow them.
#include <cstdio>
#include <string_view>

#include "node_daemon.hpp"

namespace dpool::internal {

void NodeDaemon::on_output(Slot slot, Record&& r) {
  auto lines = wire::decode_meta<wire::Lines>(r.meta);
  if (!lines) return distrust(slot, "output that cannot be decoded (" + lines.error() + ")");
  auto pid = static_cast<std::uint32_t>(execs_->pid(slot));
  if (!output_) {  // not asked for: as if it had not been captured
    std::fwrite(lines->text.data(), 1, lines->text.size(), lines->stream == 2 ? stderr : stdout);
    return;
  }
  auto running = supervisor_.running_task(slot);
  auto task = running && *running == lines->task ? lines->task : 0;
  output_->add(task, pid, lines->stream, lines->text, Supervisor::Clock::now());
}

void NodeDaemon::flush_output() {
  if (!output_ || !output_->pending()) return;
  wire::Output out;
  for (auto& l : output_->take(Supervisor::Clock::now())) {
    if (l.task) {
      out.lines.push_back(std::move(l));
      continue;
    }
    // No task's (a thread a task left running, an initializer): the node's own.
    auto* to = l.stream == 2 ? stderr : stdout;
    std::string_view text = l.text;
    while (!text.empty()) {
      auto end = std::min(text.find('\n'), text.size() - 1) + 1;
      std::fprintf(to, "[%u] %.*s", l.pid, static_cast<int>(end), text.data());
      text.remove_prefix(end);
    }
    if (l.dropped)
      std::fprintf(to, "[%u] (%u lines dropped: output rate limit)\n", l.pid, l.dropped);
    std::fflush(to);
  }
  if (!out.lines.empty()) link_->send({std::move(out)});
}

void NodeDaemon::send_results(wire::Results&& results, Payloads&& payloads) {
  flush_output();
  link_->send({std::move(results), std::move(payloads)});
}

}  // namespace dpool::internal
