#include "protocol.hpp"

#include <array>
#include <cstring>

// No cereal class versions: the header frame carries the protocol version, and
// a versioned type costs a hash-table insert per archive.

namespace dpool::internal::wire {
namespace {

// Kind numbers are unique, so a number read off the wire names one struct.
template <std::size_t... I>
constexpr bool numbers_unique(std::index_sequence<I...>) {
  std::array<std::uint16_t, sizeof...(I)> n{std::variant_alternative_t<I, Body>::kKind.number...};
  for (std::size_t a = 0; a < n.size(); ++a)
    for (std::size_t b = a + 1; b < n.size(); ++b)
      if (n[a] == n[b]) return false;
  return true;
}
static_assert(numbers_unique(std::make_index_sequence<std::variant_size_v<Body>>{}),
              "two message kinds share a number");

template <std::size_t... I>
constexpr std::array<const KindInfo*, sizeof...(I)> kind_table(std::index_sequence<I...>) {
  return {&std::variant_alternative_t<I, Body>::kKind...};
}
constexpr auto kKinds = kind_table(std::make_index_sequence<std::variant_size_v<Body>>{});

// The variant index of a kind number, or -1.
int index_of(std::uint16_t number) {
  for (std::size_t i = 0; i < kKinds.size(); ++i)
    if (kKinds[i]->number == number) return static_cast<int>(i);
  return -1;
}

template <std::size_t I = 0>
void load_alternative(std::size_t index, Body& body, detail::BufferInputArchive& ar) {
  if constexpr (I < std::variant_size_v<Body>) {
    if (index == I) {
      ar(body.emplace<I>());
      return;
    }
    load_alternative<I + 1>(index, body, ar);
  }
}

std::size_t payloads_expected(const Body& body) {
  return std::visit(
      [](const auto& b) -> std::size_t {
        if constexpr (requires { b.payload_count(); })
          return b.payload_count();
        else
          return 0;
      },
      body);
}

void put_u16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}
std::uint16_t get_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}

}  // namespace

const KindInfo& Message::kind() const noexcept {
  return *kKinds[body.index()];
}

const KindInfo* find_kind(std::uint16_t number) noexcept {
  int i = index_of(number);
  return i < 0 ? nullptr : kKinds[static_cast<std::size_t>(i)];
}

std::string version_mismatch(std::uint16_t theirs) {
  return "protocol version " + std::to_string(theirs) + " is not supported: this peer speaks " +
         "protocol version " + std::to_string(kVersion) +
         "; run the same dpool release on every client, coordinator and node";
}

Payloads encode(Message&& m) {
  Payloads frames;
  frames.reserve(2 + m.payloads.size());
  char header[kHeaderBytes];
  std::uint32_t magic = kMagic;
  for (int i = 0; i < 4; ++i) header[i] = static_cast<char>((magic >> (8 * i)) & 0xff);
  put_u16(header + 4, kVersion);
  put_u16(header + 6, m.kind().number);
  frames.emplace_back(std::string_view(header, kHeaderBytes));
  thread_local std::string scratch;
  scratch.clear();
  std::visit([&](const auto& b) { detail::encode_into(scratch, b); }, m.body);
  frames.emplace_back(std::string_view(scratch));
  for (auto& p : m.payloads) frames.push_back(std::move(p));
  return frames;
}

tl::expected<Message, DecodeError> decode(Payloads&& frames) {
  using R = DecodeError::Reason;
  if (frames.size() < 2)
    return tl::unexpected(DecodeError{R::kFrameCount, std::to_string(frames.size()) + " frame(s)"});
  const auto& h = frames[0];
  if (h.size() != kHeaderBytes)
    return tl::unexpected(
        DecodeError{R::kBadHeader, "header of " + std::to_string(h.size()) + " bytes"});
  auto* p = reinterpret_cast<const unsigned char*>(h.data());
  std::uint32_t magic = p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  if (magic != kMagic) return tl::unexpected(DecodeError{R::kBadMagic, "bad magic"});
  std::uint16_t version = get_u16(p + 4);
  std::uint16_t number = get_u16(p + 6);
  // REJECT's body is pinned across versions, so a refused peer can read why.
  if (version != kVersion && number != Reject::kKind.number)
    return tl::unexpected(DecodeError{R::kBadVersion, version_mismatch(version), version});
  int index = index_of(number);
  if (index < 0)
    return tl::unexpected(DecodeError{R::kBadKind, "unknown kind " + std::to_string(number)});
  const char* name = kKinds[static_cast<std::size_t>(index)]->name;
  if (frames[1].size() > kMaxBodyBytes)
    return tl::unexpected(DecodeError{R::kBadBody, "oversized body"});
  Message m;
  try {
    detail::BufferInputArchive ar(frames[1].view());
    load_alternative(static_cast<std::size_t>(index), m.body, ar);
  } catch (const std::exception& e) {
    return tl::unexpected(DecodeError{R::kBadBody, std::string(name) + " body: " + e.what()});
  }
  if (payloads_expected(m.body) != frames.size() - 2)
    return tl::unexpected(DecodeError{
        R::kFrameCount, std::string(name) + " declares " +
                            std::to_string(payloads_expected(m.body)) + " payloads but carries " +
                            std::to_string(frames.size() - 2)});
  m.payloads.reserve(frames.size() - 2);
  for (std::size_t i = 2; i < frames.size(); ++i) m.payloads.push_back(std::move(frames[i]));
  return m;
}

}  // namespace dpool::internal::wire
