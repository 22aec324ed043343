#include "executor_loop.hpp"

#include <dlfcn.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <dpool/registry.hpp>
#include <dpool/this_task.hpp>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "calls.hpp"
#include "exec_channel.hpp"
#include "output_capture.hpp"
#include "process_start.hpp"
#include "protocol.hpp"
#include "shm_tracker.hpp"
#include "task_runner.hpp"

namespace dpool::internal {
namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool write_all(int fd, const iovec* iov, int n) {
  std::vector<iovec> v(iov, iov + n);
  std::size_t i = 0;
  while (i < v.size()) {
    ssize_t w =
        ::writev(fd, v.data() + i, static_cast<int>(std::min<std::size_t>(v.size() - i, IOV_MAX)));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<std::size_t>(w);
    while (i < v.size() && left >= v[i].iov_len) left -= v[i++].iov_len;
    if (i < v.size()) {
      v[i].iov_base = static_cast<char*>(v[i].iov_base) + left;
      v[i].iov_len -= left;
    }
  }
  return true;
}

class Executor;
Executor* g_executor = nullptr;  // the executor of this process, while it runs

class Executor {
 public:
  Executor(int fd, std::string node) : fd_(fd), node_(std::move(node)), pid_(::getpid()) {}

  // From now on what this process writes on stdout and stderr goes to the
  // node as OUTPUT records, tagged with the task that wrote it. Before run().
  void capture_output() {
    capture_ = std::make_unique<OutputCapture>([this](wire::Lines&& chunk) {
      auto meta = wire::encode_meta(chunk);
      char h[kRecordHeaderBytes];
      put_record_header(h, RecordKind::kOutput, meta.size(), 0);
      iovec v[2] = {{h, sizeof h}, {meta.data(), meta.size()}};
      std::lock_guard lock(write_mu_);
      write_all(fd_, v, 2);  // a node that is gone is noticed by the main thread
    });
  }

  bool in_task() const noexcept { return in_task_; }

  // A call to the coordinator from the running task: the request goes to the
  // node (which adds who is asking and forwards it); the task blocks until
  // the answer is back. Records the node sends meanwhile wait in the queue.
  // Safe from any thread of the task; calls are made one at a time.
  std::string call(calls::Op op, std::string args) {
    std::lock_guard lock(call_mu_);
    wire::Request request;
    request.id = next_call_++;
    request.op = static_cast<std::uint32_t>(op);
    queue_record(RecordKind::kRequest, wire::encode_meta(request), std::move(args));
    if (!flush()) throw Error("the node closed its connection to this executor");
    for (;;) {
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (it->kind != RecordKind::kReply) {
          ++it;
          continue;
        }
        auto reply = wire::decode_meta<wire::Reply>(it->meta);
        if (!reply) {
          std::fprintf(stderr, "dpool executor %d: bad reply record: %s\n", pid_,
                       reply.error().c_str());
          std::_Exit(3);
        }
        if (reply->id != request.id) {  // an answer to an earlier call: not ours
          it = queue_.erase(it);
          continue;
        }
        std::string answer(it->payload.view());
        queue_.erase(it);
        if (reply->failure.code != ErrorCode::kNone) calls::throw_call_failure(reply->failure);
        return answer;
      }
      if (!read(true))
        throw Error("the node closed its connection to this executor while a call waited");
    }
  }

  int run() {
    g_executor = this;
    wire::Result ready;
    ready.pid = static_cast<std::uint32_t>(pid_);
    ready.node = node_;
    queue_record(RecordKind::kReady, wire::encode_meta(ready), {});
    for (;;) {
      // Read only when out of work: one recv takes everything the node has
      // sent so far, and a task never waits behind a read.
      if (!flush()) return 0;
      if (!read(true)) return 0;  // the node closed the socket: we are done
      while (!queue_.empty()) {
        Record r = std::move(queue_.front());
        queue_.pop_front();
        handle(r);
        reader_.recycle(std::move(r.payload));
        // Every result leaves before the next task starts: if that task kills
        // this process, the node knows exactly which one it was.
        if (!flush()) return 0;
      }
    }
  }

  // Reads what is available (blocking for at least one record if `block`).
  // False at end of stream or on a broken stream.
  bool read(bool block) {
    for (;;) {
      auto span = reader_.buffer();
      ssize_t n = ::recv(fd_, span.data(), span.size(), block ? 0 : MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        return false;
      }
      if (n == 0) return false;
      reader_.commit(static_cast<std::size_t>(n));
      for (;;) {
        auto r = reader_.next();
        if (!r) {
          std::fprintf(stderr, "dpool executor %d: bad record from node: %s\n", pid_,
                       r.error().c_str());
          std::_Exit(3);
        }
        if (!*r) break;
        queue_.push_back(std::move(**r));
        block = false;
      }
      if (!block) {
        if (static_cast<std::size_t>(n) < span.size()) return true;
      }
    }
  }

  void handle(Record& r) {
    if (r.kind == RecordKind::kReply) return;  // an answer to a call that gave up on it
    auto task = wire::decode_meta<wire::Task>(r.meta);
    if (!task) {
      std::fprintf(stderr, "dpool executor %d: bad task record: %s\n", pid_, task.error().c_str());
      std::_Exit(3);
    }
    if (r.kind == RecordKind::kInit) return run_initializer(*task, r.payload);
    wire::Result res;
    res.id = task->id;
    res.started_us = now_us();
    std::string out;
    if (auto* failed = init_failure(task->pool)) {
      res.failure = *failed;
    } else {
      if (!task->process.empty()) set_current_process_name(task->process);
      if (capture_) capture_->begin_task(task->id);
      in_task_ = true;
      run_task(*task, r.payload, res, out);
      in_task_ = false;
      if (!task->process.empty()) {
        // A Process's result is discarded; what it threw goes to its
        // stderr, as multiprocessing prints a child's traceback.
        out.clear();
        if (res.failure.code != ErrorCode::kNone)
          std::fprintf(stderr, "Process %s (pid %d): %s%s%s\n", task->process.c_str(), pid_,
                       res.failure.type.c_str(), res.failure.type.empty() ? "" : ": ",
                       res.failure.message.c_str());
        std::fflush(nullptr);
      }
      // What it printed goes out before its result (captured: to the node,
      // tagged; else to the terminal we share).
      if (capture_) {
        capture_->end_task();
      } else {
        std::cout.flush();
        std::fflush(stdout);
        std::fflush(stderr);
      }
    }
    res.finished_us = now_us();
    queue_record(RecordKind::kDone, wire::encode_meta(res), std::move(out));
  }

  void run_task(const wire::Task& task, const Blob& args, wire::Result& res, std::string& out) {
    res.failure =
        run_registered(task.name, task.fingerprint, task.chunk, args.view(), "node " + node_, out);
  }

  // An initializer that fails makes every task of its pool in this executor
  // fail with its error (rather than respawning executors forever). Pool 0
  // is the node's own initializer, which every task needs.
  void run_initializer(const wire::Task& task, const Blob& args) {
    wire::Result res;
    std::string out;
    in_task_ = true;
    run_task(task, args, res, out);
    in_task_ = false;
    if (res.failure.code != ErrorCode::kNone) {
      auto& failed = init_errors_[task.pool];
      failed = res.failure;
      failed.message = "the pool's initializer '" + task.name + "' failed on node " + node_ + ": " +
                       res.failure.message;
    }
  }

  const detail::Failure* init_failure(std::uint64_t pool) const {
    if (init_errors_.empty()) return nullptr;
    for (auto key : {std::uint64_t{0}, pool})
      if (auto it = init_errors_.find(key); it != init_errors_.end()) return &it->second;
    return nullptr;
  }

  void queue_record(RecordKind kind, std::string meta, std::string payload) {
    if (payload.size() > kLargeRecordBytes) {  // large: write now, without copying
      flush();
      char h[kRecordHeaderBytes];
      put_record_header(h, kind, meta.size(), payload.size());
      iovec v[3] = {{h, sizeof h}, {meta.data(), meta.size()}, {payload.data(), payload.size()}};
      std::lock_guard lock(write_mu_);
      if (!write_all(fd_, v, 3)) std::_Exit(0);
      return;
    }
    char h[kRecordHeaderBytes];
    put_record_header(h, kind, meta.size(), payload.size());
    out_.append(h, sizeof h);
    out_ += meta;
    out_ += payload;
  }

  bool flush() {
    if (out_.empty()) return true;
    iovec v{out_.data(), out_.size()};
    bool ok;
    {
      std::lock_guard lock(write_mu_);  // the output capture's thread writes too
      ok = write_all(fd_, &v, 1);
    }
    out_.clear();
    return ok;
  }

  int fd_;
  std::string node_;
  int pid_;
  RecordReader reader_;
  std::deque<Record> queue_;
  std::string out_;
  std::unordered_map<std::uint64_t, detail::Failure> init_errors_;  // by pool
  bool in_task_ = false;
  std::mutex call_mu_;
  std::uint64_t next_call_ = 1;
  std::mutex write_mu_;  // one record at a time on fd_
  std::unique_ptr<OutputCapture> capture_;
};

}  // namespace

int run_executor(int fd) {
  set_current_process_name("Executor-" + std::to_string(::getpid()));
  const char* node = std::getenv(kEnvNodeName);
  Executor e(fd, node ? node : "local");
  if (std::getenv(kEnvCaptureOutput)) {
    ::unsetenv(kEnvCaptureOutput);  // a process a task starts prints into our pipes
    try {
      e.capture_output();
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "dpool executor %d: task output stays here: %s\n", ::getpid(),
                   ex.what());
    }
  }
  int rc = e.run();
  g_executor = nullptr;
  std::fflush(nullptr);
  return rc;
}

namespace {

// The task libraries pushed to the node, before the first task: their
// DPOOL_REGISTER lines add to this process's registry. The node checked that
// each loads; one that fails here ends the executor (the node sees it die
// while starting).
void load_pushed_code() {
  const char* paths = std::getenv(kEnvCode);
  if (!paths) return;
  std::string list = paths;
  ::unsetenv(kEnvCode);  // our own children load nothing
  for (std::size_t at = 0; at < list.size();) {
    auto end = std::min(list.find(':', at), list.size());
    auto path = list.substr(at, end - at);
    at = end + 1;
    if (!path.empty() && !::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      std::fprintf(stderr, "dpool executor %d: cannot load the pushed library %s: %s\n", ::getpid(),
                   path.c_str(), ::dlerror());
      std::_Exit(2);
    }
  }
}

}  // namespace

void become_executor_if_spawned() {
  const char* fd_text = std::getenv(kEnvExecutorFd);
  if (!fd_text) return;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // die with the node daemon
  const char* parent = std::getenv(kEnvParentPid);
  if (parent && std::atoi(parent) != ::getppid()) std::_Exit(0);  // it died before prctl
  int fd = std::atoi(fd_text);
  ::unsetenv(kEnvExecutorFd);  // our own children are not executors
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C goes to the whole process group; the node decides
  load_pushed_code();
  int rc = run_executor(fd);
  shm_tracker_normal_end();  // the node closed its socket: a normal end
  std::_Exit(rc);
}

}  // namespace dpool::internal

namespace dpool::internal {

std::string call_from_task(calls::Op op, std::string args, const char* what) {
  if (!this_task::inside())
    throw Error(std::string(what) +
                " was called outside a task: only code that a pool runs on an executor (a task, "
                "or a pool's initializer) calls the coordinator this way");
  return g_executor->call(op, std::move(args));
}

}  // namespace dpool::internal

namespace dpool::this_task {

bool inside() noexcept {
  return internal::g_executor && internal::g_executor->in_task();
}

CurrentTask info() {
  auto answer =
      internal::call_from_task(internal::calls::Op::kTaskInfo, {}, "dpool::this_task::info()");
  CurrentTask t;
  try {
    detail::decode_into(answer, t);
  } catch (const std::exception& e) {
    throw SerializationError(std::string("the coordinator's answer about this task could not be "
                                         "read: ") +
                             e.what());
  }
  return t;
}

}  // namespace dpool::this_task
