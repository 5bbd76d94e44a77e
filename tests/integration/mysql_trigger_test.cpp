// MysqlTriggerSource against the real MariaDB of scripts/test-services.sh: installed triggers
// capture inserts, updates and deletes with their images; consume-and-mark delivers a change
// whose transaction commits after a later change was already read and acknowledged.
// Every test uses its own random table prefix and drops what it created.

#include "connectors/mysql/mysql_trigger_source.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/mysql_fixture.h"

namespace smsbridge::mysql {
namespace {

using std::chrono::milliseconds;

class MysqlTriggerTest : public testing::MysqlTableTest {
 protected:
  MysqlTriggerTest() : MysqlTableTest("sbt") {}

  void TearDown() override {
    MysqlTableTest::TearDown();
    if (admin_) (void)admin_->exec("DROP TABLE IF EXISTS `" + prefix_ + "changes`");
  }

  std::unique_ptr<MysqlTriggerSource> source(std::vector<std::string> tables) {
    TriggerSourceConfig config;
    config.name = "shop";
    config.connection = options_;
    config.tables = std::move(tables);
    config.prefix = prefix_;
    auto src = MysqlTriggerSource::create(std::move(config));
    EXPECT_TRUE(src) << src.error().toString();
    return src ? std::move(*src) : nullptr;
  }

  std::string prefix_ = name_ + "_sb_";
};

TEST_F(MysqlTriggerTest, CapturesInsertUpdateDeleteWithImages) {
  const std::string t = createTable(
      "customers",
      "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, note TEXT, "
      "balance DECIMAL(10,2), nickname VARCHAR(50) NULL, visits BIGINT");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->start("").isOk());

  exec("INSERT INTO `" + t +
       "` (name, note, balance, nickname, visits) VALUES ('Łukasz', 'hi 😀', 12.50, NULL, 3)");
  exec("UPDATE `" + t + "` SET name = 'Łukasz 😀', balance = 7.25 WHERE id = 1");
  exec("DELETE FROM `" + t + "` WHERE id = 1");

  auto batch = src->poll(milliseconds(0));
  ASSERT_TRUE(batch) << batch.error().toString();
  ASSERT_EQ(batch->events.size(), 3u);
  const ChangeEvent& ins = batch->events[0];
  const ChangeEvent& upd = batch->events[1];
  const ChangeEvent& del = batch->events[2];

  EXPECT_EQ(ins.source, "shop");
  EXPECT_EQ(ins.table, t);
  EXPECT_EQ(ins.op, Op::kInsert);
  EXPECT_EQ(ins.pk, "1");
  EXPECT_FALSE(ins.before.has_value());
  ASSERT_TRUE(ins.after.has_value());
  EXPECT_EQ(*ins.after, (Row{{"id", 1},
                             {"name", "Łukasz"},
                             {"note", "hi 😀"},
                             {"balance", 12.5},
                             {"nickname", Value()},
                             {"visits", 3}}));

  EXPECT_EQ(upd.op, Op::kUpdate);
  ASSERT_TRUE(upd.before && upd.after);
  EXPECT_EQ(*upd.before->find("name"), Value("Łukasz"));
  EXPECT_EQ(*upd.after->find("name"), Value("Łukasz 😀"));
  EXPECT_EQ(*upd.before->find("balance"), Value(12.5));
  EXPECT_EQ(*upd.after->find("balance"), Value(7.25));

  EXPECT_EQ(del.op, Op::kDelete);
  EXPECT_EQ(del.pk, "1");
  EXPECT_FALSE(del.after.has_value());
  ASSERT_TRUE(del.before.has_value());
  EXPECT_EQ(*del.before->find("name"), Value("Łukasz 😀"));

  // Positions are change ids, increasing; the batch ends at the last one.
  EXPECT_LT(std::stoll(ins.position), std::stoll(upd.position));
  EXPECT_LT(std::stoll(upd.position), std::stoll(del.position));
  EXPECT_EQ(batch->position, del.position);
  EXPECT_NE(ins.commit_ts, std::chrono::system_clock::time_point{});

  // Until acknowledged, the same changes are delivered again (at-least-once).
  auto replay = src->poll(milliseconds(0));
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->events.size(), 3u);
  ASSERT_TRUE(src->acknowledge(replay->position).isOk());
  auto empty = src->poll(milliseconds(0));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->events.empty());
  EXPECT_TRUE(empty->position.empty());
}

TEST_F(MysqlTriggerTest, CompositeKeysAndBatchSize) {
  const std::string t = createTable("stock",
                                    "sku VARCHAR(20) NOT NULL, warehouse INT NOT NULL, qty INT, "
                                    "PRIMARY KEY (sku, warehouse)");
  TriggerSourceConfig config;
  config.name = "shop";
  config.connection = options_;
  config.tables = {t};
  config.prefix = prefix_;
  config.batch_size = 2;
  auto src = MysqlTriggerSource::create(config);
  ASSERT_TRUE(src);
  ASSERT_TRUE((*src)->setup().isOk());
  ASSERT_TRUE((*src)->start("").isOk());
  exec("INSERT INTO `" + t + "` VALUES ('A-1', 2, 5), ('B-2', 1, 0), ('C-3', 7, 1)");
  auto first = (*src)->poll(milliseconds(0));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->events.size(), 2u);
  EXPECT_EQ(first->events[0].pk, "A-1|2");
  ASSERT_TRUE((*src)->acknowledge(first->position).isOk());
  auto second = (*src)->poll(milliseconds(0));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->events.size(), 1u);
  EXPECT_EQ(second->events[0].pk, "C-3|7");
}

TEST_F(MysqlTriggerTest, LateCommitIsDeliveredOnceAndNothingIsRepeated) {
  const std::string t =
      createTable("orders", "id INT NOT NULL PRIMARY KEY, status VARCHAR(20) NOT NULL");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->start("").isOk());

  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a && b);
  // A takes the lower change id and stays open; B takes the next one and commits first.
  ASSERT_TRUE(a->begin().isOk());
  ASSERT_TRUE(a->exec("INSERT INTO `" + t + "` VALUES (1, 'late')").isOk());
  ASSERT_TRUE(b->begin().isOk());
  ASSERT_TRUE(b->exec("INSERT INTO `" + t + "` VALUES (2, 'early')").isOk());
  ASSERT_TRUE(b->commit().isOk());

  auto first = src->poll(milliseconds(0));
  ASSERT_TRUE(first) << first.error().toString();
  ASSERT_EQ(first->events.size(), 1u);
  EXPECT_EQ(first->events[0].pk, "2");
  ASSERT_TRUE(src->acknowledge(first->position).isOk());

  ASSERT_TRUE(a->commit().isOk());
  auto second = src->poll(milliseconds(0));
  ASSERT_TRUE(second) << second.error().toString();
  ASSERT_EQ(second->events.size(), 1u);
  EXPECT_EQ(second->events[0].pk, "1");
  EXPECT_EQ(*second->events[0].after->find("status"), Value("late"));
  // The late change has the lower id: an `id > last acknowledged` reader would have lost it.
  EXPECT_LT(std::stoll(second->position), std::stoll(first->position));
  ASSERT_TRUE(src->acknowledge(second->position).isOk());

  auto third = src->poll(milliseconds(0));
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->events.empty());
}

TEST_F(MysqlTriggerTest, SetupIsIdempotentAndStartChecksTheTriggers) {
  const std::string t = createTable("orders", "id INT NOT NULL PRIMARY KEY, status TEXT");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  Status before = src->start("");
  ASSERT_FALSE(before.isOk());
  EXPECT_EQ(before.category(), ErrorCategory::kConfig);
  EXPECT_NE(before.message().find("run `smsbridge setup"), std::string::npos) << before.message();

  auto sql = src->setupSql();
  ASSERT_TRUE(sql) << sql.error().toString();
  EXPECT_EQ(sql->size(), 4u);  // the change table and three triggers (MariaDB: CREATE OR REPLACE)
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->start("").isOk());
  exec("INSERT INTO `" + t + "` VALUES (1, 'new')");
  auto batch = src->poll(milliseconds(0));
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->events.size(), 1u);  // one trigger per event, not two after a second setup

  exec("DROP TRIGGER `" + prefix_ + t + "_au`");
  Status missing = src->start("");
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.category(), ErrorCategory::kConfig);
  EXPECT_NE(missing.message().find(t), std::string::npos);
  EXPECT_NE(missing.message().find("run `smsbridge setup"), std::string::npos);

  EXPECT_EQ(src->start("not-a-number").category(), ErrorCategory::kConfig);  // still missing
  ASSERT_TRUE(src->setup().isOk());
  EXPECT_EQ(src->start("not-a-number").category(), ErrorCategory::kSourceLost);
  EXPECT_TRUE(src->start("42").isOk());
}

TEST_F(MysqlTriggerTest, RefusesToCaptureItsOwnTables) {
  TriggerSourceConfig config;
  config.name = "shop";
  config.connection = options_;
  config.tables = {prefix_ + "messages"};
  config.prefix = prefix_;
  auto src = MysqlTriggerSource::create(config);
  ASSERT_FALSE(src);
  EXPECT_EQ(src.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(src.error().message().find("smsbridge's own"), std::string::npos);
}

TEST_F(MysqlTriggerTest, TableWithoutPrimaryKeyOrMissingTableIsAConfigError) {
  const std::string t = createTable("log", "msg TEXT, at DATETIME");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  Status s = src->setup();
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.category(), ErrorCategory::kConfig);
  EXPECT_NE(s.message().find("'" + t + "'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no primary key"), std::string::npos) << s.message();

  auto nothing = source({name_ + "_nope"});
  ASSERT_NE(nothing, nullptr);
  Status missing = nothing->setup();
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.category(), ErrorCategory::kConfig);
  EXPECT_NE(missing.message().find("does not exist"), std::string::npos) << missing.message();
}

TEST_F(MysqlTriggerTest, CascadeWarningsNameChildTables) {
  const std::string parent = createTable("orders", "id INT NOT NULL PRIMARY KEY");
  const std::string child =
      createTable("items",
                  "id INT NOT NULL PRIMARY KEY, order_id INT NOT NULL, FOREIGN KEY (order_id) "
                  "REFERENCES `" +
                      parent + "` (id) ON DELETE CASCADE");
  const std::string plain =
      createTable("notes",
                  "id INT NOT NULL PRIMARY KEY, order_id INT NOT NULL, FOREIGN KEY (order_id) "
                  "REFERENCES `" +
                      parent + "` (id)");
  auto src = source({parent, child, plain});
  ASSERT_NE(src, nullptr);
  auto warnings = src->cascadeWarnings();
  ASSERT_TRUE(warnings) << warnings.error().toString();
  ASSERT_EQ(warnings->size(), 1u);
  EXPECT_NE(warnings->front().find("'" + child + "'"), std::string::npos) << warnings->front();
  EXPECT_NE(warnings->front().find("ON DELETE CASCADE"), std::string::npos);

  // The cascade really is invisible to trigger capture.
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->start("").isOk());
  exec("INSERT INTO `" + parent + "` VALUES (1)");
  exec("INSERT INTO `" + child + "` VALUES (10, 1)");
  auto inserts = src->poll(milliseconds(0));
  ASSERT_TRUE(inserts);
  ASSERT_EQ(inserts->events.size(), 2u);
  ASSERT_TRUE(src->acknowledge(inserts->position).isOk());
  exec("DELETE FROM `" + parent + "` WHERE id = 1");
  auto deletes = src->poll(milliseconds(0));
  ASSERT_TRUE(deletes);
  ASSERT_EQ(deletes->events.size(), 1u);
  EXPECT_EQ(deletes->events[0].table, parent);
}

}  // namespace
}  // namespace smsbridge::mysql
