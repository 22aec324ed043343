#include "payload.hpp"

#include <zmq.h>

#include <cstring>
#include <dpool/detail/codec.hpp>
#include <new>

namespace dpool::internal {
namespace {

static_assert(sizeof(zmq_msg_t) == 64 && alignof(zmq_msg_t) <= 8,
              "Payload's storage must hold exactly one zmq_msg_t");

zmq_msg_t* as_msg(unsigned char* p) {
  return reinterpret_cast<zmq_msg_t*>(p);
}
const zmq_msg_t* as_msg(const unsigned char* p) {
  return reinterpret_cast<const zmq_msg_t*>(p);
}

void init_copy(unsigned char* p, const char* data, std::size_t n) {
  if (zmq_msg_init_size(as_msg(p), n) != 0) throw std::bad_alloc();
  if (n) std::memcpy(zmq_msg_data(as_msg(p)), data, n);
}

}  // namespace

Payload::Payload() noexcept {
  zmq_msg_init(as_msg(msg_));
}

Payload::Payload(std::string_view bytes) {
  init_copy(msg_, bytes.data(), bytes.size());
}

Payload Payload::adopt(std::string&& bytes) {
  Payload p;
  if (bytes.size() <= kCopyBelowBytes) {
    zmq_msg_close(as_msg(p.msg_));
    init_copy(p.msg_, bytes.data(), bytes.size());
    return p;
  }
  auto* owned = new std::string(std::move(bytes));
  zmq_msg_close(as_msg(p.msg_));
  if (zmq_msg_init_data(
          as_msg(p.msg_), owned->data(), owned->size(),
          [](void*, void* hint) {
            auto* spent = static_cast<std::string*>(hint);
            detail::keep_large_buffer(std::move(*spent));
            delete spent;
          },
          owned) != 0) {
    delete owned;
    zmq_msg_init(as_msg(p.msg_));
    throw std::bad_alloc();
  }
  return p;
}

Payload Payload::adopt(std::unique_ptr<char[]> data, std::size_t size) {
  Payload p;
  if (size <= kCopyBelowBytes) {
    zmq_msg_close(as_msg(p.msg_));
    init_copy(p.msg_, data.get(), size);
    return p;
  }
  char* raw = data.get();
  zmq_msg_close(as_msg(p.msg_));
  if (zmq_msg_init_data(
          as_msg(p.msg_), raw, size, [](void* d, void*) { delete[] static_cast<char*>(d); },
          nullptr) != 0) {
    zmq_msg_init(as_msg(p.msg_));
    throw std::bad_alloc();
  }
  data.release();
  return p;
}

// A move copies the message's 64 bytes and leaves an empty message behind,
// as cppzmq's message_t does: cheaper than zmq_msg_move, which also closes
// and checks, on a path that every task and result takes several times.
Payload::Payload(Payload&& other) noexcept {
  std::memcpy(msg_, other.msg_, sizeof msg_);
  zmq_msg_init(as_msg(other.msg_));
}

Payload& Payload::operator=(Payload&& other) noexcept {
  if (this != &other) {
    zmq_msg_close(as_msg(msg_));
    std::memcpy(msg_, other.msg_, sizeof msg_);
    zmq_msg_init(as_msg(other.msg_));
  }
  return *this;
}

Payload::~Payload() {
  zmq_msg_close(as_msg(msg_));
}

Payload Payload::share() const {
  Payload p;
  // zmq_msg_copy shares the content of large messages and copies small ones;
  // it does not modify its source.
  zmq_msg_copy(as_msg(p.msg_), const_cast<zmq_msg_t*>(as_msg(msg_)));
  return p;
}

const char* Payload::data() const noexcept {
  return static_cast<const char*>(zmq_msg_data(const_cast<zmq_msg_t*>(as_msg(msg_))));
}

std::size_t Payload::size() const noexcept {
  return zmq_msg_size(as_msg(msg_));
}

}  // namespace dpool::internal
