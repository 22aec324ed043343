// dpool-executor: the generic executor host for library mode. A node starts
// it as `dpool-executor --load LIB.so ...`; the libraries' DPOOL_REGISTER
// lines provide the tasks, then dpool::init turns the process into an executor.
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <dpool/init.hpp>

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--load") != 0) continue;
    if (!::dlopen(argv[i + 1], RTLD_NOW | RTLD_GLOBAL)) {
      std::fprintf(stderr, "dpool-executor: cannot load %s: %s\n", argv[i + 1], ::dlerror());
      return 2;
    }
    ++i;
  }
  dpool::init(argc, argv);
  std::fprintf(stderr,
               "dpool-executor hosts task libraries for `dpool worker --load LIB.so`; it is not "
               "meant to be run by hand\n");
  return 2;
}
