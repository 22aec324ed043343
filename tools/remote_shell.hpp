// Runs shell scripts on other machines with the system's ssh: fork and exec
// of an argv vector (no local shell), BatchMode so that ssh never prompts, the
// script given to `sh -s` on ssh's standard input, and every word put into a
// script quoted with shell_quote. The process must ignore SIGPIPE.
#pragma once

#include <string>
#include <vector>

namespace dpool_cli {

// `word` quoted for a POSIX shell: 'it'\''s' (unchanged when it is plainly safe).
std::string shell_quote(const std::string& word);
// Words quoted and joined by blanks: a command line for a POSIX shell.
std::string shell_join(const std::vector<std::string>& words);

struct RemoteResult {
  int code = -1;       // the remote command's exit code; 255: ssh itself failed
  std::string output;  // its stdout and stderr, together
};

class RemoteShell {
 public:
  // `options` are ssh -o settings (KEY=VALUE), given to every ssh run.
  explicit RemoteShell(std::vector<std::string> options, std::string ssh = "ssh");

  // Runs `script` (shell text) on `destination` ([USER@]HOST) and waits for it.
  RemoteResult run(const std::string& destination, const std::string& script) const;

  // Runs one script per destination, all at once; results in the same order.
  std::vector<RemoteResult> run_all(
      const std::vector<std::pair<std::string, std::string>>& jobs) const;

 private:
  struct Started {
    int pid = -1;
    int out = -1;
  };
  Started start(const std::string& destination, const std::string& script) const;
  static RemoteResult finish(Started s);

  std::vector<std::string> options_;
  std::string ssh_;
};

}  // namespace dpool_cli
