// `poll` capture on the real MariaDB from scripts/test-services.sh, through a user that has
// only SELECT on the captured table, with the store in a separate SQLite file: the read-only
// deployment (WooCommerce on shared hosting). Each test has its own table, user and store file.

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_poll_reader.h"
#include "connectors/poll_capture.h"
#include "connectors/sqlite/sqlite_store.h"
#include "tests/integration/test_env.h"

namespace smsbridge::mysql {
namespace {

using std::chrono::milliseconds;

class MysqlPollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
    auto options = parseDsn(dsn);
    ASSERT_TRUE(options) << options.error().toString();
    admin_options_ = *options;
    auto admin = Connection::connect(admin_options_);
    ASSERT_TRUE(admin) << admin.error().toString();
    admin_ = std::move(*admin);
    std::random_device random;
    tag_ = "myp" + std::to_string(random() % 1'000'000'000);
    orders_ = tag_ + "_orders";
    exec("CREATE TABLE `" + orders_ +
         "` (id INT AUTO_INCREMENT PRIMARY KEY, status VARCHAR(32), total DECIMAL(10,2), "
         "date_updated_gmt DATETIME NOT NULL)");
    // The bridge's user: SELECT on the captured table and nothing else.
    for (const char* host : {"127.0.0.1", "localhost"}) {
      exec("CREATE USER '" + tag_ + "'@'" + host + "' IDENTIFIED BY 'ro'");
      exec("GRANT SELECT ON `" + admin_options_.database + "`.`" + orders_ + "` TO '" + tag_ +
           "'@'" + host + "'");
    }
    ro_options_ = admin_options_;
    ro_options_.user = tag_;
    ro_options_.password = "ro";
    store_path_ = (std::filesystem::temp_directory_path() / (tag_ + "_bridge.db")).string();
    auto store = sqlite::SqliteStore::create(store_path_, "smsbridge_", milliseconds(1000));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
  }

  void TearDown() override {
    if (!admin_) return;
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(store_path_ + suffix);
    (void)admin_->exec("DROP TABLE IF EXISTS `" + orders_ + "`");
    for (const char* host : {"127.0.0.1", "localhost"}) {
      (void)admin_->exec("DROP USER IF EXISTS '" + tag_ + "'@'" + host + "'");
    }
  }

  void exec(const std::string& sql) {
    Status s = admin_->exec(sql);
    ASSERT_TRUE(s.isOk()) << sql << ": " << s.toString();
  }

  std::unique_ptr<Source> source(int batch_size = 100) {
    poll::Settings s;
    s.name = "shop";
    s.batch_size = batch_size;
    s.overlap = std::chrono::minutes(5);
    poll::TableSpec t;
    t.table = orders_;
    t.change_column = "date_updated_gmt";
    s.tables.push_back(t);
    auto src =
        poll::PollSource::create(std::move(s), std::make_unique<MysqlPollReader>(ro_options_));
    EXPECT_TRUE(src) << src.error().toString();
    if (!src) return nullptr;
    (*src)->attachShadowStore(*store_);
    auto checkpoint = store_->loadCheckpoint("shop");
    EXPECT_TRUE(checkpoint);
    Status started = (*src)->start(checkpoint->value_or(""));
    EXPECT_TRUE(started.isOk()) << started.toString();
    return std::unique_ptr<Source>(std::move(*src));
  }

  std::vector<ChangeEvent> drain(Source& src) {
    std::vector<ChangeEvent> events;
    for (int guard = 0; guard < 100; ++guard) {
      auto batch = src.poll(milliseconds(0));
      EXPECT_TRUE(batch) << batch.error().toString();
      if (!batch || batch->position.empty()) break;
      auto enq = store_->enqueue({}, Checkpoint{"shop", batch->position, batch->shadow});
      EXPECT_TRUE(enq) << enq.error().toString();
      events.insert(events.end(), batch->events.begin(), batch->events.end());
    }
    return events;
  }

  ConnectionOptions admin_options_, ro_options_;
  std::unique_ptr<Connection> admin_;
  std::string tag_, orders_, store_path_;
  std::unique_ptr<sqlite::SqliteStore> store_;
};

TEST_F(MysqlPollTest, SelectOnlyUserCapturesInsertsAndUpdatesWithBeforeImages) {
  exec("INSERT INTO `" + orders_ +
       "` (status, total, date_updated_gmt) VALUES ('wc-processing', 10, '2026-11-22 10:00:00')");
  auto src = source();
  EXPECT_TRUE(drain(*src).empty()) << "the first round is a baseline";

  exec("INSERT INTO `" + orders_ +
       "` (status, total, date_updated_gmt) VALUES ('wc-processing', 20.5, '2026-11-22 10:01:00')");
  exec("UPDATE `" + orders_ +
       "` SET status = 'wc-completed', date_updated_gmt = '2026-11-22 10:01:02' WHERE id = 1");
  auto events = drain(*src);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].pk, "1");
  EXPECT_EQ(events[0].op, Op::kUpdate);
  EXPECT_EQ(*events[0].before->find("status"), Value("wc-processing"));
  EXPECT_EQ(*events[0].after->find("status"), Value("wc-completed"));
  EXPECT_EQ(events[1].pk, "2");
  EXPECT_EQ(events[1].op, Op::kInsert);
  EXPECT_EQ(events[1].after->find("total")->toNumber(), 20.5);
  EXPECT_TRUE(drain(*src).empty()) << "re-reading the overlap makes no events";
}

TEST_F(MysqlPollTest, TransactionCommittingAfterLaterOnesIsCaptured) {
  exec("INSERT INTO `" + orders_ +
       "` (status, total, date_updated_gmt) VALUES ('wc-processing', 10, '2026-11-22 10:00:00')");
  auto src = source();
  drain(*src);

  // A stamps its row at 10:08 (application time, as WooCommerce does) and stays open.
  auto a = Connection::connect(admin_options_);
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->begin().isOk());
  ASSERT_TRUE((*a)->exec("UPDATE `" + orders_ +
                         "` SET status = 'wc-completed', date_updated_gmt = '2026-11-22 "
                         "10:08:00' WHERE id = 1")
                  .isOk());
  // B stamps 10:10 and commits first; the bridge sees it.
  exec("INSERT INTO `" + orders_ +
       "` (status, total, date_updated_gmt) VALUES ('wc-pending', 5, '2026-11-22 10:10:00')");
  auto seen = drain(*src);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].pk, "2");
  // A commits now, older than what was already seen: still captured, from the overlap.
  ASSERT_TRUE((*a)->commit().isOk());
  auto late = drain(*src);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].pk, "1");
  EXPECT_EQ(*late[0].before->find("status"), Value("wc-processing"));
  EXPECT_TRUE(drain(*src).empty());
}

TEST_F(MysqlPollTest, RestartFromTheDurableCheckpointLosesAndDuplicatesNothing) {
  for (int i = 0; i < 5; ++i) {
    exec("INSERT INTO `" + orders_ +
         "` (status, total, date_updated_gmt) VALUES ('wc-pending', 1, '2026-11-22 10:00:00')");
  }
  drain(*source(2));
  exec("UPDATE `" + orders_ +
       "` SET status = 'wc-processing', date_updated_gmt = "
       "'2026-11-22 10:05:00'");

  auto lost = source(2)->poll(milliseconds(0));  // read, then "crash" before the enqueue
  ASSERT_TRUE(lost);
  ASSERT_EQ(lost->events.size(), 2u);

  auto events = drain(*source(2));
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].position, lost->events[0].position) << "same change, same dedup key";
  EXPECT_TRUE(drain(*source(2)).empty());
}

}  // namespace
}  // namespace smsbridge::mysql
