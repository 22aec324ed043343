// How the fuzz targets and the seed writer turn bytes into the frames of one
// message and back: each frame is a little-endian u16 length, then its bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "payload.hpp"

namespace dpool_fuzz {

inline dpool::internal::Payloads split_frames(std::string_view in) {
  dpool::internal::Payloads frames;
  while (in.size() >= 2 && frames.size() < 64) {
    std::size_t n = static_cast<unsigned char>(in[0]) | (static_cast<unsigned char>(in[1]) << 8);
    in.remove_prefix(2);
    n = std::min(n, in.size());
    frames.push_back(dpool::internal::Payload::adopt(std::string(in.substr(0, n))));
    in.remove_prefix(n);
  }
  return frames;
}

inline std::string join_frames(const dpool::internal::Payloads& frames) {
  std::string out;
  for (auto& f : frames) {
    auto n = static_cast<std::uint16_t>(std::min<std::size_t>(f.size(), 0xffff));
    out.push_back(static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(n >> 8));
    out.append(f.view().substr(0, n));
  }
  return out;
}

}  // namespace dpool_fuzz
