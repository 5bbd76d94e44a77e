// End-to-end with presets: the real binary, `smsbridge setup` creating what a preset needs, and
// rows written by "the application" becoming SMS.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using std::chrono::seconds;
using testing::TempDir;
using testing::waitUntil;

constexpr const char* kCheckBase = R"(defaults: {region: PL}
sources:
  app: {type: sqlite, path: app.db}
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
)";

// `smsbridge check` on a config whose presets list has a typo: one positioned line that names
// the preset meant and every shipped one, and exit code 1.
TEST(PresetCheckE2eTest, AnUnknownPresetIsPositionedAndListsTheShippedOnes) {
  TempDir dir;
  std::string config = dir.file("shop.yaml");
  std::ofstream(config) << kCheckBase << "presets:\n  - outbox\n  - {name: easyapointments}\n";
  auto [code, out] = testing::runSmsbridge({"check", "-c", config}, dir.file("log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("shop\\.yaml:10:12: presets\\[1\\]\\.name: invalid value "
                      "'easyapointments' \\(did you mean 'easyappointments'\\?\\)")))
      << out;
  EXPECT_NE(out.find("easyappointments, odoo, outbox, woocommerce"), std::string::npos) << out;
  EXPECT_NE(out.find("1 problem found"), std::string::npos) << out;
}

// Overriding one key of a preset mapping and disabling others passes `check`; a key the
// override misspells is reported in the user's file.
TEST(PresetCheckE2eTest, OverridesAndDisablingPassCheckAndTyposInThemAreCaught) {
  TempDir dir;
  std::string good = dir.file("good.yaml");
  std::ofstream(good) << kCheckBase << R"(presets:
  - {name: easyappointments, disable: [ea_booking_deleted]}
mappings:
  ea_booking_confirmed:
    text: "Booked: {{ start_datetime | date('%d.%m %H:%M') }}"
  ea_booking_rescheduled: {enabled: false}
)";
  auto [good_code, good_out] = testing::runSmsbridge({"check", "-c", good}, dir.file("good.log"));
  EXPECT_EQ(good_code, 0) << good_out;
  // Four mappings less the two turned off; the reminder schedule stays.
  EXPECT_NE(good_out.find("2 mappings, 1 schedule"), std::string::npos) << good_out;

  std::string bad = dir.file("bad.yaml");
  std::ofstream(bad) << kCheckBase << R"(presets: [easyappointments]
mappings:
  ea_booking_confirmed:
    txet: "Booked"
)";
  auto [bad_code, bad_out] = testing::runSmsbridge({"check", "-c", bad}, dir.file("bad.log"));
  EXPECT_EQ(bad_code, 1) << bad_out;
  EXPECT_TRUE(std::regex_search(
      bad_out, std::regex("bad\\.yaml:11:5: mappings\\.ea_booking_confirmed\\.txet: unknown key "
                          "'txet' \\(did you mean 'text'\\?\\)")))
      << bad_out;
}

TEST(OutboxPresetE2eTest, CommittedOutboxRowsAreSentOnceAndRolledBackOnesNever) {
  TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << R"(defaults: {region: PL}
sources:
  app: {type: sqlite, path: app.db, capture: trigger, poll_interval: 100ms}
providers:
  sandbox: {type: sandbox, delivery_delay: 100ms}
routes:
  default: [sandbox]
presets: [outbox]
)";
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));
  // Setup again changes nothing: the table and its triggers exist.
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup2.log")));

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  testing::SqliteShopDb app(dir.file("app.db"));
  app.exec(
      "BEGIN; INSERT INTO smsbridge_outbox (\"to\", text, lane) VALUES ('600 100 200', 'Code: "
      "4711', "
      "'otp'); COMMIT");
  app.exec(
      "BEGIN; INSERT INTO smsbridge_outbox (\"to\", text) VALUES ('600 100 201', 'never'); "
      "ROLLBACK");
  // The application retries an insert with its own key: one SMS.
  for (int i = 0; i < 2; ++i) {
    app.exec(
        "INSERT INTO smsbridge_outbox (\"to\", text, dedup) VALUES ('+48 600 100 202', "
        "'Your order shipped', 'order-77-shipped')");
  }

  bool settled = waitUntil(
      [&] {
        return app.scalar("SELECT count(*) FROM smsbridge_messages") == 2 &&
               app.scalar(
                   "SELECT count(*) FROM smsbridge_messages WHERE status <> "
                   "'delivered'") == 0;
      },
      seconds(30));
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << bridge.output();
  EXPECT_EQ(app.text("SELECT lane || ' ' || recipient || ' ' || body FROM smsbridge_messages "
                     "WHERE mapping = 'outbox_otp'"),
            "otp +48600100200 Code: 4711");
  EXPECT_EQ(app.text("SELECT recipient FROM smsbridge_messages WHERE mapping = 'outbox'"),
            "+48600100202");
  EXPECT_EQ(app.scalar("SELECT count(*) FROM smsbridge_messages WHERE body = 'never'"), 0);
}

// `smsbridge setup` creates the outbox in the server's dialect and a committed INSERT becomes
// one SMS; a rolled-back one never does.
void outboxOnServer(testing::ShopDb& app, const std::string& type, const std::string& dsn_var,
                    const std::string& quote) {
  std::string tag = "e2e" + std::to_string(getpid()) + "_";
  std::string outbox = tag + "outbox";
  std::string messages = tag + "sb_messages";
  TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << "defaults: {region: PL}\n"
                           "sources:\n"
                           "  app: {type: "
                        << type << ", dsn: \"${" << dsn_var
                        << "}\", capture: trigger, poll_interval: 100ms}\n"
                           "store: {table_prefix: "
                        << tag
                        << "sb_}\n"
                           "providers:\n"
                           "  sandbox: {type: sandbox, delivery_delay: 100ms}\n"
                           "routes:\n"
                           "  default: [sandbox]\n"
                           "presets: [{name: outbox, table: "
                        << outbox << "}]\n";
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  std::string to = quote + "to" + quote;
  app.exec("BEGIN");
  app.exec("INSERT INTO " + outbox + " (" + to + ", text, lane) VALUES ('600 100 200', " +
           "'Code: 4711', 'otp')");
  app.exec("COMMIT");
  app.exec("BEGIN");
  app.exec("INSERT INTO " + outbox + " (" + to + ", text) VALUES ('600 100 201', 'never')");
  app.exec("ROLLBACK");
  bool settled = waitUntil(
      [&] {
        return app.scalar("SELECT count(*) FROM " + messages) == 1 &&
               app.scalar("SELECT count(*) FROM " + messages + " WHERE status <> 'delivered'") == 0;
      },
      seconds(30));
  EXPECT_TRUE(bridge.stop());
  EXPECT_TRUE(settled) << bridge.output();
  EXPECT_EQ(app.text("SELECT recipient FROM " + messages + " WHERE mapping = 'outbox_otp'"),
            "+48600100200");
}

TEST(OutboxPresetE2eTest, PostgresSetupCreatesTheOutboxAndInsertsAreSent) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);
  testing::PgShopDb app(dsn);
  outboxOnServer(app, "postgres", "SMSBRIDGE_TEST_PG_DSN", "\"");
}

TEST(OutboxPresetE2eTest, MariadbSetupCreatesTheOutboxAndInsertsAreSent) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);
  testing::MysqlShopDb app(dsn);
  outboxOnServer(app, "mysql", "SMSBRIDGE_TEST_MYSQL_DSN", "`");
}

// The easyappointments preset on MariaDB with trigger capture: a booking is confirmed, blocked
// time is ignored, a hard delete is a cancellation (trigger capture sees the whole row), and
// the reminder schedule finds the appointment due in 23-24 hours, once.
TEST(EasyAppointmentsPresetE2eTest, BookingsDeletesAndTheReminderOnMariadb) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);
  testing::MysqlShopDb app(dsn);
  // Not the outbox tests' tag: their store tables live in the same database.
  std::string tag = "e2e" + std::to_string(getpid()) + "_appt_";
  std::string ea = tag + "ea_";
  std::string messages = tag + "sb_messages";
  for (const char* table : {"appointments", "users", "services"}) {
    app.exec("DROP TABLE IF EXISTS " + ea + table);
  }
  app.exec("CREATE TABLE " + ea +
           "users (id INT PRIMARY KEY, first_name VARCHAR(256), mobile_number VARCHAR(128), "
           "phone_number VARCHAR(128))");
  app.exec("CREATE TABLE " + ea + "services (id INT PRIMARY KEY, name VARCHAR(256))");
  app.exec("CREATE TABLE " + ea +
           "appointments (id INT AUTO_INCREMENT PRIMARY KEY, start_datetime DATETIME, "
           "status VARCHAR(512) DEFAULT '', is_unavailability TINYINT DEFAULT 0, "
           "id_users_customer INT, id_services INT)");
  app.exec("INSERT INTO " + ea + "users VALUES (9, 'Anna', '', '600 100 200')");
  app.exec("INSERT INTO " + ea + "services VALUES (1, 'Haircut')");

  TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << "defaults: {region: PL}\n"
                           "sources:\n"
                           "  booking: {type: mysql, dsn: \"${SMSBRIDGE_TEST_MYSQL_DSN}\", "
                           "capture: trigger, poll_interval: 100ms}\n"
                           "store: {table_prefix: "
                        << tag
                        << "sb_}\n"
                           "providers:\n"
                           "  sandbox: {type: sandbox, delivery_delay: 100ms}\n"
                           "routes:\n"
                           "  default: [sandbox]\n"
                           "presets: [{name: easyappointments, table_prefix: "
                        << ea
                        << "}]\n"
                           "schedules:\n"
                           "  ea_reminder_24h: {every: 1s}\n";
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  const std::string insert = "INSERT INTO " + ea +
                             "appointments (id, start_datetime, status, is_unavailability, "
                             "id_users_customer, id_services) VALUES ";
  app.exec(insert + "(1, NOW() + INTERVAL 3 DAY, 'Booked', 0, 9, 1)");
  app.exec(insert + "(2, NOW() + INTERVAL 1410 MINUTE, 'Booked', 0, 9, 1)");
  app.exec(insert + "(3, NOW() + INTERVAL 2 DAY, '', 1, NULL, NULL)");
  app.exec("DELETE FROM " + ea + "appointments WHERE id = 1");
  auto count = [&](const std::string& where) {
    return app.scalar("SELECT count(*) FROM " + messages + " WHERE " + where);
  };
  bool settled = waitUntil(
      [&] {
        return count("mapping = 'ea_reminder_24h'") == 1 && count("1 = 1") == 4 &&
               count("status <> 'delivered'") == 0;
      },
      seconds(30));
  // A later reminder run finds the same appointment again and sends nothing more.
  bool rerun = settled && waitUntil(
                              [&] {
                                return std::regex_search(
                                    bridge.output(),
                                    std::regex("Schedule run complete\\. schedule=ea_reminder_24h "
                                               "[^\\n]* rows=1 jobs=0 duplicates=1"));
                              },
                              seconds(30));
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << bridge.output();
  EXPECT_TRUE(rerun) << bridge.output();
  EXPECT_EQ(count("mapping = 'ea_booking_confirmed'"), 2);
  EXPECT_EQ(count("mapping = 'ea_booking_deleted' AND entity_id = '1'"), 1);
  EXPECT_EQ(count("mapping = 'ea_reminder_24h'"), 1);
  EXPECT_EQ(count("recipient = '+48600100200'"), 4);
  EXPECT_EQ(app.text("SELECT body FROM " + messages + " WHERE mapping = 'ea_booking_deleted'")
                .rfind("Your Haircut on ", 0),
            0u);
  for (const char* table : {"appointments", "users", "services"}) {
    app.exec("DROP TABLE IF EXISTS " + ea + table);
  }
}

}  // namespace
}  // namespace smsbridge
