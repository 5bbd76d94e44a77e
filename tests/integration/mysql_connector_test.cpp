// The `mysql` source type: its config section becomes factories whose store and source work
// against the real MariaDB of scripts/test-services.sh; bad settings become diagnostics.

#include "connectors/mysql/mysql_connector.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_connection.h"
#include "tests/integration/source_config.h"
#include "tests/integration/test_env.h"

namespace smsbridge::mysql {
namespace {

using Parsed = testing::ParsedSource;

Parsed parse(const std::string& yaml) {
  return testing::parseSourceYaml(yaml, sourceSchema(), parseSource);
}

TEST(MysqlConnectorTest, TriggerBinlogAndPollCaptureAreAvailable) {
  Parsed p = parse("dsn: mysql://u:p@h/db\ncapture: logical\n");
  EXPECT_FALSE(p.factory);
  EXPECT_NE(p.diagnostics.find("capture mode 'logical' does not exist for mysql sources; "
                               "use one of: trigger, binlog, poll"),
            std::string::npos)
      << p.diagnostics;

  p = parse("dsn: mysql://u:p@h/db\ncapture: binlog\nserver_id: 77\n");
  ASSERT_TRUE(p.factory) << p.diagnostics;
  EXPECT_EQ(p.factory->capture, "binlog");
  auto source = p.factory->create_source({"orders"}, "smsbridge_");
  ASSERT_TRUE(source) << source.error().toString();
  EXPECT_TRUE((*source)->setupSql()->empty()) << "binlog capture installs nothing";

  p = parse("dsn: mysql://u:p@h/db\ncapture: binlog\nserver_id: 0\n");
  EXPECT_FALSE(p.factory);
  EXPECT_NE(p.diagnostics.find("server_id: must be between 1 and 4294967295"), std::string::npos)
      << p.diagnostics;
}

TEST(MysqlConnectorTest, BadDsnAndBatchSizeAreReportedWithoutThePassword) {
  Parsed p = parse("dsn: mysql://u:hunter2@h:70000/db\ncapture: trigger\nbatch_size: 0\n");
  EXPECT_FALSE(p.factory);
  EXPECT_NE(p.diagnostics.find("dsn"), std::string::npos) << p.diagnostics;
  EXPECT_NE(p.diagnostics.find("batch_size: must be at least 1"), std::string::npos)
      << p.diagnostics;
  EXPECT_EQ(p.diagnostics.find("hunter2"), std::string::npos) << p.diagnostics;
}

TEST(MysqlConnectorTest, FactoriesBuildAWorkingStoreAndSource) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  Parsed p = parse("dsn: " + dsn + "\ncapture: trigger\nbatch_size: 50\nconnect_timeout: 3s\n");
  ASSERT_TRUE(p.factory) << p.diagnostics;
  EXPECT_EQ(p.factory->type, "mysql");
  EXPECT_EQ(p.factory->capture, "trigger");
  EXPECT_EQ(p.factory->description.find(':'), p.factory->description.rfind(':'))
      << "no password in " << p.factory->description;

  std::random_device rd;
  const std::string prefix = "sbt" + std::to_string(rd() % 100000000) + "_";
  auto store = p.factory->create_store(prefix);
  ASSERT_TRUE(store) << store.error().toString();
  ASSERT_TRUE((*store)->migrate().isOk());
  EXPECT_TRUE((*store)->checkSchema().isOk());
  auto source = p.factory->create_source({}, prefix);
  ASSERT_TRUE(source) << source.error().toString();
  ASSERT_TRUE((*source)->setup().isOk());
  EXPECT_TRUE((*source)->start("").isOk());

  auto admin = Connection::connect(*parseDsn(dsn));
  ASSERT_TRUE(admin);
  for (const char* name : {"attempts", "status_changes", "messages", "checkpoints", "shadow",
                           "optouts", "inbound", "schema", "changes"}) {
    EXPECT_TRUE((*admin)->exec("DROP TABLE `" + prefix + name + "`").isOk()) << name;
  }
}

}  // namespace
}  // namespace smsbridge::mysql
