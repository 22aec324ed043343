// The client side of a pool: user threads queue tasks here; the loop thread
// batches them to the coordinator (through the client's CoordinatorLink) and
// hands results back to their sinks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <dpool/detail/hosted.hpp>
#include <dpool/pool.hpp>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "coordinator_link.hpp"
#include "direct_calls.hpp"

namespace dpool::internal {

// Shared by the Pool and every AsyncResult bound to its tasks (for cancel).
// User threads call the PoolCore verbs; everything else runs on the loop
// thread of `io`, which must outlive the session's detach().
class ClientSession final : public detail::PoolCore,
                            public detail::CallChannel,
                            public std::enable_shared_from_this<ClientSession> {
 public:
  struct Options {
    std::string where;  // the coordinator, for messages
    std::chrono::milliseconds connect_timeout{10000};
    wire::PoolSettings pool;  // travels in every HELLO, so nodes apply it to our tasks
    // A remote coordinator: heartbeats, and after `coordinator_timeout` of
    // silence, HELLO again and resubmit every unfinished task once it is
    // back; after `reconnect_grace`, fail them with ConnectionError. Zero
    // heartbeat: an in-process coordinator, which cannot go silent.
    std::chrono::milliseconds heartbeat{0};
    std::chrono::milliseconds coordinator_timeout{5000};
    std::chrono::milliseconds reconnect_grace{60000};
    // Tasks whose arguments are larger fail at submit (SerializationError):
    // the coordinator would drop the connection. 0: no bound (in-process).
    std::size_t max_message_bytes = 0;
    // Asks for what our tasks print on their nodes (Connect::forward_output).
    bool forward_output = true;
  };

  // Connects through `make_link` (called on `io`'s thread) and waits for the
  // coordinator's welcome; throws ConnectionError after the timeout or when refused.
  static std::shared_ptr<ClientSession> connect(asio::io_context& io,
                                                const CoordinatorLink::MakeLink& make_link,
                                                Options options);
  ClientSession(asio::io_context& io, Options options);

  bool submit(const std::string& name, std::uint64_t fingerprint,
              std::vector<detail::TaskRequest>&& tasks, std::shared_ptr<detail::StateBase> sink,
              const TaskOptions& options, bool block) override;
  // At most `n` tasks in flight (0: sized from this machine's memory).
  void set_window(std::size_t n);
  bool cancel(std::uint64_t first, std::size_t count, bool kill_running) override;
  void signal(std::uint64_t id, int signal) override;
  void drop(std::uint64_t first, std::size_t count) override;
  unsigned executors() override { return executors_; }
  void close() override;
  void join() override;
  void terminate() override;
  // Leaves the coordinator (after terminate); the session takes no more
  // messages, and calls made afterwards throw ConnectionError.
  void detach();
  // A call on a hosted object (pool.manager(), pool.queue()), from any user
  // thread but the loop's.
  std::string call_object(std::string request) override;
  // One call of kind `op` over the link, from a user thread; waits for its
  // answer and throws what a failed call stands for.
  std::string call_link(calls::Op op, std::string request);
  // The same call made for local Process `pid` of this program (relayed by
  // process_calls.cpp): the coordinator ties leases and waits to that pid.
  // `done` runs once on the loop thread with the failure (code kNone on
  // success) and the answer's bytes; it never runs for a call the
  // coordinator dropped because process_exited(pid) came first. From any
  // thread but the loop's.
  using ObjectDone = std::function<void(const detail::Failure&, std::string_view answer)>;
  void call_object_for(std::uint32_t pid, std::string request, ObjectDone done);
  // Local Process `pid` ended: its leases end and its waiting calls are dropped.
  void process_exited(std::uint32_t pid);

  // Messages from the coordinator (loop thread), through wire::dispatch.
  void on(wire::Status&& status);
  void on(wire::Output&& output);  // shown on our stdout and stderr
  void on(wire::Cancel&& answer);
  void on(wire::Deliver&& batch, Payloads&& payloads);

 private:
  struct Pending {
    wire::Task spec;
    std::string args;
    std::shared_ptr<detail::Sink> sink;
    std::size_t part;
  };
  struct Inflight {
    std::shared_ptr<detail::Sink> sink;
    std::size_t part;
    TaskInfo::Clock::time_point submitted;
    bool process = false;  // a Process: never resubmitted
    // Kept in cluster mode to resubmit after the coordinator restarts.
    std::optional<wire::Task> spec;
    Payload args;
  };

  CoordinatorLink::Events link_events();
  void on_welcome(const wire::Welcome& welcome, CoordinatorLink::Rejoin how);
  void on_lost();
  void on_refused(const std::string& reason);
  void flush();
  void fail_all(const detail::Failure& failure);
  void completed(std::size_t n);
  void answer_cancels();  // tells every waiting cancel() that its tasks were not cancelled
  // Sends what is pending, then asks the coordinator to cancel; the future
  // says whether every one of the tasks was cancelled (false when any was
  // running or done, or the session is gone).
  std::future<bool> start_cancel(std::uint64_t first, std::size_t count, bool kill_running);

  asio::io_context& io_;
  Options options_;
  bool resilient_;                         // a remote coordinator: keep what resubmission needs
  std::unique_ptr<CoordinatorLink> link_;  // loop thread
  // A remote coordinator's: user threads' calls on hosted objects, each on a
  // line of its own; made before the session is shared, gone with it.
  std::unique_ptr<DirectCalls> direct_;
  std::unordered_map<std::uint64_t, Inflight> inflight_;  // loop thread
  std::unordered_map<std::uint64_t, std::shared_ptr<std::promise<bool>>>
      cancel_answers_;              // loop thread
  std::uint64_t next_request_ = 1;  // loop thread

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> inbox_;
  std::uint64_t next_id_ = 1;
  std::size_t outstanding_ = 0;
  std::size_t window_ = 0;
  bool flush_posted_ = false;
  bool closed_ = false;
  bool detached_ = false;
  std::atomic<unsigned> executors_{0};
};

}  // namespace dpool::internal
