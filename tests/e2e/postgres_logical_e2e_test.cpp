// End-to-end on the real PostgreSQL with `capture: logical`: `setup --set-replica-identity`
// creates the publication and slot and gives the mapped table full before images, the binary
// turns committed updates into SMS through the sandbox provider, survives a SIGKILL, and after
// the restart neither loses the updates made while it was down nor repeats an SMS.

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/pg_shop.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

TEST(PostgresLogicalE2eTest, ShipsOrdersAndSurvivesAKillWithoutLossOrRepeats) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);  // the config reads ${SMSBRIDGE_TEST_PG_DSN}
  testing::Shop shop(dsn);
  const std::string tag = "e2el" + std::to_string(getpid()) + "_";
  const std::string orders = tag + "orders";
  const std::string prefix = tag + "sb_";
  const std::string messages = prefix + "messages";
  testing::Cleanup cleanup{shop, tag, prefix + "slot_shop", prefix + "pub_shop"};
  shop.exec("CREATE TABLE " + orders + " (id INT PRIMARY KEY, status TEXT, phone TEXT, name TEXT)");
  for (int id = 1; id <= 6; ++id) {
    shop.exec("INSERT INTO " + orders + " VALUES (" + std::to_string(id) +
              ", 'processing', '+48 601 234 56" + std::to_string(id) + "', 'Client" +
              std::to_string(id) + "')");
  }

  testing::TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << testing::shippedOrdersConfig(
      "{type: postgres, dsn: \"${SMSBRIDGE_TEST_PG_DSN}\", capture: logical, poll_interval: 100ms}",
      prefix, orders, "100ms");

  // Without the flag setup only says what the old.status mapping needs.
  auto [dry_code, dry_out] =
      testing::runSmsbridge({"setup", "-c", config, "--dry-run"}, dir.file("dry.log"));
  ASSERT_EQ(dry_code, 0) << dry_out;
  EXPECT_NE(dry_out.find("REPLICA IDENTITY FULL"), std::string::npos) << dry_out;
  EXPECT_NE(dry_out.find("CREATE PUBLICATION"), std::string::npos) << dry_out;
  EXPECT_EQ(shop.text("SELECT relreplident FROM pg_class WHERE oid = '" + orders + "'::regclass"),
            "d");

  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log"), {"--set-replica-identity"}));
  EXPECT_EQ(shop.text("SELECT relreplident FROM pg_class WHERE oid = '" + orders + "'::regclass"),
            "f");

  // Settled means handed to the provider. Not "delivered": the sandbox numbers its message ids
  // from 1 in every process, so after a restart its delivery reports name the first run's jobs.
  auto settledAt = [&](long long total) {
    return testing::waitUntil(
        [&] {
          return shop.scalar("SELECT count(*) FROM " + messages) == total &&
                 shop.scalar("SELECT count(*) FROM " + messages +
                             " WHERE status IN ('queued', 'sending')") == 0;
        },
        std::chrono::seconds(30));
  };

  {
    testing::BridgeProcess bridge(config, dir.file("run1.log"));
    shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id IN (1, 2)");
    shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 3");
    shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 1");  // no second SMS
    ASSERT_TRUE(settledAt(3)) << bridge.output();
    // A crash, not a clean stop: whatever was not acknowledged yet comes again.
    bridge.kill();
  }
  // Changes made while the bridge is down wait in the slot.
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id IN (4, 5)");
  shop.exec("UPDATE " + orders + " SET name = 'Renamed' WHERE id = 6");

  testing::BridgeProcess bridge(config, dir.file("run2.log"));
  bool settled = settledAt(5);
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << bridge.output();
  EXPECT_EQ(
      shop.scalar("SELECT count(*) FROM " + messages + " WHERE status IN ('sent', 'delivered')"),
      5);
  EXPECT_EQ(shop.scalar("SELECT count(DISTINCT recipient) FROM " + messages), 5);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE recipient = '+48601234564' AND body = 'Hi Client4, order 4 "
                        "shipped'"),
            1);
  // The slot followed the store: nothing the bridge consumed is still pinned.
  EXPECT_EQ(shop.text("SELECT confirmed_flush_lsn >= (SELECT position::pg_lsn FROM " + prefix +
                      "checkpoints WHERE source = 'shop') FROM pg_replication_slots WHERE "
                      "slot_name = '" +
                      prefix + "slot_shop'"),
            "t");
}

}  // namespace
}  // namespace smsbridge
