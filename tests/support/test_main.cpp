// Test binaries start like any dpool program: local-mode pools re-run this
// binary as their executors, so dpool::init comes before doctest. A test
// that needs a program from outside (dpool_test(... REQUIRES PATH PACKAGE))
// is skipped, with exit code 77, where that program is missing.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <dpool/init.hpp>

int main(int argc, char** argv) {
  dpool::init(argc, argv);
#ifdef DPOOL_TEST_REQUIRES
  if (::access(DPOOL_TEST_REQUIRES, X_OK) != 0) {
    std::printf("SKIP: this test needs %s (Debian package %s), which is not installed\n",
                DPOOL_TEST_REQUIRES, DPOOL_TEST_REQUIRES_PACKAGE);
    return 77;
  }
#endif
  doctest::Context context(argc, argv);
  return context.run();
}
