#include "call_handler.hpp"

#include "calls.hpp"
#include "cluster_status.hpp"

namespace dpool::internal {
namespace {

wire::Reply refuse(const wire::Request& r, ErrorCode code, std::string why) {
  wire::Reply reply;
  reply.id = r.id;
  reply.failure.code = code;
  reply.failure.message = std::move(why);
  return reply;
}

}  // namespace

Envelope CallHandler::answer(PeerId peer, bool is_node, wire::Requests&& batch, Payloads&& args,
                             ObjectStore::TimePoint now) {
  wire::Replies replies;
  Payloads answers;
  for (std::size_t i = 0; i < batch.requests.size(); ++i) {
    auto& r = batch.requests[i];
    Payload answer;
    std::optional<wire::Reply> reply;
    switch (static_cast<calls::Op>(r.op)) {
      case calls::Op::kTaskInfo:
        reply = task_info(peer, is_node, r, answer);
        break;
      case calls::Op::kObject:
        reply = object(peer, is_node, r, args[i], now);
        break;
      case calls::Op::kExecutorExited:
        // A node reports its executors; a client the local Processes whose
        // calls it relayed (pid 0 is the client itself, which ends with BYE).
        if (!is_node && r.pid == 0) {
          reply = refuse(r, ErrorCode::kRefused, "a client reports only its Processes' exits");
          break;
        }
        store_.gone(peer, r.pid);
        reply = wire::Reply{r.id, {}};
        break;
      case calls::Op::kStatus:
        reply = status(peer, is_node, r, answer);
        break;
      case calls::Op::kPush:
        reply = push(peer, is_node, r, args[i], now);
        break;
      case calls::Op::kDirect:
        reply = direct(peer, is_node, r, answer);
        break;
      default:
        reply = refuse(r, ErrorCode::kRefused,
                       "the coordinator knows no call number " + std::to_string(r.op) +
                           "; run the same dpool release on every client, coordinator and node");
        break;
    }
    if (!reply) {
      ++stats_.answered;  // by the store
      continue;
    }
    ++(reply->failure.code == ErrorCode::kNone ? stats_.answered : stats_.refused);
    replies.replies.push_back(std::move(*reply));
    answers.push_back(std::move(answer));
  }
  return Envelope{peer, {std::move(replies), std::move(answers)}};
}

std::optional<wire::Reply> CallHandler::push(PeerId peer, bool is_node, const wire::Request& r,
                                             Payload& args, ObjectStore::TimePoint now) {
  if (is_node) return refuse(r, ErrorCode::kRefused, "only a client pushes code");
  if (!code_ || !may_push_)
    return refuse(r, ErrorCode::kRefused, "this coordinator takes no pushed code");
  if (auto why = may_push_(peer); !why.empty()) return refuse(r, ErrorCode::kRefused, why);
  auto decoded = wire::decode_meta<calls::PushCall>(args.view());
  if (!decoded || decoded->name.empty() || decoded->name.find('/') != std::string::npos)
    return refuse(r, ErrorCode::kRefused,
                  "a push that cannot be decoded, or whose library has no plain file name");
  std::vector<std::pair<PeerId, std::string>> nodes;
  for (auto& n : scheduler_.node_loads()) nodes.emplace_back(n.peer, n.name);
  code_->push(peer, r.id, std::move(*decoded), nodes, now);
  return std::nullopt;
}

std::optional<wire::Reply> CallHandler::object(PeerId peer, bool is_node, const wire::Request& r,
                                               Payload& args, ObjectStore::TimePoint now) {
  // A client calls for itself (pid 0) or for a local Process of its own (its
  // pid), whose leases end when the client reports it gone.
  ObjectStore::Caller who{peer, r.pid, 0};
  if (is_node) {
    if (r.task == 0 || !scheduler_.running_on(peer, r.task))
      return refuse(r, ErrorCode::kCancelled,
                    "the coordinator no longer runs this task on this node (it was cancelled, or "
                    "its node was declared lost and it runs elsewhere)");
    who = {peer, r.pid, r.task};
  }
  auto decoded = wire::decode_meta<calls::ObjectCall>(args.view());
  if (!decoded)
    return refuse(r, ErrorCode::kRefused,
                  "a call on a shared object that cannot be decoded (" + decoded.error() + ")");
  store_.call(who, r.id, std::move(*decoded), now);
  return std::nullopt;
}

wire::Reply CallHandler::task_info(PeerId peer, bool is_node, const wire::Request& r,
                                   Payload& answer) {
  if (!is_node || r.task == 0)
    return refuse(r, ErrorCode::kRefused, "only a running task can ask who it is");
  auto running = scheduler_.running_on(peer, r.task);
  if (!running)
    return refuse(r, ErrorCode::kCancelled,
                  "the coordinator no longer runs this task on this node (it was cancelled, or "
                  "its node was declared lost and it runs elsewhere)");
  CurrentTask t;
  t.name = running->spec.name;
  t.id = running->spec.id;
  t.attempt = running->spec.attempt + 1;
  t.node = running->node;
  t.pid = static_cast<int>(r.pid);
  t.client = running->client;
  answer = Payload::adopt(detail::encode(t));
  wire::Reply reply;
  reply.id = r.id;
  return reply;
}

wire::Reply CallHandler::status(PeerId peer, bool is_node, const wire::Request& r,
                                Payload& answer) {
  if (is_node) return refuse(r, ErrorCode::kRefused, "only a client asks for the cluster's status");
  if (!status_) return refuse(r, ErrorCode::kRefused, "this coordinator gives no status");
  answer = Payload::adopt(wire::encode_meta(status_(peer)));
  wire::Reply reply;
  reply.id = r.id;
  return reply;
}

wire::Reply CallHandler::direct(PeerId peer, bool is_node, const wire::Request& r,
                                Payload& answer) {
  if (is_node) return refuse(r, ErrorCode::kRefused, "only a client opens a direct line");
  auto ticket = direct_ ? direct_(peer) : std::nullopt;
  if (!ticket) return refuse(r, ErrorCode::kRefused, "this coordinator offers no direct lines");
  answer = Payload::adopt(wire::encode_meta(*ticket));
  wire::Reply reply;
  reply.id = r.id;
  return reply;
}

}  // namespace dpool::internal
