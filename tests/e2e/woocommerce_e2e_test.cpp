// The WooCommerce example (examples/woocommerce) end to end on the real MariaDB, as demo.sh runs
// it: schema.sql into a fresh database, the storage options of one WooCommerce mode, `setup` and
// `run` with the example's own smsbridge.yaml and `storage: auto` (only the DSN and the capture
// mode come from the test), then drive.sql's orders and stock movements. Each mode must make
// exactly the same SMS: one per order and status (a status applied twice included), one admin
// SMS per new order, and one stock alert per crossing of the effective threshold, also when a
// re-armed alert crosses through the same numbers again.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/mariadb_shop.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::MariaDbShop;
using testing::TempDir;
using testing::waitUntil;

const fs::path kExample = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "woocommerce";

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct WooMode {
  std::string name;      // also part of the database name
  std::string hpos;      // woocommerce_custom_orders_table_enabled
  std::string sync;      // woocommerce_custom_orders_table_data_sync_enabled
  std::string capture;   // the source's capture mode
  std::string triggers;  // trigger capture: the order table that must have the triggers
};

std::ostream& operator<<(std::ostream& out, const WooMode& mode) {
  return out << mode.name << "/" << mode.capture;
}

// Drops the example's database even when an assertion ended the test early. Runs after the
// bridge process is gone (declared before it).
struct DropDatabase {
  std::string dsn;
  std::string database;
  ~DropDatabase() {
    try {
      MariaDbShop(dsn).exec("DROP DATABASE IF EXISTS " + database);
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
      // Best effort: the test's own assertions already reported the problem.
    }
  }
};

// What drive.sql must send, whichever storage holds the orders. The order numbers are post IDs
// (products are 10 to 13), which both storages use.
const std::vector<std::string> kExpectedSms = {
    "+48600700800 Hi Anna, thank you for order #14. We are preparing it now.",
    "+48600100200 New order #14: 119.98 PLN from Anna Nowak",
    "+48600700800 Hi Anna, order #14 is on its way. Thank you for shopping with us!",
    "+4915123456789 Your order #15 is on hold until we confirm your payment.",
    "+48600100200 New order #15: 59.99 PLN from Jürgen Schmidt",
    "+48600100200 Low stock: Coffee beans 1 kg (ID 10, SKU COF-1KG) is down to 2.",
    "+4915123456789 Your order #15 has been cancelled.",
    "+48604333444 Hi Kasia, thank you for order #16. We are preparing it now.",
    "+48600100200 New order #16: 59.99 PLN from Kasia Lewandowska",
    "+48600100200 Low stock: Coffee beans 1 kg (ID 10, SKU COF-1KG) is down to 2.",
    "+48601234567 The payment for your order #17 failed. Please try again or contact us.",
    "+48601234567 Hi Marta, thank you for order #17. We are preparing it now.",
    "+48600100200 New order #17: 119.98 PLN from Marta Wiśniewska",
    "+48600100200 Out of stock: Coffee beans 1 kg (ID 10, SKU COF-1KG).",
    "+48601234567 Your order #17 has been refunded.",
    "+48602111222 Hi Piotr, thank you for order #18. We are preparing it now.",
    "+48600100200 New order #18: 999.00 PLN from Piotr Zieliński",
    "+48600100200 Low stock: Coffee beans 1 kg (ID 10, SKU COF-1KG) is down to 2.",
    "+48602111222 Hi Piotr, thank you for order #19. We are preparing it now.",
    "+48600100200 New order #19: 49.00 PLN from Piotr Zieliński",
    "+48600100200 Low stock: Espresso cups (ID 11, SKU CUP-ESP) is down to 10.",
    "+48603222333 Hi Ewa, thank you for order #20. We are preparing it now.",
    "+48600100200 New order #20: 98.00 PLN from Ewa Kowalczyk",
    "+48600100200 Low stock: T-shirt - Blue, L (ID 13, SKU TS-BLUE-L) is down to 2.",
};

class WooCommerceE2eTest : public ::testing::TestWithParam<WooMode> {};

TEST_P(WooCommerceE2eTest, EachOrderAndStockCrossingMakesExactlyItsSms) {
  const WooMode& mode = GetParam();
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  const std::string database =
      "woo_e2e_" + std::to_string(getpid()) + "_" + mode.name + "_" + mode.capture;
  const std::string shop_dsn = testing::withMysqlDatabase(dsn, database);
  {
    MariaDbShop admin(dsn);
    admin.exec("DROP DATABASE IF EXISTS " + database);
    admin.exec("CREATE DATABASE " + database + " CHARACTER SET utf8mb4");
  }
  DropDatabase drop{dsn, database};
  // The example config reads these; everything else is as shipped.
  setenv("SHOP_DSN", shop_dsn.c_str(), 1);
  setenv("SHOP_CAPTURE", mode.capture.c_str(), 1);
  unsetenv("SHOP_ADMIN_PHONE");

  MariaDbShop shop(shop_dsn);
  shop.execScript(readFile(kExample / "schema.sql"));
  shop.exec("UPDATE wp_options SET option_value = '" + mode.hpos +
            "' WHERE option_name = 'woocommerce_custom_orders_table_enabled'");
  shop.exec("UPDATE wp_options SET option_value = '" + mode.sync +
            "' WHERE option_name = 'woocommerce_custom_orders_table_data_sync_enabled'");

  TempDir dir;
  const std::string config = (kExample / "smsbridge.yaml").string();
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));
  if (!mode.triggers.empty()) {
    // `storage: auto` chose the authoritative storage: only its order table is captured.
    EXPECT_EQ(shop.column("SELECT DISTINCT event_object_table FROM information_schema.triggers "
                          "WHERE trigger_schema = DATABASE() ORDER BY 1"),
              (std::vector<std::string>{"wp_postmeta", mode.triggers}));
  }

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  if (mode.capture == "binlog") {
    // Binlog capture starts at the binlog's end: wait until that start is stored.
    ASSERT_TRUE(
        waitUntil([&] { return shop.scalar("SELECT count(*) FROM smsbridge_checkpoints") == 1; },
                  seconds(30)))
        << bridge.output();
  }
  const auto statements = testing::splitSqlScript(readFile(kExample / "drive.sql"));
  ASSERT_EQ(statements.size(), 20u);
  for (const std::string& statement : statements) shop.exec(statement);

  // Ewa's low-stock alert comes from drive.sql's last change. Capture keeps commit order, so
  // once it exists every change has been mapped, and any SMS that should not exist would too.
  const bool settled = waitUntil(
      [&] {
        return shop.scalar(
                   "SELECT count(*) FROM smsbridge_messages WHERE body LIKE "
                   "'Low stock: T-shirt%'") == 1 &&
               shop.scalar(
                   "SELECT count(*) FROM smsbridge_messages WHERE status IN "
                   "('queued', 'sending')") == 0;
      },
      seconds(60));
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << bridge.output();

  EXPECT_EQ(shop.column("SELECT CONCAT(recipient, ' ', body) FROM smsbridge_messages ORDER BY id"),
            kExpectedSms)
      << bridge.output();
  // Every one was accepted by the provider (the sandbox reports delivery a second later).
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_messages WHERE status NOT IN ('sent', "
                        "'delivered')"),
            0);
}

// demo.sh, as the example's README runs it: it must build its database, run the bridge and
// print the SMS drive.sql makes.
TEST(WooCommerceDemoE2eTest, DemoScriptPrintsEverySms) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  const std::string database = "woo_demo_" + std::to_string(getpid());
  DropDatabase drop{dsn, database};
  setenv("MARIADB_DSN", dsn.c_str(), 1);
  setenv("WOO_DEMO_DATABASE", database.c_str(), 1);
  setenv("SMSBRIDGE_BIN", SMSBRIDGE_BINARY, 1);
  TempDir dir;
  auto [code, out] = testing::runToCompletion({(kExample / "demo.sh").string(), "sync", "trigger"},
                                              dir.file("demo.log"));
  ASSERT_EQ(code, 0) << out;
  for (const std::string& sms : kExpectedSms) {
    std::string body = sms.substr(sms.find(' ') + 1);
    EXPECT_NE(out.find("| " + body), std::string::npos) << body << "\n" << out;
  }
  // One table row per SMS, each naming its mapping: no more than drive.sql makes.
  std::size_t rows = 0;
  for (std::size_t at = out.find("| wc_"); at != std::string::npos;
       at = out.find("| wc_", at + 1)) {
    ++rows;
  }
  EXPECT_EQ(rows, kExpectedSms.size()) << out;
}

INSTANTIATE_TEST_SUITE_P(Storages, WooCommerceE2eTest,
                         ::testing::Values(WooMode{"hpos", "yes", "no", "binlog", ""},
                                           WooMode{"legacy", "no", "no", "binlog", ""},
                                           WooMode{"sync", "yes", "yes", "binlog", ""},
                                           WooMode{"sync", "yes", "yes", "trigger", "wp_wc_orders"},
                                           WooMode{"legacysync", "no", "yes", "trigger",
                                                   "wp_posts"}),
                         [](const ::testing::TestParamInfo<WooMode>& info) {
                           return info.param.name + "_" + info.param.capture;
                         });

}  // namespace
}  // namespace smsbridge
