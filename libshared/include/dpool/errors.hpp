// The errors a dpool user can catch. Every one derives from dpool::Error, and
// what() is a complete sentence saying what happened and what to do next.
#pragma once

#include <cstdint>
#include <dpool/export.hpp>
#include <stdexcept>
#include <string>

namespace dpool {

// Why a task (or a call to the coordinator) did not produce a result. Travels
// on the wire: append, never renumber. Each code implies one retry decision,
// noted beside it. Numbers 4 and 13 are taken by codes that only peers
// exchange (protocol.hpp); a user never sees them.
enum class ErrorCode : std::uint16_t {
  kNone = 0,
  kTaskRaised = 1,         // user code threw: never retried
  kWorkerCrashed = 2,      // executor died mid-task: not retried unless asked
  kWorkerLost = 3,         // node silent: re-dispatched while attempts remain
  kTaskTimeout = 5,        // ran past its timeout option: not retried
  kCancelled = 6,          // cancelled or pool terminated: final
  kUnknownTask = 7,        // no such task name on the executor: final
  kSignatureMismatch = 8,  // caller and executor types differ: final
  kSerialization = 9,      // arguments or result could not be (de)serialized: final
  kPoolClosed = 10,        // submitted after close(): final
  kConnection = 11,        // coordinator unreachable or refused: final
  kQueueFull = 12,         // the coordinator's queue is at its bound: retry later
  kRefused = 14,           // the coordinator refused a call (not this caller's, or unknown): final
  kEOF = 15,               // a connection's other end closed and nothing is left: final
  kFull = 16,              // a queue stayed full until the put's timeout: retry later
  kEmpty = 17,             // a queue stayed empty until the get's timeout: retry later
  kShutDown = 18,          // the queue was shut down: final
  kBrokenBarrier = 19,     // a barrier was aborted, reset or timed out: final
  kAuthentication = 20,    // a Listener or connect_to peer did not prove the authkey: final
};

class DPOOL_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ErrorCode code = ErrorCode::kNone)
      : std::runtime_error(what), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// A wait with a timeout ran out; the task itself is unaffected.
class DPOOL_API TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& what) : Error(what) {}
};

// The task threw. type() is the exception's C++ type, message() its what().
class DPOOL_API RemoteError : public Error {
 public:
  RemoteError(const std::string& what, std::string type, std::string message, std::string node,
              int pid)
      : Error(what, ErrorCode::kTaskRaised),
        type_(std::move(type)),
        message_(std::move(message)),
        node_(std::move(node)),
        pid_(pid) {}
  const std::string& type() const noexcept { return type_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& node() const noexcept { return node_; }
  int pid() const noexcept { return pid_; }

 private:
  std::string type_, message_, node_;
  int pid_;
};

// The executor running the task died. signal() is the killing signal (0 if it
// exited), exit_code() the exit status (-1 if it was killed by a signal).
class DPOOL_API WorkerCrashed : public Error {
 public:
  WorkerCrashed(const std::string& what, int signal, int exit_code)
      : Error(what, ErrorCode::kWorkerCrashed), signal_(signal), exit_code_(exit_code) {}
  int signal() const noexcept { return signal_; }
  int exit_code() const noexcept { return exit_code_; }

 private:
  int signal_, exit_code_;
};

class DPOOL_API TaskTimeout : public Error {
 public:
  explicit TaskTimeout(const std::string& what) : Error(what, ErrorCode::kTaskTimeout) {}
};

class DPOOL_API WorkerLost : public Error {
 public:
  explicit WorkerLost(const std::string& what) : Error(what, ErrorCode::kWorkerLost) {}
};

class DPOOL_API Cancelled : public Error {
 public:
  explicit Cancelled(const std::string& what) : Error(what, ErrorCode::kCancelled) {}
};

class DPOOL_API UnknownTask : public Error {
 public:
  explicit UnknownTask(const std::string& what) : Error(what, ErrorCode::kUnknownTask) {}
};

class DPOOL_API SignatureMismatch : public Error {
 public:
  explicit SignatureMismatch(const std::string& what)
      : Error(what, ErrorCode::kSignatureMismatch) {}
};

class DPOOL_API SerializationError : public Error {
 public:
  explicit SerializationError(const std::string& what) : Error(what, ErrorCode::kSerialization) {}
};

class DPOOL_API PoolClosed : public Error {
 public:
  explicit PoolClosed(const std::string& what) : Error(what, ErrorCode::kPoolClosed) {}
};

class DPOOL_API ConnectionError : public Error {
 public:
  explicit ConnectionError(const std::string& what) : Error(what, ErrorCode::kConnection) {}
};

// The coordinator's queue is at its bound (CoordinatorOptions::max_queued).
class DPOOL_API QueueFull : public Error {
 public:
  explicit QueueFull(const std::string& what) : Error(what, ErrorCode::kQueueFull) {}
};

// recv() on a Connection whose other end closed, with nothing left to read.
class DPOOL_API EOFError : public Error {
 public:
  explicit EOFError(const std::string& what) : Error(what, ErrorCode::kEOF) {}
};

// A queue's put with a timeout found it still full.
class DPOOL_API Full : public Error {
 public:
  explicit Full(const std::string& what) : Error(what, ErrorCode::kFull) {}
};

// A queue's get with a timeout found it still empty.
class DPOOL_API Empty : public Error {
 public:
  explicit Empty(const std::string& what) : Error(what, ErrorCode::kEmpty) {}
};

// A put on a shut-down queue, or a get on one that is shut down and drained.
class DPOOL_API ShutDown : public Error {
 public:
  explicit ShutDown(const std::string& what) : Error(what, ErrorCode::kShutDown) {}
};

// A Barrier was aborted or reset, or a party's wait timed out.
class DPOOL_API BrokenBarrierError : public Error {
 public:
  explicit BrokenBarrierError(const std::string& what) : Error(what, ErrorCode::kBrokenBarrier) {}
};

// A Listener's or connect_to's peer did not prove that it holds the same
// authkey (or the other end is not a dpool Listener).
class DPOOL_API AuthenticationError : public Error {
 public:
  explicit AuthenticationError(const std::string& what) : Error(what, ErrorCode::kAuthentication) {}
};

}  // namespace dpool
