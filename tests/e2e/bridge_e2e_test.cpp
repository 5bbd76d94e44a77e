// End-to-end: the real binary, a real SQLite shop written to from another process, the sandbox
// provider, and SIGTERM/SIGKILL.

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::readFile;
using testing::SqliteShopDb;
using testing::TempDir;
using testing::waitUntil;
using testing::writeFile;

constexpr char kOpenStatuses[] = "('scheduled','queued','sending')";

class QuickstartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path example = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "quickstart";
    config_ = dir_.file("smsbridge.yaml");
    fs::copy_file(example / "smsbridge.yaml", config_);
    SqliteShopDb(dir_.file("shop.db")).exec(readFile(example / "shop.sql"));
    ASSERT_TRUE(testing::setupBridge(config_, dir_.file("setup.log")));
  }

  TempDir dir_;
  std::string config_;
};

TEST_F(QuickstartTest, ShopChangesBecomeDeliveredSmsWrittenBack) {
  testing::BridgeProcess bridge(config_, dir_.file("run.log"));
  SqliteShopDb shop(dir_.file("shop.db"));
  shop.exec("UPDATE orders SET status = 'shipped' WHERE id IN (1001, 1002)");
  shop.exec("UPDATE orders SET status = 'shipped' WHERE id = 1003");
  shop.exec("UPDATE orders SET status = 'shipped' WHERE id = 1005");  // no phone
  shop.exec("UPDATE orders SET status = 'shipped' WHERE id = 1001");  // same status again
  shop.exec("UPDATE products SET stock = 4 WHERE sku = 'TEE-M'");     // crosses 5
  shop.exec("UPDATE products SET stock = 3 WHERE sku = 'TEE-M'");     // already below
  shop.exec("UPDATE products SET stock = 20 WHERE sku = 'MUG-BLK'");  // no alert

  ASSERT_TRUE(waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM smsbridge_messages") == 5 &&
               shop.scalar(std::string("SELECT count(*) FROM smsbridge_messages WHERE status IN ") +
                           kOpenStatuses + " OR status = 'sent'") == 0;
      },
      seconds(30)))
      << bridge.output();

  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_messages WHERE status = 'delivered'"), 4);
  EXPECT_EQ(shop.text("SELECT recipient FROM smsbridge_messages WHERE entity_id = '1001'"),
            "+48600700800");
  EXPECT_EQ(shop.text("SELECT recipient FROM smsbridge_messages WHERE entity_id = '1003'"),
            "+4915123456789");
  EXPECT_EQ(shop.text("SELECT body FROM smsbridge_messages WHERE entity_id = '1002'"),
            "Hi Łukasz, your order SO-1002 has shipped. Total: 54.00 EUR.");
  EXPECT_EQ(shop.text("SELECT encoding FROM smsbridge_messages WHERE entity_id = '1002'"), "ucs2");
  EXPECT_EQ(shop.text("SELECT status || ':' || status_reason FROM smsbridge_messages "
                      "WHERE entity_id = '1005'")
                .rfind("suppressed:missing", 0),
            0u);
  EXPECT_EQ(shop.text("SELECT recipient || ' ' || status FROM smsbridge_messages "
                      "WHERE mapping = 'stock_low'"),
            "+48600100200 delivered");
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_attempts"), 4);

  EXPECT_TRUE(bridge.stop());
  EXPECT_NE(bridge.output().find("SMS sent"), std::string::npos);

  // A restart replays nothing: the checkpoint and dedup keys hold. This run logs JSON lines.
  testing::BridgeProcess again(config_, dir_.file("run2.log"), {"--log-format", "json"});
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_TRUE(again.stop());
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_messages"), 5);
  std::istringstream lines(again.output());
  int json_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << "not a JSON line: " << line;
    EXPECT_TRUE(parsed.contains("ts") && parsed.contains("level") && parsed.contains("msg"));
    ++json_lines;
  }
  EXPECT_GE(json_lines, 2);
}

TEST_F(QuickstartTest, CorruptSourceDatabaseIsAClearErrorNamingTheFile) {
  writeFile(dir_.file("shop.db"), std::string(4096, 'x'));
  std::remove(dir_.file("shop.db-wal").c_str());
  std::remove(dir_.file("shop.db-shm").c_str());
  auto [code, out] = testing::runSmsbridge({"run", "-c", config_}, dir_.file("log"));
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("shop.db"), std::string::npos) << out;
  EXPECT_NE(out.find("not a SQLite database or is corrupt"), std::string::npos) << out;
}

TEST_F(QuickstartTest, RunWithoutSetupTablesSaysToRunSetup) {
  TempDir other;
  std::string config = other.file("smsbridge.yaml");
  fs::copy_file(config_, config);
  SqliteShopDb(other.file("shop.db"))
      .exec(readFile(fs::path(SMSBRIDGE_SOURCE_DIR) / "examples/quickstart/shop.sql"));
  auto [code, out] = testing::runSmsbridge({"run", "-c", config}, other.file("log"));
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("smsbridge setup"), std::string::npos) << out;
}

// The crash test of the acceptance criteria: SIGKILL the bridge repeatedly while the shop
// commits changes, restart it each time, and require exactly one job per qualifying change.
TEST(CrashTest, SigkillWhileCommittingLosesAndDuplicatesNothing) {
  TempDir dir;
  constexpr int kOrders = 400;
  {
    SqliteShopDb shop(dir.file("shop.db"));
    shop.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL, phone TEXT)");
    std::string insert = "INSERT INTO orders (id, status, phone) VALUES ";
    for (int i = 1; i <= kOrders; ++i) {
      insert += (i > 1 ? "," : "") + std::string("(") + std::to_string(i) +
                ", 'processing', '+48600" + std::to_string(100000 + i) + "')";
    }
    shop.exec(insert);
  }
  std::string config = dir.file("smsbridge.yaml");
  writeFile(config, R"(
sources:
  shop: {type: sqlite, path: shop.db, poll_interval: 20ms, batch_size: 25}
providers:
  sandbox: {type: sandbox, delivery_delay: 20ms}
routes:
  default: [sandbox]
dispatcher: {poll_interval: 20ms, lease: 1s, batch_size: 20}
mappings:
  shipped:
    table: orders
    on: [update]
    when: "status == 'shipped' and old.status != 'shipped'"
    to: "{{ phone }}"
    text: "Order {{ id }} shipped"
)");
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    SqliteShopDb shop(dir.file("shop.db"));
    for (int i = 1; i <= kOrders; ++i) {
      shop.exec("UPDATE orders SET status = 'shipped' WHERE id = " + std::to_string(i));
      if (i % 3 == 0) shop.exec("UPDATE orders SET phone = phone WHERE id = " + std::to_string(i));
      std::this_thread::sleep_for(milliseconds(5));
    }
    writing = false;
  });

  int kills = 0;
  std::string logs;
  for (int round = 0; round < 4; ++round) {
    testing::BridgeProcess bridge(config, dir.file("run" + std::to_string(round) + ".log"));
    std::this_thread::sleep_for(milliseconds(250 + 150 * round));
    EXPECT_EQ(bridge.kill(seconds(5)), 128 + SIGKILL);
    ++kills;
    logs += bridge.output();
  }
  writer.join();
  ASSERT_FALSE(writing);

  // The last run finishes the work and stops cleanly.
  testing::BridgeProcess bridge(config, dir.file("final.log"));
  SqliteShopDb shop(dir.file("shop.db"));
  bool settled = waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM smsbridge_messages") >= kOrders &&
               shop.scalar(std::string("SELECT count(*) FROM smsbridge_messages WHERE status IN ") +
                           kOpenStatuses) == 0 &&
               shop.scalar("SELECT count(*) FROM smsbridge_changes WHERE processed_at IS NULL") ==
                   0;
      },
      seconds(60));
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << logs << bridge.output();

  EXPECT_EQ(kills, 4);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_messages"), kOrders) << "no loss, no dup";
  EXPECT_EQ(shop.scalar("SELECT count(DISTINCT entity_id) FROM smsbridge_messages"), kOrders);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM (SELECT entity_id FROM smsbridge_messages "
                        "GROUP BY entity_id HAVING count(*) > 1)"),
            0);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM smsbridge_messages WHERE status NOT IN "
                        "('sent', 'delivered')"),
            0);
  EXPECT_GT(shop.scalar("SELECT count(*) FROM smsbridge_messages WHERE status = 'delivered'"), 0);
}

TEST(CliTest, CheckAcceptsEveryExample) {
  TempDir dir;
  int checked = 0;
  for (const auto& entry :
       fs::recursive_directory_iterator(fs::path(SMSBRIDGE_SOURCE_DIR) / "examples")) {
    if (entry.path().filename() != "smsbridge.yaml") continue;
    auto [code, out] =
        testing::runSmsbridge({"check", "-c", entry.path().string()}, dir.file("check.log"));
    EXPECT_EQ(code, 0) << entry.path() << "\n" << out;
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(CliTest, CheckReportsUnknownKeyAndWrongTypeTogetherWithPositions) {
  TempDir dir;
  std::string config = dir.file("bad.yaml");
  writeFile(config, R"(sources:
  shop:
    type: sqlite
    path: shop.db
    colour: blue
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
dispatcher:
  batch_size: lots
mappings:
  shipped:
    table: orders
    to: "{{ phone }}"
    text: "Shipped {{ id | shout }}"
)");
  auto [code, out] = testing::runSmsbridge({"check", "-c", config}, dir.file("log"));
  EXPECT_EQ(code, 1) << out;
  // Schema problems do not hide the mapping's own: all three come out in one run.
  EXPECT_TRUE(std::regex_search(
      out, std::regex("bad\\.yaml:16:28: mappings\\.shipped\\.text: unknown filter 'shout'")))
      << out;
  EXPECT_NE(out.find("3 problems found"), std::string::npos) << out;
  EXPECT_TRUE(
      std::regex_search(out, std::regex("bad\\.yaml:5:5: sources\\.shop\\.colour: .*unknown key")))
      << out;
  EXPECT_TRUE(
      std::regex_search(out, std::regex("bad\\.yaml:11:15: dispatcher\\.batch_size: .*integer")))
      << out;

  // `run` refuses the same file and starts nothing.
  auto [run_code, run_out] = testing::runSmsbridge({"run", "-c", config}, dir.file("run.log"));
  EXPECT_EQ(run_code, 1);
  EXPECT_NE(run_out.find("not started"), std::string::npos) << run_out;
  EXPECT_FALSE(fs::exists(dir.file("shop.db")));
}

TEST(CliTest, ExpressionErrorsPointIntoTheYamlValue) {
  TempDir dir;
  std::string config = dir.file("bad.yaml");
  writeFile(config, R"(sources:
  shop: {type: sqlite, path: shop.db}
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
mappings:
  shipped:
    table: orders
    when: "status == 'shipped' andd old.status != 'shipped'"
    to: "{{ phone }}"
    text: "Hi {{ name | shout }}"
)");
  auto [code, out] = testing::runSmsbridge({"check", "-c", config}, dir.file("log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("bad\\.yaml:10:\\d+: mappings\\.shipped\\.when: ")))
      << out;
  EXPECT_TRUE(
      std::regex_search(out, std::regex("bad\\.yaml:12:25: mappings\\.shipped\\.text: .*shout")))
      << out;
}

TEST(CliTest, MappingOnATableTheSourceDoesNotCaptureIsReported) {
  TempDir dir;
  std::string config = dir.file("bad.yaml");
  writeFile(config, R"(sources:
  shop: {type: sqlite, path: shop.db, tables: [products]}
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
mappings:
  shipped:
    table: orders
    to: "{{ phone }}"
    text: "Shipped"
    route: express
)");
  auto [code, out] = testing::runSmsbridge({"check", "-c", config}, dir.file("log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("bad\\.yaml:9:12: mappings\\.shipped\\.table: "
                                                "source 'shop' does not capture 'orders'")))
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("bad\\.yaml:12:12: mappings\\.shipped\\.route: "
                                                "no route named 'express'")))
      << out;
}

TEST(CliTest, TestMappingShowsTheJobOrWhyThereIsNone) {
  TempDir dir;
  std::string config =
      (fs::path(SMSBRIDGE_SOURCE_DIR) / "examples/quickstart/smsbridge.yaml").string();
  auto [code, out] = testing::runSmsbridge(
      {"test-mapping", "-c", config, "-m", "order_shipped", "--row",
       R"({"number": "SO-7", "customer_name": "Zofia", "phone": "601 234 567", "country": "PL",
           "status": "shipped", "total": 99.5})",
       "--old", R"({"status": "processing"})"},
      dir.file("log"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("to:         +48601234567 (raw: 601 234 567)"), std::string::npos) << out;
  EXPECT_NE(out.find("text:       Hi Zofia, your order SO-7 has shipped. Total: 99.50 EUR."),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("gsm7, 1 segment"), std::string::npos) << out;

  auto [same_code, same] =
      testing::runSmsbridge({"test-mapping", "-c", config, "-m", "order_shipped", "--row",
                             R"({"status": "shipped"})", "--old", R"({"status": "shipped"})"},
                            dir.file("log2"));
  EXPECT_EQ(same_code, 0);
  EXPECT_NE(same.find("no job: `when` is false"), std::string::npos) << same;

  auto [bad_code, bad] = testing::runSmsbridge(
      {"test-mapping", "-c", config, "-m", "order_shipped", "--row", "[1, 2]"}, dir.file("log3"));
  EXPECT_EQ(bad_code, 1);
  EXPECT_NE(bad.find("--row must be a JSON object"), std::string::npos) << bad;
}

TEST(CliTest, BadQuietHoursAreReportedWithPosition) {
  TempDir dir;
  std::string config = dir.file("bad.yaml");
  writeFile(config, R"(sources:
  shop: {type: sqlite, path: shop.db}
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
lanes:
  marketing:
    quiet_hours: {window: "21:00-08:00", time_zone: Mars/Olympus}
mappings:
  promo: {table: customers, to: "{{ phone }}", text: "Sale", lane: marketing, max_segments: -1}
)");
  auto [code, out] = testing::runSmsbridge({"check", "-c", config}, dir.file("log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("bad\\.yaml:9:27: lanes\\.marketing\\.quiet_hours\\.window: .*Mars/Olympus")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("bad\\.yaml:11:\\d+: mappings\\.promo\\.max_segments: must be 0")))
      << out;
}

TEST(CliTest, HelpDescribesEveryCommand) {
  TempDir dir;
  auto [code, out] = testing::runSmsbridge({"--help"}, dir.file("log"));
  EXPECT_EQ(code, 0);
  for (const char* cmd : {"run", "check", "setup", "config-schema", "test-mapping"}) {
    EXPECT_NE(out.find(cmd), std::string::npos) << cmd;
  }
  auto [schema_code, schema] = testing::runSmsbridge({"config-schema"}, dir.file("schema.log"));
  EXPECT_EQ(schema_code, 0);
  EXPECT_NE(schema.find("mappings.<mapping>.when"), std::string::npos) << schema;
  EXPECT_NE(schema.find("sources.<name>.path"), std::string::npos) << schema;
}

TEST(CliTest, ReadmeConfigReferenceMatchesTheSchema) {
  TempDir dir;
  auto [code, schema] = testing::runSmsbridge({"config-schema"}, dir.file("log"));
  ASSERT_EQ(code, 0);
  std::string readme = readFile(fs::path(SMSBRIDGE_SOURCE_DIR) / "README.md");
  const std::string begin = "<!-- config-schema:begin -->\n";
  const std::string end = "<!-- config-schema:end -->";
  auto b = readme.find(begin);
  auto e = readme.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  std::string documented = readme.substr(b + begin.size(), e - b - begin.size());
  while (!schema.empty() && schema.back() == '\n') schema.pop_back();
  EXPECT_EQ(documented, schema + "\n") << "run scripts/update-readme.sh";
}

}  // namespace
}  // namespace smsbridge
