#pragma once

// A thin RAII layer over the SQLite C API that turns every failure into a Status naming the
// file and what the operator can do about it (corrupt, read-only, locked, missing).

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

  // BEGIN IMMEDIATE: takes the write lock up front so a transaction never fails half-way
  // on lock upgrade.
  Status beginWrite() { return exec("BEGIN IMMEDIATE"); }
  Status commit() { return exec("COMMIT"); }
  void rollback();  // best effort; used on error paths

  std::int64_t lastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // A Status for the SQLite result code `rc` on this connection, with advice for the operator.
  Status error(int rc, std::string_view doing) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
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

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
  Status bind_error_;
};

}  // namespace smsbridge::sqlite
