// `smsbridge test-mapping --from-db N` on the real PostgreSQL: the table's most recent rows,
// newest first, each mapped with its lookups run for real, and nothing written anywhere.

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/pg_shop.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

TEST(TestMappingE2eTest, FromDbMapsTheNewestRowsWithTheirLookupsAndWritesNothing) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);  // the config reads ${SMSBRIDGE_TEST_PG_DSN}
  testing::Shop shop(dsn);
  const std::string tag = "e2etm" + std::to_string(getpid()) + "_";
  const std::string orders = tag + "orders";
  const std::string addresses = tag + "addresses";
  const std::string prefix = tag + "sb_";
  testing::Cleanup cleanup{shop, tag, prefix + "slot_shop", prefix + "pub_shop"};
  shop.exec("CREATE TABLE " + orders + " (id INT PRIMARY KEY, status TEXT)");
  shop.exec("CREATE TABLE " + addresses +
            " (order_id INT, address_type TEXT, phone TEXT, country TEXT, first_name TEXT)");
  for (int id = 1; id <= 4; ++id) {
    shop.exec("INSERT INTO " + orders + " VALUES (" + std::to_string(id) + ", 'wc-completed')");
  }
  // Order 3 has no billing address; order 4's name would break spliced SQL.
  shop.exec("INSERT INTO " + addresses +
            " VALUES (2, 'billing', '600 700 802', 'PL', 'Anna'), (3, 'shipping', '600 700 803', "
            "'PL', 'Ola'), (4, 'billing', '0151 23456789', 'DE', 'O''Brien; --')");

  testing::TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << "defaults: {region: PL}\n"
                           "sources:\n"
                           "  shop: {type: postgres, dsn: \"${SMSBRIDGE_TEST_PG_DSN}\", "
                           "capture: trigger}\n"
                           "store: {table_prefix: "
                        << prefix
                        << "}\n"
                           "providers:\n"
                           "  sandbox: {type: sandbox}\n"
                           "routes:\n"
                           "  default: [sandbox]\n"
                           "mappings:\n"
                           "  order_shipped:\n"
                           "    table: "
                        << orders
                        << "\n"
                           "    lookup:\n"
                           "      billing: >-\n"
                           "        SELECT phone, country, first_name FROM "
                        << addresses
                        << "\n"
                           "        WHERE order_id = :id AND address_type = 'billing'\n"
                           "    to: \"{{ billing.phone }}\"\n"
                           "    region: \"{{ billing.country | default('PL') }}\"\n"
                           "    text: \"Hi {{ billing.first_name }}, order #{{ id }} is "
                           "{{ status }}.\"\n";

  auto [code, out] = testing::runSmsbridge(
      {"test-mapping", "-c", config, "-m", "order_shipped", "--from-db", "3"}, dir.file("log"));
  ASSERT_EQ(code, 0) << out;
  const auto row4 = out.find("row 1 of 3: id 4");
  const auto row3 = out.find("row 2 of 3: id 3");
  const auto row2 = out.find("row 3 of 3: id 2");
  ASSERT_NE(row4, std::string::npos) << out;
  ASSERT_NE(row3, std::string::npos) << out;
  ASSERT_NE(row2, std::string::npos) << out;
  EXPECT_LT(row4, row3) << "newest first";
  EXPECT_LT(row3, row2) << "newest first";
  EXPECT_EQ(out.find("id 1"), std::string::npos) << "only the 3 most recent rows\n" << out;
  EXPECT_NE(out.find("to:         +4915123456789 (raw: 0151 23456789)", row4), std::string::npos)
      << out;
  EXPECT_NE(out.find("text:       Hi O'Brien; --, order #4 is wc-completed.", row4),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("status:     suppressed — lookup_empty: billing", row3), std::string::npos)
      << out;
  EXPECT_NE(out.find("to:         +48600700802", row2), std::string::npos) << out;

  EXPECT_EQ(shop.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE '" + prefix + "%'"), 0)
      << "test-mapping created no store table";
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + orders), 4);

  // A mapping with lookups also runs them for --row.
  auto [row_code, row_out] =
      testing::runSmsbridge({"test-mapping", "-c", config, "-m", "order_shipped", "--row",
                             R"({"id": 2, "status": "wc-completed"})"},
                            dir.file("log2"));
  EXPECT_EQ(row_code, 0) << row_out;
  EXPECT_NE(row_out.find("text:       Hi Anna, order #2 is wc-completed."), std::string::npos)
      << row_out;

  auto [none_code, none_out] = testing::runSmsbridge(
      {"test-mapping", "-c", config, "-m", "order_shipped"}, dir.file("log3"));
  EXPECT_NE(none_code, 0);
  EXPECT_NE(none_out.find("--row or --from-db"), std::string::npos) << none_out;
}

}  // namespace
}  // namespace smsbridge
