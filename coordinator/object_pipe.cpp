// What a hosted pipe (pool.pipe) does with its verbs: two ends, each with an
// inbox of framed messages; a receive parks until a message or the end of
// the stream comes; a poll parks until one of the ends it watches could
// receive. An end closes when no holder has it any more (each closed it, or
// is gone: the leases of object_store.cpp) and none is being handed on.
#include <algorithm>

#include "object_store.hpp"

namespace dpool::internal {

using detail::ObjectKind;
using detail::Verb;

namespace {

calls::ObjectAnswer yes(bool v, std::string bytes = {}) {
  calls::ObjectAnswer a;
  a.yes = v;
  a.bytes = std::move(bytes);
  return a;
}

}  // namespace

void ObjectStore::pipe(Object& o, PipeState& s, const Call& call) {
  auto& c = call.c;
  if (c.n > 1) return refuse(call, ErrorCode::kRefused, "a pipe has the ends 0 and 1 only");
  const int end = static_cast<int>(c.n);
  auto& me = s.ends[end];
  auto& peer = s.ends[1 - end];
  const bool duplex = o.param != 0;
  if (me.closed && c.verb != Verb::kRelease && c.verb != Verb::kWait)
    return refuse(call, ErrorCode::kRefused,
                  "Connection: this end of the pipe was closed (by every process that held it)");
  switch (c.verb) {
    case Verb::kShare:
      ++me.handed;
      return answer(call, yes(true));
    case Verb::kAdopt: {
      if (me.handed > 0) --me.handed;
      auto it = std::find_if(me.holders.begin(), me.holders.end(),
                             [&](auto& h) { return h.first.same_holder(call.who); });
      if (it == me.holders.end())
        me.holders.push_back({call.who, 1});
      else
        ++it->second;
      return answer(call, yes(true));
    }
    case Verb::kRelease: {
      auto it = std::find_if(me.holders.begin(), me.holders.end(),
                             [&](auto& h) { return h.first.same_holder(call.who); });
      if (it == me.holders.end()) return answer(call, yes(false));
      if (--it->second == 0) me.holders.erase(it);
      if (me.holders.empty() && me.handed == 0 && !me.closed) close_pipe_end(o, s, end);
      return answer(call, yes(true));
    }
    case Verb::kPut: {
      if (!duplex && end == 0)
        return refuse(call, ErrorCode::kRefused,
                      "Connection::send on the receiving end of a one-way pipe; send on the "
                      "other end");
      if (peer.closed)
        return refuse(call, ErrorCode::kRefused,
                      "Connection::send: the other end of the pipe is closed");
      if (!peer.receivers.empty()) {  // straight to the first waiting receive
        answer(take(peer.receivers.front()), yes(true, std::move(c.a)));
        return answer(call, yes(true));
      }
      if (!make_room(call, c.a.size())) return;
      account(o, static_cast<std::ptrdiff_t>(c.a.size()));
      peer.inbox.push_back(std::move(c.a));
      wake_watchers(peer);
      return answer(call, yes(true));
    }
    case Verb::kTake:
      if (!duplex && end == 1)
        return refuse(call, ErrorCode::kRefused,
                      "Connection::recv on the sending end of a one-way pipe; receive on the "
                      "other end");
      if (!me.inbox.empty()) {
        std::string item = std::move(me.inbox.front());
        me.inbox.pop_front();
        account(o, -static_cast<std::ptrdiff_t>(item.size()));
        return answer(call, yes(true, std::move(item)));
      }
      if (peer.closed) return answer(call, yes(false));  // the end of the stream
      if (c.timeout_ms == 0) {
        calls::ObjectAnswer a;
        a.timed_out = true;
        return answer(call, std::move(a));
      }
      park(call, me.receivers);
      return;
    case Verb::kWait:
      return pipe_wait(call);
    default:
      unknown_verb(call, o);
  }
}

void ObjectStore::pipe_wait(const Call& call) {
  auto& c = call.c;
  std::vector<calls::PipeEnd> ends;
  if (c.b.empty()) {
    ends.push_back({c.name, static_cast<std::uint8_t>(c.n)});
  } else {
    auto decoded = calls::decode_pipe_ends(c.b);
    if (!decoded || decoded->empty())
      return refuse(call, ErrorCode::kRefused, "a wait on pipe ends that cannot be decoded");
    ends = std::move(*decoded);
  }
  for (auto& e : ends) {
    auto it = objects_.find(e.name);
    if (it == objects_.end() || it->second.kind != ObjectKind::kPipe || e.end > 1)
      return refuse(call, ErrorCode::kRefused,
                    "dpool::wait: '" + e.name +
                        "' is no pipe end of this coordinator (its pool was closed?); wait "
                        "only on ends of pipes made by one pool's pool.pipe");
  }
  auto ready = pipe_readiness(ends);
  if (ready.find('1') != std::string::npos) return answer(call, yes(true, std::move(ready)));
  if (c.timeout_ms == 0) {
    calls::ObjectAnswer a;
    a.timed_out = true;
    return answer(call, std::move(a));
  }
  auto end_of = [&](const calls::PipeEnd& e) -> PipeState::End& {
    return std::get<PipeState>(objects_.at(e.name).state).ends[e.end];
  };
  WaitId id = park(call, end_of(ends.front()).watchers);
  for (std::size_t i = 1; i < ends.size(); ++i) {
    auto& watchers = end_of(ends[i]).watchers;
    if (std::find(watchers.begin(), watchers.end(), id) == watchers.end()) watchers.push_back(id);
  }
  parked_.at(id).watched = std::move(ends);
}

std::string ObjectStore::pipe_readiness(const std::vector<calls::PipeEnd>& ends) const {
  std::string ready;
  for (auto& e : ends) {
    auto it = objects_.find(e.name);
    const auto* s = it == objects_.end() ? nullptr : std::get_if<PipeState>(&it->second.state);
    if (!s || e.end > 1) {  // gone with its client: a receive would fail at once
      ready.push_back('1');
      continue;
    }
    auto& me = s->ends[e.end];
    bool now = !me.inbox.empty() || s->ends[1 - e.end].closed || me.closed;
    ready.push_back(now ? '1' : '0');
  }
  return ready;
}

void ObjectStore::wake_watchers(PipeState::End& e) {
  while (!e.watchers.empty()) {
    Waiter w = take(e.watchers.front());  // leaves every end it watched
    auto ready = pipe_readiness(w.watched);
    answer(w, yes(true, std::move(ready)));
  }
}

void ObjectStore::close_pipe_end(Object& o, PipeState& s, int end) {
  auto& me = s.ends[end];
  auto& peer = s.ends[1 - end];
  me.closed = true;
  me.holders.clear();
  // What was sent to it can no longer be read.
  for (auto& item : me.inbox) account(o, -static_cast<std::ptrdiff_t>(item.size()));
  me.inbox.clear();
  while (!me.receivers.empty())
    refuse(take(me.receivers.front()), ErrorCode::kRefused,
           "Connection::recv: the connection was closed while waiting in recv");
  wake_watchers(me);
  // The other end reads the end of the stream once its inbox is empty.
  while (!peer.receivers.empty()) answer(take(peer.receivers.front()), yes(false));
  wake_watchers(peer);
}

void ObjectStore::pipe_holders_gone(const Caller& holder, bool whole_peer) {
  auto matches = [&](const Caller& c) {
    return whole_peer ? c.peer == holder.peer : c.same_holder(holder);
  };
  for (auto& [name, o] : objects_) {
    auto* s = std::get_if<PipeState>(&o.state);
    if (!s) continue;
    for (int end = 0; end < 2; ++end) {
      auto& e = s->ends[end];
      auto before = e.holders.size();
      std::erase_if(e.holders, [&](auto& h) { return matches(h.first); });
      if (e.holders.size() == before || !e.holders.empty() || e.handed != 0 || e.closed) continue;
      events_.push_back({holder, "pipe '" + name + "'",
                         "end " + std::to_string(end) + " closed: every process holding it is gone",
                         false});
      close_pipe_end(o, *s, end);
    }
  }
}

}  // namespace dpool::internal
