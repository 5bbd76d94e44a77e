// The Odoo example (examples/odoo) end to end on the real PostgreSQL, exactly as its README
// section runs it: schema.sql into a fresh database, `setup --set-replica-identity` and `run`
// with the example's own smsbridge.yaml (only ODOO_DSN comes from the test), then drive.sql's
// changes. The SMS must be exactly one per confirmed quotation and one per crossing below a
// reorder minimum; further deliveries while below, cancellations and locks send nothing.

#include <libpq-fe.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
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

namespace fs = std::filesystem;
using testing::readFile;

const fs::path kExample = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "odoo";

using Database = testing::Shop;

// drive.sql's statements, one per line ending in ';' (comments dropped), so each commits on
// its own as Odoo's clicks would.
std::vector<std::string> statementsOf(const fs::path& path) {
  std::vector<std::string> statements;
  std::istringstream in(readFile(path));
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.rfind("--", 0) == 0 || line.empty()) continue;
    current += line + "\n";
    if (line.back() == ';') {
      statements.push_back(current);
      current.clear();
    }
  }
  return statements;
}

// The test DSN with its database (the URI's path) replaced.
std::string withDatabase(const std::string& dsn, const std::string& database) {
  std::string::size_type query = dsn.find('?');
  std::string base = dsn.substr(0, query);
  std::string::size_type slash = base.rfind('/');
  std::string rest = query == std::string::npos ? "" : dsn.substr(query);
  return base.substr(0, slash + 1) + database + rest;
}

// Drops the example's slot (it pins WAL cluster-wide) and its database, even when an assertion
// ended the test early. Runs after the bridge process is gone.
struct Cleanup {
  std::string admin_dsn;
  std::string odoo_dsn;
  std::string database;
  ~Cleanup() {
    try {
      Database admin(admin_dsn);
      admin.exec(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '" +
          database + "' AND active_pid IS NOT NULL");
      for (int i = 0; i < 50 && admin.text("SELECT count(*) FROM pg_replication_slots WHERE "
                                           "database = '" +
                                           database + "' AND active") != "0";
           ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      {
        // A logical slot is dropped from a connection to its own database.
        Database odoo(odoo_dsn);
        odoo.exec(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
            "database = current_database()");
      }
      admin.exec("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
    } catch (const std::exception&) {
      // Best effort: the test's own assertions already reported the problem.
    }
  }
};

TEST(OdooExampleE2eTest, SendsOnePerConfirmationAndOnePerCrossingBelowTheMinimum) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  const std::string database = "odoo_e2e_" + std::to_string(getpid());
  const std::string odoo_dsn = withDatabase(dsn, database);
  setenv("ODOO_DSN", odoo_dsn.c_str(), 1);  // the example config reads ${ODOO_DSN}
  {
    Database admin(dsn);
    admin.exec("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
    admin.exec("CREATE DATABASE " + database);
  }
  Cleanup cleanup{dsn, odoo_dsn, database};
  Database odoo(odoo_dsn);
  odoo.exec(readFile(kExample / "schema.sql"));

  testing::TempDir dir;
  const std::string config = (kExample / "smsbridge.yaml").string();
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log"), {"--set-replica-identity"}));

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  const auto statements = statementsOf(kExample / "drive.sql");
  ASSERT_EQ(statements.size(), 13u);
  for (const std::string& statement : statements) odoo.exec(statement);
  // A last confirmation marks the end: capture is in commit order, so once its SMS exists,
  // every change drive.sql made has been mapped, and any SMS it should not have caused is
  // already in the table.
  odoo.exec("INSERT INTO sale_order (name, partner_id, amount_total) VALUES ('S00004', 1, 10)");
  odoo.exec("UPDATE sale_order SET state = 'sale' WHERE name = 'S00004'");
  bool settled = testing::waitUntil(
      [&] {
        return odoo.scalar(
                   "SELECT count(*) FROM smsbridge_messages WHERE body LIKE "
                   "'Order S00004 %' AND status NOT IN ('queued', 'sending')") == 1 &&
               odoo.scalar(
                   "SELECT count(*) FROM smsbridge_messages WHERE status IN "
                   "('queued', 'sending')") == 0;
      },
      std::chrono::seconds(60));
  EXPECT_TRUE(bridge.stop());
  ASSERT_TRUE(settled) << bridge.output();

  EXPECT_EQ(odoo.column("SELECT recipient || ' ' || body FROM smsbridge_messages ORDER BY id"),
            (std::vector<std::string>{
                "+48600100200 Order S00001 confirmed: 1249.00 PLN.",
                "+48600100200 Order S00002 confirmed: 389.50 PLN.",
                "+48600100300 Reorder: product 1 is down to 8 in WH/Stock.",
                "+48600100300 Reorder: product 1 is down to 9 in WH/Stock.",
                "+48600100200 Order S00004 confirmed: 10.00 PLN.",
            }));
  EXPECT_EQ(odoo.scalar("SELECT count(*) FROM smsbridge_messages WHERE status IN ('sent', "
                        "'delivered')"),
            5);
  // The slot follows the store, so Odoo's WAL is not pinned by the bridge.
  EXPECT_EQ(odoo.text("SELECT confirmed_flush_lsn >= (SELECT position::pg_lsn FROM "
                      "smsbridge_checkpoints WHERE source = 'odoo') FROM pg_replication_slots "
                      "WHERE database = current_database()"),
            "t");
}

}  // namespace
}  // namespace smsbridge
