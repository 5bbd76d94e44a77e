#include "connectors/sqlite/sqlite_trigger_source.h"

#include <gtest/gtest.h>

#include "tests/fakes/temp_dir.h"

namespace smsbridge::sqlite {
namespace {

using std::chrono::milliseconds;

class SqliteTriggerSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_.file("shop.db"), Database::OpenMode::kCreateIfMissing,
                             milliseconds(1000));
    ASSERT_TRUE(db);
    shop_ = std::move(*db);
    ASSERT_TRUE(shop_
                    ->exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, "
                           "phone TEXT, total REAL, note BLOB)")
                    .isOk());
  }

  std::unique_ptr<SqliteTriggerSource> source(std::vector<std::string> tables = {"orders"}) {
    TriggerSourceConfig config;
    config.name = "shop";
    config.path = dir_.file("shop.db");
    config.tables = std::move(tables);
    auto s = SqliteTriggerSource::create(config);
    EXPECT_TRUE(s) << s.error().toString();
    return s ? std::move(*s) : nullptr;
  }

  void exec(const std::string& sql) { ASSERT_TRUE(shop_->exec(sql).isOk()) << sql; }

  testing::TempDir dir_;
  std::unique_ptr<Database> shop_;
};

TEST_F(SqliteTriggerSourceTest, CapturesInsertUpdateDeleteWithImages) {
  auto src = source();
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->setup().isOk()) << "setup is idempotent";
  ASSERT_TRUE(src->start("").isOk());

  exec("INSERT INTO orders VALUES (1, 'processing', '600700800', 10.5, x'00ff')");
  exec("UPDATE orders SET status = 'shipped' WHERE id = 1");
  exec("DELETE FROM orders WHERE id = 1");

  auto batch = src->poll(milliseconds(0));
  ASSERT_TRUE(batch) << batch.error().toString();
  ASSERT_EQ(batch->events.size(), 3u);
  const ChangeEvent& ins = batch->events[0];
  EXPECT_EQ(ins.op, Op::kInsert);
  EXPECT_EQ(ins.table, "orders");
  EXPECT_EQ(ins.source, "shop");
  EXPECT_EQ(ins.pk, "1");
  EXPECT_FALSE(ins.before.has_value());
  ASSERT_TRUE(ins.after.has_value());
  EXPECT_EQ(*ins.after->find("status"), Value("processing"));
  EXPECT_EQ(*ins.after->find("total"), Value(10.5));
  EXPECT_EQ(*ins.after->find("id"), Value(std::int64_t{1}));
  EXPECT_EQ(*ins.after->find("note"), Value("00FF")) << "BLOBs arrive as hex";

  const ChangeEvent& upd = batch->events[1];
  EXPECT_EQ(upd.op, Op::kUpdate);
  EXPECT_EQ(*upd.before->find("status"), Value("processing"));
  EXPECT_EQ(*upd.after->find("status"), Value("shipped"));

  const ChangeEvent& del = batch->events[2];
  EXPECT_EQ(del.op, Op::kDelete);
  EXPECT_FALSE(del.after.has_value());
  EXPECT_EQ(*del.before->find("status"), Value("shipped"));
  EXPECT_EQ(batch->position, del.position);

  EXPECT_TRUE(src->acknowledge(batch->position).isOk());
  auto empty = src->poll(milliseconds(0));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->events.empty());
  EXPECT_TRUE(empty->position.empty());
}

TEST_F(SqliteTriggerSourceTest, ResumesAfterCheckpoint) {
  auto src = source();
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->start("").isOk());
  exec("INSERT INTO orders (id, status) VALUES (1, 'a')");
  exec("INSERT INTO orders (id, status) VALUES (2, 'b')");
  auto first = src->poll(milliseconds(0));
  ASSERT_EQ(first->events.size(), 2u);
  std::string after_first = first->events[0].position;

  // A restart with the checkpoint after the first change: only the second comes back,
  // because the batch was never acknowledged.
  auto restarted = source();
  ASSERT_TRUE(restarted->start(after_first).isOk());
  auto again = restarted->poll(milliseconds(0));
  ASSERT_EQ(again->events.size(), 1u);
  EXPECT_EQ(again->events[0].pk, "2");
}

TEST_F(SqliteTriggerSourceTest, StartWithoutSetupSaysToRunSetup) {
  auto src = source();
  Status s = src->start("");
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("smsbridge setup"), std::string::npos) << s.message();
}

TEST_F(SqliteTriggerSourceTest, MissingTableIsAConfigError) {
  auto src = source({"nope"});
  Status s = src->setup();
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.category(), ErrorCategory::kConfig);
  EXPECT_NE(s.message().find("'nope' does not exist"), std::string::npos) << s.message();
}

TEST_F(SqliteTriggerSourceTest, RefusesToCaptureItsOwnTables) {
  TriggerSourceConfig config;
  config.name = "shop";
  config.path = dir_.file("shop.db");
  config.tables = {"smsbridge_messages"};
  auto s = SqliteTriggerSource::create(config);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("smsbridge's own"), std::string::npos);
}

TEST_F(SqliteTriggerSourceTest, WideTablesAndCompositeKeys) {
  std::string ddl = "CREATE TABLE wide (a INTEGER, b TEXT";
  for (int i = 0; i < 70; ++i)
    ddl += ", c" + std::to_string(i) + " INTEGER DEFAULT " + std::to_string(i);
  ddl += ", PRIMARY KEY (a, b))";
  exec(ddl);
  auto src = source({"wide"});
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->start("").isOk());
  exec("INSERT INTO wide (a, b) VALUES (7, 'x')");
  auto batch = src->poll(milliseconds(0));
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].pk, "7|x");
  EXPECT_EQ(batch->events[0].after->size(), 72u);
  EXPECT_EQ(*batch->events[0].after->find("c69"), Value(std::int64_t{69}));
}

TEST_F(SqliteTriggerSourceTest, MissingDatabaseFileIsAClearError) {
  TriggerSourceConfig config;
  config.name = "shop";
  config.path = dir_.file("missing.db");
  config.tables = {"orders"};
  auto src = SqliteTriggerSource::create(config);
  ASSERT_TRUE(src);
  Status s = (*src)->start("");
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("missing.db"), std::string::npos);
  EXPECT_NE(s.message().find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace smsbridge::sqlite
