// End-to-end `capture: poll`: the real binary polls a SQLite shop, keeps the store (with the
// shadow) in a second SQLite database that is a source without mappings, and sends through the
// sandbox. The shop's existing rows must not produce SMS; a status change must, exactly once.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "connectors/sqlite/sqlite_db.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;
using testing::runToCompletion;
using testing::TempDir;

std::unique_ptr<sqlite::Database> openDb(const std::string& path) {
  auto db = sqlite::Database::open(path, sqlite::Database::OpenMode::kCreateIfMissing,
                                   milliseconds(10'000));
  if (!db) throw std::runtime_error(db.error().toString());
  return std::move(*db);
}

std::int64_t scalar(sqlite::Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  if (!st) throw std::runtime_error(st.error().toString());
  auto row = st->step();
  if (!row || !*row) throw std::runtime_error("no row for " + sql);
  return st->columnInt(0);
}

TEST(PollE2eTest, PolledShopWithTheStoreInAnotherDatabase) {
  TempDir dir;
  auto shop = openDb(dir.file("shop.db"));
  ASSERT_TRUE(shop->exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, phone TEXT, "
                         "updated_at TEXT NOT NULL)")
                  .isOk());
  ASSERT_TRUE(shop->exec("INSERT INTO orders VALUES (1, 'shipped', '+48600100001', "
                         "strftime('%Y-%m-%d %H:%M:%f','now'))")
                  .isOk());
  ASSERT_TRUE(shop->exec("INSERT INTO orders VALUES (2, 'processing', '+48600100002', "
                         "strftime('%Y-%m-%d %H:%M:%f','now'))")
                  .isOk());
  openDb(dir.file("bridge.db"));  // the store's database must exist, like any source file

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
  auto [setup_code, setup_out] =
      runToCompletion({SMSBRIDGE_BINARY, "setup", "-c", config}, dir.file("setup.log"));
  ASSERT_EQ(setup_code, 0) << setup_out;

  ChildProcess bridge({SMSBRIDGE_BINARY, "run", "-c", config}, dir.file("run.log"));
  auto store = openDb(dir.file("bridge.db"));
  auto waitFor = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 300 && !done(); ++i) std::this_thread::sleep_for(milliseconds(100));
    return done();
  };
  // The baseline is recorded before the change below, so the change is an update with a
  // before-image, not a first sighting.
  ASSERT_TRUE(waitFor([&] {
    return scalar(*store, "SELECT count(*) FROM smsbridge_shadow WHERE source = 'shop'") == 2;
  })) << bridge.output();
  ASSERT_TRUE(shop->exec("UPDATE orders SET status = 'shipped', updated_at = "
                         "strftime('%Y-%m-%d %H:%M:%f','now') WHERE id = 2")
                  .isOk());
  bool delivered = waitFor([&] {
    return scalar(*store, "SELECT count(*) FROM smsbridge_messages WHERE status = 'delivered'") ==
           1;
  });
  bridge.signal(SIGTERM);
  EXPECT_EQ(bridge.wait(seconds(15)), 0) << bridge.output();
  ASSERT_TRUE(delivered) << bridge.output();
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM smsbridge_messages"), 1)
      << "order 1 was already shipped before polling began: no SMS";
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM smsbridge_messages WHERE entity_id = '2'"), 1);
  EXPECT_EQ(scalar(*shop, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'smsbridge_%'"), 0)
      << "nothing was written into the polled shop database";
  EXPECT_NE(bridge.output().find("not capturing it. source=bridge"), std::string::npos);
}

}  // namespace
}  // namespace smsbridge
