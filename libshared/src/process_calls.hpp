// How a local dpool::Process reaches the Manager and the pool queues and
// pipes of its program's pool: its parent relays its calls. The parent makes
// a socketpair per Process it starts while it has a Pool, and gives the
// child one end with the start record (process_start.hpp); the child's calls
// go over it, and the parent's CallRelay passes each to its pool's
// coordinator on behalf of the child's pid, so that the leases, waits and
// pipe ends of the child end when it does. On the socket, little-endian:
//   call:   u64 id | u32 length | ObjectCall bytes
//   answer: u64 id | u16 error code | u32 length | message | u32 length | ObjectAnswer bytes
#pragma once

#include <cstdint>
#include <dpool/detail/hosted.hpp>
#include <memory>

namespace dpool::internal {

class ClientSession;

// The pools of this program, newest last: a Pool adds its session when it
// is made and removes it when it is destroyed. Thread-safe.
void add_program_pool(const std::shared_ptr<ClientSession>& session);
void remove_program_pool(const ClientSession* session);
// The newest pool of this program that is still open, or nullptr.
std::shared_ptr<ClientSession> program_pool();

// The parent's side for one child: a thread that reads the child's calls
// from `fd` (which it owns), makes them through `session` for `pid`, and
// writes the answers back; when the child's end closes (it exited) it tells
// the coordinator that the pid is gone. The session's loop thread never
// blocks on the socket. Made and destroyed by the thread that owns the
// Process.
class CallRelay {
 public:
  CallRelay(std::shared_ptr<ClientSession> session, int fd);
  ~CallRelay();  // after the child exited: reports it gone (once) and joins the thread
  CallRelay(const CallRelay&) = delete;
  CallRelay& operator=(const CallRelay&) = delete;
  void start(std::uint32_t pid);  // the child's pid, once it is started

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

// The child's side: from now on, calls of this process (this_task::manager()
// and the hosted handles it is given) go over `fd` (owned) to its parent.
void use_parent_channel(int fd);
// That channel, or nullptr in a process that has none.
std::shared_ptr<detail::CallChannel> parent_channel();

}  // namespace dpool::internal
