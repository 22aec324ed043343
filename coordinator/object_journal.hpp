// The Manager's durable state (`dpool coordinator --state DIR`): the named
// objects kept in an SQLite database in WAL mode, DIR/manager.db. The
// coordinator writes each loop turn's changes in one transaction before it
// answers the calls that made them, so an answered call survives a kill -9
// of the coordinator (not a power loss: the WAL is not synced per commit).
// At start, what is kept is made again in the ObjectStore.
// Owned by the coordinator server; loop thread only. Throws dpool::Error
// when the database cannot be opened or read.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "object_store.hpp"

namespace dpool::internal {

class ObjectJournal {
 public:
  // Opens DIR/manager.db, making DIR (0700) and the database when missing.
  explicit ObjectJournal(const std::string& dir);
  ~ObjectJournal();
  ObjectJournal(const ObjectJournal&) = delete;
  ObjectJournal& operator=(const ObjectJournal&) = delete;

  // Every object kept, by name.
  std::vector<std::pair<std::string, ObjectStore::Image>> load();
  // Writes one batch of changes in one transaction. False if it failed (the
  // error is logged, at most once a minute): the batch is not kept, and what
  // the database holds no longer matches the objects in memory.
  bool write(const std::vector<ObjectStore::Change>& changes);
  const std::string& path() const noexcept { return path_; }

 private:
  struct Statement;
  void exec(const char* sql);
  Statement& statement(const char* sql);
  std::int64_t next_seq(const std::string& object);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements_;
  std::unordered_map<std::string, std::int64_t> next_seq_;  // a list's or queue's next row
  std::int64_t last_error_log_ = 0;
};

}  // namespace dpool::internal
