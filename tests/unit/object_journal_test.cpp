// The Manager's durable state (coordinator/object_journal.hpp): what a store
// changes, written to a real SQLite database in a temporary directory and
// made again in a fresh store, as after a coordinator restart.
#include "object_journal.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace {

using namespace dpool::internal;
using dpool::detail::ObjectKind;
using dpool::detail::Verb;

struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("dpool-state-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  static inline int counter = 0;
  ~TempDir() { std::filesystem::remove_all(path); }
};

const ObjectStore::Caller kClient{1, 0, 0};

struct Recorder {
  ObjectStore store{ObjectStore::Limits{}};
  std::uint64_t next = 1;
  Recorder() { store.keep_changes(); }
  calls::ObjectAnswer call(ObjectKind kind, const std::string& name, Verb verb, std::string a = {},
                           std::string b = {}, std::uint64_t n = 0, bool owned = false) {
    calls::ObjectCall c;
    c.kind = kind;
    c.name = name;
    c.type = "t";
    c.verb = verb;
    c.a = std::move(a);
    c.b = std::move(b);
    c.n = n;
    c.owned = owned;
    c.timeout_ms = 0;
    store.call(kClient, next++, std::move(c), {});
    auto answers = store.take_answers();
    REQUIRE(answers.size() == 1);
    return answers[0].answer;
  }
};

// A fresh store made from what the journal in `dir` holds.
struct Reopened {
  ObjectJournal journal;
  Recorder r;
  explicit Reopened(const std::string& dir) : journal(dir) {
    for (auto& [name, image] : journal.load()) r.store.restore(name, std::move(image));
  }
};

}  // namespace

TEST_CASE("dict, list, value and queue contents come back as they were after the last write") {
  TempDir dir;
  {
    ObjectJournal journal(dir.path.string());
    Recorder r;
    r.call(ObjectKind::kDict, "d", Verb::kSet, "a", "1");
    r.call(ObjectKind::kDict, "d", Verb::kSet, "b", "2");
    r.call(ObjectKind::kDict, "d", Verb::kSet, "a", "3");
    r.call(ObjectKind::kDict, "d", Verb::kErase, "b");
    r.call(ObjectKind::kList, "l", Verb::kAppend, "x");
    r.call(ObjectKind::kList, "l", Verb::kAppend, "y");
    r.call(ObjectKind::kValue, "v", Verb::kOpen, "\x01zero");
    r.call(ObjectKind::kValue, "v", Verb::kSet, "\x01four");
    for (auto item : {"q1", "q2", "q3"}) r.call(ObjectKind::kQueue, "q", Verb::kPut, item);
    r.call(ObjectKind::kQueue, "q", Verb::kTake);
    r.call(ObjectKind::kQueue, "q", Verb::kTaskDone);
    r.call(ObjectKind::kLock, "L", Verb::kAcquire);
    r.call(ObjectKind::kQueue, "mine", Verb::kPut, "not kept", {}, 0, true);  // pool.queue
    REQUIRE(journal.write(r.store.take_changes()));
    // A change never written (the coordinator died before it answered) is not kept.
    r.call(ObjectKind::kDict, "d", Verb::kSet, "lost", "!");
  }
  Reopened again(dir.path.string());
  auto& r = again.r;
  auto d = r.call(ObjectKind::kDict, "d", Verb::kItems);
  CHECK(d.items == std::vector<std::string>{"a", "3"});
  CHECK(r.call(ObjectKind::kList, "l", Verb::kItems).items == std::vector<std::string>{"x", "y"});
  CHECK(r.call(ObjectKind::kValue, "v", Verb::kGet).bytes == "\x01four");
  CHECK(r.call(ObjectKind::kQueue, "q", Verb::kSize).n == 2);
  CHECK(r.call(ObjectKind::kQueue, "q", Verb::kTake).bytes == "q2");
  CHECK(r.call(ObjectKind::kQueue, "q", Verb::kTake).bytes == "q3");
  // Two of the three items are still unfinished: join waits for them.
  CHECK(r.call(ObjectKind::kQueue, "q", Verb::kJoin).timed_out);
  CHECK(r.store.objects() == 4 + 1);  // d, l, v, q and the lock (free again)
  CHECK(r.call(ObjectKind::kLock, "L", Verb::kAcquire).yes);
  CHECK(r.store.bytes() > 0);
}

TEST_CASE("a swap after a restart still checks the versions read before it") {
  TempDir dir;
  std::uint64_t version = 0;
  {
    ObjectJournal journal(dir.path.string());
    Recorder r;
    version = r.call(ObjectKind::kDict, "d", Verb::kSet, "k", "1").n;
    REQUIRE(journal.write(r.store.take_changes()));
  }
  Reopened again(dir.path.string());
  CHECK(again.r.call(ObjectKind::kDict, "d", Verb::kRead, "k").n == version);
  CHECK(again.r.call(ObjectKind::kDict, "d", Verb::kSwap, "k", "2", version).yes);
  CHECK_FALSE(again.r.call(ObjectKind::kDict, "d", Verb::kSwap, "k", "3", version).yes);
}

TEST_CASE("the state directory is private, and a file that is not a database is a clear error") {
  TempDir dir;
  { ObjectJournal journal(dir.path.string()); }
  struct stat st {};
  REQUIRE(::stat(dir.path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  std::filesystem::remove(dir.path / "manager.db");
  std::filesystem::remove(dir.path / "manager.db-wal");
  std::filesystem::remove(dir.path / "manager.db-shm");
  {
    std::FILE* f = std::fopen((dir.path / "manager.db").c_str(), "w");
    std::fputs("this is not an SQLite database, but it is long enough to be read as one", f);
    std::fclose(f);
  }
  try {
    ObjectJournal journal(dir.path.string());
    FAIL("a file that is not a database was opened");
  } catch (const dpool::Error& e) {
    CHECK(std::string(e.what()).find("manager.db") != std::string::npos);
  }
}
