// End-to-end `capture: poll`: the real binary polls a SQLite shop, keeps the store (with the
// shadow) in a second SQLite database that is a source without mappings, and sends through the
// sandbox. The shop's existing rows must not produce SMS; a status change must, exactly once.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using std::chrono::seconds;
using testing::SqliteShopDb;
using testing::waitUntil;

TEST(PollE2eTest, PolledShopWithTheStoreInAnotherDatabase) {
  testing::TempDir dir;
  SqliteShopDb shop(dir.file("shop.db"));
  shop.exec(
      "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, phone TEXT, "
      "updated_at TEXT NOT NULL)");
  shop.exec(
      "INSERT INTO orders VALUES (1, 'shipped', '+48600100001', "
      "strftime('%Y-%m-%d %H:%M:%f','now'))");
  shop.exec(
      "INSERT INTO orders VALUES (2, 'processing', '+48600100002', "
      "strftime('%Y-%m-%d %H:%M:%f','now'))");
  SqliteShopDb(dir.file("bridge.db"));  // the store's database must exist, like any source file

  const std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << R"(
sources:
  shop:
    type: sqlite
    path: shop.db
    capture: poll
    poll_interval: 50ms
    poll:
      overlap: 1m
      tables:
        orders: {change_column: updated_at, watch: [status]}
  bridge: {type: sqlite, path: bridge.db}
store: {source: bridge}
providers:
  sandbox: {type: sandbox, delivery_delay: 20ms}
routes:
  default: [sandbox]
dispatcher: {poll_interval: 20ms}
mappings:
  shipped:
    source: shop
    table: orders
    on: [update]
    when: "status == 'shipped' and old.status != 'shipped'"
    to: "{{ phone }}"
    text: "Order {{ id }} shipped"
)";
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  SqliteShopDb store(dir.file("bridge.db"));
  // The baseline is recorded before the change below, so the change is an update with a
  // before-image, not a first sighting.
  ASSERT_TRUE(waitUntil(
      [&] {
        return store.scalar("SELECT count(*) FROM smsbridge_shadow WHERE source = 'shop'") == 2;
      },
      seconds(30)))
      << bridge.output();
  shop.exec(
      "UPDATE orders SET status = 'shipped', updated_at = "
      "strftime('%Y-%m-%d %H:%M:%f','now') WHERE id = 2");
  bool delivered = waitUntil(
      [&] {
        return store.scalar("SELECT count(*) FROM smsbridge_messages WHERE status = 'delivered'") ==
               1;
      },
      seconds(30));
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(delivered) << bridge.output();
  EXPECT_EQ(store.scalar("SELECT count(*) FROM smsbridge_messages"), 1)
      << "order 1 was already shipped before polling began: no SMS";
  EXPECT_EQ(store.scalar("SELECT count(*) FROM smsbridge_messages WHERE entity_id = '2'"), 1);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM sqlite_master WHERE name LIKE 'smsbridge_%'"), 0)
      << "nothing was written into the polled shop database";
  EXPECT_NE(bridge.output().find("not capturing it. source=bridge"), std::string::npos);
}

}  // namespace
}  // namespace smsbridge
