// Tasks of the packaging test. Built into libconsumer_tasks.so, which the
// consumer links and which `dpool worker --load` serves.
#pragma once

#include <stdexcept>
#include <string>

// Registered with DPOOL_REGISTER, under its own name "triple".
int triple(int x);

namespace consumer {

// A result whose serialization always throws: SerializationError.
struct Unserializable {
  int value = 0;
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("Unserializable refuses to be serialized");
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value);
  }
};

int square(int x);
int add(int a, int b);
void touch(int x);                 // a void task
std::string shout(std::string s);  // "abc" -> "ABC!"
void setup(int value);             // a pool initializer: remembers value
int setup_value(int);              // what setup() stored in this executor, or -1
int sleep_ms(int ms);              // sleeps, returns ms
int fail_if_negative(int x);       // throws std::invalid_argument for x < 0
int crash(int);                    // std::abort()
int pid(int);                      // the executor's process id
Unserializable make_unserializable(int x);

}  // namespace consumer
