#pragma once

// A MySQL / MariaDB shop for e2e tests: the shop application's own connection (plain SQL over
// Connector/C, throwing on errors), with the same exec/scalar shape as pg_shop.h so shared
// drivers (crash_driver.h) take either.

#include <mysql.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/integration/test_env.h"

namespace smsbridge::testing {

class MysqlShop {
 public:
  explicit MysqlShop(const std::string& dsn) : conn_(mysql_init(nullptr)) {
    auto parts = parseMysqlDsn(dsn);
    if (!parts) {
      mysql_close(conn_);
      throw std::runtime_error("bad mysql DSN");
    }
    if (!mysql_real_connect(conn_, parts->host.c_str(), parts->user.c_str(),
                            parts->password.c_str(), parts->database.c_str(), parts->port, nullptr,
                            0)) {
      std::string error = mysql_error(conn_);
      mysql_close(conn_);
      throw std::runtime_error(error);
    }
    mysql_set_character_set(conn_, "utf8mb4");
  }
  ~MysqlShop() { mysql_close(conn_); }
  MysqlShop(const MysqlShop&) = delete;
  MysqlShop& operator=(const MysqlShop&) = delete;

  void exec(const std::string& sql) {
    if (mysql_query(conn_, sql.c_str()) != 0) {
      throw std::runtime_error(sql + ": " + mysql_error(conn_));
    }
    if (MYSQL_RES* r = mysql_store_result(conn_)) mysql_free_result(r);
  }
  // The first column of every row.
  std::vector<std::string> column(const std::string& sql) {
    if (mysql_query(conn_, sql.c_str()) != 0) {
      throw std::runtime_error(sql + ": " + mysql_error(conn_));
    }
    std::vector<std::string> values;
    MYSQL_RES* r = mysql_store_result(conn_);
    while (MYSQL_ROW row = r ? mysql_fetch_row(r) : nullptr)
      values.emplace_back(row[0] ? row[0] : "");
    if (r) mysql_free_result(r);
    return values;
  }
  // The first value, or -1 when there is no row or it is NULL.
  long long scalar(const std::string& sql) {
    if (mysql_query(conn_, sql.c_str()) != 0) {
      throw std::runtime_error(sql + ": " + mysql_error(conn_));
    }
    MYSQL_RES* r = mysql_store_result(conn_);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : nullptr;
    long long v = row && row[0] ? std::atoll(row[0]) : -1;
    if (r) mysql_free_result(r);
    return v;
  }
  void dropTablesLike(const std::string& prefix) {
    const auto tables = column(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND "
        "table_name LIKE '" +
        prefix + "%'");
    exec("SET FOREIGN_KEY_CHECKS = 0");
    for (const auto& t : tables) exec("DROP TABLE IF EXISTS `" + t + "`");
    exec("SET FOREIGN_KEY_CHECKS = 1");
  }

 private:
  MYSQL* conn_;
};

// Drops the tables a test created (their names start with `tag`) even when an assertion ended
// the test early.
struct MysqlCleanup {
  MysqlShop& shop;
  std::string tag;
  ~MysqlCleanup() {
    try {
      shop.dropTablesLike(tag);
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
      // Best effort: the test's own assertions already reported the problem.
    }
  }
};

}  // namespace smsbridge::testing
