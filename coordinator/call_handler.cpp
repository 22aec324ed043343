#include "call_handler.hpp"

#include "calls.hpp"

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

Envelope CallHandler::answer(PeerId peer, bool is_node, wire::Requests&& batch, Payloads&&) {
  wire::Replies replies;
  Payloads answers;
  replies.replies.reserve(batch.requests.size());
  answers.reserve(batch.requests.size());
  for (auto& r : batch.requests) {
    Payload answer;
    wire::Reply reply;
    switch (static_cast<calls::Op>(r.op)) {
      case calls::Op::kTaskInfo:
        reply = task_info(peer, is_node, r, answer);
        break;
      default:
        reply = refuse(r, ErrorCode::kRefused,
                       "the coordinator knows no call number " + std::to_string(r.op) +
                           "; run the same dpool release on every client, coordinator and node");
        break;
    }
    ++(reply.failure.code == ErrorCode::kNone ? stats_.answered : stats_.refused);
    replies.replies.push_back(std::move(reply));
    answers.push_back(std::move(answer));
  }
  return Envelope{peer, {std::move(replies), std::move(answers)}};
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

}  // namespace dpool::internal
