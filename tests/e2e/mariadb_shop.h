#pragma once

// A MariaDB/MySQL shop for e2e tests: the application's own connection, sending plain SQL
// through the C API as the shop's PHP would, and throwing on errors so a test stops at the
// statement that failed. Also runs .sql files written for the mariadb client (DELIMITER and all),
// so examples' scripts are tested exactly as users run them.

#include <mysql.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/test_env.h"

namespace smsbridge::testing {

// The statements of a script for the mariadb/mysql client: each ends with the current
// delimiter at the end of a line (';' until a `DELIMITER //` line changes it), and `--` comment
// lines between statements are dropped. Enough for the files in examples/, not a SQL parser.
inline std::vector<std::string> splitSqlScript(std::string_view script) {
  std::vector<std::string> statements;
  std::string delimiter = ";";
  std::string current;
  std::size_t begin = 0;
  while (begin < script.size()) {
    std::size_t end = script.find('\n', begin);
    if (end == std::string_view::npos) end = script.size();
    std::string line(script.substr(begin, end - begin));
    begin = end + 1;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    std::size_t indent = line.find_first_not_of(' ');
    if (current.empty() && (indent == std::string::npos || line.compare(indent, 2, "--") == 0)) {
      continue;
    }
    if (current.empty() && line.rfind("DELIMITER ", 0) == 0) {
      delimiter = line.substr(10);
      continue;
    }
    if (line.size() >= delimiter.size() &&
        line.compare(line.size() - delimiter.size(), delimiter.size(), delimiter) == 0) {
      current += line.substr(0, line.size() - delimiter.size());
      statements.push_back(current);
      current.clear();
    } else {
      current += line + "\n";
    }
  }
  return statements;
}

class MariaDbShop {
 public:
  explicit MariaDbShop(const std::string& dsn) : conn_(mysql_init(nullptr)) {
    auto parts = parseMysqlDsn(dsn);
    if (!parts) throw std::runtime_error("bad mysql DSN");
    // CLIENT_MULTI_STATEMENTS also allows the several results a CALL returns.
    if (!mysql_real_connect(conn_, parts->host.c_str(), parts->user.c_str(),
                            parts->password.c_str(),
                            parts->database.empty() ? nullptr : parts->database.c_str(),
                            parts->port, nullptr, CLIENT_MULTI_STATEMENTS)) {
      std::string error = mysql_error(conn_);
      mysql_close(conn_);
      throw std::runtime_error(error);
    }
    mysql_set_character_set(conn_, "utf8mb4");
  }
  ~MariaDbShop() { mysql_close(conn_); }
  MariaDbShop(const MariaDbShop&) = delete;
  MariaDbShop& operator=(const MariaDbShop&) = delete;

  // Runs `sql` (one statement, or several separated by ';') and drops any result.
  void exec(const std::string& sql) { column(sql); }

  // The first column of the first row, or "" when there is no row or it is NULL.
  std::string text(const std::string& sql) {
    std::vector<std::string> values = column(sql);
    return values.empty() ? "" : values.front();
  }

  // The first column of the first row as a number, or -1 when there is no row or it is NULL.
  long long scalar(const std::string& sql) {
    std::vector<std::string> values = column(sql);
    return values.empty() || values.front().empty() ? -1 : std::atoll(values.front().c_str());
  }

  // The first column of every row of the first result (NULL as "").
  std::vector<std::string> column(const std::string& sql) {
    if (mysql_query(conn_, sql.c_str()) != 0) {
      throw std::runtime_error(sql + ": " + mysql_error(conn_));
    }
    std::vector<std::string> values;
    bool first = true;
    int next = 0;
    do {
      if (MYSQL_RES* r = mysql_store_result(conn_)) {
        while (MYSQL_ROW row = mysql_fetch_row(r)) {
          if (first) values.emplace_back(row[0] ? row[0] : "");
        }
        mysql_free_result(r);
        first = false;
      }
      next = mysql_next_result(conn_);
      if (next > 0) throw std::runtime_error(sql + ": " + mysql_error(conn_));
    } while (next == 0);
    return values;
  }

  // Runs a script written for the mariadb client (splitSqlScript), one statement at a time.
  void execScript(std::string_view script) {
    for (const std::string& statement : splitSqlScript(script)) exec(statement);
  }

  // Drops the tables whose names start with `prefix`, to clean up after a test.
  void dropTablesLike(const std::string& prefix) {
    std::vector<std::string> tables = column(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND table_name LIKE '" +
        prefix + "%'");
    // smsbridge's attempts reference its messages: drop in any order.
    exec("SET FOREIGN_KEY_CHECKS = 0");
    for (const auto& t : tables) exec("DROP TABLE IF EXISTS `" + t + "`");
    exec("SET FOREIGN_KEY_CHECKS = 1");
  }

 private:
  MYSQL* conn_;
};

// Drops the tables a test created (their names start with `tag`) even when an assertion ended
// the test early.
struct MariaDbCleanup {
  MariaDbShop& shop;
  std::string tag;
  ~MariaDbCleanup() {
    try {
      shop.dropTablesLike(tag);
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
      // Best effort: the test's own assertions already reported the problem.
    }
  }
};

// The test DSN with its database replaced: mysql://user:pw@host:port/<database>[?...].
inline std::string withMysqlDatabase(const std::string& dsn, const std::string& database) {
  std::string::size_type query = dsn.find('?');
  std::string base = dsn.substr(0, query);
  std::string rest = query == std::string::npos ? "" : dsn.substr(query);
  std::string::size_type authority = base.find("://");
  std::string::size_type slash = base.find('/', authority == std::string::npos ? 0 : authority + 3);
  return (slash == std::string::npos ? base : base.substr(0, slash)) + "/" + database + rest;
}

}  // namespace smsbridge::testing
