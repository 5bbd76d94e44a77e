#pragma once

// One client connection to MySQL / MariaDB, with prepared statements for every value.
//
// Deviation from DESIGN.md §9: queries go through MariaDB Connector/C (mysql.h, mysql_stmt_*),
// not MySQL Connector/C++ 1.1. Connector/C is already linked for the binlog reader, so this
// avoids a second client library, and it reports errors as codes rather than exceptions, which
// maps directly onto categorised Status values.
//
// Threading: a Connection is not thread-safe; its owner serialises calls (MysqlStore holds a
// mutex, a trigger source uses it from its one capture thread). Every call blocks on the
// network, bounded by the connect/read/write timeouts.
//
// Errors: connection loss (2006, 2013, ...), lock wait timeout (1205) and deadlock (1213) are
// kTransient; after a loss isBroken() is true and the owner connects anew. Access and missing
// object errors (1045, 1044, 1142, 1146, 1049, 1419...) are kConfig with advice naming the
// server and database. Anything else (a malformed statement) is kInternal.

#include <mysql.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"

namespace smsbridge::mysql {

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  unsigned int port = 3306;
  std::string user;
  std::string password;
  std::string database;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};

  // "user@host:port/db", never the password: for messages and logs.
  std::string describe() const;
};

// Parses `mysql://user:pass@host:port/db` (or mariadb://; user, password and database are
// percent-decoded) or the key=value form `host=... port=... user=... password=... dbname=...`
// (`database=` also accepted). The database is required: the store and the change table live
// there. Errors are kConfig and never contain the password.
Result<ConnectionOptions> parseDsn(std::string_view dsn);

// A value bound to a `?` placeholder. Strings are sent as they are (utf8mb4).
using Param = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
// One result cell as text (numbers and DATETIMEs in the server's text form); nullopt is NULL.
using Cell = std::optional<std::string>;
using ResultRow = std::vector<Cell>;

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> connect(const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A statement without parameters (DDL, START TRANSACTION...).
  Status exec(const std::string& sql);
  // A prepared statement; returns the affected rows (changed rows for UPDATE, 0 for an
  // ON DUPLICATE KEY UPDATE that changed nothing).
  Result<std::uint64_t> execute(const std::string& sql, std::span<const Param> params = {});
  // A prepared SELECT; every row fully read.
  Result<std::vector<ResultRow>> query(const std::string& sql, std::span<const Param> params = {});

  struct ResultColumn {
    std::string name;
    enum_field_types type;
    bool is_unsigned;
  };
  // A prepared SELECT whose rows are handed to `on_row` one at a time as the server sends
  // them, so a large result is never held in memory. `on_row` returning false stops reading;
  // the rest of the result is discarded.
  Status forEachRow(
      const std::string& sql, std::span<const Param> params,
      const std::function<bool(const std::vector<ResultColumn>&, const ResultRow&)>& on_row);

  Status begin() { return exec("START TRANSACTION"); }
  Status commit() { return exec("COMMIT"); }
  // Best effort: a failed rollback leaves the connection broken, and the server rolls back.
  void rollback();

  // The connection was lost; the owner should drop it and connect anew.
  bool isBroken() const { return broken_; }
  bool isMariaDb() const { return mariadb_; }
  // mysql_get_server_version(): major*10000 + minor*100 + patch (101119 for 10.11.19).
  unsigned long serverVersion() const { return version_; }
  // Whether the server knows FOR UPDATE SKIP LOCKED (MariaDB >= 10.6, MySQL >= 8.0).
  bool supportsSkipLocked() const;
  const ConnectionOptions& options() const { return options_; }
  // The server's error code of the last failed call (1064 for a syntax error...), 0 if none.
  unsigned int lastErrorCode() const { return last_error_code_; }

 private:
  struct StmtCloser {
    void operator()(MYSQL_STMT* stmt) const;
  };
  using Stmt = std::unique_ptr<MYSQL_STMT, StmtCloser>;

  Connection(MYSQL* mysql, ConnectionOptions options);
  // Prepares `sql`, binds `params` and executes it; the caller reads the results, if any.
  Result<Stmt> run(const std::string& sql, std::span<const Param> params, std::string_view doing);
  Status error(unsigned int code, std::string_view sqlstate, std::string_view message,
               std::string_view doing);
  Status connectionError(std::string_view doing);
  Status statementError(MYSQL_STMT* stmt, std::string_view doing);

  MYSQL* mysql_;
  ConnectionOptions options_;
  bool broken_ = false;
  bool mariadb_ = false;
  unsigned long version_ = 0;
  unsigned int last_error_code_ = 0;
};

// Text as MySQL writes a DATETIME(3) in UTC ("2026-11-22 10:15:00.123"), and back.
std::string toSqlTime(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> fromSqlTime(const Cell& cell);

}  // namespace smsbridge::mysql
