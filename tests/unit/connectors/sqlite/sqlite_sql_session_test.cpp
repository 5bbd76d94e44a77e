#include "connectors/sqlite/sqlite_sql_session.h"

#include <gtest/gtest.h>

#include "tests/fakes/temp_dir.h"

namespace smsbridge::sqlite {
namespace {

using std::chrono::milliseconds;

class SqliteSqlSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db =
        Database::open(dir_.file("shop.db"), Database::OpenMode::kCreateIfMissing, milliseconds(0));
    ASSERT_TRUE(db) << db.error().toString();
    ASSERT_TRUE((*db)
                    ->exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, phone TEXT, "
                           "balance REAL, note BLOB);"
                           "INSERT INTO customers VALUES (1, '+48600100200', 12.5, NULL),"
                           " (2, '+48600100201', 0, 'x'), (3, NULL, -1.25, NULL);")
                    .isOk());
    auto session = SqliteSqlSession::open(dir_.file("shop.db"), milliseconds(0));
    ASSERT_TRUE(session) << session.error().toString();
    session_ = std::move(*session);
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteSqlSession> session_;
};

TEST_F(SqliteSqlSessionTest, BindsByNameAndMapsColumnTypes) {
  auto rows = session_->query(
      "SELECT id, phone, balance, note FROM customers WHERE id >= :min AND id <= :max ORDER BY id",
      Row{{"max", Value(3)}, {"min", Value(std::int64_t{1})}});
  ASSERT_TRUE(rows) << rows.error().toString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0], (Row{{"id", Value(1)},
                             {"phone", Value("+48600100200")},
                             {"balance", Value(12.5)},
                             {"note", Value()}}));
  EXPECT_TRUE((*rows)[2].find("phone")->isNull());
  EXPECT_EQ(*(*rows)[2].find("balance"), Value(-1.25));
}

TEST_F(SqliteSqlSessionTest, AValueNeverBecomesSql) {
  auto rows = session_->query("SELECT count(*) AS n FROM customers WHERE phone = :phone",
                              Row{{"phone", Value("x' OR '1'='1")}});
  ASSERT_TRUE(rows) << rows.error().toString();
  EXPECT_EQ(*(*rows)[0].find("n"), Value(0));
}

TEST_F(SqliteSqlSessionTest, ANameUsedTwiceBindsOnceAndNullAndBoolBind) {
  auto rows = session_->query("SELECT :v AS a, :v AS b, :n AS c, :t AS d",
                              Row{{"v", Value("same")}, {"n", Value()}, {"t", Value(true)}});
  ASSERT_TRUE(rows) << rows.error().toString();
  EXPECT_EQ((*rows)[0],
            (Row{{"a", Value("same")}, {"b", Value("same")}, {"c", Value()}, {"d", Value(1)}}));
}

TEST_F(SqliteSqlSessionTest, OnRowFalseStopsEarly) {
  int seen = 0;
  Status s = session_->forEachRow("SELECT id FROM customers ORDER BY id", Row{},
                                  [&](const Row&) { return ++seen < 2; });
  EXPECT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(seen, 2);
}

TEST_F(SqliteSqlSessionTest, AMissingParameterIsAConfigError) {
  auto rows = session_->query("SELECT id FROM customers WHERE id = :id", Row{{"other", Value(1)}});
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(rows.error().message().find(":id"), std::string::npos) << rows.error().message();
}

TEST_F(SqliteSqlSessionTest, PositionalParametersAreRefused) {
  auto rows = session_->query("SELECT id FROM customers WHERE id = ?", Row{});
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().category(), ErrorCategory::kConfig);
}

TEST_F(SqliteSqlSessionTest, BadSqlIsAConfigErrorWithSqlitesMessage) {
  auto rows = session_->query("SELECT nope FROM customers", Row{});
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(rows.error().message().find("no such column: nope"), std::string::npos)
      << rows.error().message();

  auto missing = session_->query("SELECT 1 FROM no_table", Row{});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(missing.error().message().find("no such table: no_table"), std::string::npos);
}

TEST_F(SqliteSqlSessionTest, MoreThanOneStatementIsRefused) {
  auto changed = session_->execute("DELETE FROM customers; DROP TABLE customers", Row{});
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().category(), ErrorCategory::kConfig);
  auto rows = session_->query("SELECT count(*) AS n FROM customers;  ", Row{});
  ASSERT_TRUE(rows) << rows.error().toString();
  EXPECT_EQ(*(*rows)[0].find("n"), Value(3));
}

TEST_F(SqliteSqlSessionTest, ExecuteReturnsTheAffectedRowCount) {
  auto changed = session_->execute("UPDATE customers SET note = :note WHERE balance >= :min",
                                   Row{{"note", Value("vip")}, {"min", Value(0)}});
  ASSERT_TRUE(changed) << changed.error().toString();
  EXPECT_EQ(*changed, 2);
  auto rows = session_->query("SELECT count(*) AS n FROM customers WHERE note = 'vip'", Row{});
  ASSERT_TRUE(rows);
  EXPECT_EQ(*(*rows)[0].find("n"), Value(2));
}

TEST_F(SqliteSqlSessionTest, ExecuteAllCommitsEveryStatementOrNone) {
  std::vector<SqlSession::Statement> ok{
      {"UPDATE customers SET note = :note WHERE id = :id",
       Row{{"note", Value("a")}, {"id", Value(1)}}},
      {"DELETE FROM customers WHERE id = :id", Row{{"id", Value(3)}}},
      {"UPDATE customers SET note = 'b' WHERE id > 100", Row{}}};
  auto counts = session_->executeAll(ok);
  ASSERT_TRUE(counts) << counts.error().toString();
  EXPECT_EQ(*counts, (std::vector<std::int64_t>{1, 1, 0}));

  std::vector<SqlSession::Statement> broken{
      {"DELETE FROM customers", Row{}},
      {"INSERT INTO customers (id) VALUES (:id)", Row{{"id", Value(7)}}},
      {"UPDATE nowhere SET x = 1", Row{}}};
  auto failed = session_->executeAll(broken);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(failed.error().message().find("no such table: nowhere"), std::string::npos);
  auto rows = session_->query("SELECT count(*) AS n FROM customers", Row{});
  ASSERT_TRUE(rows);
  EXPECT_EQ(*(*rows)[0].find("n"), Value(2)) << "the DELETE was rolled back";
  // The session is usable after the rollback.
  EXPECT_TRUE(session_->executeAll(ok));
}

TEST_F(SqliteSqlSessionTest, ALockedDatabaseIsTransient) {
  auto other = Database::open(dir_.file("shop.db"), Database::OpenMode::kExisting, milliseconds(0));
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->exec("BEGIN EXCLUSIVE").isOk());
  auto changed = session_->execute("UPDATE customers SET note = 'x'", Row{});
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().category(), ErrorCategory::kTransient) << changed.error().toString();
  (*other)->rollback();
  EXPECT_TRUE(session_->execute("UPDATE customers SET note = 'x'", Row{}));
}

TEST(SqliteSqlSessionOpen, AMissingFileIsAConfigError) {
  testing::TempDir dir;
  auto session = SqliteSqlSession::open(dir.file("absent.db"), milliseconds(0));
  ASSERT_FALSE(session);
  EXPECT_EQ(session.error().category(), ErrorCategory::kConfig);
}

}  // namespace
}  // namespace smsbridge::sqlite
