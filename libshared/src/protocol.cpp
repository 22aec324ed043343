#include "protocol.hpp"

#include <cstring>
#include <dpool/detail/codec.hpp>

// No cereal class versions: the header frame carries the protocol version, and
// a versioned type costs a hash-table insert per archive.

namespace dpool::internal::wire {
namespace {

struct BadBody : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class Ar>
void check_count(Ar& ar, std::uint32_t n, std::uint32_t max, const char* unit_name) {
  // Every element takes at least one byte, so a count above what is left is a lie.
  if (n > max || n > ar.remaining())
    throw BadBody(std::string(unit_name) + std::to_string(n) +
                  (unit_name[0] == 's' ? " bytes" : " items"));
}

// Strings and vectors carry a u32 count checked before any allocation, so a
// hostile count cannot make us allocate more than the body could hold.
template <class Ar>
void text(Ar& ar, std::string& s, std::uint32_t max) {
  std::uint32_t n = static_cast<std::uint32_t>(s.size());
  ar(n);
  if constexpr (Ar::is_loading::value) {
    check_count(ar, n, max, "string of ");
    s.resize(n);
  }
  if (n) ar(cereal::binary_data(s.data(), n));
}

template <class Ar, class T>
void list(Ar& ar, std::vector<T>& v, std::uint32_t max) {
  std::uint32_t n = static_cast<std::uint32_t>(v.size());
  ar(n);
  if constexpr (Ar::is_loading::value) {
    check_count(ar, n, max, "list of ");
    v.resize(n);
  }
  for (auto& x : v) ar(x);
}

template <class E>
auto to_int(E e) {
  return static_cast<std::underlying_type_t<E>>(e);
}

}  // namespace

template <class Ar>
void serialize(Ar& ar, PoolSettings& m) {
  ar(m.key);
  text(ar, m.init_name, kMaxName);
  ar(m.init_fingerprint);
  text(ar, m.init_args, kMaxText);
  ar(m.max_tasks_per_child);
}
template <class Ar>
void serialize(Ar& ar, Hello& m) {
  auto role = to_int(m.role);
  ar(role);
  m.role = static_cast<Role>(role);
  text(ar, m.name, kMaxName);
  ar(m.pid, m.executors, m.slots, m.instance);
  serialize(ar, m.pool);
}
template <class Ar>
void serialize(Ar& ar, Welcome& m) {
  ar(m.instance);
  text(ar, m.name, kMaxName);
  ar(m.executors, m.heartbeat_ms);
}
template <class Ar>
void serialize(Ar& ar, Reject& m) {
  text(ar, m.reason, kMaxText);
}
template <class Ar>
void serialize(Ar& ar, Task& m) {
  ar(m.id);
  text(ar, m.name, kMaxName);
  ar(m.fingerprint, m.chunk, m.attempt, m.timeout_ms, m.retries, m.priority, m.pool);
}
template <class Ar>
void serialize(Ar& ar, TaskBatch& m) {
  list(ar, m.tasks, kMaxBatch);
  list(ar, m.pools, kMaxBatch);
}
template <class Ar>
void serialize(Ar& ar, Result& m) {
  auto code = to_int(m.failure.code);
  ar(m.id, code);
  m.failure.code = static_cast<ErrorCode>(code);
  text(ar, m.failure.type, kMaxName);
  text(ar, m.failure.message, kMaxText);
  ar(m.failure.signal, m.failure.exit_code);
  text(ar, m.node, kMaxName);
  ar(m.pid, m.attempts, m.started_us, m.finished_us);
}
template <class Ar>
void serialize(Ar& ar, ResultBatch& m) {
  list(ar, m.results, kMaxBatch);
}
template <class Ar>
void serialize(Ar& ar, Cancel& m) {
  ar(m.request);
  list(ar, m.ids, kMaxBatch);
  ar(m.all, m.kill_running);
}
template <class Ar>
void serialize(Ar& ar, Credit& m) {
  ar(m.slots, m.executors);
}
template <class Ar>
void serialize(Ar& ar, Status& m) {
  ar(m.executors, m.nodes);
}
template <class Ar>
void serialize(Ar&, Heartbeat&) {}
template <class Ar>
void serialize(Ar& ar, Bye& m) {
  text(ar, m.reason, kMaxText);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kHello:
      return "HELLO";
    case Kind::kWelcome:
      return "WELCOME";
    case Kind::kReject:
      return "REJECT";
    case Kind::kSubmit:
      return "SUBMIT";
    case Kind::kDispatch:
      return "DISPATCH";
    case Kind::kResult:
      return "RESULT";
    case Kind::kDeliver:
      return "DELIVER";
    case Kind::kCancel:
      return "CANCEL";
    case Kind::kCredit:
      return "CREDIT";
    case Kind::kHeartbeat:
      return "HEARTBEAT";
    case Kind::kBye:
      return "BYE";
    case Kind::kStatus:
      return "STATUS";
  }
  return "UNKNOWN";
}

namespace {

// Which body struct each kind carries; -1 for unknown kinds.
int body_index(Kind k) {
  switch (k) {
    case Kind::kHello:
      return 0;
    case Kind::kWelcome:
      return 1;
    case Kind::kReject:
      return 2;
    case Kind::kSubmit:
    case Kind::kDispatch:
      return 3;
    case Kind::kResult:
    case Kind::kDeliver:
      return 4;
    case Kind::kCancel:
      return 5;
    case Kind::kCredit:
      return 6;
    case Kind::kStatus:
      return 7;
    case Kind::kHeartbeat:
      return 8;
    case Kind::kBye:
      return 9;
  }
  return -1;
}

std::size_t payloads_expected(const Body& body) {
  if (auto* b = std::get_if<TaskBatch>(&body)) return b->tasks.size();
  if (auto* b = std::get_if<ResultBatch>(&body)) return b->results.size();
  return 0;
}

template <std::size_t I = 0>
void load_alternative(std::size_t index, Body& body, detail::BufferInputArchive& ar) {
  if constexpr (I < std::variant_size_v<Body>) {
    if (index == I) {
      auto& v = body.emplace<I>();
      ar(v);
      return;
    }
    load_alternative<I + 1>(index, body, ar);
  }
}

void put_u16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}
std::uint16_t get_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}

}  // namespace

std::string version_mismatch(std::uint16_t theirs) {
  return "protocol version " + std::to_string(theirs) + " is not supported: this peer speaks " +
         "protocol version " + std::to_string(kVersion) +
         "; run the same dpool release on every client, coordinator and node";
}

Frames encode(Kind kind, const Body& body, Frames&& payloads) {
  Frames frames;
  frames.reserve(2 + payloads.size());
  char header[kHeaderBytes];
  std::uint32_t magic = kMagic;
  for (int i = 0; i < 4; ++i) header[i] = static_cast<char>((magic >> (8 * i)) & 0xff);
  put_u16(header + 4, kVersion);
  put_u16(header + 6, static_cast<std::uint16_t>(kind));
  frames.emplace_back(header, kHeaderBytes);
  thread_local std::string scratch;
  scratch.clear();
  std::visit([&](const auto& m) { detail::encode_into(scratch, m); }, body);
  frames.emplace_back(scratch.data(), scratch.size());
  for (auto& p : payloads) frames.push_back(std::move(p));
  return frames;
}

tl::expected<Message, DecodeError> decode(Frames&& frames) {
  using R = DecodeError::Reason;
  if (frames.size() < 2)
    return tl::unexpected(DecodeError{R::kFrameCount, std::to_string(frames.size()) + " frame(s)"});
  const auto& h = frames[0];
  if (h.size() != kHeaderBytes)
    return tl::unexpected(
        DecodeError{R::kBadHeader, "header of " + std::to_string(h.size()) + " bytes"});
  auto* p = static_cast<const unsigned char*>(h.data());
  std::uint32_t magic = p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  if (magic != kMagic) return tl::unexpected(DecodeError{R::kBadMagic, "bad magic"});
  std::uint16_t version = get_u16(p + 4);
  auto kind = static_cast<Kind>(get_u16(p + 6));
  // REJECT's body is pinned across versions, so a refused peer can read why.
  if (version != kVersion && kind != Kind::kReject)
    return tl::unexpected(DecodeError{R::kBadVersion, version_mismatch(version), version});
  int index = body_index(kind);
  if (index < 0)
    return tl::unexpected(
        DecodeError{R::kBadKind, "unknown kind " + std::to_string(get_u16(p + 6))});
  if (frames[1].size() > kMaxBodyBytes)
    return tl::unexpected(DecodeError{R::kBadBody, "oversized body"});
  Message m;
  m.kind = kind;
  try {
    detail::BufferInputArchive ar(
        std::string_view(static_cast<const char*>(frames[1].data()), frames[1].size()));
    load_alternative(static_cast<std::size_t>(index), m.body, ar);
  } catch (const std::exception& e) {
    return tl::unexpected(
        DecodeError{R::kBadBody, std::string(kind_name(kind)) + " body: " + e.what()});
  }
  if (payloads_expected(m.body) != frames.size() - 2)
    return tl::unexpected(DecodeError{
        R::kFrameCount, std::string(kind_name(kind)) + " declares " +
                            std::to_string(payloads_expected(m.body)) + " payloads but carries " +
                            std::to_string(frames.size() - 2)});
  m.payloads.reserve(frames.size() - 2);
  for (std::size_t i = 2; i < frames.size(); ++i) m.payloads.push_back(std::move(frames[i]));
  return m;
}

namespace {
template <class T>
tl::expected<T, std::string> decode_one(std::string_view bytes) {
  try {
    T value;
    detail::BufferInputArchive ar(bytes);
    ar(value);
    return value;
  } catch (const std::exception& e) {
    return tl::unexpected(std::string(e.what()));
  }
}
}  // namespace

std::string encode_meta(const Task& task) {
  return detail::encode(task);
}
std::string encode_meta(const Result& result) {
  return detail::encode(result);
}
tl::expected<Task, std::string> decode_task(std::string_view b) {
  return decode_one<Task>(b);
}
tl::expected<Result, std::string> decode_result(std::string_view b) {
  return decode_one<Result>(b);
}

}  // namespace dpool::internal::wire
