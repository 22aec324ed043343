#include "keys.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dpool/errors.hpp>
#include <dpool/keys.hpp>
#include <filesystem>
#include <optional>

namespace dpool::internal {
namespace {
namespace fs = std::filesystem;

constexpr const char* kCoordinatorKey = "coordinator.key";
constexpr const char* kCoordinatorPub = "coordinator.pub";
constexpr off_t kMaxKeyFileBytes = 64 * 1024;

std::string system_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Makes `dir` and its missing parents, each 0700.
void make_dirs(const fs::path& dir) {
  fs::path path;
  for (const auto& part : dir) {
    path /= part;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      throw Error(system_error("cannot create the key directory " + path.string()));
  }
}

// An open file descriptor, closed on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Writes `text` to a new file `path` with mode 0600, whole or not at all:
// written beside it first, then linked into place, which fails if `path`
// exists (no key is ever overwritten).
void write_new_file(const fs::path& path, const std::string& text) {
  auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
    if (f.fd < 0) throw Error(system_error("cannot write " + tmp));
    bool ok = ::fchmod(f.fd, 0600) == 0 &&
              ::write(f.fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (!ok) {
      auto message = system_error("cannot write " + tmp);
      ::unlink(tmp.c_str());
      throw Error(message);
    }
  }
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    auto message = errno == EEXIST ? path.string() + " exists already; no key is overwritten"
                                   : system_error("cannot write " + path.string());
    ::unlink(tmp.c_str());
    throw Error(message);
  }
  ::unlink(tmp.c_str());
}

std::string key_text(const KeyPair& k, std::string_view role, bool with_secret) {
  std::string r(role);
  std::string s = "#   dpool CurveZMQ " + std::string(with_secret ? "key pair" : "public key") +
                  " of a " + r + ".\n";
  if (with_secret) s += "#   SECRET: keep this file private (mode 0600); share only public keys.\n";
  s += "#   ZPL, the format of CZMQ's zcert; written by dpool.\n";
  s += "metadata\n    role = \"" + r + "\"\ncurve\n    public-key = \"" + k.public_key + "\"\n";
  if (with_secret) s += "    secret-key = \"" + k.secret_key + "\"\n";
  return s;
}

// The quoted value of `name = "value"` if `line` is that setting.
std::optional<std::string> setting(std::string_view line, std::string_view name) {
  auto start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos || line.substr(start, name.size()) != name) return {};
  auto rest = line.substr(start + name.size());
  auto eq = rest.find_first_not_of(" \t");
  if (eq == std::string_view::npos || rest[eq] != '=') return {};
  rest = rest.substr(eq + 1);
  auto first = rest.find_first_not_of(" \t\"");
  auto last = rest.find_last_not_of(" \t\r\"");
  if (first == std::string_view::npos || last < first) return std::string();
  return std::string(rest.substr(first, last - first + 1));
}

std::string read_small_file(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throw Error(system_error("cannot read the key file " + path));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(path + " is not a regular file, so not a key file");
  if (st.st_size > kMaxKeyFileBytes) throw Error(path + " is too large to be a key file");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  if (::read(f.fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw Error(system_error("cannot read the key file " + path));
  if (st.st_mode & 077)
    spdlog::warn("{} can be read by other users (mode {:o}); run chmod 600 {}", path,
                 st.st_mode & 0777, path);
  return text;
}

}  // namespace

std::string key_option(std::string_view role) {
  return role == kClientRole ? "Connect::key_file" : "--keys DIR (NodeOptions::key_file)";
}

KeyPair make_key_pair() {
  char pub[kZ85KeyChars + 1], sec[kZ85KeyChars + 1];
  if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) != 0)
    throw Error("this libzmq was built without CURVE (libsodium), so dpool cannot make keys");
  return {pub, sec};
}

std::string decode_key(std::string_view z85) {
  if (z85.size() != kZ85KeyChars) return {};
  std::string text(z85);
  std::string raw(kRawKeyBytes, '\0');
  if (!zmq_z85_decode(reinterpret_cast<std::uint8_t*>(raw.data()), text.c_str())) return {};
  return raw;
}

std::string encode_key(std::string_view raw) {
  if (raw.size() != kRawKeyBytes) return {};
  char text[kZ85KeyChars + 1];
  zmq_z85_encode(text, reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
  return text;
}

std::string allow_list_dir(const std::string& dir, std::string_view role) {
  return (fs::path(dir) / (std::string(role) + "s")).string();
}

KeyPair read_key_file(const std::string& path, bool need_secret) {
  auto text = read_small_file(path);
  KeyPair k;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (auto v = setting(line, "public-key")) k.public_key = *v;
    if (auto v = setting(line, "secret-key")) k.secret_key = *v;
    pos = end + 1;
  }
  if (decode_key(k.public_key).empty())
    throw Error(path + " has no valid public-key line, so it is not a dpool key file");
  if (need_secret && decode_key(k.secret_key).empty())
    throw Error(path + " holds no secret key (a .pub file?); a peer needs its own .key file");
  if (!k.secret_key.empty()) {
    char derived[kZ85KeyChars + 1];
    if (zmq_curve_public(derived, k.secret_key.c_str()) != 0 || k.public_key != derived)
      throw Error(path + " is damaged: its public key does not belong to its secret key");
  }
  return k;
}

bool write_key_set(const std::string& dir) {
  fs::path d(dir);
  make_dirs(d);
  ::chmod(d.c_str(), 0700);
  Fd lock{::open((d / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)};
  if (lock.fd < 0 || ::flock(lock.fd, LOCK_EX) != 0)
    throw Error(system_error("cannot lock the key directory " + dir));
  std::error_code ec;
  if (fs::exists(d / kCoordinatorKey, ec)) return false;
  auto node_pub = fs::path(allow_list_dir(dir, kNodeRole)) / "node.pub";
  auto client_pub = fs::path(allow_list_dir(dir, kClientRole)) / "client.pub";
  for (const auto& f :
       {d / kCoordinatorPub, d / "node.key", d / "client.key", node_pub, client_pub})
    if (fs::exists(f, ec))
      throw Error(dir + " holds " + f.filename().string() + " but no " + kCoordinatorKey +
                  " (a copy for a node or a client?); give the coordinator a key directory of its "
                  "own (--keys DIR, made with `dpool keygen DIR`)");
  for (const auto& sub : {node_pub.parent_path(), client_pub.parent_path()})
    if (::mkdir(sub.c_str(), 0700) != 0 && errno != EEXIST)
      throw Error(system_error("cannot create " + sub.string()));
  auto node = make_key_pair(), client = make_key_pair(), coordinator = make_key_pair();
  write_new_file(d / "node.key", key_text(node, kNodeRole, true));
  write_new_file(node_pub, key_text(node, kNodeRole, false));
  write_new_file(d / "client.key", key_text(client, kClientRole, true));
  write_new_file(client_pub, key_text(client, kClientRole, false));
  write_new_file(d / kCoordinatorPub, key_text(coordinator, "coordinator", false));
  // Last: a coordinator.key means the set is complete.
  write_new_file(d / kCoordinatorKey, key_text(coordinator, "coordinator", true));
  return true;
}

PeerKeys find_peer_keys(const std::string& where, std::string_view role) {
  std::error_code ec;
  bool file = !where.empty() && fs::is_regular_file(where, ec);
  fs::path dir = where.empty() ? fs::path(dpool::default_key_dir()) : fs::path(where);
  PeerKeys k;
  k.own_file = file ? where : (dir / (std::string(role) + ".key")).string();
  k.server_file = ((file ? fs::path(where).parent_path() : dir) / kCoordinatorPub).string();
  for (const auto& f : {k.own_file, k.server_file}) {
    if (fs::exists(f, ec)) continue;
    std::string looked =
        where.empty() ? " (the default key directory: $XDG_CONFIG_HOME/dpool or ~/.config/dpool)"
                      : "";
    throw ConnectionError(
        "no CurveZMQ key for this " + std::string(role) + ": " + f + " does not exist" + looked +
        ". Start `dpool coordinator` once on this account (it writes its keys to " +
        dpool::default_key_dir() + "), or make a set with `dpool keygen DIR` and give " +
        key_option(role) + "; a coordinator run with --insecure takes --insecure " +
        "(Connect::insecure) here too");
  }
  try {
    k.own = read_key_file(k.own_file, true);
    k.server_public = read_key_file(k.server_file, false).public_key;
  } catch (const Error& e) {
    throw ConnectionError(e.what());
  }
  return k;
}

CoordinatorKeys coordinator_keys(const std::string& dir) {
  CoordinatorKeys k;
  k.dir = dir.empty() ? dpool::default_key_dir() : dir;
  auto file = (fs::path(k.dir) / kCoordinatorKey).string();
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (!dir.empty())
      throw Error("no coordinator key in " + dir + ": make a key set there with `dpool keygen " +
                  dir + "`, or leave --keys out to use the default directory (" +
                  dpool::default_key_dir() + "), where a coordinator makes one on first start");
    k.created = write_key_set(k.dir);
  }
  k.own = read_key_file(file, true);
  return k;
}

}  // namespace dpool::internal

namespace dpool {

std::string default_key_dir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && xdg[0] == '/') return std::string(xdg) + "/dpool";
  const char* home = std::getenv("HOME");
  if (!home || !*home) {
    const passwd* pw = ::getpwuid(::getuid());
    home = pw ? pw->pw_dir : "/";
  }
  return std::string(home) + "/.config/dpool";
}

void generate_keys(const std::string& dir) {
  if (!internal::write_key_set(dir))
    throw Error(dir + " holds a key set already; remove it first, or write to another directory");
}

void add_key(const std::string& dir, const std::string& role, const std::string& name) {
  if (role != internal::kNodeRole && role != internal::kClientRole)
    throw Error("a key's role is node or client, not '" + role + "'");
  if (name.empty() || name.front() == '.' || name.find('/') != std::string::npos)
    throw Error("'" + name + "' is not a key name: use letters, digits, '-' or '_'");
  namespace fs = std::filesystem;
  auto list = internal::allow_list_dir(dir, role);
  if (::mkdir(list.c_str(), 0700) != 0 && errno != EEXIST)
    throw Error(internal::system_error("cannot create " + list));
  auto pair = internal::make_key_pair();
  internal::write_new_file(fs::path(dir) / (name + ".key"), internal::key_text(pair, role, true));
  internal::write_new_file(fs::path(list) / (name + ".pub"), internal::key_text(pair, role, false));
}

}  // namespace dpool
