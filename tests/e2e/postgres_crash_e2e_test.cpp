// SIGKILL at random points while 10,000 updates commit, in every PostgreSQL capture mode: after
// the last restart every expected job exists exactly once (issue: exactly-once enqueue across
// crashes). The scenario itself is tests/e2e/crash_driver.h, shared with MariaDB.

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/crash_driver.h"
#include "tests/e2e/pg_shop.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using testing::kCrashOrders;

class PostgresCrashE2eTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PostgresCrashE2eTest, EveryJobExactlyOnceAcrossKills) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);
  const std::string mode = GetParam();
  testing::Shop shop(dsn);
  const std::string tag = "e2ek" + mode.substr(0, 2) + std::to_string(getpid()) + "_";
  testing::CrashCase c;
  c.dsn = dsn;
  c.orders = tag + "orders";
  c.prefix = tag + "sb_";
  c.now_sql = "clock_timestamp()";
  testing::Cleanup cleanup{shop, tag, c.prefix + "slot_shop", c.prefix + "pub_shop"};
  shop.exec("CREATE TABLE " + c.orders +
            " (id INT PRIMARY KEY, status TEXT NOT NULL, phone TEXT NOT NULL, "
            "updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())");
  shop.exec("INSERT INTO " + c.orders + " SELECT g, 'new', '+48 601 ' || lpad(g::text, 6, '0'), " +
            "clock_timestamp() FROM generate_series(1, " + std::to_string(kCrashOrders) + ") g");

  c.source_yaml =
      "    type: postgres\n"
      "    dsn: \"${SMSBRIDGE_TEST_PG_DSN}\"\n"
      "    capture: " +
      mode + "\n    poll_interval: 100ms\n";
  if (mode == "poll") {
    c.source_yaml += "    poll: {overlap: 30s, tables: {" + c.orders +
                     ": {change_column: updated_at, watch: [status]}}}\n";
    // Poll mode's first round only records the existing rows, and a change committed before
    // that round is complete counts as existing state: let it finish (the table has a mark)
    // before any payment.
    c.ready_sql = "SELECT count(*) FROM " + c.prefix +
                  "checkpoints WHERE source = 'shop' AND position LIKE '%\"mark\"%'";
  }
  if (mode == "logical") c.setup_flags = {"--set-replica-identity"};
  testing::payOrdersWhileKilling(shop, c);
}

INSTANTIATE_TEST_SUITE_P(Modes, PostgresCrashE2eTest,
                         ::testing::Values("trigger", "logical", "poll"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace smsbridge
