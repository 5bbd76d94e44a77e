// `capture: poll` on SQLite, end to end through the shared poll source and a real SqliteStore
// in a separate file (the layout for a read-only shop database).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "connectors/poll_capture.h"
#include "connectors/sqlite/sqlite_poll_reader.h"
#include "connectors/sqlite/sqlite_store.h"
#include "tests/fakes/poll_cases.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge::sqlite {
namespace {

using std::chrono::milliseconds;

class SqlitePollTest : public ::testing::Test, public testing::PollShop {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_.file("shop.db"), Database::OpenMode::kCreateIfMissing,
                             milliseconds(1000));
    ASSERT_TRUE(db);
    shop_ = std::move(*db);
    exec(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, phone TEXT, total REAL, "
        "updated_at TEXT NOT NULL)");
    exec("CREATE TABLE settings (k TEXT PRIMARY KEY, v TEXT)");
    auto store = SqliteStore::create(dir_.file("bridge.db"), "smsbridge_", milliseconds(1000));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
  }

  poll::Settings settings(int batch_size = 500) {
    return testing::pollSettings("orders", "updated_at", batch_size);
  }

  std::unique_ptr<Source> source(poll::Settings s) {
    return testing::startPollSource(std::move(s), reader(), *store_);
  }

  std::unique_ptr<poll::Reader> reader() {
    return std::make_unique<SqlitePollReader>(dir_.file("shop.db"), milliseconds(1000));
  }

  std::vector<ChangeEvent> drain(Source& src) { return testing::drainPoll(src, *store_); }

  // testing::PollShop
  std::string ordersTable() const override { return "orders"; }
  std::string stampColumn() const override { return "updated_at"; }
  void exec(const std::string& sql) override { ASSERT_TRUE(shop_->exec(sql).isOk()) << sql; }
  // SQLite has one writer at a time, so an open write transaction would block the other
  // writer; the reader cannot see an uncommitted row anyway, so the row is written at commit.
  std::function<void()> execUncommitted(const std::string& sql) override {
    return [this, sql] { exec(sql); };
  }
  std::unique_ptr<Source> source(int batch_size) override { return source(settings(batch_size)); }
  JobStore& store() override { return *store_; }

  testing::TempDir dir_;
  std::unique_ptr<Database> shop_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqlitePollTest, BaselineThenInsertsAndUpdatesWithBeforeImages) {
  testing::checkBaselineThenInsertsAndUpdatesWithBeforeImages(*this);
}

TEST_F(SqlitePollTest, LateCommitWithAnOlderTimestampIsCaughtInTheOverlap) {
  testing::checkLateCommitWithAnOlderStampIsCaptured(*this);
}

TEST_F(SqlitePollTest, CrashBeforeCommitReplaysTheSameChangesAndAfterCommitNone) {
  testing::checkRestartFromTheDurableCheckpointLosesAndDuplicatesNothing(*this);
}

TEST_F(SqlitePollTest, ChangesOlderThanTheOverlapAreTheDocumentedLimit) {
  exec("INSERT INTO orders VALUES (1, 'processing', '600', 10, '2026-11-22 09:00:00')");
  exec("INSERT INTO orders VALUES (2, 'processing', '601', 20, '2026-11-22 10:10:00')");
  auto src = source(settings());
  drain(*src);
  exec("UPDATE orders SET status = 'completed' WHERE id = 1");  // updated_at left at 09:00
  EXPECT_TRUE(drain(*src).empty());
}

TEST_F(SqlitePollTest, PagesByKeyAndAdvancesTheMarkOnlyAfterTheLastPage) {
  for (int i = 1; i <= 7; ++i) {
    exec("INSERT INTO orders VALUES (" + std::to_string(i) +
         ", 'new', '6', 1, '2026-11-22 10:00:0" + std::to_string(i) + "')");
  }
  auto src = source(settings(/*batch_size=*/2));
  EXPECT_TRUE(drain(*src).empty());
  auto checkpoint = store_->loadCheckpoint("shop");
  ASSERT_TRUE(checkpoint && *checkpoint);
  EXPECT_NE(checkpoint->value().find("\"orders\""), std::string::npos) << **checkpoint;

  exec("UPDATE orders SET status = 'paid', updated_at = '2026-11-22 10:05:00'");
  auto events = drain(*src);
  ASSERT_EQ(events.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(events[i].pk, std::to_string(i + 1));
}

TEST_F(SqlitePollTest, WatchedColumnsLimitWhatCountsAsAChange) {
  exec("INSERT INTO orders VALUES (1, 'processing', '600', 10, '2026-11-22 10:00:00')");
  poll::Settings s = settings();
  s.tables[0].watch = {"status"};
  auto src = source(s);
  drain(*src);
  exec("UPDATE orders SET total = 11, updated_at = '2026-11-22 10:01:00' WHERE id = 1");
  EXPECT_TRUE(drain(*src).empty());
  exec("UPDATE orders SET status = 'completed', updated_at = '2026-11-22 10:02:00' WHERE id = 1");
  auto events = drain(*src);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(*events[0].after->find("total"), Value(11.0)) << "after is the whole row";
  EXPECT_EQ(events[0].before->size(), 1u) << "before holds the watched columns";
}

TEST_F(SqlitePollTest, TableWithoutChangeColumnIsReadWholeEachRound) {
  exec("INSERT INTO settings VALUES ('greeting', 'hi')");
  poll::Settings s = settings();
  poll::TableSpec whole;
  whole.table = "settings";
  s.tables = {whole};
  auto src = source(s);
  EXPECT_TRUE(drain(*src).empty());
  exec("UPDATE settings SET v = 'hello' WHERE k = 'greeting'");
  exec("INSERT INTO settings VALUES ('sender', 'SHOP')");
  auto events = drain(*src);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].pk, "greeting");
  EXPECT_EQ(events[0].op, Op::kUpdate);
  EXPECT_EQ(events[1].op, Op::kInsert);
}

TEST_F(SqlitePollTest, NeverWritesToTheShopDatabase) {
  exec("INSERT INTO orders VALUES (1, 'processing', '600', 10, '2026-11-22 10:00:00')");
  shop_.reset();
  auto read = [&] {
    std::ifstream in(dir_.file("shop.db"), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  const std::string before = read();
  auto src = source(settings());
  drain(*src);
  drain(*src);
  EXPECT_EQ(read(), before);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("shop.db-wal")));
}

TEST_F(SqlitePollTest, ConfigErrorsNameTheProblem) {
  poll::Settings s = settings();
  s.tables[0].change_column = "modified";
  auto src = poll::PollSource::create(s, reader());
  ASSERT_TRUE(src);
  (*src)->attachShadowStore(*store_);
  Status st = (*src)->start("");
  EXPECT_EQ(st.category(), ErrorCategory::kConfig);
  EXPECT_NE(st.message().find("modified"), std::string::npos) << st.message();

  s = settings();
  s.tables[0].table = "smsbridge_messages";
  EXPECT_FALSE(poll::PollSource::create(s, reader()));
}

}  // namespace
}  // namespace smsbridge::sqlite
