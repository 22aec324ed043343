// A client's calls on hosted objects (pool.manager(), pool.queue()) over
// direct lines (sealed_line.hpp): each user thread that makes such calls
// gets a TCP connection of its own to the coordinator and waits on it
// itself, so a call is one round trip between that thread and the
// coordinator's loop, with no I/O thread on either side. A thread's line
// lives until the thread ends, the calls are closed, or the line breaks.
//
// Lines are an optimisation: when the coordinator offers none or cannot be
// reached on its port, call() says so once (nullopt) and every call of this
// client then goes over its connection as before.
// Thread-safe; the ticket source runs on the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "calls.hpp"

namespace dpool::internal {

class DirectCalls {
 public:
  // A ticket asked for over the client's connection; nullopt when the
  // coordinator offers no direct lines. May throw what a call throws.
  using Tickets = std::function<std::optional<calls::DirectTicket>()>;

  // `coordinator`: the tcp:// address the client reached it at.
  DirectCalls(std::string coordinator, Tickets tickets, std::chrono::milliseconds connect_timeout);
  ~DirectCalls();  // breaks every line
  DirectCalls(const DirectCalls&) = delete;
  DirectCalls& operator=(const DirectCalls&) = delete;

  // The ObjectAnswer bytes for `request` (ObjectCall bytes), made on this
  // thread's line; nullopt when this client has no lines (the caller then
  // uses its connection). Throws ConnectionError when the line breaks
  // during the call, and what the answer's failure stands for.
  std::optional<std::string> call(const std::string& request);
  // Breaks every line: calls waiting on them throw ConnectionError(`why`),
  // and the next call on each thread opens a new line. Any thread.
  void break_all(const std::string& why);

  struct Line;

 private:
  std::shared_ptr<Line> line();  // this thread's, opened if needed; null: no lines
  std::shared_ptr<Line> open();

  const std::uint64_t serial_;  // tells this client's lines from others' in a thread
  std::string host_;
  Tickets tickets_;
  std::chrono::milliseconds connect_timeout_;
  std::mutex mu_;
  bool unavailable_;
  std::string broken_why_;
  std::vector<std::weak_ptr<Line>> lines_;
};

}  // namespace dpool::internal
