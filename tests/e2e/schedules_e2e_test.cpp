// End-to-end: `schedules:` through the real binary: positioned diagnostics at `check`, and the
// schedules example running against its SQLite shop with the sandbox provider.

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::readFile;
using testing::TempDir;
using testing::waitUntil;
using testing::writeFile;

TEST(SchedulesCliTest, CheckPointsIntoABadCronAndAnUnboundParameter) {
  TempDir dir;
  std::string config = dir.file("bad.yaml");
  writeFile(config, R"(sources:
  shop: {type: sqlite, path: shop.db}
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
mappings: {}
schedules:
  campaign:
    cron: "0 10 * * FRY"
    query: "SELECT id, phone FROM customers WHERE tier = :tier"
    to: "{{ phone }}"
    text: "Deals"
  reminder:
    every: 15m
    cron: "*/5 * * * *"
    query: "SELECT 1"
    to: "{{ phone }}"
    text: "Hi"
)");
  auto [code, out] = testing::runSmsbridge({"check", "-c", config}, dir.file("log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(
      std::regex_search(out, std::regex("bad\\.yaml:10:21: schedules\\.campaign\\.cron: .*FRY")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("bad\\.yaml:11:58: schedules\\.campaign\\.query: parameter ':tier' has no "
                      "value")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("bad\\.yaml:16:\\d+: schedules\\.reminder\\.cron: set exactly one trigger")))
      << out;
  EXPECT_NE(out.find("3 problems found"), std::string::npos) << out;
}

class SchedulesExampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path example = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "schedules";
    config_ = dir_.file("smsbridge.yaml");
    // The example's minute-long intervals, shortened so the test does not wait for the clock.
    std::string yaml = readFile(example / "smsbridge.yaml");
    yaml = std::regex_replace(yaml, std::regex("every: 1m"), "every: 1s");
    writeFile(config_, yaml);
    shop_ = std::make_unique<testing::SqliteShopDb>(dir_.file("shop.db"));
    shop_->exec(readFile(example / "shop.sql"));
    // A booking two seconds past the 24-hour mark: reminded by the runs that follow.
    shop_->exec(
        "INSERT INTO bookings VALUES (4, 2, 'Massage', "
        "datetime('now', '+24 hours', '+2 seconds'), 'confirmed')");
    ASSERT_TRUE(testing::setupBridge(config_, dir_.file("setup.log")));
  }

  std::int64_t count(const std::string& where) {
    return shop_->scalar("SELECT count(*) FROM smsbridge_messages WHERE " + where);
  }

  TempDir dir_;
  std::string config_;
  std::unique_ptr<testing::SqliteShopDb> shop_;
};

TEST_F(SchedulesExampleTest, RemindsAndChasesCartsOnceAcrossARestart) {
  {
    testing::BridgeProcess bridge(config_, dir_.file("run.log"));
    ASSERT_TRUE(waitUntil(
        [&] {
          return count("mapping = 'booking_reminder' AND status = 'delivered'") == 1 &&
                 count("mapping = 'abandoned_cart'") == 1;
        },
        seconds(30)))
        << bridge.output();
    EXPECT_TRUE(bridge.stop());
    EXPECT_NE(bridge.output().find("Schedule run complete. schedule=booking_reminder"),
              std::string::npos)
        << bridge.output();
  }
  EXPECT_EQ(count("mapping = 'booking_reminder' AND entity_id = '4' AND recipient = "
                  "'+48601234567'"),
            1);

  // Restarted: the runs go on, and their dedup keys keep each booking and cart to one SMS.
  testing::BridgeProcess again(config_, dir_.file("run2.log"));
  ASSERT_TRUE(waitUntil(
      [&] {
        // The cart is still abandoned: the run finds it again and its key holds it back.
        return again.output().find("schedule=abandoned_cart") != std::string::npos &&
               again.output().find("jobs=0 duplicates=1") != std::string::npos;
      },
      seconds(30)))
      << again.output();
  EXPECT_TRUE(again.stop());
  EXPECT_EQ(count("1 = 1"), 2);
}

}  // namespace
}  // namespace smsbridge
