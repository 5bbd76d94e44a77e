#pragma once

// Where the integration tests find the real databases started by scripts/test-services.sh.
//
// A DSN comes from the environment (SMSBRIDGE_TEST_PG_DSN, SMSBRIDGE_TEST_MYSQL_DSN) or, when
// that is unset, from the env file the script writes: $SMSBRIDGE_SERVICES_ENV if set, else
// <build dir>/test-services.env. So `ctest` works after `scripts/test-services.sh start` without
// sourcing anything.

#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace smsbridge::testing {

inline constexpr std::string_view kPgDsnVar = "SMSBRIDGE_TEST_PG_DSN";
inline constexpr std::string_view kMysqlDsnVar = "SMSBRIDGE_TEST_MYSQL_DSN";

// postgresql://user:password@host:port/db, usable as-is by PQconnectdb().
std::optional<std::string> pgDsn();

// mysql://user:password@host:port/db; parseMysqlDsn() splits it for mysql_real_connect().
std::optional<std::string> mysqlDsn();

// Value of `name` from the environment, else from the services env file; nullopt if neither
// has a non-empty value.
std::optional<std::string> serviceSetting(std::string_view name);

// True when the CI environment variable is "true": a missing database is then a failure.
bool runningInCi();

// The message a test without its database reports, naming the variable and how to fix it.
std::string missingServiceMessage(std::string_view var_name);

// The parts of a mysql:// (or mariadb://) URL as Connector/C wants them. User, password and
// database are percent-decoded.
struct MysqlDsn {
  std::string host;
  unsigned int port = 3306;
  std::string user;
  std::string password;
  std::string database;
};

// nullopt if `dsn` is not mysql://[user[:password]@]host[:port][/database][?...].
std::optional<MysqlDsn> parseMysqlDsn(std::string_view dsn);

}  // namespace smsbridge::testing

// Declares `const std::string var` holding the DSN, or ends the current test: FAIL() in CI
// (CI=true), GTEST_SKIP() elsewhere. Use it in a TEST body or a fixture's SetUp().
#define SMSBRIDGE_REQUIRE_DSN_(var, getter, var_name)                        \
  const std::optional<std::string> var##_or_missing_ = getter();             \
  if (!var##_or_missing_.has_value()) {                                      \
    if (::smsbridge::testing::runningInCi()) {                               \
      FAIL() << ::smsbridge::testing::missingServiceMessage(var_name);       \
    } else {                                                                 \
      GTEST_SKIP() << ::smsbridge::testing::missingServiceMessage(var_name); \
    }                                                                        \
  }                                                                          \
  const std::string var = *var##_or_missing_

#define SMSBRIDGE_REQUIRE_PG_DSN(var) \
  SMSBRIDGE_REQUIRE_DSN_(var, ::smsbridge::testing::pgDsn, ::smsbridge::testing::kPgDsnVar)

#define SMSBRIDGE_REQUIRE_MYSQL_DSN(var) \
  SMSBRIDGE_REQUIRE_DSN_(var, ::smsbridge::testing::mysqlDsn, ::smsbridge::testing::kMysqlDsnVar)
