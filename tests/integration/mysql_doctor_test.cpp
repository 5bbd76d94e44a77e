// `smsbridge doctor` on the real MariaDB from scripts/test-services.sh (binlog on, ROW, FULL
// image and metadata, sync_binlog=1, a test user with ALL PRIVILEGES): the happy path, a
// user without replication grants, sync_binlog=0, and trigger capture with a cascading child.

#include "connectors/mysql/mysql_doctor.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_trigger_source.h"
#include "tests/integration/test_env.h"

namespace smsbridge::mysql {
namespace {

const DoctorCheck* find(const std::vector<DoctorCheck>& checks, const std::string& name) {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string dump(const std::vector<DoctorCheck>& checks) {
  std::string out;
  for (const auto& c : checks) {
    out +=
        std::string(checkLevelName(c.level)) + " " + c.name + ": " + c.found + " | " + c.fix + "\n";
  }
  return out;
}

class MysqlDoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
    auto options = parseDsn(dsn);
    ASSERT_TRUE(options) << options.error().toString();
    options_ = *options;
    auto conn = Connection::connect(options_);
    ASSERT_TRUE(conn) << conn.error().toString();
    admin_ = std::move(*conn);
    std::random_device random;
    tag_ = "myd" + std::to_string(random() % 1'000'000'000);
    orders_ = tag_ + "_orders";
    lines_ = tag_ + "_lines";
    exec("CREATE TABLE `" + orders_ +
         "` (id INT AUTO_INCREMENT PRIMARY KEY, status VARCHAR(20), phone VARCHAR(20))");
    exec("CREATE TABLE `" + lines_ + "` (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT, " +
         "FOREIGN KEY (order_id) REFERENCES `" + orders_ + "` (id) ON DELETE CASCADE)");
  }

  void TearDown() override {
    if (!admin_) return;
    if (sync_binlog_changed_) (void)admin_->exec("SET GLOBAL sync_binlog = 1");
    if (!original_expiry_.empty()) {
      (void)admin_->exec("SET GLOBAL binlog_expire_logs_seconds = " + original_expiry_);
    }
    if (user_created_) (void)admin_->exec("DROP USER IF EXISTS '" + tag_ + "'@'%'");
    (void)admin_->exec("DROP TABLE IF EXISTS `" + lines_ + "`, `" + orders_ + "`, `" + prefix() +
                       "changes`");
  }

  void exec(const std::string& sql) {
    Status s = admin_->exec(sql);
    ASSERT_TRUE(s.isOk()) << sql << ": " << s.toString();
  }

  std::string prefix() const { return tag_ + "_sb_"; }

  DoctorRequest request(const std::string& capture) const {
    DoctorRequest r;
    r.source = tag_;
    r.capture = capture;
    r.prefix = prefix();
    r.tables = {{orders_, {"status", "phone"}, {"status"}}};
    return r;
  }

  // SHOW BINARY LOGS, oldest first, after starting a new file so at least two exist: the
  // last is the one the server writes now.
  std::vector<std::string> binaryLogsAfterRotation() {
    EXPECT_TRUE(admin_->exec("FLUSH BINARY LOGS").isOk());
    auto rows = admin_->query("SHOW BINARY LOGS");
    EXPECT_TRUE(rows) << rows.error().toString();
    std::vector<std::string> logs;
    for (const auto& row : rows ? *rows : std::vector<ResultRow>{}) {
      logs.push_back(row[0].value_or(""));
    }
    return logs;
  }

  // Sets the server's binlog expiry for this test; TearDown restores it.
  void setExpirySeconds(long long seconds) {
    auto current = admin_->query("SELECT @@global.binlog_expire_logs_seconds");
    ASSERT_TRUE(current && !current->empty());
    if (original_expiry_.empty()) original_expiry_ = (*current)[0][0].value_or("0");
    exec("SET GLOBAL binlog_expire_logs_seconds = " + std::to_string(seconds));
  }

  ConnectionOptions options_;
  std::unique_ptr<Connection> admin_;
  std::string original_expiry_;
  std::string tag_, orders_, lines_;
  bool sync_binlog_changed_ = false;
  bool user_created_ = false;
};

TEST_F(MysqlDoctorTest, BinlogOnTheTestServerHasNoFailure) {
  auto checks = runDoctor({options_, 4242424242u}, request("binlog"));
  for (const auto& c : checks) EXPECT_NE(c.level, CheckLevel::kFail) << dump(checks);
  for (const char* name : {"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata",
                           "sync_binlog", "server_id", "replication grants"}) {
    const DoctorCheck* c = find(checks, name);
    ASSERT_NE(c, nullptr) << name << "\n" << dump(checks);
    EXPECT_EQ(c->level, CheckLevel::kOk) << dump(checks);
  }
  ASSERT_NE(find(checks, "binlog retention"), nullptr) << dump(checks);
}

TEST_F(MysqlDoctorTest, SyncBinlogZeroIsAWarningWithTheSetGlobal) {
  exec("SET GLOBAL sync_binlog = 0");
  sync_binlog_changed_ = true;
  auto checks = runDoctor({options_, 4242424242u}, request("binlog"));
  const DoctorCheck* sync = find(checks, "sync_binlog");
  ASSERT_NE(sync, nullptr) << dump(checks);
  EXPECT_EQ(sync->level, CheckLevel::kWarning);
  EXPECT_NE(sync->fix.find("SET GLOBAL sync_binlog = 1;"), std::string::npos) << sync->fix;
  for (const auto& c : checks) EXPECT_NE(c.level, CheckLevel::kFail) << dump(checks);
}

TEST_F(MysqlDoctorTest, UserWithoutReplicationGrantsGetsTheGrant) {
  const std::string password = "doctor-" + tag_;
  exec("CREATE USER '" + tag_ + "'@'%' IDENTIFIED BY '" + password + "'");
  user_created_ = true;
  exec("GRANT SELECT ON `" + options_.database + "`.`" + orders_ + "` TO '" + tag_ + "'@'%'");
  ConnectionOptions limited = options_;
  limited.user = tag_;
  limited.password = password;

  auto checks = runDoctor({limited, 4242424242u}, request("binlog"));
  const DoctorCheck* grants = find(checks, "replication grants");
  ASSERT_NE(grants, nullptr) << dump(checks);
  EXPECT_EQ(grants->level, CheckLevel::kFail);
  EXPECT_NE(grants->fix.find("GRANT REPLICATION SLAVE, "), std::string::npos) << grants->fix;
  EXPECT_NE(grants->fix.find(" ON *.* TO '" + tag_ + "'@'%';"), std::string::npos) << grants->fix;
  const DoctorCheck* select = find(checks, "SELECT " + orders_);
  ASSERT_NE(select, nullptr) << dump(checks);
  EXPECT_EQ(select->level, CheckLevel::kOk);

  // Trigger capture needs TRIGGER, which it lacks.
  auto trigger = runDoctor({limited, 4242424242u}, request("trigger"));
  const DoctorCheck* privilege = find(trigger, "TRIGGER " + orders_);
  ASSERT_NE(privilege, nullptr) << dump(trigger);
  EXPECT_EQ(privilege->level, CheckLevel::kFail);
  EXPECT_EQ(privilege->fix, "GRANT TRIGGER ON `" + options_.database + "`.`" + orders_ + "` TO '" +
                                tag_ + "'@'%';");
}

TEST_F(MysqlDoctorTest, TriggerCaptureWarnsAboutCascadingChildren) {
  TriggerSourceConfig config;
  config.name = tag_;
  config.connection = options_;
  config.tables = {orders_, lines_};
  config.prefix = prefix();
  auto source = MysqlTriggerSource::create(std::move(config));
  ASSERT_TRUE(source) << source.error().toString();
  Status setup = (*source)->setup();
  ASSERT_TRUE(setup.isOk()) << setup.toString();

  DoctorRequest r = request("trigger");
  r.tables.push_back({lines_, {"order_id"}, {}});
  auto checks = runDoctor({options_, 4242424242u}, r);
  for (const auto& c : checks) EXPECT_NE(c.level, CheckLevel::kFail) << dump(checks);
  const DoctorCheck* installed = find(checks, "trigger " + lines_);
  ASSERT_NE(installed, nullptr) << dump(checks);
  EXPECT_EQ(installed->level, CheckLevel::kOk);
  const DoctorCheck* cascade = find(checks, "foreign key cascades");
  ASSERT_NE(cascade, nullptr) << dump(checks);
  EXPECT_EQ(cascade->level, CheckLevel::kWarning);
  EXPECT_NE(cascade->found.find(lines_), std::string::npos) << cascade->found;
}

TEST_F(MysqlDoctorTest, CheckpointInAPurgedBinlogFailsWithTheRecoverySteps) {
  const auto logs = binaryLogsAfterRotation();
  ASSERT_GE(logs.size(), 2u);
  // A bridge stopped at a position in the previous file, which the server then purges.
  const std::string lost = logs[logs.size() - 2];
  // The server keeps a file until its binlog checkpoint has passed it, which happens shortly
  // after the rotation: purge until the file is gone.
  bool purged = false;
  for (int i = 0; i < 200 && !purged; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    exec("PURGE BINARY LOGS TO '" + logs.back() + "'");
    auto rows = admin_->query("SHOW BINARY LOGS");
    ASSERT_TRUE(rows) << rows.error().toString();
    purged = std::none_of(rows->begin(), rows->end(),
                          [&](const ResultRow& row) { return row[0].value_or("") == lost; });
  }
  ASSERT_TRUE(purged) << lost << " is still on the server";
  DoctorRequest r = request("binlog");
  r.checkpoint = lost + ":4";
  r.checkpoint_age = std::chrono::hours(24 * 9);
  auto checks = runDoctor({options_, 4242424242u}, r);
  const DoctorCheck* retention = find(checks, "binlog retention");
  ASSERT_NE(retention, nullptr) << dump(checks);
  EXPECT_EQ(retention->level, CheckLevel::kFail) << dump(checks);
  EXPECT_NE(retention->found.find(lost), std::string::npos) << retention->found;
  EXPECT_NE(retention->fix.find("SET GLOBAL binlog_expire_logs_seconds = 604800;"),
            std::string::npos)
      << retention->fix;
  EXPECT_NE(retention->fix.find("DELETE FROM `" + prefix() + "checkpoints` WHERE source = '" +
                                tag_ + "';"),
            std::string::npos)
      << retention->fix;

  // The file the server writes now is there: the same request with it is fine.
  r.checkpoint = logs.back() + ":4";
  const DoctorCheck* current = find(runDoctor({options_, 4242424242u}, r), "binlog retention");
  ASSERT_NE(current, nullptr);
  EXPECT_NE(current->level, CheckLevel::kFail) << current->found;
}

TEST_F(MysqlDoctorTest, CheckpointOlderThanHalfTheRetentionWarns) {
  setExpirySeconds(10 * 24 * 3600);
  const auto logs = binaryLogsAfterRotation();
  ASSERT_GE(logs.size(), 2u);
  DoctorRequest r = request("binlog");
  r.checkpoint = logs[logs.size() - 2] + ":4";
  r.checkpoint_age = std::chrono::hours(24 * 6);
  auto checks = runDoctor({options_, 4242424242u}, r);
  const DoctorCheck* retention = find(checks, "binlog retention");
  ASSERT_NE(retention, nullptr) << dump(checks);
  EXPECT_EQ(retention->level, CheckLevel::kWarning) << dump(checks);
  EXPECT_NE(retention->found.find("binlogs purged after 10.0 days"), std::string::npos)
      << retention->found;
  EXPECT_NE(retention->fix.find("SET GLOBAL binlog_expire_logs_seconds = 1036800;"),
            std::string::npos)
      << retention->fix;

  r.checkpoint_age = std::chrono::hours(24 * 2);
  retention = find(runDoctor({options_, 4242424242u}, r), "binlog retention");
  ASSERT_NE(retention, nullptr);
  EXPECT_EQ(retention->level, CheckLevel::kOk) << retention->found;
  // In the file the server writes now, an old checkpoint only means an idle source.
  r.checkpoint = logs.back() + ":4";
  r.checkpoint_age = std::chrono::hours(24 * 30);
  retention = find(runDoctor({options_, 4242424242u}, r), "binlog retention");
  ASSERT_NE(retention, nullptr);
  EXPECT_EQ(retention->level, CheckLevel::kOk) << retention->found;
}

TEST_F(MysqlDoctorTest, TheStoresSourceReportsJobClaiming) {
  DoctorRequest r = request("trigger");
  EXPECT_EQ(find(runDoctor({options_, 4242424242u}, r), "job claiming"), nullptr);
  r.holds_store = true;
  auto checks = runDoctor({options_, 4242424242u}, r);
  const DoctorCheck* claiming = find(checks, "job claiming");
  ASSERT_NE(claiming, nullptr) << dump(checks);
  EXPECT_EQ(claiming->level, CheckLevel::kOk) << "the test server is MariaDB 10.11";
}

TEST_F(MysqlDoctorTest, ConnectionFailureIsOneFailNotACrash) {
  ConnectionOptions bad = options_;
  bad.password = "wrong-password";
  auto checks = runDoctor({bad, 4242424242u}, request("binlog"));
  ASSERT_EQ(checks.size(), 1u) << dump(checks);
  EXPECT_EQ(checks[0].name, "connection");
  EXPECT_EQ(checks[0].level, CheckLevel::kFail);
}

}  // namespace
}  // namespace smsbridge::mysql
