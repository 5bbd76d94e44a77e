// SIGKILL at random points while 10,000 updates commit, in every MariaDB capture mode, with
// the store in the same MariaDB: after the last restart every expected job exists exactly once
// (issue 4: exactly-once enqueue across crashes). The scenario is tests/e2e/crash_driver.h,
// shared with PostgreSQL. And the binlog reader's own connection being killed on the server
// (KILL of the dump thread): the running bridge reconnects and loses or repeats nothing.

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/crash_driver.h"
#include "tests/e2e/mariadb_shop.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using std::chrono::seconds;
using testing::CrashCase;
using testing::kCrashOrders;
using testing::MariaDbCleanup;
using testing::MariaDbShop;
using testing::waitUntil;

// A replica server_id per test process: two bridges reading the binlog with one id would
// throw each other out.
unsigned replicaServerId() { return 3'200'000'000u + static_cast<unsigned>(getpid() % 100000); }

// ids 1..n, without a recursive CTE: MySQL caps its recursion at 1,000 rows by default.
std::string idsUpTo(int n) {
  return "SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 1 AS id FROM (SELECT 0 d UNION ALL "
         "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 "
         "UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a, "
         "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT "
         "4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL "
         "SELECT 9) b, (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION "
         "ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 "
         "UNION ALL SELECT 9) c, (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL "
         "SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 "
         "UNION ALL SELECT 8 UNION ALL SELECT 9) e HAVING id <= " +
         std::to_string(n);
}

class MysqlCrashE2eTest : public ::testing::TestWithParam<const char*> {};

TEST_P(MysqlCrashE2eTest, EveryJobExactlyOnceAcrossKills) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);  // the config reads it
  const std::string mode = GetParam();
  MariaDbShop shop(dsn);
  const std::string tag = "e2emk" + mode.substr(0, 2) + std::to_string(getpid()) + "_";
  MariaDbCleanup cleanup{shop, tag};
  shop.dropTablesLike(tag);
  CrashCase c;
  c.dsn = dsn;
  c.orders = tag + "orders";
  c.prefix = tag + "sb_";
  c.now_sql = "NOW(6)";
  shop.exec("CREATE TABLE " + c.orders +
            " (id INT PRIMARY KEY, status VARCHAR(20) NOT NULL, phone VARCHAR(30) NOT NULL, "
            "updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))");
  shop.exec("INSERT INTO " + c.orders +
            " (id, status, phone) SELECT id, 'new', CONCAT('+48 601 ', LPAD(id, 6, '0')) FROM (" +
            idsUpTo(kCrashOrders) + ") ids");
  ASSERT_EQ(shop.scalar("SELECT count(*) FROM " + c.orders), kCrashOrders);

  c.source_yaml =
      "    type: mysql\n"
      "    dsn: \"${SMSBRIDGE_TEST_MYSQL_DSN}\"\n"
      "    capture: " +
      mode + "\n    poll_interval: 100ms\n";
  const std::string checkpoints =
      "SELECT count(*) FROM " + c.prefix + "checkpoints WHERE source = 'shop'";
  if (mode == "binlog") {
    c.source_yaml +=
        "    server_id: " + std::to_string(replicaServerId()) + "\n    heartbeat_interval: 1s\n";
    // Binlog capture's first run starts at the binlog's end: a payment before that start is
    // stored would never be read.
    c.ready_sql = checkpoints;
  }
  if (mode == "poll") {
    // Every write is one short autocommit UPDATE, so a 10 s overlap covers the longest
    // transaction; each round re-reads the overlap's rows, which is what makes poll mode the
    // slowest here.
    c.source_yaml += "    poll: {overlap: 10s, tables: {" + c.orders +
                     ": {change_column: updated_at, watch: [status]}}}\n";
    // The first poll round only records the existing rows (see the PostgreSQL test).
    c.ready_sql = checkpoints + " AND position LIKE '%\"mark\"%'";
  }
  testing::payOrdersWhileKilling(shop, c);
}

INSTANTIATE_TEST_SUITE_P(Modes, MysqlCrashE2eTest, ::testing::Values("binlog", "trigger", "poll"),
                         [](const auto& info) { return std::string(info.param); });

TEST(MysqlBinlogReconnectE2eTest, KilledDumpThreadIsReconnectedWithoutLossOrRepeat) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);
  MariaDbShop shop(dsn);
  const std::string tag = "e2emd" + std::to_string(getpid()) + "_";
  MariaDbCleanup cleanup{shop, tag};
  shop.dropTablesLike(tag);
  CrashCase c;
  c.orders = tag + "orders";
  c.prefix = tag + "sb_";
  c.source_yaml =
      "    type: mysql\n    dsn: \"${SMSBRIDGE_TEST_MYSQL_DSN}\"\n    capture: binlog\n"
      "    server_id: " +
      std::to_string(replicaServerId() + 1) +
      "\n    poll_interval: 100ms\n    heartbeat_interval: 1s\n";
  const std::string messages = c.prefix + "messages";
  shop.exec("CREATE TABLE " + c.orders +
            " (id INT PRIMARY KEY, status VARCHAR(20) NOT NULL, phone VARCHAR(30) NOT NULL, "
            "updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))");
  shop.exec("INSERT INTO " + c.orders +
            " (id, status, phone) VALUES (1, 'new', '600 700 801'), (2, 'new', '600 700 802'), "
            "(3, 'new', '600 700 803')");

  testing::TempDir dir;
  const std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << testing::crashConfig(c);
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));
  testing::BridgeProcess bridge(config, dir.file("run.log"));
  ASSERT_TRUE(waitUntil(
      [&] { return shop.scalar("SELECT count(*) FROM " + c.prefix + "checkpoints") == 1; },
      seconds(30)))
      << bridge.output();
  shop.exec("UPDATE " + c.orders + " SET status = 'paid' WHERE id = 1");
  ASSERT_TRUE(
      waitUntil([&] { return shop.scalar("SELECT count(*) FROM " + messages) == 1; }, seconds(30)))
      << bridge.output();

  const std::string dump_threads =
      "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'";
  const auto killed = shop.column(dump_threads);
  ASSERT_FALSE(killed.empty()) << "no binlog dump thread to kill";
  for (const auto& id : killed) shop.exec("KILL " + id);
  // Changes committed while the reader is cut off, and one after it is back.
  shop.exec("UPDATE " + c.orders + " SET status = 'paid' WHERE id = 2");
  ASSERT_TRUE(waitUntil(
      [&] {
        return bridge.output().find("Binlog connection lost; reconnecting") != std::string::npos;
      },
      seconds(30)))
      << bridge.output();
  shop.exec("UPDATE " + c.orders + " SET status = 'paid' WHERE id = 3");

  const bool settled = waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM " + messages) == 3 &&
               shop.scalar("SELECT count(*) FROM " + messages +
                           " WHERE status IN ('queued', 'sending')") == 0;
      },
      seconds(60));
  EXPECT_TRUE(bridge.process().running()) << "a lost binlog connection must not stop the bridge\n"
                                          << bridge.output();
  EXPECT_FALSE(shop.column(dump_threads).empty()) << "the bridge dumps the binlog again";
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << bridge.output();
  EXPECT_EQ(shop.scalar("SELECT count(DISTINCT entity_id) FROM " + messages), 3);
}

}  // namespace
}  // namespace smsbridge
