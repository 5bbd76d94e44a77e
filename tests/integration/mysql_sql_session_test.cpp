// SqlSession on the real MariaDB of scripts/test-services.sh: values arrive typed, `:name`
// parameters are bound and never spliced, results stream, and failures carry the category the
// caller acts on.

#include "connectors/mysql/mysql_sql_session.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "config/document.h"
#include "config/section.h"
#include "connectors/mysql/mysql_connector.h"
#include "tests/integration/test_env.h"

namespace smsbridge::mysql {
namespace {

class MysqlSqlSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
    dsn_ = dsn;
    auto options = parseDsn(dsn_);
    ASSERT_TRUE(options) << options.error().toString();
    options_ = *options;
    std::random_device rd;
    table_ = "sqls" + std::to_string(rd() % 100000000);
    auto session = MysqlSqlSession::open(options_);
    ASSERT_TRUE(session) << session.error().toString();
    session_ = std::move(*session);
    auto created = session_->execute(
        "CREATE TABLE " + table_ +
            " (id BIGINT PRIMARY KEY, name VARCHAR(100), price DECIMAL(10,2), ratio DOUBLE, "
            "small SMALLINT, active BOOLEAN, created DATETIME(3), big BIGINT UNSIGNED) "
            "CHARACTER SET utf8mb4",
        Row{});
    ASSERT_TRUE(created) << created.error().toString();
  }
  void TearDown() override {
    if (session_) (void)session_->execute("DROP TABLE IF EXISTS " + table_, Row{});
  }

  std::string dsn_;
  ConnectionOptions options_;
  std::string table_;
  std::unique_ptr<MysqlSqlSession> session_;
};

TEST_F(MysqlSqlSessionTest, ValuesRoundTripWithTheirTypes) {
  auto inserted = session_->execute(
      "INSERT INTO " + table_ +
          " VALUES (:id, :name, :price, :ratio, :small, :active, '2026-11-22 10:15:00.123', "
          "18446744073709551615)",
      Row{{"id", Value(std::int64_t{9007199254740993})},
          {"name", Value("Łukasz")},
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
  EXPECT_EQ(*full.find("name"), Value("Łukasz"));
  EXPECT_EQ(*full.find("price"), Value("12.50")) << "DECIMAL keeps its decimals as text";
  EXPECT_EQ(*full.find("ratio"), Value(0.25));
  EXPECT_EQ(*full.find("small"), Value(7));
  EXPECT_EQ(*full.find("active"), Value(1)) << "BOOLEAN is TINYINT(1) in MySQL";
  EXPECT_EQ(*full.find("created"), Value("2026-11-22 10:15:00.123"));
  EXPECT_EQ(*full.find("big"), Value("18446744073709551615")) << "beyond int64: text";
  const Row& empty = (*rows)[1];
  EXPECT_TRUE(empty.find("name")->isNull());
  EXPECT_TRUE(empty.find("ratio")->isNull());
}

TEST_F(MysqlSqlSessionTest, ParametersAreBoundNeverSpliced) {
  const std::string hostile = "x'); DROP TABLE " + table_ + "; -- \\' \"";
  ASSERT_TRUE(session_->execute("INSERT INTO " + table_ + " (id, name) VALUES (:id, :name)",
                                Row{{"id", 1}, {"name", Value(hostile)}}));
  // A name used twice binds twice; a literal that looks like a parameter stays a literal.
  auto rows = session_->query("SELECT name, ':name' AS literal, :id + 1 AS next FROM " + table_ +
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

TEST_F(MysqlSqlSessionTest, AMissingParameterOrABadStatementIsAConfigError) {
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

  ASSERT_TRUE(session_->execute("INSERT INTO " + table_ + " (id) VALUES (1)", Row{}));
  auto duplicate =
      session_->execute("INSERT INTO " + table_ + " (id) VALUES (:id)", Row{{"id", 1}});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().category(), ErrorCategory::kRejected) << duplicate.error().toString();

  EXPECT_TRUE(session_->query("SELECT 1 AS one", Row{}));
}

TEST_F(MysqlSqlSessionTest, RowsStreamAndStopEarly) {
  // 1..:count (at most 10,000), without a recursive CTE, whose depth servers limit to 1000.
  const std::string digits =
      "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT "
      "4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL "
      "SELECT 9)";
  const std::string numbers =
      "SELECT * FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 1 "
      "AS n FROM " +
      digits + " a, " + digits + " b, " + digits + " c, " + digits +
      " e) s WHERE n <= :count ORDER BY n";
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
  // The connection is in sync again after the abandoned rest of the result.
  auto next = session_->query(numbers, Row{{"count", 3}});
  ASSERT_TRUE(next) << next.error().toString();
  EXPECT_EQ(next->size(), 3u);
}

TEST_F(MysqlSqlSessionTest, ExecuteReturnsTheAffectedRows) {
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

TEST_F(MysqlSqlSessionTest, ExecuteAllCommitsEveryStatementOrNone) {
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

TEST_F(MysqlSqlSessionTest, ALostConnectionIsTransientAndTheNextCallReconnects) {
  auto id = session_->query("SELECT CONNECTION_ID() AS id", Row{});
  ASSERT_TRUE(id) << id.error().toString();
  auto admin = Connection::connect(options_);
  ASSERT_TRUE(admin) << admin.error().toString();
  ASSERT_TRUE(
      (*admin)->exec("KILL CONNECTION " + std::to_string((*id)[0].find("id")->asInt())).isOk());
  auto lost = session_->query("SELECT 1 AS one", Row{});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().category(), ErrorCategory::kTransient) << lost.error().toString();
  auto again = session_->query("SELECT 1 AS one", Row{});
  ASSERT_TRUE(again) << again.error().toString();
  EXPECT_EQ(*(*again)[0].find("one"), Value(1));
}

TEST_F(MysqlSqlSessionTest, TheSourceFactoryOpensASession) {
  auto doc = config::Document::loadString("dsn: " + dsn_ + "\ncapture: trigger\n", "shop.yaml");
  ASSERT_TRUE(doc);
  config::Diagnostics diagnostics;
  auto factory = parseSource("shop", config::Section::root(*doc, sourceSchema()), diagnostics);
  ASSERT_TRUE(factory) << diagnostics.toString();
  ASSERT_TRUE(factory->open_sql);
  auto session = factory->open_sql();
  ASSERT_TRUE(session) << session.error().toString();
  EXPECT_TRUE((*session)->query("SELECT 1 AS one", Row{}));
}

}  // namespace
}  // namespace smsbridge::mysql
