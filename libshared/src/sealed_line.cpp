#include "sealed_line.hpp"

#include <sodium.h>

#include <array>
#include <dpool/errors.hpp>

namespace dpool::internal {
namespace {

static_assert(direct::kKeyBytes == crypto_aead_chacha20poly1305_IETF_KEYBYTES);
static_assert(direct::kSealBytes == crypto_aead_chacha20poly1305_IETF_ABYTES);

using Nonce = std::array<unsigned char, crypto_aead_chacha20poly1305_IETF_NPUBBYTES>;

Nonce nonce(direct::Direction d, std::uint64_t count) {
  Nonce n{};
  n[0] = static_cast<unsigned char>(d);
  for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<unsigned char>(count >> (8 * i));
  return n;
}

void start_sodium() {
  if (sodium_init() < 0) throw Error("libsodium could not be initialised");
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

namespace direct {

std::string random_bytes(std::size_t n) {
  start_sodium();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

std::uint32_t read_u32(const unsigned char* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

std::uint64_t read_u64(const unsigned char* p) {
  return std::uint64_t{read_u32(p)} | std::uint64_t{read_u32(p + 4)} << 32;
}

void append_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

std::string tcp_host(const std::string& address) {
  constexpr std::string_view kScheme = "tcp://";
  auto colon = address.rfind(':');
  if (!address.starts_with(kScheme) || colon == std::string::npos || colon < kScheme.size())
    return {};
  auto host = address.substr(kScheme.size(), colon - kScheme.size());
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

}  // namespace direct

Sealer::Sealer(std::string key, direct::Direction direction)
    : key_(std::move(key)), direction_(direction) {
  start_sodium();
}

void Sealer::seal(std::string_view plain, std::string& out) {
  auto sealed = static_cast<std::uint32_t>(plain.size() + direct::kSealBytes);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(sealed >> (8 * i)));
  auto at = out.size();
  out.resize(at + sealed);
  auto n = nonce(direction_, count_++);
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data() + at),
                                            &written, bytes(plain), plain.size(), nullptr, 0,
                                            nullptr, n.data(), bytes(key_));
}

Opener::Opener(std::string key, direct::Direction direction)
    : key_(std::move(key)), direction_(direction) {
  start_sodium();
}

std::optional<std::string> Opener::open(std::string_view sealed) {
  if (sealed.size() < direct::kSealBytes) return std::nullopt;
  std::string plain(sealed.size() - direct::kSealBytes, '\0');
  auto n = nonce(direction_, count_);
  unsigned long long written = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain.data()),
                                                &written, nullptr, bytes(sealed), sealed.size(),
                                                nullptr, 0, n.data(), bytes(key_)) != 0)
    return std::nullopt;
  ++count_;
  return plain;
}

}  // namespace dpool::internal
