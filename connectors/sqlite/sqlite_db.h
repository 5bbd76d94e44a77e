#pragma once

// A thin RAII layer over the SQLite C API that turns every failure into a Status naming the
// file and what the operator can do about it (corrupt, read-only, locked, missing).

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.h"
#include "core/value.h"

namespace smsbridge::sqlite {

class Statement;

class Database {
 public:
  enum class OpenMode {
    kExisting,         // the file must exist (a source database)
    kCreateIfMissing,  // the store may create it
    kReadOnly          // the file must exist and is only read (`poll` capture)
  };

  static Result<std::unique_ptr<Database>> open(const std::string& path, OpenMode mode,
                                                std::chrono::milliseconds busy_timeout);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  // Like prepare(), but the compiled statement is kept by this connection and handed out again
  // on the next call with the same `sql`: compiling costs tens of µs, more than running most of
  // the store's statements. The returned Statement gives it back when destroyed, reset (so it
  // holds no read open) and with its bindings cleared, on every path, error paths included.
  // While it is out, a call with the same `sql` gets a statement of its own, so nested uses
  // never share one. For SQL built from a fixed set of texts (the store's), not from data: at
  // most kMaxCachedStatements are kept, further texts are compiled per call. Every Statement
  // must be destroyed before its Database.
  Result<Statement> cached(std::string_view sql);
  std::size_t cachedCount() const { return cache_.size(); }
  static constexpr std::size_t kMaxCachedStatements = 64;

  // BEGIN IMMEDIATE: takes the write lock up front so a transaction never fails half-way
  // on lock upgrade.
  Status beginWrite() { return runCached("BEGIN IMMEDIATE"); }
  Status commit() { return runCached("COMMIT"); }
  void rollback();  // best effort; used on error paths

  std::int64_t lastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // A Status for the SQLite result code `rc` on this connection, with advice for the operator.
  Status error(int rc, std::string_view doing) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status runCached(std::string_view sql);

  // Transparent, so cached() looks up a string_view without building a std::string.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const {
      return std::hash<std::string_view>{}(sql);
    }
  };

  sqlite3* db_;
  std::string path_;
  // SQL text -> its compiled statement; nullptr while a Statement has it out. Map nodes never
  // move, so a Statement keeps a pointer to its slot to give the statement back.
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

class Statement {
 public:
  Statement(Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& bind(int index, std::int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<std::int64_t>(v)); }
  Statement& bind(int index, double v);
  Statement& bind(int index, std::string_view v);
  Statement& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  Statement& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
  Statement& bindNull(int index);
  Statement& bind(int index, const std::optional<std::string>& v);
  Statement& bind(int index, const Value& v);

  // Steps once: true when a row is available, false when done.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Status run();
  void reset();

  std::int64_t columnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  double columnDouble(int i) const { return sqlite3_column_double(stmt_, i); }
  std::string columnText(int i) const;
  bool columnIsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::optional<std::string> columnOptText(int i) const;
  Value columnValue(int i) const;
  std::string columnName(int i) const { return sqlite3_column_name(stmt_, i); }
  int columnCount() const { return sqlite3_column_count(stmt_); }
  sqlite3_stmt* handle() { return stmt_; }

 private:
  friend class Database;
  // A statement of Database::cached(), given back to `slot` instead of finalized.
  Statement(Database* db, sqlite3_stmt* stmt, sqlite3_stmt** slot)
      : db_(db), stmt_(stmt), slot_(slot) {}
  // Finalizes the statement, or resets it and gives it back to its cache slot.
  void release();

  Database* db_;
  sqlite3_stmt* stmt_;
  sqlite3_stmt** slot_ = nullptr;
  Status bind_error_;
};

}  // namespace smsbridge::sqlite
