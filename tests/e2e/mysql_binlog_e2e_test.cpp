// End-to-end on the real MariaDB with `capture: binlog`: the binary reads the shop's changes
// from the binlog, keeps its store in the same database (whose own writes are binlogged too and
// must not be captured), survives a SIGKILL without losing or repeating an SMS, and picks up a
// change made while it was down.

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/mariadb_shop.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using std::chrono::seconds;
using testing::waitUntil;

TEST(MysqlBinlogE2eTest, ShipsOrdersFromTheBinlogAcrossACrash) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);  // the config reads it
  testing::MariaDbShop shop(dsn);
  const std::string tag = "e2eb" + std::to_string(getpid()) + "_";
  const std::string orders = tag + "orders";
  const std::string prefix = tag + "sb_";
  const std::string messages = prefix + "messages";
  shop.dropTablesLike(tag);
  shop.exec("CREATE TABLE " + orders +
            " (id INT PRIMARY KEY, status VARCHAR(20), phone VARCHAR(30), name VARCHAR(50))");
  shop.exec("INSERT INTO " + orders +
            " VALUES (1, 'processing', '600 700 800', 'Anna'), (2, 'processing', "
            "'+48 601 234 567', 'Łukasz'), (3, 'processing', '602 111 222', 'Marek')");

  testing::TempDir dir;
  const std::string config = dir.file("smsbridge.yaml");
  const unsigned server_id = 3'100'000'000u + static_cast<unsigned>(getpid() % 100000);
  std::ofstream(config) << testing::shippedOrdersConfig(
      "{type: mysql, dsn: \"${SMSBRIDGE_TEST_MYSQL_DSN}\", capture: binlog, server_id: " +
          std::to_string(server_id) + ", poll_interval: 100ms, heartbeat_interval: 1s}",
      prefix, orders, "200ms");
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM information_schema.triggers WHERE "
                        "trigger_schema = DATABASE() AND event_object_table = '" +
                        orders + "'"),
            0)
      << "binlog capture installs no triggers";

  // Binlog capture starts at the binlog's end: wait until that start is stored, so the
  // changes below are after it.
  const std::string checkpoint = "SELECT count(*) FROM " + prefix + "checkpoints";
  auto bridge = std::make_unique<testing::BridgeProcess>(config, dir.file("run1.log"));
  ASSERT_TRUE(waitUntil([&] { return shop.scalar(checkpoint) == 1; }, seconds(30)))
      << bridge->output();

  shop.exec("START TRANSACTION");
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 1");
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 2");
  shop.exec("COMMIT");
  ASSERT_TRUE(
      waitUntil([&] { return shop.scalar("SELECT count(*) FROM " + messages) == 2; }, seconds(30)))
      << bridge->output();

  // A crash, a change while the bridge is down, and a restart from the stored position.
  bridge->kill();
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 3");
  bridge = std::make_unique<testing::BridgeProcess>(config, dir.file("run2.log"));
  shop.exec("UPDATE " + orders + " SET name = 'Anna K.' WHERE id = 1");  // no second SMS

  const bool settled = waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM " + messages) == 3 &&
               shop.scalar("SELECT count(*) FROM " + messages +
                           " WHERE status IN ('queued', 'sending', 'sent')") == 0;
      },
      seconds(30));
  // Idle now: storing a position is itself binlogged, and must not make the bridge store
  // positions forever (a few heartbeat intervals would show it).
  const std::string position = "SELECT CRC32(position) FROM " + prefix + "checkpoints";
  const long long idle_position = shop.scalar(position);
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(shop.scalar(position), idle_position) << "the bridge keeps moving its own position";
  EXPECT_TRUE(bridge->stop());
  ASSERT_TRUE(settled) << bridge->output();
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages + " WHERE status = 'delivered'"), 3);
  EXPECT_EQ(shop.scalar("SELECT count(DISTINCT entity_id) FROM " + messages), 3);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE recipient = '+48601234567' AND body = 'Hi Łukasz, order 2 "
                        "shipped'"),
            1);
  shop.dropTablesLike(tag);
}

}  // namespace
}  // namespace smsbridge
