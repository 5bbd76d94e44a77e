// SqlSession on the real PostgreSQL and MariaDB of scripts/test-services.sh. Both sessions keep
// one contract, so one set of tests runs on both: values arrive typed, `:name` parameters are
// bound and never spliced, results stream, and failures carry the category the caller acts on.
// A Dialect holds only what differs between the servers: SQL spellings and the types the client
// libraries report.

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_connector.h"
#include "connectors/mysql/mysql_sql_session.h"
#include "connectors/postgres/pg_connector.h"
#include "connectors/postgres/pg_sql_session.h"
#include "tests/integration/source_config.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

struct Dialect {
  std::string name;
  std::optional<std::string> (*dsn)();
  std::string_view dsn_var;
  std::function<Result<std::unique_ptr<SqlSession>>(const std::string& dsn)> open;
  // Column list of the table every test uses: id, name, price, ratio, small, active, created,
  // big (an unsigned 64-bit maximum).
  std::string columns;
  // What a true boolean reads back as.
  Value active_true;
  // `SELECT n ... ORDER BY n` over 1..:count.
  std::string numbers;
  std::string own_session_id;  // SELECT <id> AS id
  // Ends the session with that id when the id is appended (and `kill_suffix` after it).
  std::string kill_prefix;
  std::string kill_suffix;
  // Whether a text value bound to an integer column is an error (MySQL converts it silently).
  bool rejects_text_for_integers;
  // Source configuration for the factory test.
  std::string capture_mode;
  std::string unreachable_dsn;
  const config::Schema& (*source_schema)();
  testing::SourceParser parse_source;
};

Result<std::unique_ptr<SqlSession>> openPostgres(const std::string& dsn) {
  auto session = postgres::PgSqlSession::open(dsn, std::chrono::seconds(5));
  if (!session) return session.error();
  return std::unique_ptr<SqlSession>(std::move(*session));
}

Result<std::unique_ptr<SqlSession>> openMysql(const std::string& dsn) {
  auto options = mysql::parseDsn(dsn);
  if (!options) return options.error();
  auto session = mysql::MysqlSqlSession::open(*options);
  if (!session) return session.error();
  return std::unique_ptr<SqlSession>(std::move(*session));
}

// 1..:count (at most 10,000) without a recursive CTE, whose depth servers limit to 1000.
std::string mysqlNumbers() {
  const std::string digits =
      "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT "
      "4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL "
      "SELECT 9)";
  return "SELECT * FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 1 AS n FROM " + digits +
         " a, " + digits + " b, " + digits + " c, " + digits + " e) s WHERE n <= :count ORDER BY n";
}

std::vector<Dialect> dialects() {
  return {
      Dialect{"PostgreSQL", testing::pgDsn, testing::kPgDsnVar, openPostgres,
              "id bigint PRIMARY KEY, name text, price numeric(10,2), ratio double precision, "
              "small smallint, active boolean, created timestamp(3), big numeric(20,0)",
              Value(true), "SELECT n FROM generate_series(1, :count) AS n ORDER BY n",
              "SELECT pg_backend_pid() AS id", "SELECT pg_terminate_backend(", ")", true, "poll",
              "postgresql://nobody@127.0.0.1:1/none", postgres::sourceSchema,
              postgres::parseSource},
      Dialect{"MariaDB", testing::mysqlDsn, testing::kMysqlDsnVar, openMysql,
              "id BIGINT PRIMARY KEY, name VARCHAR(100), price DECIMAL(10,2), ratio DOUBLE, "
              "small SMALLINT, active BOOLEAN, created DATETIME(3), big BIGINT UNSIGNED",
              Value(1), mysqlNumbers(), "SELECT CONNECTION_ID() AS id", "KILL CONNECTION ", "",
              false, "trigger", "mysql://nobody@127.0.0.1:1/none", mysql::sourceSchema,
              mysql::parseSource},
  };
}

class SqlSessionTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    const Dialect& d = GetParam();
    SMSBRIDGE_REQUIRE_DSN_(dsn, d.dsn, d.dsn_var);
    dsn_ = dsn;
    std::random_device rd;
    table_ = "sqls" + std::to_string(rd() % 100000000);
    auto session = d.open(dsn_);
    ASSERT_TRUE(session) << session.error().toString();
    session_ = std::move(*session);
    auto created = session_->execute("CREATE TABLE " + table_ + " (" + d.columns + ")", Row{});
    ASSERT_TRUE(created) << created.error().toString();
  }
  void TearDown() override {
    if (session_) (void)session_->execute("DROP TABLE IF EXISTS " + table_, Row{});
  }

  std::string dsn_;
  std::string table_;
  std::unique_ptr<SqlSession> session_;
};

TEST_P(SqlSessionTest, ValuesRoundTripWithTheirTypes) {
  auto inserted = session_->execute(
      "INSERT INTO " + table_ +
          " VALUES (:id, :name, :price, :ratio, :small, :active, '2026-11-22 10:15:00.123', "
          "18446744073709551615)",
      Row{{"id", Value(std::int64_t{9007199254740993})},
          {"name", Value("Łukasz 😀")},
          {"price", Value("12.50")},
          {"ratio", Value(0.25)},
          {"small", Value(7)},
          {"active", Value(true)}});
  ASSERT_TRUE(inserted) << inserted.error().toString();
  EXPECT_EQ(*inserted, 1);
  ASSERT_TRUE(session_->execute("INSERT INTO " + table_ + " (id) VALUES (:id)", Row{{"id", 2}}));

  auto rows = session_->query("SELECT * FROM " + table_ + " ORDER BY id DESC", Row{});
  ASSERT_TRUE(rows) << rows.error().toString();
  ASSERT_EQ(rows->size(), 2u);
  const Row& full = (*rows)[0];
  EXPECT_EQ(*full.find("id"), Value(std::int64_t{9007199254740993}));
  EXPECT_EQ(*full.find("name"), Value("Łukasz 😀"));
  EXPECT_EQ(*full.find("price"), Value("12.50")) << "decimals keep their digits as text";
  EXPECT_EQ(*full.find("ratio"), Value(0.25));
  EXPECT_EQ(*full.find("small"), Value(7));
  EXPECT_EQ(*full.find("active"), GetParam().active_true);
  EXPECT_EQ(*full.find("created"), Value("2026-11-22 10:15:00.123"));
  EXPECT_EQ(*full.find("big"), Value("18446744073709551615")) << "beyond int64: text";
  const Row& empty = (*rows)[1];
  EXPECT_TRUE(empty.find("name")->isNull());
  EXPECT_TRUE(empty.find("ratio")->isNull());
  EXPECT_TRUE(empty.find("active")->isNull());
}

TEST_P(SqlSessionTest, ParametersAreBoundNeverSpliced) {
  const std::string hostile = "x'); DROP TABLE " + table_ + "; -- \\' \"";
  ASSERT_TRUE(session_->execute("INSERT INTO " + table_ + " (id, name) VALUES (:id, :name)",
                                Row{{"id", 1}, {"name", Value(hostile)}}));
  // A name used twice binds twice; a literal that looks like a parameter stays a literal.
  auto rows = session_->query("SELECT name, ':name' AS literal, id + 1 AS next FROM " + table_ +
                                  " WHERE name = :name AND id = :id",
                              Row{{"name", Value(hostile)}, {"id", 1}});
  ASSERT_TRUE(rows) << rows.error().toString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(*(*rows)[0].find("name"), Value(hostile));
  EXPECT_EQ(*(*rows)[0].find("literal"), Value(":name"));
  EXPECT_EQ(*(*rows)[0].find("next"), Value(2));
  auto still_there = session_->query("SELECT count(*) AS n FROM " + table_, Row{});
  ASSERT_TRUE(still_there) << still_there.error().toString();
  EXPECT_EQ(*(*still_there)[0].find("n"), Value(1));
}

TEST_P(SqlSessionTest, AMissingParameterOrABadStatementIsAConfigError) {
  auto missing = session_->query("SELECT * FROM " + table_ + " WHERE id = :order_id", Row{});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(missing.error().message().find(":order_id"), std::string::npos);

  auto column = session_->query("SELECT nope FROM " + table_, Row{});
  ASSERT_FALSE(column);
  EXPECT_EQ(column.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(column.error().message().find("nope"), std::string::npos) << column.error().message();

  auto syntax = session_->execute("UPDATE " + table_ + " SET WHERE", Row{});
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().category(), ErrorCategory::kConfig) << syntax.error().toString();

  // Data the server refuses is a rejection of that data, not a configuration error.
  ASSERT_TRUE(session_->execute("INSERT INTO " + table_ + " (id) VALUES (1)", Row{}));
  auto duplicate =
      session_->execute("INSERT INTO " + table_ + " (id) VALUES (:id)", Row{{"id", 1}});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().category(), ErrorCategory::kRejected) << duplicate.error().toString();
  if (GetParam().rejects_text_for_integers) {
    auto value = session_->query("SELECT * FROM " + table_ + " WHERE id = :id", Row{{"id", "abc"}});
    ASSERT_FALSE(value);
    EXPECT_EQ(value.error().category(), ErrorCategory::kRejected) << value.error().toString();
  }

  // The session is still usable after each failure.
  EXPECT_TRUE(session_->query("SELECT 1 AS one", Row{}));
}

TEST_P(SqlSessionTest, RowsStreamAndStopEarly) {
  const std::string& numbers = GetParam().numbers;
  int seen = 0;
  std::int64_t last = 0;
  Status s = session_->forEachRow(numbers, Row{{"count", 10000}}, [&](const Row& row) {
    ++seen;
    last = row.find("n")->asInt();
    return seen < 1234;
  });
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(seen, 1234) << "stopping is not an error and reads no further";
  EXPECT_EQ(last, 1234);

  seen = 0;
  s = session_->forEachRow(numbers, Row{{"count", 1501}}, [&](const Row&) {
    ++seen;
    return true;
  });
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(seen, 1501) << "every page is read, the last one short";

  // The connection is in sync again after the abandoned rest of a result.
  auto next = session_->query(numbers, Row{{"count", 3}});
  ASSERT_TRUE(next) << next.error().toString();
  EXPECT_EQ(next->size(), 3u);
}

TEST_P(SqlSessionTest, ExecuteReturnsTheAffectedRows) {
  for (int id = 1; id <= 3; ++id) {
    ASSERT_TRUE(session_->execute("INSERT INTO " + table_ + " (id, name) VALUES (:id, 'a')",
                                  Row{{"id", id}}));
  }
  auto updated = session_->execute("UPDATE " + table_ + " SET name = :name WHERE id >= :from",
                                   Row{{"name", "b"}, {"from", 2}});
  ASSERT_TRUE(updated) << updated.error().toString();
  EXPECT_EQ(*updated, 2);
  auto none = session_->execute("DELETE FROM " + table_ + " WHERE id > 10", Row{});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
}

TEST_P(SqlSessionTest, ExecuteAllCommitsEveryStatementOrNone) {
  const std::vector<SqlSession::Statement> failing = {
      {"INSERT INTO " + table_ + " (id, name) VALUES (:id, 'a')", Row{{"id", 1}}},
      {"INSERT INTO " + table_ + " (id, name) VALUES (:id, 'b')", Row{{"id", 2}}},
      {"INSERT INTO " + table_ + " (id, name) VALUES (:id, 'again')", Row{{"id", 1}}}};
  auto failed = session_->executeAll(failing);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().category(), ErrorCategory::kRejected) << failed.error().toString();
  auto count = session_->query("SELECT count(*) AS n FROM " + table_, Row{});
  ASSERT_TRUE(count) << count.error().toString();
  EXPECT_EQ(*(*count)[0].find("n"), Value(0)) << "the first two rolled back with the third";

  const std::vector<SqlSession::Statement> good = {
      {"INSERT INTO " + table_ + " (id, name) VALUES (:id, 'a')", Row{{"id", 1}}},
      {"INSERT INTO " + table_ + " (id, name) VALUES (:id, 'b')", Row{{"id", 2}}},
      {"UPDATE " + table_ + " SET name = :name", Row{{"name", "c"}}}};
  auto affected = session_->executeAll(good);
  ASSERT_TRUE(affected) << affected.error().toString();
  EXPECT_EQ(*affected, (std::vector<std::int64_t>{1, 1, 2}));
  auto missing = session_->executeAll(
      std::vector<SqlSession::Statement>{{"DELETE FROM " + table_ + " WHERE id = :id", Row{}}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category(), ErrorCategory::kConfig);
}

TEST_P(SqlSessionTest, ALostConnectionIsTransientAndTheNextCallReconnects) {
  const Dialect& d = GetParam();
  auto id = session_->query(d.own_session_id, Row{});
  ASSERT_TRUE(id) << id.error().toString();
  auto admin = d.open(dsn_);
  ASSERT_TRUE(admin) << admin.error().toString();
  auto killed = (*admin)->execute(
      d.kill_prefix + std::to_string((*id)[0].find("id")->asInt()) + d.kill_suffix, Row{});
  ASSERT_TRUE(killed) << killed.error().toString();

  auto lost = session_->query("SELECT 1 AS one", Row{});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().category(), ErrorCategory::kTransient) << lost.error().toString();
  auto again = session_->query("SELECT 1 AS one", Row{});
  ASSERT_TRUE(again) << again.error().toString();
  EXPECT_EQ(*(*again)[0].find("one"), Value(1));
}

TEST_P(SqlSessionTest, TheSourceFactoryOpensASession) {
  const Dialect& d = GetParam();
  auto parsed = testing::parseSourceYaml("dsn: " + dsn_ + "\ncapture: " + d.capture_mode + "\n",
                                         d.source_schema(), d.parse_source);
  const auto& factory = parsed.factory;
  ASSERT_TRUE(factory) << parsed.diagnostics;
  ASSERT_TRUE(factory->open_sql);
  auto session = factory->open_sql();
  ASSERT_TRUE(session) << session.error().toString();
  EXPECT_TRUE((*session)->query("SELECT 1 AS one", Row{}));

  auto bad = testing::parseSourceYaml(
      "dsn: " + d.unreachable_dsn + "\ncapture: " + d.capture_mode + "\nconnect_timeout: 1s\n",
      d.source_schema(), d.parse_source);
  const auto& unreachable = bad.factory;
  ASSERT_TRUE(unreachable) << bad.diagnostics;
  auto failed = unreachable->open_sql();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().category(), ErrorCategory::kTransient) << failed.error().toString();
}

INSTANTIATE_TEST_SUITE_P(Servers, SqlSessionTest, ::testing::ValuesIn(dialects()),
                         [](const ::testing::TestParamInfo<Dialect>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace smsbridge
