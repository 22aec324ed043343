// The client side of coordinator-hosted objects: HostedObject's calls, the
// executor's channel, queues over hosted objects, and the errors failed
// calls become.
#include <dpool/detail/hosted.hpp>
#include <dpool/manager.hpp>

#include "calls.hpp"
#include "executor_loop.hpp"
#include "process_calls.hpp"
#include "protocol.hpp"

namespace dpool {
namespace internal {

[[noreturn]] void calls::throw_call_failure(const detail::Failure& f) {
  std::rethrow_exception(detail::error_of(f.code, f.message));
}

namespace {

// A task's calls go through the executor's connection to its node.
class TaskChannel final : public detail::CallChannel {
 public:
  std::string call_object(std::string request) override {
    return call_from_task(calls::Op::kObject, std::move(request), "a Manager object");
  }
};

// A queue the coordinator hosts: each operation is one call.
class HostedQueue final : public detail::QueueBackend {
 public:
  explicit HostedQueue(detail::HostedObject object) : object_(std::move(object)) {}

  Status put(std::string_view item, TimePoint deadline) override {
    auto a =
        object_.call(detail::Verb::kPut, std::string(item), {}, 0, detail::call_timeout(deadline));
    return a.timed_out ? Status::kTimeout : Status::kDone;
  }
  Status get(std::string& item, TimePoint deadline) override {
    auto a = object_.call(detail::Verb::kTake, {}, {}, 0, detail::call_timeout(deadline));
    if (a.timed_out) return Status::kTimeout;
    item = std::move(a.bytes);
    return Status::kDone;
  }
  std::size_t qsize() const override { return object_.call(detail::Verb::kSize).n; }
  bool full() const override { return object_.call(detail::Verb::kSize).yes; }
  void task_done() override { object_.call(detail::Verb::kTaskDone); }
  void join() override { object_.call(detail::Verb::kJoin); }
  void shutdown(bool immediate) override {
    object_.call(detail::Verb::kShutdown, {}, {}, immediate ? 1 : 0);
  }
  const detail::HostedObject* hosted() const noexcept override { return &object_; }

 private:
  detail::HostedObject object_;
};

}  // namespace
}  // namespace internal

namespace detail {

std::shared_ptr<CallChannel> task_channel() {
  static auto channel = std::make_shared<internal::TaskChannel>();
  if (this_task::inside()) return channel;
  return internal::parent_channel();  // a local Process of a program with a pool
}

std::chrono::milliseconds call_timeout(std::chrono::steady_clock::time_point deadline) {
  using std::chrono::steady_clock;
  if (deadline == steady_clock::time_point::max()) return HostedObject::kForever;
  // Compared before subtracting: try_put and try_get pass time_point::min(),
  // and min() - now() overflows.
  auto now = steady_clock::now();
  if (deadline <= now) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
}

std::shared_ptr<QueueBackend> hosted_queue(HostedObject object) {
  return std::make_shared<internal::HostedQueue>(std::move(object));
}

HostedObject::HostedObject(std::shared_ptr<CallChannel> channel, ObjectKind kind, std::string name,
                           std::string type, std::uint64_t param, bool owned, std::string initial)
    : channel_(std::move(channel)), ref_{kind, std::move(name), std::move(type), param, owned} {
  if (ref_.name.empty() || ref_.name.size() > internal::wire::kMaxName)
    throw Error("a Manager object's name must have 1 to " +
                std::to_string(internal::wire::kMaxName) + " bytes");
  call(Verb::kOpen, std::move(initial));
}

HostedObject::Answer HostedObject::call(Verb verb, std::string a, std::string b, std::uint64_t n,
                                        std::chrono::milliseconds timeout) const {
  if (!channel_)
    throw Error("this Manager handle refers to no object (it was default-constructed)");
  internal::calls::ObjectCall c;
  c.kind = ref_.kind;
  c.name = ref_.name;
  c.type = ref_.type;
  c.param = ref_.param;
  c.owned = ref_.owned;
  c.verb = verb;
  c.n = n;
  c.timeout_ms = timeout.count() < 0 ? -1 : timeout.count();
  if (a.size() > internal::calls::kMaxItemBytes || b.size() > internal::calls::kMaxItemBytes)
    throw Error("an item for the Manager's '" + ref_.name + "' has more than " +
                std::to_string(internal::calls::kMaxItemBytes) + " bytes");
  c.a = std::move(a);
  c.b = std::move(b);
  auto bytes = channel_->call_object(internal::wire::encode_meta(c));
  auto answer = internal::wire::decode_meta<internal::calls::ObjectAnswer>(bytes);
  if (!answer)
    throw SerializationError("the coordinator's answer about '" + ref_.name +
                             "' could not be read: " + answer.error());
  return Answer{answer->timed_out, answer->yes, answer->n, std::move(answer->bytes),
                std::move(answer->items)};
}

void HostedObject::attach() {
  channel_ = task_channel();
  if (!channel_)
    throw SerializationError(
        "a handle to the coordinator's '" + ref_.name +
        "' reached a process that cannot reach its pool; tasks, Processes of pool.process, and "
        "dpool::Processes started by a program after it made its Pool take Manager, "
        "pool.queue and pool.pipe handles");
}

}  // namespace detail

namespace this_task {

Manager manager() {
  auto channel = detail::task_channel();
  if (!channel)
    throw Error(
        "dpool::this_task::manager() was called where no pool can be reached: a program uses "
        "pool.manager(); a task, a Process of pool.process, or a dpool::Process started by a "
        "program that had made a dpool::Pool reaches that pool's Manager. Create the Pool "
        "before starting the Process, or pass it handles from pool.manager() as arguments");
  return Manager(std::move(channel));
}

}  // namespace this_task
}  // namespace dpool
