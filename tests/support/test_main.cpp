// Test binaries start like any dpool program: local-mode pools re-run this
// binary as their executors, so dpool::init comes before doctest.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <dpool/init.hpp>

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
