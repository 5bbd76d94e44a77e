// `poll` capture on the real MariaDB from scripts/test-services.sh, through a user that has
// only SELECT on the captured table, with the store in a separate SQLite file: the read-only
// deployment (WooCommerce on shared hosting). Each test has its own table, user and store file.

#include <filesystem>
#include <memory>
#include <random>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_poll_reader.h"
#include "connectors/poll_capture.h"
#include "connectors/sqlite/sqlite_store.h"
#include "tests/fakes/poll_cases.h"
#include "tests/integration/test_env.h"

namespace smsbridge::mysql {
namespace {

using std::chrono::milliseconds;

class MysqlPollTest : public ::testing::Test, public testing::PollShop {
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

  // testing::PollShop
  std::string ordersTable() const override { return "`" + orders_ + "`"; }
  std::string stampColumn() const override { return "date_updated_gmt"; }
  void exec(const std::string& sql) override {
    Status s = admin_->exec(sql);
    ASSERT_TRUE(s.isOk()) << sql << ": " << s.toString();
  }
  std::unique_ptr<Source> source(int batch_size) override {
    return testing::startPollSource(testing::pollSettings(orders_, "date_updated_gmt", batch_size),
                                    std::make_unique<MysqlPollReader>(ro_options_), *store_);
  }
  std::function<void()> execUncommitted(const std::string& sql) override {
    auto conn = Connection::connect(admin_options_);
    EXPECT_TRUE(conn) << conn.error().toString();
    if (!conn) return [] {};
    std::shared_ptr<Connection> writer = std::move(*conn);
    EXPECT_TRUE(writer->begin().isOk());
    Status updated = writer->exec(sql);
    EXPECT_TRUE(updated.isOk()) << updated.toString();
    return [writer] { EXPECT_TRUE(writer->commit().isOk()); };
  }
  JobStore& store() override { return *store_; }

  ConnectionOptions admin_options_, ro_options_;
  std::unique_ptr<Connection> admin_;
  std::string tag_, orders_, store_path_;
  std::unique_ptr<sqlite::SqliteStore> store_;
};

TEST_F(MysqlPollTest, SelectOnlyUserCapturesInsertsAndUpdatesWithBeforeImages) {
  testing::checkBaselineThenInsertsAndUpdatesWithBeforeImages(*this);
}

// The writer stamps its row with application time, as WooCommerce does.
TEST_F(MysqlPollTest, TransactionCommittingAfterLaterOnesIsCaptured) {
  testing::checkLateCommitWithAnOlderStampIsCaptured(*this);
}

TEST_F(MysqlPollTest, RestartFromTheDurableCheckpointLosesAndDuplicatesNothing) {
  testing::checkRestartFromTheDurableCheckpointLosesAndDuplicatesNothing(*this);
}

}  // namespace
}  // namespace smsbridge::mysql
