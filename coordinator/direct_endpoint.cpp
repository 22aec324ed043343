#include "direct_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <deque>
#include <dpool/errors.hpp>

#include "sealed_line.hpp"

namespace dpool::internal {

using asio::ip::tcp;

struct DirectEndpoint::Line {
  explicit Line(asio::io_context& io, std::uint64_t id) : id(id), socket(io), opening(io) {}
  std::uint64_t id;
  tcp::socket socket;
  asio::steady_timer opening;  // until the ticket's id arrives
  std::string from;            // the peer's address, for lines
  PeerId client = 0;           // once open
  std::optional<Opener> in;
  std::optional<Sealer> out;
  unsigned char head[direct::kTicketBytes]{};
  std::string body;
  bool in_flight = false;  // a call waits for its answer
  bool closed = false;
  std::deque<std::string> writes;  // the front one is being written
};

DirectEndpoint::DirectEndpoint(asio::io_context& io, const std::string& host, Handlers handlers)
    : io_(io), handlers_(std::move(handlers)), acceptor_(io) {
  try {
    tcp::resolver resolver(io);
    bool any = host.empty() || host == "*";
    auto found = resolver.resolve(any ? "0.0.0.0" : host, "0", tcp::resolver::passive);
    tcp::endpoint at = *found.begin();
    acceptor_.open(at.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(at);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
  } catch (const std::exception& e) {
    throw Error("the coordinator could not listen for direct lines on " + host + ": " + e.what());
  }
  accept();
}

DirectEndpoint::~DirectEndpoint() {
  asio::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [id, line] : lines_) {
    line->closed = true;
    line->opening.cancel();
    line->socket.close(ignored);
  }
}

DirectEndpoint::Tickets::iterator DirectEndpoint::drop_ticket(Tickets::iterator it) {
  if (auto h = held_.find(it->second.client); h != held_.end() && --h->second == 0) held_.erase(h);
  return tickets_.erase(it);
}

std::optional<calls::DirectTicket> DirectEndpoint::issue(PeerId client, Clock::time_point now) {
  for (auto it = tickets_.begin(); it != tickets_.end();)
    it = it->second.expires <= now ? drop_ticket(it) : std::next(it);
  auto& held = held_[client];
  if (held >= kMaxTickets) {
    if (held_too_many_.insert(client).second)
      spdlog::warn(
          "coordinator: a client holds {} direct-line tickets it has not used; it gets "
          "no more until it uses them, and its Manager calls go over its connection",
          kMaxTickets);
    return std::nullopt;
  }
  ++held;
  calls::DirectTicket t;
  auto id = direct::random_bytes(direct::kTicketBytes);
  t.id = direct::read_u64(reinterpret_cast<const unsigned char*>(id.data()));
  t.port = port_;
  t.key = direct::random_bytes(direct::kKeyBytes);
  tickets_[t.id] = Ticket{client, t.key, now + kTicketLife};
  return t;
}

void DirectEndpoint::accept() {
  auto line = std::make_shared<Line>(io_, next_line_++);
  acceptor_.async_accept(line->socket, [this, line](const asio::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      asio::error_code e2;
      auto remote = line->socket.remote_endpoint(e2);
      line->from = e2 ? std::string("?") : remote.address().to_string();
      if (opening_ >= kMaxOpening) {
        line->closed = true;
        count(line->from, "one beyond " + std::to_string(kMaxOpening) + " not yet open");
        line->socket.close(e2);
      } else {
        line->socket.set_option(tcp::no_delay(true), e2);
        ++opening_;
        lines_.emplace(line->id, line);
        line->opening.expires_after(kOpenTime);
        line->opening.async_wait([this, line](const asio::error_code& e) {
          if (!e && !line->closed && line->client == 0)
            close(line, "no ticket within " + std::to_string(kOpenTime.count()) + " s");
        });
        read_ticket(line);
      }
    }
    accept();
  });
}

void DirectEndpoint::read_ticket(const std::shared_ptr<Line>& line) {
  asio::async_read(line->socket, asio::buffer(line->head, direct::kTicketBytes),
                   [this, line](const asio::error_code& ec, std::size_t) {
                     if (line->closed) return;
                     if (ec) return close(line, "closed before it showed a ticket");
                     auto it = tickets_.find(direct::read_u64(line->head));
                     if (it == tickets_.end() || it->second.expires <= Clock::now())
                       return close(line, "a ticket that is unknown, used or expired");
                     --opening_;
                     line->opening.cancel();
                     line->client = it->second.client;
                     line->in.emplace(it->second.key, direct::Direction::kToCoordinator);
                     line->out.emplace(it->second.key, direct::Direction::kToClient);
                     drop_ticket(it);
                     read_frame(line);
                   });
}

void DirectEndpoint::read_frame(const std::shared_ptr<Line>& line) {
  asio::async_read(line->socket, asio::buffer(line->head, direct::kLengthBytes),
                   [this, line](const asio::error_code& ec, std::size_t) {
                     if (line->closed) return;
                     if (ec) return close(line, "");  // the client closed it
                     auto n = direct::read_u32(line->head);
                     if (n > direct::kMaxCallFrame || n < direct::kSealBytes)
                       return close(line, "a frame of " + std::to_string(n) + " bytes");
                     line->body.resize(n);
                     asio::async_read(
                         line->socket, asio::buffer(line->body),
                         [this, line](const asio::error_code& ec, std::size_t) {
                           if (line->closed) return;
                           if (ec) return close(line, "");
                           auto plain = line->in->open(line->body);
                           if (!plain)
                             return close(line, "a frame that does not open with its ticket's key");
                           if (line->in_flight)
                             return close(line, "a second call before the first's answer");
                           line->in_flight = true;
                           std::string().swap(line->body);
                           handlers_.call(line->id, line->client, std::move(*plain));
                           if (!line->closed) read_frame(line);
                         });
                   });
}

void DirectEndpoint::answer(std::uint64_t id, PeerId client, const calls::DirectAnswer& answer) {
  auto it = lines_.find(id);
  if (it == lines_.end()) return;
  auto& line = it->second;
  if (line->client != client || !line->in_flight) return;
  line->in_flight = false;
  std::string frame;
  line->out->seal(wire::encode_meta(answer), frame);
  line->writes.push_back(std::move(frame));
  if (line->writes.size() == 1) write(line);
}

void DirectEndpoint::write(const std::shared_ptr<Line>& line) {
  asio::async_write(line->socket, asio::buffer(line->writes.front()),
                    [this, line](const asio::error_code& ec, std::size_t) {
                      if (line->closed) return;
                      if (ec) return close(line, "");
                      line->writes.pop_front();
                      if (!line->writes.empty()) write(line);
                    });
}

void DirectEndpoint::client_gone(PeerId client) {
  for (auto it = tickets_.begin(); it != tickets_.end();)
    it = it->second.client == client ? drop_ticket(it) : std::next(it);
  held_too_many_.erase(client);
  std::vector<std::shared_ptr<Line>> theirs;
  for (auto& [id, line] : lines_)
    if (line->client == client) theirs.push_back(line);
  for (auto& line : theirs) {
    line->in_flight = false;  // the store has forgotten the client's calls
    close(line, "");
  }
}

void DirectEndpoint::close(const std::shared_ptr<Line>& line, const std::string& why) {
  if (line->closed) return;
  line->closed = true;
  if (line->client == 0) --opening_;
  if (!why.empty()) count(line->from, why);
  asio::error_code ignored;
  line->opening.cancel();
  line->socket.close(ignored);
  lines_.erase(line->id);
  if (line->in_flight && handlers_.abandoned) handlers_.abandoned(line->id, line->client);
}

void DirectEndpoint::count(const std::string& from, const std::string& why) {
  auto verdict = rejections_.refuse(std::hash<std::string>{}(from), from, why);
  if (!verdict.line.empty()) spdlog::warn("coordinator: {}", verdict.line);
}

}  // namespace dpool::internal
