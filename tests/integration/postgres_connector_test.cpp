// The `postgres` source type: its config section becomes factories whose store and source work
// against the real PostgreSQL of scripts/test-services.sh; bad settings become diagnostics.

#include "connectors/postgres/pg_connector.h"

#include <random>
#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/integration/source_config.h"
#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

using Parsed = testing::ParsedSource;

Parsed parse(const std::string& yaml) {
  return testing::parseSourceYaml(yaml, sourceSchema(), parseSource);
}

TEST(PostgresConnectorTest, EveryCaptureModeIsAvailable) {
  for (const char* mode : {"trigger", "logical", "poll"}) {
    Parsed p = parse(std::string("dsn: postgresql://u:p@h/db\ncapture: ") + mode + "\n");
    EXPECT_TRUE(p.factory) << mode << ": " << p.diagnostics;
  }
  Parsed binlog = parse("dsn: postgresql://u:p@h/db\ncapture: binlog\n");
  EXPECT_FALSE(binlog.factory);
  EXPECT_NE(binlog.diagnostics.find("capture mode 'binlog'"), std::string::npos)
      << binlog.diagnostics;
}

TEST(PostgresConnectorTest, LogicalCaptureRefusesAnUnusableSlotName) {
  Parsed p = parse("dsn: postgresql://u:p@h/db\ncapture: logical\nslot: Shop-Slot\n");
  ASSERT_TRUE(p.factory) << p.diagnostics;
  auto source = p.factory->create_source({"orders"}, "smsbridge_");
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(source.error().message().find("slot:"), std::string::npos) << source.error().message();
}

TEST(PostgresConnectorTest, BadSettingsAreReportedTogether) {
  Parsed p = parse(
      "dsn: postgresql://u:hunter2@h/db\ncapture: trigger\nbatch_size: 0\n"
      "connect_timeout: 100ms\n");
  EXPECT_FALSE(p.factory);
  EXPECT_NE(p.diagnostics.find("batch_size: must be at least 1"), std::string::npos)
      << p.diagnostics;
  EXPECT_NE(p.diagnostics.find("connect_timeout: must be at least 1s"), std::string::npos)
      << p.diagnostics;
  EXPECT_EQ(p.diagnostics.find("hunter2"), std::string::npos) << p.diagnostics;
}

TEST(PostgresConnectorTest, FactoriesBuildAWorkingStoreAndSource) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  Parsed p = parse("dsn: " + dsn + "\ncapture: trigger\nbatch_size: 50\nconnect_timeout: 3s\n");
  ASSERT_TRUE(p.factory) << p.diagnostics;
  EXPECT_EQ(p.factory->type, "postgres");
  EXPECT_EQ(p.factory->capture, "trigger");
  EXPECT_EQ(p.factory->description.find("smsbridge@"), std::string::npos)
      << "no credentials in " << p.factory->description;

  std::random_device rd;
  const std::string prefix = "pgc" + std::to_string(rd() % 100000000) + "_";
  auto store = p.factory->create_store(prefix);
  ASSERT_TRUE(store) << store.error().toString();
  ASSERT_TRUE((*store)->migrate().isOk());
  EXPECT_TRUE((*store)->checkSchema().isOk());
  auto source = p.factory->create_source({}, prefix);
  ASSERT_TRUE(source) << source.error().toString();
  ASSERT_TRUE((*source)->setup().isOk());
  EXPECT_TRUE((*source)->start("").isOk());

  pqxx::connection admin(dsn);
  pqxx::nontransaction txn(admin);
  for (const char* name : {"attempts", "status_changes", "messages", "checkpoints", "shadow",
                           "optouts", "inbound", "schema", "changes"}) {
    txn.exec("DROP TABLE " + prefix + name);
  }
  txn.exec("DROP FUNCTION " + prefix + "capture()");
}

}  // namespace
}  // namespace smsbridge::postgres
