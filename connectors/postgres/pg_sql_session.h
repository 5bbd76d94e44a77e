#pragma once

// SqlSession (core/sql_session.h) on PostgreSQL, over one PgConnection: lookups, schedules,
// write-back and `test-mapping --from-db`. `:name` parameters become `$n` and their values are
// bound as text parameters that the server types from the statement, never spliced into it.
// Queries read through a cursor, a page at a time, so a 100,000-row result never sits in
// memory.
//
// Values: boolean → bool; smallint, integer, bigint, oid → int; real, double precision →
// double; everything else (numeric, text, timestamps, json...) → its text, so a price keeps
// its decimals ("12.50").
//
// Errors: connection problems are kTransient (and the next call reconnects); a statement the
// server refuses (syntax, unknown table or column, privilege) is kConfig with the server's
// message; a bound value the statement cannot use (SQLSTATE class 22 or 23: "abc" for an
// integer, a unique or NOT NULL violation) is kRejected, since it concerns that one row, not
// the config.

#include <chrono>
#include <memory>
#include <string>

#include "connectors/postgres/pg_connection.h"
#include "core/sql_session.h"

namespace smsbridge::postgres {

class PgSqlSession final : public SqlSession {
 public:
  static Result<std::unique_ptr<PgSqlSession>> open(const std::string& dsn,
                                                    std::chrono::milliseconds connect_timeout);

  Status forEachRow(std::string_view sql, const Row& params,
                    const std::function<bool(const Row&)>& on_row) override;
  Result<std::int64_t> execute(std::string_view sql, const Row& params) override;
  Result<std::vector<std::int64_t>> executeAll(std::span<const Statement> statements) override;

 private:
  explicit PgSqlSession(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}

  std::unique_ptr<PgConnection> conn_;
};

}  // namespace smsbridge::postgres
