// Arguments and results travel as the bytes cereal's PortableBinary archives
// produce on a little-endian machine: a one-byte "little-endian" flag, then
// every arithmetic value little-endian at its fixed width, container sizes as
// u64. Two small cereal archives of our own write that format straight into a
// std::string and read it from a (pointer, length), without the iostream
// machinery of cereal's archives: no stream to build per call or keep per
// thread, no virtual streambuf call per value. Keeping PortableBinary's exact
// bytes means code that still decodes with cereal's own archive reads what
// these archives write.
//
// Decoding is safe on hostile input: every read is bounds-checked, and a
// container's size is checked against the bytes left before anything is
// allocated for it.
#pragma once

#include <bit>
#include <cereal/cereal.hpp>
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
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <dpool/export.hpp>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// Values are copied to and from the buffers as they lie in memory. dpool runs
// on x86-64 and aarch64 only; a big-endian port would need byte swaps here.
static_assert(std::endian::native == std::endian::little,
              "dpool's codec writes values in native byte order, which must be little-endian");

namespace dpool::detail {

// PortableBinary's first byte: 1 when the values that follow are little-endian.
inline constexpr char kLittleEndianFlag = 1;

// A container of elements that encode to no bytes at all (empty classes) may
// claim any count without the input being any longer, so its count has a cap
// of its own instead of the bytes left.
inline constexpr std::uint64_t kMaxBytelessElements = std::uint64_t{1} << 24;

// Appends an archive to a std::string.
class BufferOutputArchive
    : public cereal::OutputArchive<BufferOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit BufferOutputArchive(std::string& out) : OutputArchive(this), out_(out) {
    out_.push_back(kLittleEndianFlag);
  }

  void write(const void* data, std::size_t n) { out_.append(static_cast<const char*>(data), n); }
  // A container size, as cereal's size tag writes it.
  void write_count(std::size_t n) {
    const auto v = static_cast<std::uint64_t>(n);
    write(&v, sizeof v);
  }
  // Grows the buffer by `n` bytes and returns where they start, so that a
  // block of values can be stored without one append per value.
  char* extend(std::size_t n) {
    const std::size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
  }

 private:
  std::string& out_;
};

// Reads an archive from memory it does not own; the memory must outlive it.
// Throws cereal::Exception when the input ends early or is implausible.
class BufferInputArchive
    : public cereal::InputArchive<BufferInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit BufferInputArchive(std::string_view bytes)
      : InputArchive(this), pos_(bytes.data()), end_(bytes.data() + bytes.size()) {
    char flag = 0;
    read(&flag, 1);
    if (flag != kLittleEndianFlag)
      throw cereal::Exception("the data is not marked little-endian (first byte " +
                              std::to_string(static_cast<unsigned char>(flag)) + ")");
  }

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }

  // The next `n` bytes, consumed.
  const char* take(std::size_t n) {
    if (n > remaining()) truncated(n);
    const char* p = pos_;
    pos_ += n;
    return p;
  }
  void read(void* data, std::size_t n) {
    const char* p = take(n);
    if (n) std::memcpy(data, p, n);
  }
  // A container size, checked against what is left: each element takes at
  // least `min_element_bytes`, so a larger count cannot be true, and refusing
  // it here keeps a hostile count from reaching an allocation.
  std::size_t read_count(std::size_t min_element_bytes) {
    std::uint64_t n = 0;
    read(&n, sizeof n);
    if (min_element_bytes == 0 ? n > kMaxBytelessElements : n > remaining() / min_element_bytes)
      throw cereal::Exception("a size of " + std::to_string(n) + " elements does not fit in the " +
                              std::to_string(remaining()) + " bytes left");
    return static_cast<std::size_t>(n);
  }

 private:
  [[noreturn]] void truncated(std::size_t n) const {
    throw cereal::Exception("the data ends early: " + std::to_string(n) + " bytes needed, " +
                            std::to_string(remaining()) + " left");
  }

  const char* pos_;
  const char* end_;
};

// Arithmetic values: their bytes as they are in memory.
template <class T>
requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(BufferOutputArchive& ar, const T& t) {
  static_assert(!std::is_floating_point_v<T> || std::numeric_limits<T>::is_iec559,
                "only IEEE 754 floating point travels");
  ar.write(std::addressof(t), sizeof t);
}
template <class T>
requires std::is_arithmetic_v<T>
void CEREAL_LOAD_FUNCTION_NAME(BufferInputArchive& ar, T& t) {
  static_assert(!std::is_floating_point_v<T> || std::numeric_limits<T>::is_iec559,
                "only IEEE 754 floating point travels");
  if constexpr (std::is_same_v<T, bool>) {
    // A byte other than 0 or 1 copied into a bool is undefined behaviour.
    unsigned char b = 0;
    ar.read(&b, 1);
    t = b != 0;
  } else {
    ar.read(std::addressof(t), sizeof t);
  }
}

// Names are not stored.
template <class Archive, class T>
requires std::same_as<Archive, BufferOutputArchive> || std::same_as<Archive, BufferInputArchive>
void CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(BufferOutputArchive& ar, const cereal::SizeTag<T>& t) {
  ar.write_count(static_cast<std::size_t>(t.size));
}
// Containers read their size through here before they allocate. One byte per
// element is the bound that holds for every element type that encodes to
// anything (vectors of empty classes have a load of their own, below).
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BufferInputArchive& ar, cereal::SizeTag<T>& t) {
  t.size = static_cast<std::remove_cvref_t<decltype(t.size)>>(ar.read_count(1));
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(BufferOutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.write(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BufferInputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.read(bd.data, static_cast<std::size_t>(bd.size));
}

// Values that travel many at a time as one block of raw bytes. bool is left
// out: its bytes must be checked one by one.
template <class T>
concept BlockValue = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

// `n` values of T stored back to back inside an archive being read.
// They need not be aligned for T, so each is read with memcpy.
template <BlockValue T>
class BlockView {
 public:
  BlockView(const char* data, std::size_t n) : data_(data), n_(n) {}
  std::size_t size() const noexcept { return n_; }
  T operator[](std::size_t i) const {
    T v;
    std::memcpy(&v, data_ + i * sizeof(T), sizeof v);
    return v;
  }

 private:
  const char* data_;
  std::size_t n_;
};

// A block in the layout cereal gives std::vector<T> (a size, then the raw
// values), so it reads back as a std::vector<T>, or as std::vector of
// one-element tuples of T.
template <BlockValue T, class Next>
void write_block(BufferOutputArchive& ar, std::size_t n, Next&& next) {
  ar.write_count(n);
  char* p = ar.extend(n * sizeof(T));
  for (std::size_t i = 0; i < n; ++i, p += sizeof(T)) {
    const T v = next();
    std::memcpy(p, &v, sizeof v);
  }
}
template <BlockValue T>
BlockView<T> read_block(BufferInputArchive& ar) {
  const std::size_t n = ar.read_count(sizeof(T));
  return BlockView<T>(ar.take(n * sizeof(T)), n);
}

// Appends the `n` values of T at `p` (not necessarily aligned for T) to a
// std::vector or std::basic_string, without value-initializing its storage
// first. Byte-sized characters are copied in one go. Wider values go through
// an aligned buffer that stays in the L1 cache: an element-wise loop over
// unaligned memory copies several times slower than memcpy, and 16 KiB steps
// measured faster than resize() (zero-fill) followed by one memcpy.
template <BlockValue T, class Container>
void append_block(Container& c, const char* p, std::size_t n) {
  if constexpr (std::is_same_v<T, char> || std::is_same_v<T, unsigned char> ||
                std::is_same_v<T, signed char>) {
    c.insert(c.end(), reinterpret_cast<const T*>(p), reinterpret_cast<const T*>(p) + n);
  } else {
    constexpr std::size_t kStep = 16384 / sizeof(T);
    T buffer[kStep];
    c.reserve(c.size() + n);
    while (n > 0) {
      const std::size_t k = n < kStep ? n : kStep;
      std::memcpy(buffer, p, k * sizeof(T));
      c.insert(c.end(), buffer, buffer + k);
      p += k * sizeof(T);
      n -= k;
    }
  }
}

// A buffer at least this large is about to be written for the first time:
// ask for transparent huge pages, so that it takes one page fault per 2 MiB
// instead of one per 4 KiB (a 64 MiB argument otherwise costs 16,384 faults
// in each buffer it is copied into). A hint only; smaller sizes are ignored.
inline constexpr std::size_t kLargeBuffer = 4u << 20;
DPOOL_API void advise_huge_pages(void* data, std::size_t n) noexcept;

// Large encode buffers are reused: a fresh one costs a page fault per page
// and the zeroing of every page (on a VM, often the host's too), which for a
// 64 MiB argument took longer than sending it. An empty string with room for
// `n` bytes: the kept buffer if it has room for n and not twice that, else a
// new one with huge pages advised. Thread-safe.
DPOOL_API std::string large_buffer(std::size_t n);
// Offers a spent buffer for reuse: the last one of kLargeBuffer to
// kMaxKeptBuffer bytes is kept, in place of the one kept before. Thread-safe;
// any thread (ZeroMQ's I/O threads too).
inline constexpr std::size_t kMaxKeptBuffer = 128u << 20;
DPOOL_API void keep_large_buffer(std::string&& spent) noexcept;
// An empty string with room for `n` bytes to encode into: large_buffer for
// large ones, a plain reservation for the rest.
inline std::string encode_buffer(std::size_t n) {
  if (n >= kLargeBuffer) return large_buffer(n);
  std::string out;
  out.reserve(n);
  return out;
}

// Strings and vectors of numbers load as one bounds-checked block into storage
// allocated once, where cereal's own loads resize (zero-filling) and then
// read. These overloads are more specialized than cereal's, so they win.
template <class CharT, class Traits, class Alloc>
void CEREAL_LOAD_FUNCTION_NAME(BufferInputArchive& ar, std::basic_string<CharT, Traits, Alloc>& s) {
  const std::size_t n = ar.read_count(sizeof(CharT));
  const char* p = ar.take(n * sizeof(CharT));
  if constexpr (std::is_same_v<CharT, char>) {
    if (n >= kLargeBuffer) {
      s.clear();
      s.reserve(n);
      advise_huge_pages(s.data(), n);
    }
    s.assign(p, n);
  } else {
    s.clear();
    append_block<CharT>(s, p, n);
  }
}
template <BlockValue T, class Alloc>
void CEREAL_LOAD_FUNCTION_NAME(BufferInputArchive& ar, std::vector<T, Alloc>& v) {
  const std::size_t n = ar.read_count(sizeof(T));
  const char* p = ar.take(n * sizeof(T));
  v.clear();
  append_block<T>(v, p, n);
}
// Elements of an empty class encode to nothing, so their count cannot be
// checked against the bytes left (see kMaxBytelessElements). A std::tuple<>
// per item is what a chunk of a task without arguments holds.
template <class T, class Alloc>
requires std::is_empty_v<T>
void CEREAL_LOAD_FUNCTION_NAME(BufferInputArchive& ar, std::vector<T, Alloc>& v) {
  const std::size_t n = ar.read_count(0);
  v.clear();
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ar(v.emplace_back());
}

template <class T, template <class...> class Of>
inline constexpr bool kIsSpecialization = false;
template <template <class...> class Of, class... A>
inline constexpr bool kIsSpecialization<Of<A...>, Of> = true;

template <class T>
inline constexpr bool kIsBlockVector = false;
template <BlockValue T, class Alloc>
inline constexpr bool kIsBlockVector<std::vector<T, Alloc>> = true;

// What `value` will take encoded, where that is cheap to know (numbers,
// strings, vectors of numbers, tuples and pairs of those); 0 for the rest.
// Lets encode_into size its buffer once for large strings and vectors.
template <class T>
std::size_t encoded_size_hint(const T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    return sizeof(T);
  } else if constexpr (kIsSpecialization<T, std::basic_string>) {
    return sizeof(std::uint64_t) + value.size() * sizeof(typename T::value_type);
  } else if constexpr (kIsBlockVector<T>) {
    return sizeof(std::uint64_t) + value.size() * sizeof(typename T::value_type);
  } else if constexpr (kIsSpecialization<T, std::tuple> || kIsSpecialization<T, std::pair>) {
    return std::apply(
        [](const auto&... e) { return (std::size_t{0} + ... + encoded_size_hint(e)); }, value);
  } else {
    return 0;
  }
}

// Serializes `values...` into `out` (appending) as one archive.
template <class... T>
void encode_into(std::string& out, const T&... values) {
  const std::size_t hint = (std::size_t{1} + ... + encoded_size_hint(values));
  if (out.capacity() - out.size() < hint) {
    if (out.empty()) {
      out = encode_buffer(hint);
    } else {
      out.reserve(out.size() + hint);
      advise_huge_pages(out.data() + out.size(), hint);
    }
  }
  BufferOutputArchive ar(out);
  if constexpr (sizeof...(T) > 0) ar(values...);
}

template <class... T>
std::string encode(const T&... values) {
  std::string out;
  encode_into(out, values...);
  return out;
}

// Reads `values...` back; throws (cereal::Exception, std::bad_alloc, ...) on
// bad input. Bytes after the last value are ignored.
template <class... T>
void decode_into(std::string_view bytes, T&... values) {
  BufferInputArchive ar(bytes);
  if constexpr (sizeof...(T) > 0) ar(values...);
}

}  // namespace dpool::detail

CEREAL_REGISTER_ARCHIVE(dpool::detail::BufferOutputArchive)
CEREAL_REGISTER_ARCHIVE(dpool::detail::BufferInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(dpool::detail::BufferInputArchive, dpool::detail::BufferOutputArchive)
