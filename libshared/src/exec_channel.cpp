#include "exec_channel.hpp"

#include <cstring>
#include <dpool/detail/codec.hpp>
#include <new>
#include <utility>

namespace dpool::internal {
namespace {

constexpr std::size_t kChunk = 256 * 1024;

void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_le(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

void put_record_header(char* out, RecordKind kind, std::size_t meta, std::size_t payload) {
  put_u32(out, static_cast<std::uint32_t>(kind));
  put_u32(out + 4, static_cast<std::uint32_t>(meta));
  put_u64(out + 8, payload);
}

Blob Blob::allocate(std::size_t n) {
  Blob b{std::make_unique_for_overwrite<char[]>(n), n, n};
  detail::advise_huge_pages(b.data.get(), n);
  return b;
}

void RecordReader::recycle(Blob&& blob) {
  if (blob.data && blob.capacity > kLargeRecordBytes) spare_ = std::exchange(blob, Blob{});
}

RecordReader::RecordReader(std::uint64_t max_payload) : max_payload_(max_payload), buf_(kChunk) {}

std::span<char> RecordReader::buffer() {
  if (partial_) return {partial_->payload.data.get() + filled_, partial_->payload.size - filled_};
  if (begin_ == end_) begin_ = end_ = 0;
  if (buf_.size() - end_ < kChunk / 4) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (buf_.size() - end_ < kChunk / 4) buf_.resize(buf_.size() * 2);
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void RecordReader::commit(std::size_t n) {
  if (partial_)
    filled_ += n;
  else
    end_ += n;
}

tl::expected<std::optional<Record>, std::string> RecordReader::next() {
  if (partial_) {
    if (filled_ < partial_->payload.size) return std::nullopt;
    auto r = std::move(*partial_);
    partial_.reset();
    return r;
  }
  std::size_t avail = end_ - begin_;
  if (avail < kRecordHeaderBytes) return std::nullopt;
  const char* h = buf_.data() + begin_;
  auto kind = static_cast<std::uint32_t>(get_le(h, 4));
  auto meta = static_cast<std::uint32_t>(get_le(h + 4, 4));
  auto payload = get_le(h + 8, 8);
  if (kind < 1 || kind > kMaxRecordKind)
    return tl::unexpected("unknown record kind " + std::to_string(kind));
  if (meta > kMaxMetaBytes) return tl::unexpected(std::string("oversized record meta"));
  if (payload > max_payload_) return tl::unexpected(std::string("oversized record payload"));
  std::size_t head = kRecordHeaderBytes + meta;
  if (avail < head) {
    if (buf_.size() - begin_ < head) buf_.resize(begin_ + head + kChunk);
    return std::nullopt;
  }
  bool direct = payload > kLargeRecordBytes;
  if (!direct && avail < head + payload) {
    if (buf_.size() - begin_ < head + payload) buf_.resize(begin_ + head + payload + kChunk);
    return std::nullopt;
  }
  Record r;
  r.kind = static_cast<RecordKind>(kind);
  r.meta.assign(h + kRecordHeaderBytes, meta);
  if (direct && spare_.capacity >= payload) {
    r.payload = std::exchange(spare_, Blob{});
    r.payload.size = payload;
  } else {
    try {
      r.payload = Blob::allocate(payload);
    } catch (const std::bad_alloc&) {
      return tl::unexpected("no memory for a record payload of " + std::to_string(payload) +
                            " bytes");
    }
  }
  std::size_t have = std::min<std::size_t>(payload, avail - head);
  if (have) std::memcpy(r.payload.data.get(), h + head, have);
  begin_ += head + have;
  if (have == payload) return r;
  partial_ = std::move(r);
  filled_ = have;
  return std::nullopt;
}

}  // namespace dpool::internal
