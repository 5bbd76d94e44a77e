// End-to-end on real PostgreSQL and MariaDB: the binary captures a shop's changes with
// `trigger` capture, keeps its store in the same database, and writes the statuses back there.

#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

void shipOrdersThroughTheBridge(testing::ShopDb& shop, const std::string& type,
                                const std::string& dsn_var, const std::string& text_type) {
  // Names unique to this run, so parallel or repeated runs never meet.
  std::string tag = "e2e" + std::to_string(getpid()) + "_";
  std::string orders = tag + "orders";
  std::string prefix = tag + "sb_";
  shop.dropTablesLike(tag);
  shop.exec("CREATE TABLE " + orders + " (id INT PRIMARY KEY, status " + text_type + ", phone " +
            text_type + ", name " + text_type + ")");
  shop.exec("INSERT INTO " + orders +
            " VALUES (1, 'processing', '600 700 800', 'Anna'), (2, 'processing', "
            "'+48 601 234 567', 'Łukasz'), (3, 'processing', '', 'Marek')");

  testing::TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << testing::shippedOrdersConfig(
      "{type: " + type + ", dsn: \"${" + dsn_var + "}\", capture: trigger, poll_interval: 100ms}",
      prefix, orders, "200ms");
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id IN (1, 2)");
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 3");
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 1");  // no second SMS

  std::string messages = prefix + "messages";
  bool settled = testing::waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM " + messages) == 3 &&
               shop.scalar("SELECT count(*) FROM " + messages +
                           " WHERE status IN ('queued', 'sending', 'sent')") == 0;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << bridge.output();
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages + " WHERE status = 'delivered'"), 2);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE status = 'suppressed' AND status_reason LIKE 'missing%'"),
            1);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE recipient = '+48601234567' AND body = 'Hi Łukasz, order 2 "
                        "shipped'"),
            1);
  shop.dropTablesLike(tag);
}

TEST(DatabasesE2eTest, PostgresTriggerCaptureWithStoreInTheShopDatabase) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);  // the config reads ${SMSBRIDGE_TEST_PG_DSN}
  testing::PgShopDb shop(dsn);
  shipOrdersThroughTheBridge(shop, "postgres", "SMSBRIDGE_TEST_PG_DSN", "TEXT");
}

TEST(DatabasesE2eTest, MariadbTriggerCaptureWithStoreInTheShopDatabase) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);
  testing::MysqlShopDb shop(dsn);
  shipOrdersThroughTheBridge(shop, "mysql", "SMSBRIDGE_TEST_MYSQL_DSN", "VARCHAR(100)");
}

}  // namespace
}  // namespace smsbridge
