#include "connectors/sqlite/sqlite_db.h"

#include <gtest/gtest.h>

#include "tests/fakes/temp_dir.h"

namespace smsbridge::sqlite {
namespace {

using std::chrono::milliseconds;

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_.file("db.sqlite"), Database::OpenMode::kCreateIfMissing,
                             milliseconds(0));
    ASSERT_TRUE(db) << db.error().toString();
    db_ = std::move(*db);
    ASSERT_TRUE(
        db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)").isOk());
    ASSERT_TRUE(db_->exec("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')").isOk());
  }

  // The values `SELECT v FROM t WHERE id >= ?` returns for `from`, through the cache.
  std::vector<std::string> valuesFrom(std::int64_t from) {
    auto st = db_->cached(kSelect);
    EXPECT_TRUE(st) << st.error().toString();
    std::vector<std::string> values;
    if (!st) return values;
    st->bind(1, from);
    while (true) {
      auto row = st->step();
      EXPECT_TRUE(row) << row.error().toString();
      if (!row || !*row) break;
      values.push_back(st->columnText(0));
    }
    return values;
  }

  static constexpr char kSelect[] = "SELECT v FROM t WHERE id >= ? ORDER BY id";
  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteDbTest, CachedStatementIsCompiledOnceAndReused) {
  sqlite3_stmt* first = nullptr;
  {
    auto st = db_->cached(kSelect);
    ASSERT_TRUE(st);
    first = st->handle();
  }
  auto again = db_->cached(kSelect);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->handle(), first);
  EXPECT_EQ(db_->cachedCount(), 1u);
}

TEST_F(SqliteDbTest, CachedStatementComesBackWithoutTheLastUsesBindings) {
  {
    auto st = db_->cached("SELECT ?");
    ASSERT_TRUE(st);
    st->bind(1, std::int64_t{5});
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->columnInt(0), 5);
  }
  auto st = db_->cached("SELECT ?");
  ASSERT_TRUE(st);
  auto row = st->step();
  ASSERT_TRUE(row && *row);
  EXPECT_TRUE(st->columnIsNull(0));
}

// A SELECT left half-read keeps its read lock until reset; given back, it must not block
// another connection's write (the shop's own writers, in production).
TEST_F(SqliteDbTest, HalfReadCachedStatementHoldsNoLockOnceGivenBack) {
  {
    auto st = db_->cached(kSelect);
    ASSERT_TRUE(st);
    st->bind(1, std::int64_t{1});
    ASSERT_TRUE(*st->step());
  }
  auto other =
      Database::open(dir_.file("db.sqlite"), Database::OpenMode::kExisting, milliseconds(0));
  ASSERT_TRUE(other) << other.error().toString();
  Status write = (*other)->exec("INSERT INTO t (v) VALUES ('d')");
  EXPECT_TRUE(write.isOk()) << write.toString();
}

TEST_F(SqliteDbTest, NestedUseOfTheSameSqlGetsItsOwnStatement) {
  auto outer = db_->cached(kSelect);
  ASSERT_TRUE(outer);
  outer->bind(1, std::int64_t{1});
  std::vector<std::string> outer_values;
  std::vector<std::vector<std::string>> inner_values;
  while (true) {
    auto row = outer->step();
    ASSERT_TRUE(row);
    if (!*row) break;
    outer_values.push_back(outer->columnText(0));
    inner_values.push_back(valuesFrom(3));
  }
  EXPECT_EQ(outer_values, (std::vector<std::string>{"a", "b", "c"}));
  for (const auto& inner : inner_values) EXPECT_EQ(inner, std::vector<std::string>{"c"});
  outer = Statement(nullptr, nullptr);
  EXPECT_EQ(db_->cachedCount(), 1u);
  EXPECT_EQ(valuesFrom(2), (std::vector<std::string>{"b", "c"}));
}

TEST_F(SqliteDbTest, CachedStatementIsUsableAfterAFailedRun) {
  const std::string insert = "INSERT INTO t (v) VALUES (?)";
  {
    auto st = db_->cached(insert);
    ASSERT_TRUE(st);
    st->bind(1, "a");
    EXPECT_FALSE(st->run().isOk());  // UNIQUE violation
  }
  {
    auto st = db_->cached(insert);
    ASSERT_TRUE(st);
    st->bind(99, "x");  // no such parameter: a bind error, reported by run()
    EXPECT_FALSE(st->run().isOk());
  }
  auto st = db_->cached(insert);
  ASSERT_TRUE(st);
  st->bind(1, "e");
  Status run = st->run();
  EXPECT_TRUE(run.isOk()) << run.toString();
  EXPECT_EQ(valuesFrom(1), (std::vector<std::string>{"a", "b", "c", "e"}));
}

TEST_F(SqliteDbTest, CachedStatementFollowsASchemaChange) {
  EXPECT_EQ(valuesFrom(3), std::vector<std::string>{"c"});
  ASSERT_TRUE(db_->exec("ALTER TABLE t ADD COLUMN extra TEXT").isOk());
  ASSERT_TRUE(db_->exec("INSERT INTO t (v) VALUES ('d')").isOk());
  EXPECT_EQ(valuesFrom(3), (std::vector<std::string>{"c", "d"}));
}

TEST_F(SqliteDbTest, CacheKeepsAtMostItsLimitAndStillRunsFurtherSql) {
  for (std::size_t i = 0; i < Database::kMaxCachedStatements + 10; ++i) {
    auto st = db_->cached("SELECT " + std::to_string(i));
    ASSERT_TRUE(st);
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->columnInt(0), static_cast<std::int64_t>(i));
  }
  EXPECT_EQ(db_->cachedCount(), Database::kMaxCachedStatements);
}

TEST_F(SqliteDbTest, TransactionsRunThroughTheCache) {
  ASSERT_TRUE(db_->beginWrite().isOk());
  ASSERT_TRUE(db_->exec("INSERT INTO t (v) VALUES ('d')").isOk());
  ASSERT_TRUE(db_->commit().isOk());
  ASSERT_TRUE(db_->beginWrite().isOk());
  ASSERT_TRUE(db_->exec("INSERT INTO t (v) VALUES ('e')").isOk());
  db_->rollback();
  EXPECT_EQ(valuesFrom(4), std::vector<std::string>{"d"});
  // A failed COMMIT (none open) leaves the cached statement usable for the next one.
  EXPECT_FALSE(db_->commit().isOk());
  ASSERT_TRUE(db_->beginWrite().isOk());
  EXPECT_TRUE(db_->commit().isOk());
}

}  // namespace
}  // namespace smsbridge::sqlite
