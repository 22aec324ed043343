#include "consumer_tasks.hpp"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <dpool/dpool.hpp>
#include <stdexcept>
#include <thread>

int triple(int x) {
  return 3 * x;
}
DPOOL_REGISTER(triple);

namespace consumer {
namespace {
int g_setup_value = -1;  // per executor process
}  // namespace

int square(int x) {
  return x * x;
}
int add(int a, int b) {
  return a + b;
}
void touch(int) {}
std::string shout(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s + "!";
}
void setup(int value) {
  g_setup_value = value;
}
int setup_value(int) {
  return g_setup_value;
}
int sleep_ms(int ms) {
  std::this_thread::sleep_for(
      std::chrono::milliseconds(ms));  // task work: the sleep is what the task does
  return ms;
}
int fail_if_negative(int x) {
  if (x < 0) throw std::invalid_argument("negative input " + std::to_string(x));
  return x;
}
int crash(int) {
  std::abort();
}
int pid(int) {
  return static_cast<int>(::getpid());
}
Unserializable make_unserializable(int x) {
  return {x};
}

}  // namespace consumer

DPOOL_REGISTER_AS(consumer::square, "square");
DPOOL_REGISTER_AS(consumer::add, "add");
DPOOL_REGISTER_AS(consumer::touch, "touch");
DPOOL_REGISTER_AS(consumer::shout, "shout");
DPOOL_REGISTER_AS(consumer::setup, "setup");
DPOOL_REGISTER_AS(consumer::setup_value, "setup_value");
DPOOL_REGISTER_AS(consumer::sleep_ms, "sleep_ms");
DPOOL_REGISTER_AS(consumer::fail_if_negative, "fail_if_negative");
DPOOL_REGISTER_AS(consumer::crash, "crash");
DPOOL_REGISTER_AS(consumer::pid, "pid");
DPOOL_REGISTER_AS(consumer::make_unserializable, "make_unserializable");
