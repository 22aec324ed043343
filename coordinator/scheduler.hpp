// The coordinator's scheduling core: clients' queues, nodes' credit, which
// task runs where. Pure: events in, messages out (take_outbox), no sockets,
// no clock, no randomness of its own (the caller seeds it and passes the
// time). Single-threaded; the coordinator's loop thread owns it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocol.hpp"

namespace dpool::internal {

using PeerId = std::uint64_t;

// A message for one peer.
struct Envelope {
  PeerId to = 0;
  wire::Message message;
};

class Scheduler {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Stats {
    std::uint64_t submitted = 0, dispatched = 0, completed = 0, stale_results = 0, dropped = 0,
                  requeued = 0, reclaims = 0, reclaimed = 0;
  };

  struct Options {
    // At most this many tasks wait for a node; submissions beyond fail with QueueFull.
    std::size_t max_queued = 10'000'000;
    // A task whose node is lost runs again up to this many times (or its own
    // TaskOptions::retries, if set), then fails with WorkerLost.
    unsigned node_loss_retries = 3;
    // Seeds the pool keys (PoolSettings::key). The server passes a random
    // seed, so a restarted coordinator does not reuse its predecessor's keys.
    std::uint64_t seed = 1;
  };

  Scheduler() : Scheduler(Options{}) {}
  explicit Scheduler(Options options)
      : max_queued_(options.max_queued),
        node_loss_retries_(options.node_loss_retries),
        pool_keys_(options.seed) {}

  // A client's pool settings (initializer, max_tasks_per_child) go to each
  // node with the first of its tasks that node gets.
  void client_joined(PeerId client, std::string name, wire::PoolSettings pool = {});
  // The client is gone: its queued tasks are dropped and its running ones
  // cancelled on their nodes. Returns how many tasks it had.
  std::size_t client_left(PeerId client);
  void node_joined(PeerId node, std::string name, std::uint32_t executors, std::uint32_t slots);
  // The node is gone: its unfinished tasks go back to their queues with one
  // more attempt, or fail with WorkerLost past their retry limit. Its
  // Processes fail with WorkerLost at once: a Process never runs twice.
  struct Lost {
    std::size_t requeued = 0, failed = 0;
  };
  Lost node_left(PeerId node);
  // A remote node's heartbeat, received at `now`, lists every task and
  // Process it holds and the last DISPATCH it received (`received`). One
  // that has reached it and that its heartbeats have not listed for
  // `window` is lost there. A DISPATCH counts as arrived when the node says
  // so, or once `window` plus a microsecond per byte of its arguments (a
  // link of 1 MB/s) has passed since the first heartbeat after it was sent,
  // so that large arguments may take their time but a node cannot keep
  // tasks by never saying it received them. A lost task is
  // handled as if its node were lost (another attempt elsewhere, or
  // WorkerLost; a Process fails), the node is told to drop it, and it gets
  // no new work until it returns a result. So a node that heartbeats but
  // never answers holds no task past `window` after receiving it.
  Lost heartbeat(PeerId node, const std::vector<std::uint64_t>& holding, std::uint64_t received,
                 TimePoint now, std::chrono::steady_clock::duration window);
  std::string node_name(PeerId node) const;
  std::string client_name(PeerId client) const;
  // Results that arrived from a peer no longer registered.
  void count_stale(std::size_t n) { stats_.stale_results += n; }
  // The time of the events that follow, until the next call: when a task is
  // dispatched (take_outbox) and when one fails (results, node_left), for
  // what `dpool status` shows of them. Only that reads it: scheduling
  // decisions never depend on time. The server passes its loop's clock
  // before it hands over events; a time earlier than the last is ignored.
  // Before the first call events happen at the clock's epoch. (One call
  // rather than a parameter on every event: only these two records need it.)
  void set_time(TimePoint now) { now_ = std::max(now_, now); }

  // `payloads[i]` holds the arguments of `tasks[i]`; task ids are the client's.
  // A Process task (wire::Task::process) goes to the node with the fewest
  // tasks and Processes per executor, outside the nodes' credit.
  void submit(PeerId client, std::vector<wire::Task>&& tasks, Payloads&& payloads);
  // Results from a node; ids are the scheduler's. A result for a task that is
  // no longer running there (cancelled, re-run elsewhere) is counted and dropped.
  void results(PeerId node, std::vector<wire::Result>&& results, Payloads&& payloads);
  void credit(PeerId node, std::uint32_t slots, std::uint32_t executors);
  // The node's answer to a RECLAIM: these tasks were dropped before they
  // started there; they go back to the front of their queues (no attempt is
  // counted) and run on a node with an idle executor.
  void returned(PeerId node, const std::vector<std::uint64_t>& ids);
  // Cancels queued tasks, and running ones if cancel.kill_running; with a
  // request id, delivers Cancelled for each and answers with those it could not.
  void cancel(PeerId client, const wire::Cancel& cancel);
  // Sends a signal to the client's Processes among signal.ids (others are
  // ignored): through their nodes, or, for one not placed yet, by ending it
  // as if the signal had killed it.
  void signal(PeerId client, const wire::Signal& signal);

  // Dispatches what the nodes' credit allows (idle executors first, across
  // nodes; then what each node may hold ahead), asks a node that holds tasks
  // it has not started to hand some back when another node has an idle
  // executor and nothing is queued here, then hands over every pending
  // message, one batch per peer and kind.
  std::vector<Envelope> take_outbox();

  // A task dispatched to `node` and not finished, as its caller sees it; for
  // answering calls the task makes (who asks must be what runs there).
  struct Running {
    const wire::Task& spec;     // attempt counts from 0; the id is ours
    const std::string& client;  // the submitting client's name
    const std::string& node;
    PeerId client_peer;  // the submitting client, and its id of the task
    std::uint64_t client_id;
  };
  std::optional<Running> running_on(PeerId node, std::uint64_t id) const;

  // What `dpool status` shows (coordinator/status_report.hpp). A task is
  // done when its result came back (failed: with an error, WorkerLost
  // included); retried counts re-runs of tasks whose node was lost.
  struct Counts {
    std::uint64_t done = 0, failed = 0, retried = 0;
  };
  struct NodeLoad {
    PeerId peer = 0;
    std::string name;
    std::uint32_t executors = 0;
    std::size_t running = 0;    // dispatched and not finished, prefetched ones included
    Counts counts;              // of the results it sent back
    std::size_t processes = 0;  // Processes it runs (pool.process), outside `executors`
  };
  struct ClientLoad {
    PeerId peer = 0;
    std::string name;
    std::size_t queued = 0, running = 0;
    std::uint64_t done = 0;
  };
  std::vector<NodeLoad> node_loads() const;
  std::vector<ClientLoad> client_loads() const;
  // A task dispatched to a node and not finished (a Process is left out: it
  // runs as long as it likes). `since`: when it was dispatched (set_time);
  // it may still wait on the node behind others (prefetch).
  struct Dispatched {
    std::string task, node, client;
    TimePoint since;
  };
  // The `n` tasks dispatched longest ago and not finished, oldest first.
  // Costs the tasks it skips: at most about as many as are running.
  std::vector<Dispatched> longest_running(std::size_t n) const;
  // A task that failed on a node (WorkerLost past its retries included;
  // not a cancelled one, nor one refused with QueueFull before it ran).
  struct Failed {
    std::string task, node;
    ErrorCode code = ErrorCode::kNone;
    std::string message;  // at most kFailureText bytes of it
    TimePoint at;
  };
  static constexpr std::size_t kFailuresKept = 20;
  static constexpr std::size_t kFailureText = 512;
  // The last kFailuresKept failures, oldest first.
  const std::deque<Failed>& recent_failures() const noexcept { return failures_; }
  // Since start, over every node and client that ever joined.
  const Counts& totals() const noexcept { return totals_; }

  std::uint32_t executors() const noexcept { return executors_; }
  std::size_t nodes() const noexcept { return nodes_.size(); }
  std::size_t queued() const noexcept { return queued_; }
  std::size_t running() const noexcept {
    return tasks_.size() - queued_ - waiting_processes_.size();
  }
  const Stats& stats() const noexcept { return stats_; }

 private:
  struct TaskRec {
    PeerId client = 0;
    std::uint64_t client_id = 0;
    wire::Task spec;
    Payload args;
    PeerId node = 0;  // 0 while queued
    // The DISPATCH that carried it (Dispatch::seq); when a heartbeat of its
    // node last listed it (or first showed it arrived unlisted), and that
    // heartbeat's number.
    std::uint64_t dispatch_seq = 0;
    std::chrono::steady_clock::time_point listed_at{};
    std::uint64_t listed_beat = 0;
    // Its last dispatch: when, and which (an entry of dispatch_order_ with
    // another number is stale: the task was requeued and dispatched again).
    TimePoint dispatched{};
    std::uint64_t dispatch = 0;
  };
  struct ClientRec {
    std::string name;
    std::map<std::int32_t, std::deque<std::uint64_t>, std::greater<>> queue;  // by priority
    std::size_t queued = 0;  // the queue may also hold ids of cancelled tasks; skipped
    std::unordered_map<std::uint64_t, std::uint64_t> ids;  // client's id -> ours, unfinished
    wire::PoolSettings pool;                               // key 0: none
    std::uint64_t done = 0;
  };
  struct NodeRec {
    std::string name;
    std::uint32_t executors = 0;
    std::uint32_t slots = 0;
    std::size_t running = 0;     // tasks dispatched to it and not finished
    std::size_t processes = 0;   // Processes placed on it and not finished
    std::uint64_t beats = 0;     // heartbeats received
    std::uint64_t sent_seq = 0;  // DISPATCHes sent to it
    // DISPATCHes it has not said it received, and the tasks in them.
    struct Transit {
      std::uint64_t seq = 0;
      std::size_t tasks = 0, bytes = 0;
      std::chrono::steady_clock::time_point noticed{};  // the first heartbeat after it
    };
    std::deque<Transit> transit;
    std::size_t in_transit = 0;
    std::uint64_t arrived = 0;  // DISPATCHes up to this one have reached it
    // No unlisted task of it can reach the window before this: no scan till then.
    std::chrono::steady_clock::time_point rescan_at{};
    // It lost tasks by not listing them: it gets no more until it returns a result.
    bool suspect = false;
    std::unordered_set<std::uint64_t> pools;  // settings already sent
    bool reclaiming = false;                  // a RECLAIM is out; at most one at a time
    bool spent = false;  // its last RETURNED was empty: not asked again until it reports
    Counts counts;
    std::size_t idle() const { return running < executors ? executors - running : 0; }
    bool holding() const { return running > executors; }  // more tasks than executors
  };

  void enqueue(std::uint64_t id, bool front);
  std::uint64_t pop_task(ClientRec& client);
  void pump();
  // One pass after another over the nodes, one task per node per pass, up
  // to `limit(node)` unfinished tasks each.
  template <class Limit>
  void fill(Limit limit);
  void dispatch_one(PeerId node_id, NodeRec& node);
  void reclaim();
  // Places the Processes waiting for a node, each on the least loaded one.
  void place_processes();
  // Ends a Process task here with `failure` (it will not run, or ran and
  // cannot be followed any more).
  void end_process(std::uint64_t id, const detail::Failure& failure);
  // Every change of a node's running count or executors goes through here,
  // keeping the totals that tell whether reclaiming could help.
  void update_node(NodeRec& node, std::size_t running, std::uint32_t executors);
  void deliver(PeerId client, wire::Result&& result, Payload&& payload);
  void send_cancel(PeerId node, std::vector<std::uint64_t>&& ids);
  void forget(std::uint64_t id);  // drops a task record and its client's index entry
  // Keeps a failure for recent_failures().
  void record_failure(const TaskRec& task, const std::string& node, const detail::Failure& f);
  // Drops stale entries of dispatch_order_: those at its front, and all of
  // them once they outnumber the running tasks (amortized O(1) a task).
  void trim_dispatch_order();
  void capacity_changed();
  // A task of `node` that can no longer be followed there: another attempt
  // or WorkerLost, as node loss decides. True if it was requeued.
  bool lose(std::uint64_t id, const std::string& node, const std::string& why);
  // Records that `t` goes to `node` in `message` (numbering the message if
  // it is new), for heartbeat accounting.
  void dispatched_to(NodeRec& node, TaskRec& t, wire::Dispatch& message);
  // The message of kind B being gathered for `to` in this outbox.
  template <class B>
  Envelope& batch(std::unordered_map<PeerId, std::size_t>& index, PeerId to);

  std::unordered_map<std::uint64_t, TaskRec> tasks_;
  std::map<PeerId, ClientRec> clients_;
  std::map<PeerId, NodeRec> nodes_;
  std::deque<PeerId> ready_clients_;             // round-robin over clients with queued tasks
  std::deque<std::uint64_t> waiting_processes_;  // Process tasks no node has yet, in order
  std::size_t max_queued_;
  unsigned node_loss_retries_;
  std::uint64_t next_id_ = 1;
  std::mt19937_64 pool_keys_;  // unlike a counter, not reused by a restart
  std::size_t queued_ = 0;
  std::uint32_t executors_ = 0;
  std::size_t idle_executors_ = 0;  // over all nodes
  std::size_t holding_nodes_ = 0;   // nodes with more unfinished tasks than executors
  bool capacity_changed_ = false;
  Stats stats_;
  Counts totals_;
  TimePoint now_{};
  // (dispatch number, task id) in dispatch order, so also in time order;
  // entries of finished or requeued tasks are stale and skipped.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> dispatch_order_;
  std::uint64_t next_dispatch_ = 1;
  std::deque<Failed> failures_;  // at most kFailuresKept, oldest first

  std::vector<Envelope> outbox_;
  std::unordered_map<PeerId, std::size_t> dispatch_index_, deliver_index_;
};

}  // namespace dpool::internal
