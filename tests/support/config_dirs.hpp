// Key directories for tests that run real coordinators, workers and
// clients: a configuration directory of a case's own, and a peer's key
// directory that a coordinator does not allow.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace test_support {

// A fresh XDG_CONFIG_HOME for one case, so default_key_dir() is empty until
// a coordinator or a test writes keys there (child processes started
// meanwhile inherit it); the previous value comes back and the directory
// goes at the end.
struct FreshConfig {
  FreshConfig() {
    char pattern[] = "/tmp/dpool-config.XXXXXX";
    root = ::mkdtemp(pattern);
    if (const char* old = std::getenv("XDG_CONFIG_HOME")) previous = old;
    ::setenv("XDG_CONFIG_HOME", root.c_str(), 1);
  }
  ~FreshConfig() {
    if (previous.empty())
      ::unsetenv("XDG_CONFIG_HOME");
    else
      ::setenv("XDG_CONFIG_HOME", previous.c_str(), 1);
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  FreshConfig(const FreshConfig&) = delete;
  FreshConfig& operator=(const FreshConfig&) = delete;
  std::string keys() const { return root + "/dpool"; }  // default_key_dir()
  std::string root;
  std::string previous;
};

// A key directory `base` for a peer that holds this coordinator's public key
// and the pair `own_key` (a ROLE.key from another set): its key is on no list.
inline std::string stranger_dir(const std::string& base, const std::string& coordinator_dir,
                                const std::string& own_key, const std::string& role) {
  std::filesystem::create_directories(base);
  std::filesystem::copy_file(coordinator_dir + "/coordinator.pub", base + "/coordinator.pub");
  std::filesystem::copy_file(own_key, base + "/" + role + ".key");
  return base;
}

}  // namespace test_support
