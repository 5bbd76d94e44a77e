// Mapping lookups end to end on the real PostgreSQL and MariaDB of scripts/test-services.sh: a
// change captured by trigger capture is mapped with its lookup run through SqlLookupRunner (the
// runner `run` gives the capture loop), as configured in YAML.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "app/bridge_config.h"
#include "app/sql_lookups.h"
#include "core/clock.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  std::string tag;
  fs::path config_file;
  std::optional<BridgeConfig> cfg;

  // A bridge config whose one mapping reads `<tag>orders` and looks up `<tag>addresses`.
  void load(const std::string& source_yaml) {
    std::random_device random;
    tag = "lk" + std::to_string(random() % 1'000'000'000) + "_";
    config_file = fs::temp_directory_path() / (tag + "smsbridge.yaml");
    std::ofstream(config_file) << "defaults: {region: PL}\n"
                                  "sources:\n  shop: "
                               << source_yaml
                               << "\n"
                                  "store: {table_prefix: "
                               << tag
                               << "sb_}\n"
                                  "providers:\n  sandbox: {type: sandbox}\n"
                                  "routes:\n  default: [sandbox]\n"
                                  "mappings:\n"
                                  "  order_shipped:\n"
                                  "    table: "
                               << tag
                               << "orders\n"
                                  "    on: [update]\n"
                                  "    when: \"status == 'shipped'\"\n"
                                  "    lookup:\n"
                                  "      billing: >-\n"
                                  "        SELECT phone, country, first_name FROM "
                               << tag
                               << "addresses WHERE order_id = :id AND kind = 'billing'\n"
                                  "    to: \"{{ billing.phone }}\"\n"
                                  "    region: \"{{ billing.country }}\"\n"
                                  "    text: \"Hi {{ billing.first_name }}, order {{ id }} "
                                  "shipped.\"\n";
    config::Diagnostics diagnostics;
    cfg = loadBridgeConfig(config_file.string(), {}, diagnostics);
    ASSERT_TRUE(cfg) << diagnostics.toString();
  }
  ~Fixture() {
    if (!config_file.empty()) fs::remove(config_file);
  }
};

// Orders 1 and 2 are created and then shipped in the source database; trigger capture reads
// the changes and the mapping looks up each order's billing address. Order 2 has none.
void shipAndMap(Fixture& f, const std::string& id_type, const std::string& cleanup_sql) {
  const SourceFactory& factory = f.cfg->sources.front();
  ASSERT_TRUE(checkLookupSources(*f.cfg).isOk());
  auto admin = factory.open_sql();
  ASSERT_TRUE(admin) << admin.error().toString();
  SqlSession& sql = **admin;
  const std::string orders = f.tag + "orders";
  const std::string addresses = f.tag + "addresses";
  struct Drop {
    SqlSession& sql;
    std::vector<std::string> statements;
    ~Drop() {
      for (const auto& s : statements) (void)sql.execute(s, Row{});
    }
  } drop{sql,
         {"DROP TABLE IF EXISTS " + orders, "DROP TABLE IF EXISTS " + addresses,
          "DROP TABLE IF EXISTS " + f.tag + "sb_changes", cleanup_sql}};
  for (const std::string& ddl :
       {"CREATE TABLE " + orders + " (id " + id_type + " PRIMARY KEY, status VARCHAR(20))",
        "CREATE TABLE " + addresses +
            " (order_id INT, kind VARCHAR(20), phone VARCHAR(40), country VARCHAR(2), "
            "first_name VARCHAR(40))"}) {
    auto created = sql.execute(ddl, Row{});
    ASSERT_TRUE(created) << created.error().toString();
  }
  auto source = factory.create_source(f.cfg->tablesOf(factory), f.cfg->store.prefix);
  ASSERT_TRUE(source) << source.error().toString();
  ASSERT_TRUE((*source)->setup().isOk());
  ASSERT_TRUE((*source)->start("").isOk());

  for (const std::string& dml :
       {"INSERT INTO " + orders + " (id, status) VALUES (1, 'new'), (2, 'new')",
        "INSERT INTO " + addresses +
            " VALUES (1, 'shipping', '600 700 800', 'PL', 'Anna'), (1, 'billing', "
            "'0151 23456789', 'DE', 'Jürgen')",
        "UPDATE " + orders + " SET status = 'shipped'"}) {
    auto changed = sql.execute(dml, Row{});
    ASSERT_TRUE(changed) << changed.error().toString();
  }
  auto batch = (*source)->poll(std::chrono::milliseconds(0));
  ASSERT_TRUE(batch) << batch.error().toString();
  ASSERT_EQ(batch->events.size(), 4u) << "two inserts, two updates";

  SqlLookupRunner lookups(f.cfg->sources);
  auto jobs = f.cfg->mappings->map(batch->events, SystemClock::instance().now(), lookups);
  ASSERT_TRUE(jobs) << jobs.error().toString();
  ASSERT_EQ(jobs->size(), 2u) << "the updates fire";
  const SmsJob& shipped = (*jobs)[0].entity_id == "1" ? (*jobs)[0] : (*jobs)[1];
  const SmsJob& missing = (*jobs)[0].entity_id == "1" ? (*jobs)[1] : (*jobs)[0];
  EXPECT_EQ(shipped.status, JobStatus::kQueued) << shipped.status_reason;
  EXPECT_EQ(shipped.recipient, "+4915123456789") << "the billing row, region from the lookup";
  EXPECT_EQ(shipped.body, "Hi Jürgen, order 1 shipped.");
  EXPECT_EQ(missing.status, JobStatus::kSuppressed);
  EXPECT_EQ(missing.status_reason.rfind("lookup_empty: billing", 0), 0u) << missing.status_reason;
}

TEST(LookupIntegrationTest, PostgresChangeIsMappedWithItsLookup) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  Fixture f;
  f.load("{type: postgres, dsn: \"" + dsn + "\", capture: trigger}");
  if (!f.cfg) return;
  shipAndMap(f, "INT", "DROP FUNCTION IF EXISTS " + f.tag + "sb_capture() CASCADE");
}

TEST(LookupIntegrationTest, MariaDbChangeIsMappedWithItsLookup) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  Fixture f;
  f.load("{type: mysql, dsn: \"" + dsn + "\", capture: trigger}");
  if (!f.cfg) return;
  shipAndMap(f, "INT", "SELECT 1");
}

}  // namespace
}  // namespace smsbridge
