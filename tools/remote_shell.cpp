#include "remote_shell.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace dpool_cli {

std::string shell_quote(const std::string& word) {
  bool safe = !word.empty();
  for (char c : word)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("@%+=:,./_-", c)))
      safe = false;
  if (safe) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string shell_join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + shell_quote(w);
  return out;
}

RemoteShell::RemoteShell(std::vector<std::string> options, std::string ssh)
    : options_(std::move(options)), ssh_(std::move(ssh)) {}

RemoteShell::Started RemoteShell::start(const std::string& destination,
                                        const std::string& script) const {
  std::vector<std::string> argv{ssh_, "-o", "BatchMode=yes", "-T"};
  for (const auto& o : options_) {
    argv.push_back("-o");
    argv.push_back(o);
  }
  // After the caller's options, since ssh keeps the first value it is given:
  // no "Permanently added ... to the list of known hosts" among the output.
  argv.insert(argv.end(), {"-o", "LogLevel=ERROR"});
  // "--" ends ssh's options: a destination cannot be taken for one. The
  // script goes to a POSIX shell on the standard input, so the remote user's
  // login shell (which may be csh or fish) only parses "sh -s".
  argv.insert(argv.end(), {"--", destination, "sh -s"});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int out[2];
  int in[2];
  if (pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], in[0], in[1]}) close(fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    sigset_t none;  // the dpool command blocks SIGINT and SIGTERM; ssh must not inherit that
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    execvp(args[0], args.data());
    const char* why = "cannot run ssh: execvp failed\n";
    [[maybe_unused]] auto n = write(STDERR_FILENO, why, std::strlen(why));
    _exit(127);
  }
  close(out[1]);
  close(in[0]);
  // A script is far smaller than a pipe's buffer, so this write does not wait
  // for ssh. SIGPIPE is ignored (see the header): an ssh that exited at once
  // makes it fail with EPIPE, and its exit code tells why.
  std::size_t done = 0;
  while (done < script.size()) {
    ssize_t n = write(in[1], script.data() + done, script.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    done += static_cast<std::size_t>(n);
  }
  close(in[1]);
  return {pid, out[0]};
}

RemoteResult RemoteShell::finish(Started s) {
  RemoteResult r;
  char buf[4096];
  for (;;) {
    ssize_t n = read(s.out, buf, sizeof buf);
    if (n > 0) {
      r.output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(s.out);
  int status = 0;
  while (waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  return r;
}

RemoteResult RemoteShell::run(const std::string& destination, const std::string& script) const {
  return finish(start(destination, script));
}

std::vector<RemoteResult> RemoteShell::run_all(
    const std::vector<std::pair<std::string, std::string>>& jobs) const {
  std::vector<Started> started;
  for (const auto& [destination, script] : jobs) started.push_back(start(destination, script));
  // Outputs are short; each is read to its end in turn while the others run.
  std::vector<RemoteResult> results;
  for (auto& s : started) results.push_back(finish(s));
  return results;
}

}  // namespace dpool_cli
