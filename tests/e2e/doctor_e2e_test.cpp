// End-to-end: `smsbridge doctor` on a SQLite config, the real binary, its output and exit code.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/sqlite/sqlite_db.h"
#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The user of a postgresql://user:password@host/db DSN.
std::string dsnUser(const std::string& dsn) {
  auto begin = dsn.find("://") + 3;
  auto end = dsn.find_first_of(":@", begin);
  return dsn.substr(begin, end - begin);
}

class DoctorCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path example = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "quickstart";
    config_ = dir_.file("smsbridge.yaml");
    fs::copy_file(example / "smsbridge.yaml", config_);
    auto db =
        sqlite::Database::open(dir_.file("shop.db"), sqlite::Database::OpenMode::kCreateIfMissing,
                               std::chrono::seconds(10));
    ASSERT_TRUE(db) << db.error().toString();
    Status s = (*db)->exec(readFile(example / "shop.sql"));
    ASSERT_TRUE(s.isOk()) << s.toString();
  }

  std::pair<int, std::string> doctor(const std::string& config) {
    return testing::runSmsbridge({"doctor", "-c", config}, dir_.file("doctor.log"));
  }

  TempDir dir_;
  std::string config_;
};

TEST_F(DoctorCliTest, BeforeSetupFailsWithTheSetupCommandAndAfterItPasses) {
  auto [code, out] = doctor(config_);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("FAIL     store schema: "), std::string::npos) << out;
  EXPECT_NE(out.find("FAIL     trigger orders: capture triggers not installed"), std::string::npos)
      << out;
  // The placeholder is replaced by the config the user gave.
  EXPECT_NE(out.find("fix: smsbridge setup -c " + config_), std::string::npos) << out;
  EXPECT_NE(out.find("ok       table orders: exists"), std::string::npos) << out;
  EXPECT_NE(out.find("doctor: 3 ok, 0 warnings, 4 FAIL"), std::string::npos) << out;

  auto [setup_code, setup_out] =
      testing::runSmsbridge({"setup", "-c", config_}, dir_.file("setup.log"));
  ASSERT_EQ(setup_code, 0) << setup_out;

  auto [after_code, after] = doctor(config_);
  EXPECT_EQ(after_code, 0) << after;
  EXPECT_EQ(after.find("FAIL "), std::string::npos) << after;
  EXPECT_NE(after.find("doctor: 7 ok, 0 warnings, 0 FAIL"), std::string::npos) << after;
}

TEST_F(DoctorCliTest, MistypedColumnAndMissingDatabaseAreFailures) {
  std::string text = readFile(config_);
  auto at = text.find("{{ customer_name }}");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 19, "{{ customer_nmae }}");
  std::ofstream(config_) << text;
  auto [code, out] = doctor(config_);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("FAIL     table orders: mappings read column(s) the table does not have: "
                     "customer_nmae"),
            std::string::npos)
      << out;

  fs::remove(dir_.file("shop.db"));
  auto [gone_code, gone] = doctor(config_);
  EXPECT_EQ(gone_code, 1) << gone;
  EXPECT_NE(gone.find("FAIL     database file: "), std::string::npos) << gone;
  EXPECT_NE(gone.find("FAIL     store: not checked"), std::string::npos) << gone;
  // doctor changes nothing: opening the store did not create the missing file.
  EXPECT_FALSE(fs::exists(dir_.file("shop.db")));
}

TEST(DoctorHelpTest, HelpExplainsLevelsAndExitCode) {
  TempDir dir;
  auto [code, out] = testing::runSmsbridge({"doctor", "--help"}, dir.file("log"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("FAIL"), std::string::npos) << out;
  EXPECT_NE(out.find("Exit 0 when"), std::string::npos) << out;
  auto [top_code, top] = testing::runSmsbridge({"--help"}, dir.file("top.log"));
  EXPECT_NE(top.find("doctor"), std::string::npos) << top;
}

// The bridge's own tables, children first so MySQL's foreign keys let them go.
constexpr const char* kOwnTables[] = {"attempts", "status_changes", "messages",
                                      "schema",   "checkpoints",    "shadow",
                                      "optouts",  "inbound",        "changes"};

std::string randomTag(const std::string& stem) {
  std::random_device random;
  return stem + std::to_string(random() % 1'000'000'000);
}

// A config for one `type` source whose DSN comes from `dsn_var`, capturing `<tag>_orders`
// with trigger capture and holding the store, all under the table prefix `<tag>_sb_`.
std::string databaseConfig(const std::string& type, const std::string& dsn_var,
                           const std::string& tag) {
  return "sources:\n  shop: {type: " + type + ", dsn: \"${" + dsn_var +
         "}\", capture: trigger}\nstore: {source: shop, table_prefix: " + tag +
         "_sb_}\nproviders:\n  sandbox: {type: sandbox}\nroutes:\n  default: [sandbox]\n"
         "mappings:\n  shipped:\n    table: " +
         tag +
         "_orders\n    on: [update]\n    when: \"changed(status)\"\n    to: \"{{ phone }}\"\n"
         "    text: \"Order {{ id }} is {{ status }}\"\n";
}

// setup prints the grants, labelled, with and without --dry-run; afterwards doctor passes.
void setupPrintsGrantsThenDoctorPasses(const std::string& config, const std::string& grant) {
  TempDir dir;
  const std::string label =
      "-- least-privilege grants for source 'shop' (trigger capture); "
      "smsbridge does not run these, an administrator does:";
  auto [dry_code, dry] =
      testing::runSmsbridge({"setup", "--dry-run", "-c", config}, dir.file("dry.log"));
  EXPECT_EQ(dry_code, 0) << dry;
  EXPECT_NE(dry.find(label), std::string::npos) << dry;
  EXPECT_NE(dry.find(grant), std::string::npos) << dry;

  auto [before_code, before] =
      testing::runSmsbridge({"doctor", "-c", config}, dir.file("before.log"));
  EXPECT_EQ(before_code, 1) << before;  // nothing installed yet

  auto [code, out] = testing::runSmsbridge({"setup", "-c", config}, dir.file("setup.log"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(label), std::string::npos) << out;
  EXPECT_NE(out.find(grant), std::string::npos) << out;

  auto [after_code, after] = testing::runSmsbridge({"doctor", "-c", config}, dir.file("after.log"));
  EXPECT_EQ(after_code, 0) << after;
  EXPECT_NE(after.find(", 0 FAIL"), std::string::npos) << after;
}

TEST(DoctorDatabasesTest, PostgresSetupGrantsAndDoctor) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);  // the config reads ${SMSBRIDGE_TEST_PG_DSN}
  const std::string tag = randomTag("pgdoc");
  auto exec = [&dsn](const std::string& sql) {
    pqxx::connection conn(dsn);
    pqxx::nontransaction txn(conn);
    txn.exec("SET client_min_messages = warning");
    txn.exec(sql);
  };
  exec("CREATE TABLE " + tag + "_orders (id serial PRIMARY KEY, status text, phone text)");
  TempDir dir;
  std::string config = dir.file("pg.yaml");
  std::ofstream(config) << databaseConfig("postgres", "SMSBRIDGE_TEST_PG_DSN", tag);

  setupPrintsGrantsThenDoctorPasses(
      config, "GRANT TRIGGER ON \"" + tag + "_orders\" TO \"" + dsnUser(dsn) + "\";");

  std::string drop = "DROP TABLE IF EXISTS " + tag + "_orders";
  for (const char* t : kOwnTables) drop += ", " + tag + "_sb_" + t;
  exec(drop + " CASCADE");
  exec("DROP FUNCTION IF EXISTS " + tag + "_sb_capture()");
}

TEST(DoctorDatabasesTest, MariadbSetupGrantsAndDoctor) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);
  auto options = mysql::parseDsn(dsn);
  ASSERT_TRUE(options) << options.error().toString();
  auto conn = mysql::Connection::connect(*options);
  ASSERT_TRUE(conn) << conn.error().toString();
  const std::string tag = randomTag("mydoc");
  ASSERT_TRUE((*conn)
                  ->exec("CREATE TABLE `" + tag +
                         "_orders` (id INT AUTO_INCREMENT PRIMARY KEY, status VARCHAR(20), "
                         "phone VARCHAR(20))")
                  .isOk());
  TempDir dir;
  std::string config = dir.file("my.yaml");
  std::ofstream(config) << databaseConfig("mysql", "SMSBRIDGE_TEST_MYSQL_DSN", tag);

  setupPrintsGrantsThenDoctorPasses(config, "GRANT SELECT, TRIGGER ON `" + options->database +
                                                "`.`" + tag + "_orders` TO '" + options->user +
                                                "'@'%';");

  (void)(*conn)->exec("DROP TABLE IF EXISTS `" + tag + "_orders`");
  for (const char* t : kOwnTables)
    (void)(*conn)->exec("DROP TABLE IF EXISTS `" + tag + "_sb_" + t + "`");
}

}  // namespace
}  // namespace smsbridge
