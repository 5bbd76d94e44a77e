// The MySQL/MariaDB doctor's verdicts over gathered facts: SHOW GLOBAL VARIABLES and SHOW
// GRANTS values in, level and the exact fix out, without a server.

#include "connectors/mysql/mysql_doctor.h"

#include <gtest/gtest.h>

namespace smsbridge::mysql {
namespace {

MysqlServerFacts mariadb() {
  MysqlServerFacts s;
  s.version = "10.11.6-MariaDB";
  s.mariadb = true;
  s.version_num = 101106;
  s.user = "bridge@%";
  s.database = "shop";
  s.variables = {{"log_bin", "ON"},
                 {"binlog_format", "ROW"},
                 {"binlog_row_image", "FULL"},
                 {"binlog_row_metadata", "FULL"},
                 {"sync_binlog", "1"},
                 {"server_id", "1"},
                 {"expire_logs_days", "10.000000"},
                 {"binlog_expire_logs_seconds", "864000"},
                 {"log_bin_trust_function_creators", "OFF"},
                 {"tx_isolation", "REPEATABLE-READ"}};
  s.grants = {"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `bridge`@`%`",
              "GRANT SELECT ON `shop`.`orders` TO `bridge`@`%`"};
  return s;
}

TEST(MysqlDoctorTest, HealthyServerPassesEveryBinlogCheck) {
  MysqlServerFacts s = mariadb();
  for (const DoctorCheck& c :
       {checkVersion(s), checkLogBin(s), checkBinlogFormat(s), checkBinlogRowImage(s),
        checkBinlogRowMetadata(s), checkSyncBinlog(s),
        checkServerId(s, std::vector<std::uint32_t>{}, 4242424242u), checkBinlogRetention(s, {}),
        checkReplicationGrants(s), checkTablePrivilege(s, "SELECT", "orders")}) {
    EXPECT_EQ(c.level, CheckLevel::kOk) << c.name << ": " << c.found;
  }
}

TEST(MysqlDoctorTest, MixedFormatFailsWithSetGlobalAndMyCnf) {
  MysqlServerFacts s = mariadb();
  s.variables["binlog_format"] = "MIXED";
  DoctorCheck c = checkBinlogFormat(s);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.fix.find("SET GLOBAL binlog_format = 'ROW';"), std::string::npos) << c.fix;
  EXPECT_NE(c.fix.find("binlog_format = ROW"), std::string::npos) << c.fix;
}

TEST(MysqlDoctorTest, LogBinOffAndMinimalImageFail) {
  MysqlServerFacts s = mariadb();
  s.variables["log_bin"] = "OFF";
  s.variables["binlog_row_image"] = "MINIMAL";
  EXPECT_EQ(checkLogBin(s).level, CheckLevel::kFail);
  EXPECT_NE(checkLogBin(s).fix.find("log_bin = mysql-bin"), std::string::npos);
  EXPECT_NE(checkBinlogRowImage(s).fix.find("SET GLOBAL binlog_row_image = 'FULL';"),
            std::string::npos);
}

TEST(MysqlDoctorTest, MinimalRowMetadataAndSyncBinlogZeroWarn) {
  MysqlServerFacts s = mariadb();
  s.variables["binlog_row_metadata"] = "MINIMAL";
  s.variables["sync_binlog"] = "0";
  DoctorCheck metadata = checkBinlogRowMetadata(s);
  EXPECT_EQ(metadata.level, CheckLevel::kWarning);
  EXPECT_NE(metadata.found.find("information_schema"), std::string::npos);
  DoctorCheck sync = checkSyncBinlog(s);
  EXPECT_EQ(sync.level, CheckLevel::kWarning);
  EXPECT_NE(sync.fix.find("SET GLOBAL sync_binlog = 1;"), std::string::npos) << sync.fix;
  s.variables.erase("binlog_row_metadata");  // MariaDB < 10.5
  EXPECT_EQ(checkBinlogRowMetadata(s).level, CheckLevel::kWarning);
}

TEST(MysqlDoctorTest, ServerIdZeroOrTakenByTheBridge) {
  MysqlServerFacts s = mariadb();
  const std::uint32_t bridge = 4242424242u;
  EXPECT_EQ(checkServerId(s, std::vector<std::uint32_t>{bridge}, bridge).level,
            CheckLevel::kWarning);
  EXPECT_EQ(checkServerId(s, std::nullopt, bridge).level, CheckLevel::kOk);
  s.variables["server_id"] = "0";
  EXPECT_EQ(checkServerId(s, std::nullopt, bridge).level, CheckLevel::kFail);
  s.variables["server_id"] = std::to_string(bridge);
  EXPECT_EQ(checkServerId(s, std::nullopt, bridge).level, CheckLevel::kFail);
}

TEST(MysqlDoctorTest, ShortRetentionWarnsAndAPurgedCheckpointFileFails) {
  MysqlServerFacts s = mariadb();
  s.variables["binlog_expire_logs_seconds"] = "3600";
  DoctorCheck short_retention = checkBinlogRetention(s, {});
  EXPECT_EQ(short_retention.level, CheckLevel::kWarning);
  EXPECT_NE(short_retention.fix.find("SET GLOBAL binlog_expire_logs_seconds = 604800;"),
            std::string::npos);
  s.variables.erase("binlog_expire_logs_seconds");  // older servers: days only
  s.variables["expire_logs_days"] = "0";
  EXPECT_EQ(checkBinlogRetention(s, {}).level, CheckLevel::kOk);  // never purged

  BinlogRetentionFacts facts;
  facts.binary_logs = {{"mysql-bin.000007", "mysql-bin.000008"}};
  facts.checkpoint = "mysql-bin.000008:4";
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kOk);
  facts.checkpoint = "0-1-42";  // not a file position: nothing to look up
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kOk);
  facts.checkpoint = "mysql-bin.000003:1234;gtid=0-1-42";
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kFail);
  facts.checkpoint = "mysql-bin.000009:4";  // after RESET MASTER the numbers start over
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kFail);
}

TEST(MysqlDoctorTest, PurgedCheckpointFailsWithTheRecoverySteps) {
  MysqlServerFacts s = mariadb();
  BinlogRetentionFacts facts;
  facts.checkpoint = "mysql-bin.000003:1234";
  facts.checkpoint_age = std::chrono::hours(24 * 12);
  facts.binary_logs = {{"mysql-bin.000007", "mysql-bin.000008"}};
  facts.source = "shop";
  facts.checkpoints_table = "sb_checkpoints";
  DoctorCheck c = checkBinlogRetention(s, facts);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.found.find("mysql-bin.000003"), std::string::npos) << c.found;
  EXPECT_NE(c.found.find("oldest kept: mysql-bin.000007"), std::string::npos) << c.found;
  EXPECT_NE(c.fix.find("SET GLOBAL binlog_expire_logs_seconds = 604800;"), std::string::npos)
      << c.fix;
  EXPECT_NE(c.fix.find("DELETE FROM `sb_checkpoints` WHERE source = 'shop';"), std::string::npos)
      << c.fix;
  EXPECT_NE(c.fix.find("12.0 days ago"), std::string::npos) << c.fix;

  s.variables.erase("binlog_expire_logs_seconds");  // older servers: days only
  EXPECT_NE(checkBinlogRetention(s, facts).fix.find("SET GLOBAL expire_logs_days = 7;"),
            std::string::npos);
}

TEST(MysqlDoctorTest, CheckpointOlderThanHalfTheRetentionWarns) {
  MysqlServerFacts s = mariadb();  // ten days
  BinlogRetentionFacts facts;
  facts.checkpoint = "mysql-bin.000007:1234";
  facts.binary_logs = {{"mysql-bin.000007", "mysql-bin.000008"}};
  facts.checkpoint_age = std::chrono::hours(24 * 4);
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kOk);

  facts.checkpoint_age = std::chrono::hours(24 * 6);
  DoctorCheck old = checkBinlogRetention(s, facts);
  EXPECT_EQ(old.level, CheckLevel::kWarning);
  EXPECT_NE(old.found.find("mysql-bin.000007 was saved 6.0 days ago"), std::string::npos)
      << old.found;
  // Twice the checkpoint's age, in whole days.
  EXPECT_NE(old.fix.find("SET GLOBAL binlog_expire_logs_seconds = 1036800;"), std::string::npos)
      << old.fix;

  // The file the server writes now is never purged: an idle source is fine however old.
  facts.checkpoint = "mysql-bin.000008:1234";
  facts.checkpoint_age = std::chrono::hours(24 * 60);
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kOk);
  // Without the list of binlogs the age alone decides.
  facts.binary_logs = std::nullopt;
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kWarning);
  // Binlogs kept forever: no age is too old.
  s.variables["binlog_expire_logs_seconds"] = "0";
  s.variables["expire_logs_days"] = "0";
  EXPECT_EQ(checkBinlogRetention(s, facts).level, CheckLevel::kOk);
}

TEST(MysqlDoctorTest, JobClaimingWithoutSkipLockedWarnsOfASingleDispatcher) {
  MysqlServerFacts s = mariadb();
  EXPECT_EQ(checkJobClaiming(s).level, CheckLevel::kOk);
  s.version_num = 100519;
  DoctorCheck old = checkJobClaiming(s);
  EXPECT_EQ(old.level, CheckLevel::kWarning);
  EXPECT_NE(old.found.find("one bridge instance at a time"), std::string::npos) << old.found;
  EXPECT_NE(old.fix.find("MariaDB 10.6"), std::string::npos) << old.fix;
  s.mariadb = false;
  s.version_num = 80000;
  EXPECT_EQ(checkJobClaiming(s).level, CheckLevel::kWarning);
  EXPECT_NE(checkJobClaiming(s).fix.find("MySQL 8.0.1"), std::string::npos);
  s.version_num = 80001;
  EXPECT_EQ(checkJobClaiming(s).level, CheckLevel::kOk);
}

TEST(MysqlDoctorTest, MissingReplicationGrantsFailWithTheGrant) {
  MysqlServerFacts s = mariadb();
  s.grants = {"GRANT USAGE ON *.* TO `bridge`@`%` IDENTIFIED BY PASSWORD '*ABC'"};
  DoctorCheck c = checkReplicationGrants(s);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_EQ(c.fix, "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'bridge'@'%';");
  s.mariadb = false;
  s.version_num = 80036;
  EXPECT_EQ(checkReplicationGrants(s).fix,
            "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'bridge'@'%';");
  s.grants = {"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `bridge`@`%`"};
  EXPECT_EQ(checkReplicationGrants(s).level, CheckLevel::kOk);
}

TEST(MysqlDoctorTest, GrantParsingCoversScopesPatternsAndColumns) {
  auto grants = parseGrants({
      "GRANT ALL PRIVILEGES ON `shop\\_%`.* TO `bridge`@`%`",
      "GRANT SELECT (`id`, `phone`) ON `crm`.`people` TO `bridge`@`%`",
      "GRANT SELECT, TRIGGER ON `erp`.`orders` TO `bridge`@`%`",
      "GRANT `reporting` TO `bridge`@`%`",
      "GRANT PROXY ON ''@'' TO 'root'@'localhost' WITH GRANT OPTION",
  });
  EXPECT_TRUE(hasPrivilege(grants, "SELECT", "shop_eu", "orders"));
  EXPECT_FALSE(hasPrivilege(grants, "SELECT", "shopXeu", "orders"));  // escaped '_'
  EXPECT_FALSE(hasPrivilege(grants, "SELECT", "crm", "people"));      // column privilege only
  EXPECT_TRUE(hasPrivilege(grants, "TRIGGER", "erp", "orders"));
  EXPECT_FALSE(hasPrivilege(grants, "TRIGGER", "erp", "lines"));
  EXPECT_FALSE(hasPrivilege(grants, "REPLICATION SLAVE", "*", "*"));
}

TEST(MysqlDoctorTest, TablePrivilegesAndTriggerCreationUnderTheBinlog) {
  MysqlServerFacts s = mariadb();
  DoctorCheck trigger = checkTablePrivilege(s, "TRIGGER", "orders");
  EXPECT_EQ(trigger.level, CheckLevel::kFail);
  EXPECT_EQ(trigger.fix, "GRANT TRIGGER ON `shop`.`orders` TO 'bridge'@'%';");
  DoctorCheck creators = checkTriggerCreation(s);
  EXPECT_EQ(creators.level, CheckLevel::kFail);
  EXPECT_NE(creators.fix.find("SET GLOBAL log_bin_trust_function_creators = 1;"),
            std::string::npos);
  s.grants.push_back("GRANT SUPER ON *.* TO `bridge`@`%`");
  EXPECT_EQ(checkTriggerCreation(s).level, CheckLevel::kOk);
}

TEST(MysqlDoctorTest, ReadUncommittedWarnsForPoll) {
  MysqlServerFacts s = mariadb();
  EXPECT_EQ(checkIsolation(s).level, CheckLevel::kOk);
  s.variables["tx_isolation"] = "READ-UNCOMMITTED";
  DoctorCheck c = checkIsolation(s);
  EXPECT_EQ(c.level, CheckLevel::kWarning);
  EXPECT_NE(c.fix.find("SET GLOBAL tx_isolation = 'READ-COMMITTED';"), std::string::npos);
}

TEST(MysqlDoctorTest, GrantsPerCaptureMode) {
  GrantRequest r;
  r.user = "bridge";
  r.database = "shop";
  r.capture = "binlog";
  r.tables = {"orders"};
  auto has = [](const std::vector<std::string>& lines, const std::string& prefix) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.starts_with(prefix); });
  };
  auto binlog = grantStatements(r);
  EXPECT_TRUE(has(binlog, "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'bridge'@'%';"));
  EXPECT_TRUE(has(binlog, "GRANT SELECT ON `shop`.`orders` TO 'bridge'@'%';"));
  r.capture = "trigger";
  r.holds_store = true;
  auto trigger = grantStatements(r);
  EXPECT_FALSE(has(trigger, "GRANT REPLICATION"));
  EXPECT_TRUE(has(trigger, "GRANT SELECT, TRIGGER ON `shop`.`orders` TO 'bridge'@'%';"));
  EXPECT_TRUE(has(trigger,
                  "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, "
                  "REFERENCES ON `shop`.`smsbridge_messages`"));
}

}  // namespace
}  // namespace smsbridge::mysql
