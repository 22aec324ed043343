// dpool::push_library: a short-lived client of a coordinator that sends it a
// task library for its nodes (calls::Op::kPush) and reports their answers.
#include <unistd.h>

#include <dpool/errors.hpp>
#include <dpool/push.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "one_call.hpp"

namespace dpool {

std::vector<PushResult> push_library(const Connect& where, const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error("cannot push " + path + ": " + ec.message());
  if (size > internal::calls::kMaxLibraryBytes)
    throw Error("cannot push " + path + ": it has " + std::to_string(size) +
                " bytes, more than the " + std::to_string(internal::calls::kMaxLibraryBytes) +
                " a pushed library may have");
  std::ifstream in(path, std::ios::binary);
  internal::calls::PushCall push;
  push.name = std::filesystem::path(path).filename().string();
  push.bytes.assign(std::istreambuf_iterator<char>(in), {});
  if (!in.good() && !in.eof()) throw Error("cannot push " + path + ": reading it failed");
  internal::OneCall call;
  call.client = "push:" + std::to_string(::getpid());
  call.op = internal::calls::Op::kPush;
  call.args = internal::Payload::adopt(internal::wire::encode_meta(push));
  call.answer_timeout = std::chrono::seconds(90);  // the coordinator answers within a minute
  call.what = "push of " + push.name;
  auto bytes = internal::call_coordinator_once(where, std::move(call));
  auto answer = internal::wire::decode_meta<internal::calls::PushAnswer>(bytes.view());
  if (!answer)
    throw ConnectionError("the coordinator at " + where.address +
                          " sent an answer to the push that cannot be decoded (" + answer.error() +
                          "); run the same dpool release on both sides");
  return std::move(answer->nodes);
}

}  // namespace dpool
