#include "node_processes.hpp"

#include <spdlog/spdlog.h>

#include <csignal>

namespace dpool::internal {

detail::Failure process_exit(const detail::Failure* done, int signal, int exit_code) {
  detail::Failure f;
  f.code = ErrorCode::kWorkerCrashed;
  if (signal) {
    f.signal = signal;
    f.message = "killed by signal " + std::to_string(signal);
    return f;
  }
  if (done && exit_code == 0) {
    if (done->code == ErrorCode::kNone) {
      f.code = ErrorCode::kNone;
      f.exit_code = 0;
      return f;
    }
    f.exit_code = 1;  // it threw, as Python's exit code 1
    f.type = done->type;
    f.message = done->message;
    return f;
  }
  f.exit_code = exit_code;
  if (exit_code == 0)
    f.code = ErrorCode::kNone;
  else
    f.message = "exited with code " + std::to_string(exit_code);
  return f;
}

NodeProcesses::NodeProcesses(asio::io_context& io, std::string node, SpawnSpec spec, Hooks hooks)
    : node_(std::move(node)),
      hooks_(std::move(hooks)),
      set_(io, node_, std::move(spec), 0, events(), ExecutorSet::Kind::kProcesses) {}

ExecutorSet::Events NodeProcesses::events() {
  ExecutorSet::Events e;
  e.record = [this](Slot slot, Record&& r) { on_record(slot, std::move(r)); };
  e.exited = [this](Slot slot, int pid, int signal, int exit_code) {
    on_exit(slot, pid, signal, exit_code);
  };
  e.settled = [this] { hooks_.settled(); };
  return e;
}

void NodeProcesses::start(wire::Task&& task, Payload&& args) {
  auto slot = set_.free_slot();
  procs_[slot] = Proc{task.id, task.process, 0, false, std::nullopt};
  spdlog::debug("node {}: starting Process {} ('{}')", node_, task.process, task.name);
  set_.spawn(slot);
  set_.queue(slot, RecordKind::kRun, task, std::make_shared<const Payload>(std::move(args)));
  set_.flush(slot);
}

void NodeProcesses::on_record(Slot slot, Record&& r) {
  auto it = procs_.find(slot);
  if (it == procs_.end()) return;
  auto& p = it->second;
  switch (r.kind) {
    case RecordKind::kReady: {
      p.pid = set_.pid(slot);
      if (p.forgotten) return;
      wire::Results started;
      auto& s = started.results.emplace_back();
      s.id = p.id;
      s.failure.code = wire::kStarted;
      s.node = node_;
      s.pid = static_cast<std::uint32_t>(p.pid);
      s.attempts = 1;
      hooks_.report(std::move(started));
      return;
    }
    case RecordKind::kDone: {
      auto meta = wire::decode_meta<wire::Result>(r.meta);
      if (!meta) {
        spdlog::error("node {}: Process {} sent a result that cannot be decoded; killing it", node_,
                      p.name);
        return set_.kill(slot);
      }
      p.done = std::move(meta->failure);
      set_.retire(slot);  // nothing more to run: it exits
      return;
    }
    case RecordKind::kRequest:
      return forward_call(slot, std::move(r));
    case RecordKind::kOutput: {
      auto lines = wire::decode_meta<wire::Lines>(r.meta);
      if (lines && !p.forgotten) hooks_.output(p.id, std::move(*lines));
      return;
    }
    default:
      spdlog::error("node {}: Process {} sent a record of a kind only the node sends; killing it",
                    node_, p.name);
      set_.kill(slot);
  }
}

void NodeProcesses::forward_call(Slot slot, Record&& r) {
  auto& p = procs_.at(slot);
  auto request = wire::decode_meta<wire::Request>(r.meta);
  if (!request) {
    spdlog::error("node {}: Process {} sent a call that cannot be decoded; killing it", node_,
                  p.name);
    return set_.kill(slot);
  }
  request->task = p.id;
  request->pid = static_cast<std::uint32_t>(set_.pid(slot));
  auto serial = set_.serial(slot);
  hooks_.call(*request, Payload::adopt(std::move(r.payload.data), r.payload.size),
              [this, slot, serial](wire::Reply&& reply, Payload&& answer) {
                if (set_.serial(slot) != serial) return;  // the caller is gone
                set_.queue(slot, RecordKind::kReply, reply,
                           std::make_shared<const Payload>(std::move(answer)));
                set_.flush(slot);
              });
}

void NodeProcesses::on_exit(Slot slot, int pid, int signal, int exit_code) {
  auto it = procs_.find(slot);
  if (it == procs_.end()) return;
  Proc p = std::move(it->second);
  procs_.erase(it);
  if (pid > 0) hooks_.exited(pid);
  if (p.forgotten) return;
  if (pid == 0)
    spdlog::error("node {}: Process {} could not be started (exit code {})", node_, p.name,
                  exit_code);
  wire::Results ended;
  auto& r = ended.results.emplace_back();
  r.id = p.id;
  r.failure = process_exit(p.done ? &*p.done : nullptr, signal, exit_code);
  r.node = node_;
  r.pid = static_cast<std::uint32_t>(pid);
  r.attempts = 1;
  hooks_.report(std::move(ended));
}

NodeProcesses::Proc* NodeProcesses::find(std::uint64_t id, Slot* slot) {
  for (auto& [s, p] : procs_)
    if (p.id == id) {
      *slot = s;
      return &p;
    }
  return nullptr;
}

void NodeProcesses::signal(const std::vector<std::uint64_t>& ids, int signal) {
  if (signal <= 0 || signal > SIGRTMAX) {
    spdlog::warn("node {}: asked to send signal {} to a Process; no such signal", node_, signal);
    return;
  }
  for (auto id : ids) {
    Slot slot;
    if (auto* p = find(id, &slot)) {
      spdlog::debug("node {}: signal {} to Process {} (pid {})", node_, signal, p->name,
                    set_.pid(slot));
      set_.signal(slot, signal);
    }
  }
}

void NodeProcesses::cancel(const std::vector<std::uint64_t>& ids) {
  for (auto id : ids) {
    Slot slot;
    if (auto* p = find(id, &slot)) {
      p->forgotten = true;
      set_.kill(slot);
    }
  }
}

void NodeProcesses::reset() {
  for (auto& [slot, p] : procs_) {
    p.forgotten = true;
    set_.kill(slot);
  }
}

void NodeProcesses::add_ids(std::vector<std::uint64_t>& ids) const {
  for (auto& [slot, p] : procs_)
    if (!p.forgotten) ids.push_back(p.id);
}

void NodeProcesses::kill_all() {
  for (auto& [slot, p] : procs_) set_.kill(slot);
}

void NodeProcesses::clear() {
  procs_.clear();
  set_.clear();
}

}  // namespace dpool::internal
