// `write_back:` in the config: what loading makes of it, and what `check` rejects.

#include <fstream>

#include <gtest/gtest.h>

#include "app/bridge_config.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

class WriteBackConfigTest : public ::testing::Test {
 protected:
  std::optional<BridgeConfig> load(const std::string& sources, const std::string& write_back,
                                   const std::string& store = "") {
    const std::string path = dir_.file("smsbridge.yaml");
    std::ofstream(path) << "sources:\n"
                        << sources << store
                        << "providers: {sandbox: {type: sandbox}}\n"
                           "routes: {default: [sandbox]}\n"
                           "mappings:\n"
                           "  shipped:\n"
                           "    source: shop\n"
                           "    table: orders\n"
                           "    to: \"{{ phone }}\"\n"
                           "    text: \"Shipped\"\n"
                        << write_back
                        << "  paid:\n"
                           "    source: shop\n"
                           "    table: payments\n"
                           "    to: \"{{ phone }}\"\n"
                           "    text: \"Paid\"\n";
    config::LoadOptions options;
    options.read_secret_files = false;
    diagnostics_ = config::Diagnostics();
    return loadBridgeConfig(path, options, diagnostics_);
  }

  ::smsbridge::testing::TempDir dir_;
  config::Diagnostics diagnostics_;
};

constexpr char kShop[] = "  shop: {type: sqlite, path: shop.db}\n";

TEST_F(WriteBackConfigTest, ActionsAreReadAndOnlyTheirMappingIsLogged) {
  auto cfg = load(kShop,
                  "    write_back:\n"
                  "      - {on: [delivered, failed], sql: \"UPDATE orders SET sms = :status WHERE "
                  "id = :entity_id\"}\n"
                  "      - {sql: \"INSERT INTO log (j) VALUES (:job_id)\"}\n");
  ASSERT_TRUE(cfg) << diagnostics_.toString();
  ASSERT_EQ(cfg->write_back.actions.count("shipped"), 1u);
  const auto& actions = cfg->write_back.actions.at("shipped");
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].on, (std::set<JobStatus>{JobStatus::kDelivered, JobStatus::kFailed}));
  EXPECT_TRUE(actions[1].on.empty());
  EXPECT_EQ(cfg->write_back_mappings, std::vector<std::string>{"shipped"});
  ASSERT_EQ(cfg->write_back.sources.count("shop"), 1u);
  EXPECT_FALSE(cfg->write_back.sources.at("shop").mirror);  // the store is in the shop
}

TEST_F(WriteBackConfigTest, WithoutWriteBackNothingIsLogged) {
  auto cfg = load(kShop, "");
  ASSERT_TRUE(cfg) << diagnostics_.toString();
  EXPECT_TRUE(cfg->write_back_mappings.empty());
  EXPECT_TRUE(cfg->write_back.sources.empty());
}

TEST_F(WriteBackConfigTest, AParameterThatIsNoJobFieldIsReportedWhereItStands) {
  auto cfg = load(kShop,
                  "    write_back:\n"
                  "      - sql: \"UPDATE orders SET sms = :status WHERE id = :order_id\"\n");
  ASSERT_FALSE(cfg);
  const std::string text = diagnostics_.toString();
  EXPECT_NE(text.find("mappings.shipped.write_back[0].sql"), std::string::npos) << text;
  EXPECT_NE(text.find("':order_id' is not a job field"), std::string::npos) << text;
  // Line 12 of the file, where the parameter is.
  EXPECT_NE(text.find(":12:"), std::string::npos) << text;
}

TEST_F(WriteBackConfigTest, AnUnknownStatusInOnIsRejected) {
  auto cfg = load(kShop,
                  "    write_back:\n"
                  "      - {on: [queued], sql: \"SELECT 1\"}\n");
  ASSERT_FALSE(cfg);
  EXPECT_NE(diagnostics_.toString().find("write_back[0].on"), std::string::npos)
      << diagnostics_.toString();
}

TEST_F(WriteBackConfigTest, ASeparateStoreMirrorsEveryMappingOfTheSourceUnlessTurnedOff) {
  auto cfg = load(std::string(kShop) + "  bridge: {type: sqlite, path: bridge.db}\n", "",
                  "store: {source: bridge}\n");
  ASSERT_TRUE(cfg) << diagnostics_.toString();
  ASSERT_EQ(cfg->write_back.sources.count("shop"), 1u);
  EXPECT_TRUE(cfg->write_back.sources.at("shop").mirror);
  EXPECT_EQ(cfg->write_back.sources.count("bridge"), 0u);  // it has no mappings
  EXPECT_EQ(cfg->write_back_mappings, (std::vector<std::string>{"shipped", "paid"}));
  EXPECT_EQ(cfg->write_back.mirror_table, "smsbridge_message_status");

  cfg = load(
      "  shop: {type: sqlite, path: shop.db, mirror_statuses: false}\n"
      "  bridge: {type: sqlite, path: bridge.db}\n",
      "", "store: {source: bridge}\n");
  ASSERT_TRUE(cfg) << diagnostics_.toString();
  EXPECT_TRUE(cfg->write_back.sources.empty());
  EXPECT_TRUE(cfg->write_back_mappings.empty());
}

}  // namespace
}  // namespace smsbridge
