// The client side of a pool: user threads queue tasks here; the loop thread
// batches them to the coordinator and hands results back to their sinks.
#pragma once

#include <asio/steady_timer.hpp>
#include <atomic>
#include <condition_variable>
#include <dpool/pool.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "link.hpp"

namespace dpool::internal {

class ClientSession final : public detail::PoolCore,
                            public std::enable_shared_from_this<ClientSession> {
 public:
  using MakeLink = std::function<std::unique_ptr<Link>(Receiver)>;

  // Connects through `make_link` (called on `io`'s thread) and waits for the
  // coordinator's welcome; throws ConnectionError after `timeout` or when refused.
  // `pool` travels in every HELLO, so the nodes apply it to this client's tasks.
  static std::shared_ptr<ClientSession> connect(asio::io_context& io, MakeLink make_link,
                                                std::string where,
                                                std::chrono::milliseconds timeout,
                                                wire::PoolSettings pool = {});
  ClientSession(asio::io_context& io, std::string where);

  bool submit(const std::string& name, std::uint64_t fingerprint,
              std::vector<detail::TaskRequest>&& tasks, std::shared_ptr<detail::StateBase> sink,
              const TaskOptions& options, bool block) override;
  // At most `n` tasks in flight (0: sized from this machine's memory).
  void set_window(std::size_t n);
  // Cluster mode: heartbeats both ways; re-register and resubmit unfinished
  // tasks when the coordinator comes back; after `grace` without it, fail
  // every unfinished task with ConnectionError.
  void keep_alive(std::chrono::milliseconds interval, std::chrono::milliseconds timeout,
                  std::chrono::milliseconds grace);
  bool cancel(std::uint64_t first, std::size_t count, bool kill_running) override;
  void drop(std::uint64_t first, std::size_t count) override;
  unsigned executors() override { return executors_; }
  void close() override;
  void join() override;
  void terminate() override;
  // Leaves the coordinator (after terminate); the session takes no more messages.
  void detach();

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
    // Kept in cluster mode to resubmit after the coordinator restarts.
    std::optional<wire::Task> spec;
    zmq::message_t args;
  };

  void on_message(Received&& m);
  void send_hello();
  void on_welcome(const wire::Welcome& welcome);
  void on_beat();
  void on_deliver(wire::ResultBatch&& batch, Frames&& payloads);
  void flush();
  void fail_all(const detail::Failure& failure);
  void completed(std::size_t n);
  void answer_cancels();
  // Sends what is pending, then asks the coordinator to cancel; the future
  // holds the ids that could not be cancelled.
  std::future<std::vector<std::uint64_t>> start_cancel(
      std::uint64_t first, std::size_t count,
      bool kill_running);  // tells every waiting cancel() nothing more was cancelled

  asio::io_context& io_;
  std::string where_;
  std::unique_ptr<Link> link_;                            // loop thread
  std::unordered_map<std::uint64_t, Inflight> inflight_;  // loop thread
  std::unordered_map<std::uint64_t, std::shared_ptr<std::promise<std::vector<std::uint64_t>>>>
      cancel_answers_;                      // loop thread
  std::uint64_t next_request_ = 1;          // loop thread
  std::uint64_t instance_ = 0;              // ours, in HELLO
  wire::PoolSettings pool_;                 // in HELLO
  std::uint64_t coordinator_instance_ = 0;  // loop thread
  bool resilient_ = false;                  // loop thread: keep_alive() was called
  std::chrono::milliseconds beat_interval_{0}, beat_timeout_{0}, grace_{0};
  std::chrono::steady_clock::time_point last_seen_{}, lost_since_{};
  bool lost_ = false;
  bool hello_pending_ = false;
  std::chrono::milliseconds coordinator_beat_{
      0};  // the interval the coordinator asks for  // loop thread: a HELLO is on its way
  std::unique_ptr<asio::steady_timer> beat_timer_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> inbox_;
  std::uint64_t next_id_ = 1;
  std::size_t outstanding_ = 0;
  std::size_t window_ = 0;
  bool flush_posted_ = false;
  bool closed_ = false;
  bool welcomed_ = false;
  std::string refused_;
  std::atomic<unsigned> executors_{0};
};

}  // namespace dpool::internal
