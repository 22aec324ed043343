#include "code_shelf.hpp"

#include <sodium.h>

#include <algorithm>

namespace dpool::internal {
namespace {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

}  // namespace

void CodeShelf::push(PeerId client, std::uint64_t request, calls::PushCall&& push,
                     const std::vector<std::pair<PeerId, std::string>>& nodes, TimePoint now) {
  auto seq = next_seq_++;
  if (auto old = libraries_.find(push.name); old != libraries_.end()) names_.erase(old->second.seq);
  auto& library = libraries_[push.name];
  library = Library{seq, sha256_hex(push.bytes), Payload::adopt(std::move(push.bytes))};
  names_[seq] = push.name;
  auto& p = pending_[seq];
  p.client = client;
  p.request = request;
  p.library = push.name;
  p.deadline = now + kAnswerWithin;
  for (auto& [node, name] : nodes) {
    p.waiting[node] = name;
    send(node, push.name, library);
  }
  settle(pending_.find(seq));
}

void CodeShelf::node_joined(PeerId node, const std::string& name) {
  for (auto& [file, library] : libraries_) {
    joined_[{node, library.seq}] = name;
    send(node, file, library);
  }
}

void CodeShelf::loaded(PeerId node, const wire::Loaded& answer) {
  if (auto j = joined_.find({node, answer.seq}); j != joined_.end()) {
    auto name = names_.find(answer.seq);
    events_.push_back(
        {j->second, name == names_.end() ? "?" : name->second, answer.loaded, answer.error});
    joined_.erase(j);
    return;
  }
  auto it = pending_.find(answer.seq);
  if (it == pending_.end()) return;  // answered already (its time was up)
  auto w = it->second.waiting.find(node);
  if (w == it->second.waiting.end()) return;
  it->second.answers.push_back({w->second, answer.loaded, answer.error});
  it->second.waiting.erase(w);
  settle(it);
}

void CodeShelf::node_left(PeerId node) {
  for (auto it = joined_.lower_bound({node, 0}); it != joined_.end() && it->first.first == node;)
    it = joined_.erase(it);
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    auto w = it->second.waiting.find(node);
    if (w != it->second.waiting.end()) {
      it->second.answers.push_back({w->second, false, "the node was lost before it answered"});
      it->second.waiting.erase(w);
      settle(it);
    }
    it = next;
  }
}

void CodeShelf::client_left(PeerId client) {
  for (auto& [seq, p] : pending_)
    if (p.client == client) p.client = 0;
}

void CodeShelf::expire(TimePoint now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    for (auto& [node, name] : it->second.waiting)
      it->second.answers.push_back(
          {name, false, "no answer within " + std::to_string(kAnswerWithin.count()) + " s"});
    answer(it->second);
    it = pending_.erase(it);
  }
}

std::optional<CodeShelf::TimePoint> CodeShelf::next_deadline() const {
  std::optional<TimePoint> next;
  for (auto& [seq, p] : pending_)
    if (!next || p.deadline < *next) next = p.deadline;
  return next;
}

void CodeShelf::send(PeerId node, const std::string& name, const Library& library) {
  wire::Message m{wire::Code{library.seq, name, library.digest}, {}};
  m.payloads.push_back(library.bytes.share());
  outbox_.push_back({node, std::move(m)});
}

void CodeShelf::answer(Pending& p) {
  if (!p.client) return;
  calls::PushAnswer a;
  a.nodes = std::move(p.answers);
  std::sort(a.nodes.begin(), a.nodes.end(),
            [](const PushResult& x, const PushResult& y) { return x.node < y.node; });
  wire::Reply reply;
  reply.id = p.request;
  wire::Message m{wire::Replies{{reply}}, {}};
  m.payloads.push_back(Payload::adopt(wire::encode_meta(a)));
  outbox_.push_back({p.client, std::move(m)});
}

void CodeShelf::settle(std::map<std::uint64_t, Pending>::iterator it) {
  if (!it->second.waiting.empty()) return;
  answer(it->second);
  pending_.erase(it);
}

}  // namespace dpool::internal
