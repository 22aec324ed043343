#include "object_journal.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <dpool/errors.hpp>
#include <filesystem>

namespace dpool::internal {

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS objects (
  name TEXT PRIMARY KEY, kind INTEGER NOT NULL, type TEXT NOT NULL, param INTEGER NOT NULL,
  value BLOB NOT NULL DEFAULT x'', unfinished INTEGER NOT NULL DEFAULT 0,
  shut INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS entries (
  object TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, version INTEGER NOT NULL,
  PRIMARY KEY (object, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
  object TEXT NOT NULL, seq INTEGER NOT NULL, value BLOB NOT NULL,
  PRIMARY KEY (object, seq)) WITHOUT ROWID;
)";

std::string blob(sqlite3_stmt* s, int column) {
  auto* data = static_cast<const char*>(sqlite3_column_blob(s, column));
  return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(s, column)))
              : std::string();
}

}  // namespace

// One prepared statement, reset after each use.
struct ObjectJournal::Statement {
  sqlite3_stmt* s = nullptr;
  ~Statement() { sqlite3_finalize(s); }
  Statement& text(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bytes(int i, const std::string& v) {
    sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& number(int i, std::int64_t v) {
    sqlite3_bind_int64(s, i, v);
    return *this;
  }
  // Runs it to the end; the SQLite result code.
  int run() {
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
  }
};

ObjectJournal::ObjectJournal(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("--state " + dir + ": cannot make the directory: " + ec.message());
  ::chmod(dir.c_str(), 0700);
  path_ = (std::filesystem::path(dir) / "manager.db").string();
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error("--state " + dir + ": cannot open " + path_ + ": " + why);
  }
  sqlite3_busy_timeout(db_, 5000);  // another coordinator on the same DIR: wait, then fail
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(kSchema);
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

ObjectJournal::~ObjectJournal() {
  statements_.clear();  // finalized before the connection closes
  if (db_) sqlite3_close(db_);
}

void ObjectJournal::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string why = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw Error("the Manager's state " + path_ + ": " + why +
                " (is it a dpool state directory, and not used by another coordinator?)");
  }
}

ObjectJournal::Statement& ObjectJournal::statement(const char* sql) {
  auto& st = statements_[sql];
  if (!st) {
    st = std::make_unique<Statement>();
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->s, nullptr) != SQLITE_OK)
      throw Error("the Manager's state " + path_ + ": " + sqlite3_errmsg(db_));
  }
  return *st;
}

std::vector<std::pair<std::string, ObjectStore::Image>> ObjectJournal::load() {
  std::vector<std::pair<std::string, ObjectStore::Image>> out;
  std::unordered_map<std::string, std::size_t> index;
  auto& objects = statement("SELECT name, kind, type, param, value, unfinished, shut FROM objects");
  while (sqlite3_step(objects.s) == SQLITE_ROW) {
    ObjectStore::Image image;
    auto kind = sqlite3_column_int64(objects.s, 1);
    if (kind < static_cast<int>(detail::ObjectKind::kDict) ||
        kind > static_cast<int>(detail::ObjectKind::kCondition))
      continue;  // written by a newer release: not ours to guess
    image.kind = static_cast<detail::ObjectKind>(kind);
    image.type = blob(objects.s, 2);
    image.param = static_cast<std::uint64_t>(sqlite3_column_int64(objects.s, 3));
    image.value = blob(objects.s, 4);
    image.unfinished = static_cast<std::uint64_t>(sqlite3_column_int64(objects.s, 5));
    image.shut = sqlite3_column_int64(objects.s, 6) != 0;
    std::string name = blob(objects.s, 0);
    index[name] = out.size();
    out.emplace_back(std::move(name), std::move(image));
  }
  sqlite3_reset(objects.s);
  auto& entries = statement("SELECT object, key, value, version FROM entries");
  while (sqlite3_step(entries.s) == SQLITE_ROW) {
    auto it = index.find(blob(entries.s, 0));
    if (it == index.end()) continue;
    out[it->second].second.entries.push_back(
        {blob(entries.s, 1), blob(entries.s, 2),
         static_cast<std::uint64_t>(sqlite3_column_int64(entries.s, 3))});
  }
  sqlite3_reset(entries.s);
  auto& items = statement("SELECT object, seq, value FROM items ORDER BY object, seq");
  while (sqlite3_step(items.s) == SQLITE_ROW) {
    std::string object = blob(items.s, 0);
    auto it = index.find(object);
    if (it == index.end()) continue;
    out[it->second].second.items.push_back(blob(items.s, 2));
    next_seq_[object] = sqlite3_column_int64(items.s, 1) + 1;
  }
  sqlite3_reset(items.s);
  return out;
}

std::int64_t ObjectJournal::next_seq(const std::string& object) {
  return next_seq_[object]++;
}

bool ObjectJournal::write(const std::vector<ObjectStore::Change>& changes) {
  if (changes.empty()) return true;
  using Kind = ObjectStore::Change::Kind;
  int rc = SQLITE_OK;
  auto check = [&](int r) {
    if (rc == SQLITE_OK && r != SQLITE_DONE && r != SQLITE_OK) rc = r;
  };
  check(sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr));
  for (auto& c : changes) {
    if (rc != SQLITE_OK) break;
    switch (c.kind) {
      case Kind::kMade:
        check(statement("DELETE FROM entries WHERE object = ?1").text(1, c.object).run());
        check(statement("DELETE FROM items WHERE object = ?1").text(1, c.object).run());
        check(statement("INSERT OR REPLACE INTO objects (name, kind, type, param, value) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)")
                  .text(1, c.object)
                  .number(2, static_cast<std::int64_t>(c.object_kind))
                  .text(3, c.key)
                  .number(4, static_cast<std::int64_t>(c.n))
                  .bytes(5, c.value)
                  .run());
        next_seq_[c.object] = 0;
        break;
      case Kind::kSet:
        check(statement("INSERT OR REPLACE INTO entries (object, key, value, version) "
                        "VALUES (?1, ?2, ?3, ?4)")
                  .text(1, c.object)
                  .bytes(2, c.key)
                  .bytes(3, c.value)
                  .number(4, static_cast<std::int64_t>(c.n))
                  .run());
        break;
      case Kind::kErase:
        check(statement("DELETE FROM entries WHERE object = ?1 AND key = ?2")
                  .text(1, c.object)
                  .bytes(2, c.key)
                  .run());
        break;
      case Kind::kAppend:
      case Kind::kPush:
        check(statement("INSERT INTO items (object, seq, value) VALUES (?1, ?2, ?3)")
                  .text(1, c.object)
                  .number(2, next_seq(c.object))
                  .bytes(3, c.value)
                  .run());
        break;
      case Kind::kPop:
        check(statement("DELETE FROM items WHERE object = ?1 AND seq IN "
                        "(SELECT seq FROM items WHERE object = ?1 ORDER BY seq LIMIT ?2)")
                  .text(1, c.object)
                  .number(2, static_cast<std::int64_t>(c.n))
                  .run());
        break;
      case Kind::kValue:
        check(statement("UPDATE objects SET value = ?2 WHERE name = ?1")
                  .text(1, c.object)
                  .bytes(2, c.value)
                  .run());
        break;
      case Kind::kQueueState:
        check(statement("UPDATE objects SET unfinished = ?2, shut = ?3 WHERE name = ?1")
                  .text(1, c.object)
                  .number(2, static_cast<std::int64_t>(c.n))
                  .number(3, c.flag ? 1 : 0)
                  .run());
        break;
    }
  }
  if (rc == SQLITE_OK) check(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr));
  if (rc == SQLITE_OK) return true;
  std::string why = sqlite3_errstr(rc);
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  if (now - last_error_log_ >= 60) {
    last_error_log_ = now;
    spdlog::error(
        "coordinator: could not keep {} change(s) to Manager objects in {}: {}; what it holds "
        "no longer matches the objects in memory (is the disk full?)",
        changes.size(), path_, why);
  }
  return false;
}

}  // namespace dpool::internal
