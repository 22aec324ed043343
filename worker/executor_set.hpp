// The node's executor processes as I/O: for each slot, the process, its
// socketpair (records in and out) and how its exit is noticed: a pidfd, or,
// where pidfd_open is unavailable, end-of-file on the socket followed by
// polling waitpid. What the executors say, and that they exited, goes to the
// node through Events; the node decides what happens next.
#pragma once

#include <asio/io_context.hpp>
#include <dpool/detail/codec.hpp>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "child_process.hpp"
#include "exec_channel.hpp"
#include "payload.hpp"

namespace dpool::internal {

// Loop thread only. Owns every process it starts: destroying it (or
// clear()) kills and reaps them all. The io_context must outlive it.
class ExecutorSet {
 public:
  using Slot = std::size_t;
  // Each process started gets a new serial, so that an answer meant for an
  // executor that died never reaches its replacement in the same slot.
  using Serial = std::uint64_t;

  struct Events {
    std::function<void(Slot, Record&&)> record;  // a record from the slot's executor
    // The slot's executor, process `pid`, was reaped: killed by `signal`, or
    // exited with `exit_code` (pid 0 and 127 when it could not be started).
    std::function<void(Slot, int pid, int signal, int exit_code)> exited;
    // After each burst of the calls above (one read, one reaping pass).
    std::function<void()> settled;
  };

  // What the processes are, for logs: the pool's executors (one that exits
  // is replaced, so a non-zero exit is worth a warning) or Processes (their
  // exit is their result).
  enum class Kind { kExecutors, kProcesses };

  // `node` names the node in logs; `spec` starts one executor.
  ExecutorSet(asio::io_context& io, std::string node, SpawnSpec spec, std::size_t slots,
              Events events, Kind kind = Kind::kExecutors);
  ~ExecutorSet();
  ExecutorSet(const ExecutorSet&) = delete;
  ExecutorSet& operator=(const ExecutorSet&) = delete;

  // Executors started from now on run `spec`.
  void respec(SpawnSpec spec) { spec_ = std::move(spec); }
  // Starts an executor in an empty slot. Failing to start is reported as an
  // exit with code 127, later on the loop (never from inside this call).
  void spawn(Slot slot);
  // Queues a record for the slot's executor, its meta encoded from `meta` (a
  // wire struct) straight behind the header; flush() writes what is queued.
  template <class Meta>
  void queue(Slot slot, RecordKind kind, const Meta& meta, std::shared_ptr<const Payload> payload) {
    std::string head;
    head.reserve(kRecordHeaderBytes + kTypicalMetaBytes);
    head.resize(kRecordHeaderBytes);
    detail::encode_into(head, meta);
    put_record_header(head.data(), kind, head.size() - kRecordHeaderBytes,
                      payload ? payload->size() : 0);
    queue_encoded(slot, std::move(head), std::move(payload));
  }
  void flush(Slot slot);
  // A slot with no process in it, added if every slot is taken.
  Slot free_slot();
  // The serial of the slot's executor, 0 if none is running.
  Serial serial(Slot slot) const;
  int pid(Slot slot) const;
  void kill(Slot slot);
  // Sends `signal` to the slot's process, if one runs there.
  void signal(Slot slot, int signal);
  // Closes the node's sending side: the executor finishes and exits by itself.
  void retire(Slot slot);
  // Kills and reaps every executor; no events follow.
  void clear();

 private:
  struct Exec;
  static constexpr std::size_t kTypicalMetaBytes = 112;  // a task's meta, name included

  void queue_encoded(Slot slot, std::string&& head, std::shared_ptr<const Payload> payload);
  void watch(const std::shared_ptr<Exec>& e);
  void poll_exit(const std::shared_ptr<Exec>& e, std::chrono::steady_clock::time_point since);
  void reap_exited();
  void read(const std::shared_ptr<Exec>& e);
  void write(const std::shared_ptr<Exec>& e);

  asio::io_context& io_;
  std::string node_;
  SpawnSpec spec_;
  Events events_;
  Kind kind_;
  std::vector<std::shared_ptr<Exec>> execs_;  // one per slot; grows only through free_slot()
  Serial next_serial_ = 1;
  bool warned_no_pidfd_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dpool::internal
