// What a node's executors say: readiness, results, calls to the coordinator
// (forwarded, and their answers routed back to the caller), output, exits.
#include <spdlog/spdlog.h>

#include "calls.hpp"
#include "node_daemon.hpp"

namespace dpool::internal {

ExecutorSet::Events NodeDaemon::executor_events() {
  ExecutorSet::Events e;
  e.record = [this](Slot slot, Record&& r) { on_record(slot, std::move(r)); };
  e.exited = [this](Slot slot, int pid, int signal, int exit_code) {
    auto now = Supervisor::Clock::now();
    if (output_ && pid > 0) output_->finish(static_cast<std::uint32_t>(pid), now);
    supervisor_.executor_died(slot, signal, exit_code, now);
    if (pid > 0) executor_gone(pid);
  };
  e.settled = [this] { apply(); };
  return e;
}

void NodeDaemon::on_record(Slot slot, Record&& r) {
  auto now = Supervisor::Clock::now();
  switch (r.kind) {
    case RecordKind::kReady: {
      auto meta = wire::decode_meta<wire::Result>(r.meta);
      supervisor_.executor_ready(slot, meta ? static_cast<int>(meta->pid) : execs_->pid(slot), now);
      return;
    }
    case RecordKind::kDone: {
      auto meta = wire::decode_meta<wire::Result>(r.meta);
      if (!meta) return distrust(slot, "a result that cannot be decoded (" + meta.error() + ")");
      auto result = Payload::adopt(std::move(r.payload.data), r.payload.size);
      // A frame larger than the coordinator accepts would cost us the connection.
      if (own_loop_ && result.size() > options_.max_message_bytes) {
        meta->failure = {};
        meta->failure.code = ErrorCode::kSerialization;
        meta->failure.message = "its result takes " + std::to_string(result.size()) +
                                " bytes, more than the " +
                                std::to_string(options_.max_message_bytes) +
                                " bytes a message may carry (--max-message)";
        result = Payload();
      }
      if (output_) output_->finish(static_cast<std::uint32_t>(execs_->pid(slot)), now);
      supervisor_.executor_done(slot, std::move(*meta), std::move(result), now);
      return;
    }
    case RecordKind::kRequest:
      return forward_call(slot, std::move(r));
    case RecordKind::kOutput:
      return on_output(slot, std::move(r));
    default:  // records only the node sends
      return distrust(slot, "a record of a kind only the node sends (" +
                                std::to_string(static_cast<unsigned>(r.kind)) + ")");
  }
}

void NodeDaemon::distrust(Slot slot, const std::string& what) {
  spdlog::error("node {}: executor {} sent {}; killing it", name_, execs_->pid(slot), what);
  execs_->kill(slot);
}

void NodeDaemon::forward_call(Slot slot, Record&& r) {
  auto request = wire::decode_meta<wire::Request>(r.meta);
  if (!request) return distrust(slot, "a call that cannot be decoded (" + request.error() + ")");
  auto serial = execs_->serial(slot);
  auto task = supervisor_.running_task(slot);
  if (!task) {
    wire::Reply no;
    no.id = request->id;
    no.failure.code = ErrorCode::kRefused;
    no.failure.message = "calls to the coordinator can only be made from a running task";
    return reply_to(slot, serial, std::move(no), Payload());
  }
  request->task = *task;
  request->pid = static_cast<std::uint32_t>(execs_->pid(slot));
  call_coordinator(*request, Payload::adopt(std::move(r.payload.data), r.payload.size),
                   [this, slot, serial](wire::Reply&& reply, Payload&& answer) {
                     reply_to(slot, serial, std::move(reply), std::move(answer));
                   });
}

void NodeDaemon::call_coordinator(const wire::Request& request, Payload&& args,
                                  NodeProcesses::Answer answer) {
  spdlog::debug("node {}: call {} (op {}) of task {} by process {} sent to the coordinator", name_,
                request.id, request.op, request.task, request.pid);
  link_->call(request, std::move(args),
              [answer = std::move(answer), alive = alive_](wire::Reply&& reply, Payload&& out) {
                if (*alive) answer(std::move(reply), std::move(out));
              });
}

void NodeDaemon::executor_gone(int pid) {
  wire::Request request;
  request.op = static_cast<std::uint32_t>(calls::Op::kExecutorExited);
  request.pid = static_cast<std::uint32_t>(pid);
  link_->call(request, Payload(), [](wire::Reply&&, Payload&&) {});
}

void NodeDaemon::reply_to(Slot slot, ExecutorSet::Serial serial, wire::Reply&& reply,
                          Payload&& answer) {
  if (execs_->serial(slot) != serial) {
    // The executor that asked is gone (it crashed, was killed or replaced);
    // its successor in the slot must not see an answer it did not ask for.
    spdlog::debug("node {}: dropped the answer to call {} of an executor that is gone", name_,
                  reply.id);
    return;
  }
  execs_->queue(slot, RecordKind::kReply, reply,
                std::make_shared<const Payload>(std::move(answer)));
  execs_->flush(slot);
}

}  // namespace dpool::internal
