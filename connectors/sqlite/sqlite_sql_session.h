#pragma once

// SqlSession (core/sql_session.h) over a SQLite database file: lookups, schedules and write-back
// queries on a SQLite source. SQLite understands `:name` parameters itself, so values are bound
// by name through its API and the SQL text is handed over unchanged.

#include <chrono>
#include <memory>
#include <string>

#include "connectors/sqlite/sqlite_db.h"
#include "core/sql_session.h"

namespace smsbridge::sqlite {

class SqliteSqlSession final : public SqlSession {
 public:
  // Opens `path`, which must exist. Blocks for at most `busy_timeout` on a locked file.
  static Result<std::unique_ptr<SqliteSqlSession>> open(const std::string& path,
                                                        std::chrono::milliseconds busy_timeout);

  // Rows are stepped one at a time: only the current row is held in memory.
  Status forEachRow(std::string_view sql, const Row& params,
                    const std::function<bool(const Row&)>& on_row) override;
  Result<std::int64_t> execute(std::string_view sql, const Row& params) override;
  // BEGIN IMMEDIATE ... COMMIT around the statements; any failure rolls everything back.
  Result<std::vector<std::int64_t>> executeAll(
      std::span<const SqlSession::Statement> statements) override;

 private:
  explicit SqliteSqlSession(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  // Prepares one statement and binds every `:name` it contains from `params`.
  Result<sqlite::Statement> prepareBound(std::string_view sql, const Row& params);
  // A Status for a failed prepare or step: busy/locked are kTransient; a statement SQLite
  // rejects (syntax, unknown table or column) is kConfig with SQLite's own message.
  Status statementError(int rc, std::string_view sql) const;
  // The same for a failed Statement::step().
  Status stepError(const Status& failed, std::string_view sql) const;

  std::unique_ptr<Database> db_;
};

}  // namespace smsbridge::sqlite
