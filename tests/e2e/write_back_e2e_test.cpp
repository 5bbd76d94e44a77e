// End-to-end write-back: the real binary, a SQLite shop, the sandbox provider reporting
// delivery by itself. Each `write_back:` action must have run exactly once per status change,
// and with the store in another database, the shop's status table must show `delivered`.

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using testing::SqliteShopDb;

constexpr char kShopSchema[] =
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, phone TEXT, status TEXT NOT NULL);"
    "CREATE TABLE order_notes (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL, "
    "note TEXT NOT NULL);"
    "CREATE TABLE sms_log (job_id INTEGER NOT NULL, status TEXT NOT NULL, provider TEXT, "
    "changed_at TEXT NOT NULL);"
    "INSERT INTO orders VALUES (1, '600700800', 'new'), (2, '600700801', 'new'), "
    "(3, '600700802', 'new'), (4, NULL, 'new');";

class WriteBackE2eTest : public ::testing::Test {
 protected:
  // `store_source`: empty for the store in the shop database, else a second SQLite file.
  void start(const std::string& store_line, const std::string& extra_source) {
    SqliteShopDb(dir_.file("shop.db")).exec(kShopSchema);
    config_ = dir_.file("smsbridge.yaml");
    std::ofstream(config_) << "defaults: {region: PL}\n"
                              "sources:\n"
                              "  shop: {type: sqlite, path: shop.db, poll_interval: 50ms}\n"
                           << extra_source << store_line
                           << "providers:\n"
                              "  sandbox: {type: sandbox, delivery_delay: 20ms}\n"
                              "routes:\n"
                              "  default: [sandbox]\n"
                              "dispatcher: {poll_interval: 20ms}\n"
                              "write_back: {poll_interval: 50ms}\n"
                              "mappings:\n"
                              "  shipped:\n"
                              "    source: shop\n"
                              "    table: orders\n"
                              "    on: [update]\n"
                              "    when: \"status == 'shipped' and old.status != 'shipped'\"\n"
                              "    to: \"{{ phone }}\"\n"
                              "    text: \"Order {{ id }} shipped\"\n"
                              "    write_back:\n"
                              "      - on: [delivered, suppressed]\n"
                              "        sql: >-\n"
                              "          INSERT INTO order_notes (order_id, note)\n"
                              "          VALUES (:entity_id, 'SMS ' || :status)\n"
                              "      - sql: >-\n"
                              "          INSERT INTO sms_log (job_id, status, provider, "
                              "changed_at)\n"
                              "          VALUES (:job_id, :status, :provider, :changed_at)\n";
    ASSERT_TRUE(testing::setupBridge(config_, dir_.file("setup.log")));
  }

  // Ships every order, waits until all write-back is done, and checks that each action ran
  // exactly once per status change; a restart must run nothing again.
  void shipAndCheck(const std::string& store_file) {
    testing::BridgeProcess bridge(config_, dir_.file("run.log"));
    SqliteShopDb shop(dir_.file("shop.db"));
    SqliteShopDb store(dir_.file(store_file));
    shop.exec("UPDATE orders SET status = 'shipped'");
    ASSERT_TRUE(testing::waitUntil(
        [&] {
          return store.scalar(
                     "SELECT count(*) FROM smsbridge_messages WHERE status IN "
                     "('delivered', 'suppressed')") == 4 &&
                 store.scalar(
                     "SELECT count(*) FROM smsbridge_status_changes WHERE done_at IS "
                     "NULL") == 0;
        },
        std::chrono::seconds(60)))
        << bridge.output();
    ASSERT_TRUE(bridge.stop());

    testing::BridgeProcess again(config_, dir_.file("run2.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    ASSERT_TRUE(again.stop());

    // One note per order: three delivered, one suppressed (no phone).
    EXPECT_EQ(shop.scalar("SELECT count(*) FROM order_notes"), 4);
    EXPECT_EQ(shop.scalar("SELECT count(*) FROM order_notes WHERE note = 'SMS delivered'"), 3);
    EXPECT_EQ(shop.scalar("SELECT count(*) FROM order_notes WHERE order_id = '4' AND note = "
                          "'SMS suppressed'"),
              1);
    // The log action: sent and delivered for each sent SMS, suppressed for the other, once.
    EXPECT_EQ(shop.scalar("SELECT count(*) FROM sms_log"), 7);
    EXPECT_EQ(shop.scalar("SELECT count(*) FROM (SELECT DISTINCT job_id, status FROM sms_log)"), 7);
    EXPECT_EQ(shop.scalar("SELECT count(*) FROM sms_log WHERE status = 'delivered' AND provider "
                          "= 'sandbox'"),
              3);
    EXPECT_EQ(store.scalar("SELECT count(*) FROM smsbridge_status_changes WHERE result = 'done'"),
              store.scalar("SELECT count(*) FROM smsbridge_status_changes"));
  }

  testing::TempDir dir_;
  std::string config_;
};

TEST_F(WriteBackE2eTest, ActionsRunOncePerStatusChangeWithTheStoreInTheShop) {
  start("", "");
  shipAndCheck("shop.db");
  // The store is in the shop database: smsbridge_messages is the status table, no mirror.
  EXPECT_EQ(
      SqliteShopDb(dir_.file("shop.db")).scalar("SELECT count(*) FROM smsbridge_message_status"),
      -1);
}

TEST_F(WriteBackE2eTest, ASeparateStoreMirrorsDeliveredStatusesIntoTheShop) {
  start("store: {source: bridge}\n", "  bridge: {type: sqlite, path: bridge.db}\n");
  shipAndCheck("bridge.db");
  SqliteShopDb shop(dir_.file("shop.db"));
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_message_status WHERE status = "
                        "'delivered' AND provider = 'sandbox' AND entity_table = 'orders'"),
            3);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_message_status WHERE entity_id = '4' "
                        "AND status = 'suppressed'"),
            1);
}

}  // namespace
}  // namespace smsbridge
