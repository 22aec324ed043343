// Framing of the node <-> executor socketpair (a byte stream). A record is
//   u32 kind | u32 meta length | u64 payload length | meta | payload
// little-endian; meta is one wire struct, encoded (see RecordKind). Large
// payloads are read straight into their own buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace dpool::internal {

enum class RecordKind : std::uint32_t {
  kReady = 1,    // executor -> node: started; meta = wire::Result with pid
  kRun = 2,      // node -> executor: run a task; meta = wire::Task, payload = arguments
  kDone = 3,     // executor -> node: finished; meta = wire::Result, payload = result
  kInit = 4,     // node -> executor: run this initializer before any task
  kRequest = 5,  // executor -> node: a call to the coordinator; meta = wire::Request,
                 // payload = its argument
  kReply = 6,    // node -> executor: its answer; meta = wire::Reply, payload = the answer
  kOutput = 7,   // executor -> node: bytes written on stdout or stderr; meta = wire::Lines
};
constexpr std::uint32_t kMaxRecordKind = 7;

constexpr std::size_t kRecordHeaderBytes = 16;
// Payloads above this travel on their own: read in place into a buffer of
// their own, written without being copied into the outgoing batch.
constexpr std::size_t kLargeRecordBytes = 1 << 20;
constexpr std::uint32_t kMaxMetaBytes = 32u << 20;
constexpr std::uint64_t kMaxPayloadBytes = std::uint64_t{16} << 30;

// Owned bytes without zero-filling on allocation.
struct Blob {
  std::unique_ptr<char[]> data;
  std::size_t size = 0;
  std::size_t capacity = 0;
  static Blob allocate(std::size_t n);  // large ones with huge pages (detail::advise_huge_pages)
  std::string_view view() const { return {data.get(), size}; }
};

struct Record {
  RecordKind kind{};
  std::string meta;
  Blob payload;
};

void put_record_header(char* out, RecordKind kind, std::size_t meta, std::size_t payload);

// Reassembles records from a byte stream. Single-threaded.
class RecordReader {
 public:
  // Payloads above `max_payload` are a malformed record.
  explicit RecordReader(std::uint64_t max_payload = kMaxPayloadBytes);
  // Where the next read should go, and how much it may take.
  std::span<char> buffer();
  void commit(std::size_t n);
  // The next complete record; nullopt if more bytes are needed; an error for
  // a malformed header (the stream cannot be trusted after that).
  tl::expected<std::optional<Record>, std::string> next();
  // Hands back a record's payload once it is no longer needed. The most
  // recent large one is kept for the next large payload that fits, whose
  // pages are then already mapped.
  void recycle(Blob&& blob);

 private:
  std::uint64_t max_payload_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  std::optional<Record> partial_;  // large payload being read in place
  std::size_t filled_ = 0;
  Blob spare_;
};

}  // namespace dpool::internal
