// End-to-end write-back on real PostgreSQL and MariaDB: a shop captured with `trigger`, the
// store in a separate SQLite file, the sandbox provider reporting delivery by itself. The
// shop's status table must show `delivered`, and each `write_back:` action must have run
// exactly once per status change.

#include <unistd.h>

#include <fstream>
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

void writeBackThroughTheBridge(testing::ShopDb& shop, const std::string& type,
                               const std::string& dsn_var, const std::string& text_type) {
  // Names unique to this run, so parallel or repeated runs never meet.
  const std::string tag = "wb" + std::to_string(getpid()) + "_";
  const std::string orders = tag + "orders", notes = tag + "notes", log = tag + "log";
  const std::string prefix = tag + "sb_";
  const std::vector<std::string> tables = {orders,
                                           notes,
                                           log,
                                           prefix + "changes",
                                           prefix + "write_back_done",
                                           prefix + "message_status"};
  auto cleanup = [&] {
    for (const auto& t : tables) shop.exec("DROP TABLE IF EXISTS " + t);
  };
  cleanup();
  shop.exec("CREATE TABLE " + orders + " (id INT PRIMARY KEY, status " + text_type + ", phone " +
            text_type + ")");
  shop.exec("CREATE TABLE " + notes + " (order_id " + text_type + ", note " + text_type + ")");
  shop.exec("CREATE TABLE " + log + " (job_id BIGINT, status " + text_type + ", provider " +
            text_type + ", changed_at " + text_type + ")");
  shop.exec("INSERT INTO " + orders +
            " VALUES (1, 'new', '600 700 800'), (2, 'new', '601 234 567'), (3, 'new', '')");

  testing::TempDir dir;
  const std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << "defaults: {region: PL}\n"
                           "sources:\n"
                           "  shop: {type: "
                        << type << ", dsn: \"${" << dsn_var
                        << "}\", capture: trigger, poll_interval: 100ms}\n"
                           "  bridge: {type: sqlite, path: bridge.db}\n"
                           "store: {source: bridge, table_prefix: "
                        << prefix
                        << "}\n"
                           "providers:\n"
                           "  sandbox: {type: sandbox, delivery_delay: 50ms}\n"
                           "routes:\n"
                           "  default: [sandbox]\n"
                           "write_back: {poll_interval: 100ms}\n"
                           "mappings:\n"
                           "  shipped:\n"
                           "    source: shop\n"
                           "    table: "
                        << orders
                        << "\n"
                           "    on: [update]\n"
                           "    when: \"status == 'shipped' and old.status != 'shipped'\"\n"
                           "    to: \"{{ phone }}\"\n"
                           "    text: \"Order {{ id }} shipped\"\n"
                           "    write_back:\n"
                           "      - on: [delivered, suppressed]\n"
                           "        sql: \"INSERT INTO "
                        << notes
                        << " (order_id, note) VALUES (:entity_id, :status)\"\n"
                           "      - sql: \"INSERT INTO "
                        << log
                        << " (job_id, status, provider, changed_at) VALUES (:job_id, :status, "
                           ":provider, :changed_at)\"\n";
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));

  const std::string mirror = prefix + "message_status";
  {
    testing::BridgeProcess bridge(config, dir.file("run.log"));
    shop.exec("UPDATE " + orders + " SET status = 'shipped'");
    bool settled = testing::waitUntil(
        [&] {
          return shop.scalar("SELECT count(*) FROM " + mirror +
                             " WHERE status IN ('delivered', 'suppressed')") == 3 &&
                 shop.scalar("SELECT count(*) FROM " + log) == 5;
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(bridge.stop());
    ASSERT_TRUE(settled) << bridge.output();
  }
  // A restart runs nothing again.
  {
    testing::BridgeProcess again(config, dir.file("run2.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_TRUE(again.stop());
  }

  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + mirror +
                        " WHERE status = 'delivered' AND provider = 'sandbox'"),
            2);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + notes), 3);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + notes + " WHERE note = 'delivered'"), 2);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + notes +
                        " WHERE order_id = '3' AND note = 'suppressed'"),
            1);
  // sent + delivered for two SMS, suppressed for the third: each exactly once.
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + log), 5);
  EXPECT_EQ(
      shop.scalar("SELECT count(*) FROM (SELECT DISTINCT job_id, status FROM " + log + ") AS d"),
      5);
  // One marker per action run: 3 notes and 5 log rows.
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + prefix + "write_back_done"), 8);
  cleanup();
}

TEST(WriteBackDatabasesE2eTest, PostgresShopGetsActionsAndStatusMirrorOnce) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  testing::PgShopDb shop(dsn);
  ::setenv("WB_E2E_PG_DSN", dsn.c_str(), 1);
  writeBackThroughTheBridge(shop, "postgres", "WB_E2E_PG_DSN", "text");
}

TEST(WriteBackDatabasesE2eTest, MariadbShopGetsActionsAndStatusMirrorOnce) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  testing::MysqlShopDb shop(dsn);
  ::setenv("WB_E2E_MYSQL_DSN", dsn.c_str(), 1);
  writeBackThroughTheBridge(shop, "mysql", "WB_E2E_MYSQL_DSN", "VARCHAR(191)");
}

}  // namespace
}  // namespace smsbridge
