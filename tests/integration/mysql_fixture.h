#pragma once

// The common ground of the MariaDB integration tests: a connection to the server of
// scripts/test-services.sh, tables under a random per-test name so tests never see each other's
// rows, and clean-up of every table a test created.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_connection.h"
#include "tests/integration/test_env.h"

namespace smsbridge::testing {

// `prefix` followed by eight random hex digits: a valid unquoted identifier.
inline std::string uniqueName(const std::string& prefix) {
  static const char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out = prefix;
  for (int i = 0; i < 8; ++i) out += kHex[rd() % 16];
  return out;
}

class MysqlTableTest : public ::testing::Test {
 protected:
  explicit MysqlTableTest(const std::string& name_prefix) : name_(uniqueName(name_prefix)) {}

  void SetUp() override {
    SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
    auto options = mysql::parseDsn(dsn);
    ASSERT_TRUE(options) << options.error().toString();
    options_ = *options;
    admin_ = connect();
    ASSERT_NE(admin_, nullptr);
  }

  void TearDown() override {
    if (!admin_) return;
    for (const auto& table : created_) (void)admin_->exec("DROP TABLE IF EXISTS `" + table + "`");
  }

  std::unique_ptr<mysql::Connection> connect() {
    auto conn = mysql::Connection::connect(options_);
    EXPECT_TRUE(conn) << conn.error().toString();
    return conn ? std::move(*conn) : nullptr;
  }

  // Creates `<name>_<suffix>` with the given column list; dropped in TearDown, children
  // (created later) first.
  std::string createTable(const std::string& suffix, const std::string& columns) {
    std::string table = name_ + "_" + suffix;
    Status s = admin_->exec("CREATE TABLE `" + table + "` (" + columns +
                            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    EXPECT_TRUE(s.isOk()) << s.toString();
    created_.insert(created_.begin(), table);
    return table;
  }

  void exec(const std::string& sql) {
    Status s = admin_->exec(sql);
    ASSERT_TRUE(s.isOk()) << sql << ": " << s.toString();
  }

  std::string name_;
  mysql::ConnectionOptions options_;
  std::unique_ptr<mysql::Connection> admin_;
  std::vector<std::string> created_;
};

}  // namespace smsbridge::testing
