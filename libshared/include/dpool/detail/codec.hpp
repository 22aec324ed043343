// Arguments and results travel as cereal portable binary. These helpers
// serialize into reused buffers and read from memory without copying it.
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <istream>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

namespace dpool::detail {

// Appends whatever is written to a string.
class StringSink : public std::streambuf {
 public:
  void reset(std::string* out) { out_ = out; }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_->push_back(static_cast<char>(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_->append(s, static_cast<std::size_t>(n));
    return n;
  }

 private:
  std::string* out_ = nullptr;
};

// Reads from a fixed region of memory.
class MemorySource : public std::streambuf {
 public:
  MemorySource() = default;
  explicit MemorySource(std::string_view bytes) { reset(bytes); }
  void reset(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());
    setg(p, p, p + bytes.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

// Serializes `values...` into `out` (appending) as one portable binary archive.
template <class... T>
void encode_into(std::string& out, const T&... values) {
  thread_local StringSink sink;
  thread_local std::ostream stream(&sink);
  sink.reset(&out);
  cereal::PortableBinaryOutputArchive ar(stream);
  ar(values...);
}

template <class... T>
std::string encode(const T&... values) {
  std::string out;
  encode_into(out, values...);
  return out;
}

// Reads `values...` back; throws (cereal::Exception, std::bad_alloc, ...) on bad input.
// The stream is reused per thread: building a std::istream costs more than
// decoding a small value.
template <class... T>
void decode_into(std::string_view bytes, T&... values) {
  thread_local MemorySource source;
  thread_local std::istream stream(&source);
  source.reset(bytes);
  stream.clear();
  cereal::PortableBinaryInputArchive ar(stream);
  ar(values...);
}

}  // namespace dpool::detail
