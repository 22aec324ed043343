// dpool-executor: the generic executor host for library mode. A node starts
// it as `dpool-executor --load LIB.so ...`; the libraries' DPOOL_REGISTER
// lines provide the tasks, then dpool::init turns the process into an executor.
// A node also starts it as `dpool-executor --check LIB.so` to try a pushed
// library in a process of its own: exit code 0 if it loads; else 2, with the
// loader's message written on fd 3 (the node's socket) if it is open.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <dpool/init.hpp>
#include <string>

namespace {

int check(const char* path) {
  if (::dlopen(path, RTLD_NOW | RTLD_GLOBAL)) return 0;
  std::string why = ::dlerror();
  if (::fcntl(3, F_GETFD) >= 0) {
    auto n = ::write(3, why.data(), why.size());
    (void)n;  // the node reads what arrives; nothing more to do here
  } else {
    std::fprintf(stderr, "dpool-executor: cannot load %s: %s\n", path, why.c_str());
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--check") == 0) return check(argv[2]);
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
