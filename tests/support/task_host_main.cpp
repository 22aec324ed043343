// A self-hosted executor program for `dpool worker --exec`: the test tasks
// plus the dpool::init guard.
#include <dpool/init.hpp>

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  return 0;
}
