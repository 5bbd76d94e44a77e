// SqlSession on the real PostgreSQL of scripts/test-services.sh: values arrive typed, `:name`
// parameters are bound and never spliced, results stream, and failures carry the category the
// caller acts on.

#include "connectors/postgres/pg_sql_session.h"

#include <random>
#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "config/document.h"
#include "config/section.h"
#include "connectors/postgres/pg_connector.h"
#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

class PgSqlSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_PG_DSN(dsn);
    dsn_ = dsn;
    std::random_device rd;
    table_ = "sqls" + std::to_string(rd() % 100000000);
    pqxx::connection conn(dsn_);
    pqxx::work txn(conn);
    txn.exec("CREATE TABLE " + table_ +
             " (id bigint PRIMARY KEY, name text, price numeric(10,2), ratio double precision, "
             "small smallint, active boolean, created timestamptz)");
    txn.commit();
    auto session = PgSqlSession::open(dsn_, std::chrono::seconds(5));
    ASSERT_TRUE(session) << session.error().toString();
    session_ = std::move(*session);
  }
  void TearDown() override {
    if (table_.empty()) return;
    pqxx::connection conn(dsn_);
    pqxx::work txn(conn);
    txn.exec("DROP TABLE IF EXISTS " + table_);
    txn.commit();
  }

  std::string dsn_;
  std::string table_;
  std::unique_ptr<PgSqlSession> session_;
};

TEST_F(PgSqlSessionTest, ValuesRoundTripWithTheirTypes) {
  auto inserted = session_->execute(
      "INSERT INTO " + table_ +
          " VALUES (:id, :name, :price, :ratio, :small, :active, '2026-11-22 10:15:00+00')",
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
  EXPECT_EQ(*full.find("price"), Value("12.50")) << "numeric keeps its decimals as text";
  EXPECT_EQ(*full.find("ratio"), Value(0.25));
  EXPECT_EQ(*full.find("small"), Value(7));
  EXPECT_EQ(*full.find("active"), Value(true));
  ASSERT_TRUE(full.find("created")->isString());
  EXPECT_EQ(full.find("created")->asString().rfind("2026-11-22", 0), 0u);
  const Row& empty = (*rows)[1];
  EXPECT_TRUE(empty.find("name")->isNull());
  EXPECT_TRUE(empty.find("active")->isNull());
}

TEST_F(PgSqlSessionTest, ParametersAreBoundNeverSpliced) {
  const std::string hostile = "x'); DROP TABLE " + table_ + "; --";
  ASSERT_TRUE(session_->execute("INSERT INTO " + table_ + " (id, name) VALUES (:id, :name)",
                                Row{{"id", 1}, {"name", Value(hostile)}}));
  // A name used twice, a cast, and a literal that looks like a parameter.
  auto rows = session_->query("SELECT name, ':name' AS literal, :id::int + 1 AS next FROM " +
                                  table_ + " WHERE name = :name AND id = :id",
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

TEST_F(PgSqlSessionTest, AMissingParameterOrABadStatementIsAConfigError) {
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

  auto value = session_->query("SELECT * FROM " + table_ + " WHERE id = :id", Row{{"id", "abc"}});
  ASSERT_FALSE(value);
  EXPECT_EQ(value.error().category(), ErrorCategory::kRejected) << value.error().toString();

  // The session is still usable after each failure.
  EXPECT_TRUE(session_->query("SELECT 1 AS one", Row{}));
}

TEST_F(PgSqlSessionTest, RowsStreamAndStopEarly) {
  int seen = 0;
  std::int64_t last = 0;
  Status s = session_->forEachRow("SELECT n FROM generate_series(1, :count) AS n",
                                  Row{{"count", 100000}}, [&](const Row& row) {
                                    ++seen;
                                    last = row.find("n")->asInt();
                                    return seen < 1234;
                                  });
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(seen, 1234) << "stopping is not an error and reads no further";
  EXPECT_EQ(last, 1234);

  seen = 0;
  s = session_->forEachRow("SELECT n FROM generate_series(1, 1501) AS n", Row{}, [&](const Row&) {
    ++seen;
    return true;
  });
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(seen, 1501) << "every page is read, the last one short";
}

TEST_F(PgSqlSessionTest, ExecuteReturnsTheAffectedRows) {
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

TEST_F(PgSqlSessionTest, ExecuteAllCommitsEveryStatementOrNone) {
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

TEST_F(PgSqlSessionTest, ALostConnectionIsTransientAndTheNextCallReconnects) {
  auto pid = session_->query("SELECT pg_backend_pid() AS pid", Row{});
  ASSERT_TRUE(pid) << pid.error().toString();
  {
    pqxx::connection admin(dsn_);
    pqxx::work txn(admin);
    txn.exec("SELECT pg_terminate_backend(" + std::to_string((*pid)[0].find("pid")->asInt()) + ")");
    txn.commit();
  }
  auto lost = session_->query("SELECT 1 AS one", Row{});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().category(), ErrorCategory::kTransient) << lost.error().toString();
  auto again = session_->query("SELECT 1 AS one", Row{});
  ASSERT_TRUE(again) << again.error().toString();
  EXPECT_EQ(*(*again)[0].find("one"), Value(1));
}

TEST_F(PgSqlSessionTest, TheSourceFactoryOpensASession) {
  auto doc = config::Document::loadString("dsn: " + dsn_ + "\ncapture: poll\n", "shop.yaml");
  ASSERT_TRUE(doc);
  config::Diagnostics diagnostics;
  auto factory = parseSource("shop", config::Section::root(*doc, sourceSchema()), diagnostics);
  ASSERT_TRUE(factory) << diagnostics.toString();
  ASSERT_TRUE(factory->open_sql);
  auto session = factory->open_sql();
  ASSERT_TRUE(session) << session.error().toString();
  EXPECT_TRUE((*session)->query("SELECT 1 AS one", Row{}));

  auto bad = config::Document::loadString(
      "dsn: postgresql://nobody@127.0.0.1:1/none\ncapture: trigger\nconnect_timeout: 1s\n",
      "shop.yaml");
  ASSERT_TRUE(bad);
  auto unreachable = parseSource("shop", config::Section::root(*bad, sourceSchema()), diagnostics);
  ASSERT_TRUE(unreachable) << diagnostics.toString();
  auto failed = unreachable->open_sql();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().category(), ErrorCategory::kTransient) << failed.error().toString();
}

}  // namespace
}  // namespace smsbridge::postgres
