#pragma once

// SqlSession (core/sql_session.h) on MySQL / MariaDB, over one mysql::Connection: lookups,
// schedules, write-back and `test-mapping --from-db`. `:name` parameters become `?` markers of
// a prepared statement and their values are bound, never spliced. Rows are read one at a time
// as the server sends them, so a 100,000-row result never sits in memory.
//
// Values: integer types → int (a BIGINT UNSIGNED above INT64_MAX stays text); FLOAT, DOUBLE →
// double; everything else (DECIMAL, text, DATETIME...) → its text, so a price keeps its
// decimals ("12.50").
//
// Errors: connection problems are kTransient (the next call connects anew); a statement the
// server refuses (syntax, unknown table or column, privilege) is kConfig with the server's
// message; a bound value the statement cannot use (a duplicate key, NULL in a NOT NULL column,
// a value out of range under strict mode) is kRejected, since it concerns that one row.

#include <memory>

#include "connectors/mysql/mysql_connection.h"
#include "core/sql_session.h"

namespace smsbridge::mysql {

class MysqlSqlSession final : public SqlSession {
 public:
  static Result<std::unique_ptr<MysqlSqlSession>> open(const ConnectionOptions& options);

  Status forEachRow(std::string_view sql, const Row& params,
                    const std::function<bool(const Row&)>& on_row) override;
  Result<std::int64_t> execute(std::string_view sql, const Row& params) override;
  Result<std::vector<std::int64_t>> executeAll(std::span<const Statement> statements) override;

 private:
  explicit MysqlSqlSession(ConnectionOptions options) : options_(std::move(options)) {}
  Status ensureConnected();
  Status sessionError(const Status& status) const;

  ConnectionOptions options_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace smsbridge::mysql
