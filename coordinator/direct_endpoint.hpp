// The coordinator's port for direct lines (sealed_line.hpp): clients'
// calls on hosted objects over TCP connections of their own, answered on the
// loop thread without ZeroMQ's I/O threads in between. The server issues a
// ticket over a client's authenticated connection; a line that does not
// open with a live ticket, or sends a frame that does not open, is closed
// and counted. A line carries one call at a time: a second before the first
// is answered is refused as hostile.
// Loop thread only, construction included; `io` outlives the endpoint.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "calls.hpp"
#include "rejections.hpp"
#include "scheduler.hpp"

namespace dpool::internal {

class DirectEndpoint {
 public:
  using Clock = std::chrono::steady_clock;
  struct Handlers {
    // A call (ObjectCall bytes) on line `line` of `client`; answer() it once.
    std::function<void(std::uint64_t line, PeerId client, std::string call)> call;
    // Line `line` of `client` closed with a call unanswered.
    std::function<void(std::uint64_t line, PeerId client)> abandoned;
  };

  // Listens on `host` (from the coordinator's tcp:// address; "*": every
  // interface), on a port the system picks. Throws Error if it cannot.
  DirectEndpoint(asio::io_context& io, const std::string& host, Handlers handlers);
  ~DirectEndpoint();
  DirectEndpoint(const DirectEndpoint&) = delete;
  DirectEndpoint& operator=(const DirectEndpoint&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // A ticket for one line of `client`, good for kTicketLife; none while
  // `client` holds kMaxTickets live ones it has not used (its calls then go
  // over its connection), so a client cannot grow this table without bound.
  std::optional<calls::DirectTicket> issue(PeerId client, Clock::time_point now);
  // The answer to the call in flight on `line`, if `line` is still open and
  // is `client`'s (an answer for any other peer is dropped).
  void answer(std::uint64_t line, PeerId client, const calls::DirectAnswer& answer);
  // `client` is gone: its lines close (their calls need no withdrawing: the
  // store forgot the client) and its tickets lapse.
  void client_gone(PeerId client);
  // Once per interval: the lines about refused lines not logged yet.
  std::vector<std::string> report() { return rejections_.report(); }
  std::uint64_t rejected() const noexcept { return rejections_.total(); }

  static constexpr auto kTicketLife = std::chrono::seconds(30);
  static constexpr auto kOpenTime = std::chrono::seconds(10);  // to send the ticket's id
  static constexpr std::size_t kMaxOpening = 64;               // lines not yet open
  static constexpr std::size_t kMaxTickets = 1024;             // unused, per client

 private:
  struct Line;
  void accept();
  void read_ticket(const std::shared_ptr<Line>& line);
  void read_frame(const std::shared_ptr<Line>& line);
  void write(const std::shared_ptr<Line>& line);
  // Closes the line, counting `why` as a refusal if not empty.
  void close(const std::shared_ptr<Line>& line, const std::string& why);
  // Counts a refusal of a line from address `from` and logs it (at the
  // bounded rate Rejections allows, per address).
  void count(const std::string& from, const std::string& why);

  struct Ticket {
    PeerId client = 0;
    std::string key;
    Clock::time_point expires;
  };

  asio::io_context& io_;
  Handlers handlers_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  using Tickets = std::unordered_map<std::uint64_t, Ticket>;
  // Forgets a ticket (used, lapsed or its client gone), keeping held_ in step.
  Tickets::iterator drop_ticket(Tickets::iterator it);

  Tickets tickets_;
  std::unordered_map<PeerId, std::size_t> held_;  // live tickets per client
  std::unordered_set<PeerId> held_too_many_;      // told so in the log already
  std::unordered_map<std::uint64_t, std::shared_ptr<Line>> lines_;
  std::uint64_t next_line_ = 1;
  std::size_t opening_ = 0;
  Rejections rejections_{{.subject = "direct line", .drop_after = 0}};
};

}  // namespace dpool::internal
