// optouts.lanes: which lanes an opt-out (STOP) suppresses, as `run` hands it to the store.

#include <fstream>

#include <gtest/gtest.h>

#include "app/bridge_config.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

constexpr char kConfig[] = R"(
sources:
  shop: {type: sqlite, path: shop.db}
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
mappings:
  order_shipped: {table: orders, to: "{{ phone }}", text: "Shipped"}
)";

std::optional<BridgeConfig> load(const std::string& extra, config::Diagnostics& diagnostics) {
  static testing::TempDir dir;
  const std::string path = dir.file("smsbridge.yaml");
  std::ofstream(path) << kConfig << extra;
  config::LoadOptions options;
  options.read_secret_files = false;
  return loadBridgeConfig(path, options, diagnostics);
}

TEST(BridgeConfigOptOutsTest, MarketingOnlyByDefault) {
  config::Diagnostics diagnostics;
  auto cfg = load("", diagnostics);
  ASSERT_TRUE(cfg) << diagnostics.toString();
  EXPECT_EQ(cfg->optouts.lanes, std::vector<Lane>{Lane::kMarketing});
}

TEST(BridgeConfigOptOutsTest, LanesAreConfigurableAndMayBeNone) {
  config::Diagnostics diagnostics;
  auto cfg = load("optouts:\n  lanes: [marketing, transactional]\n", diagnostics);
  ASSERT_TRUE(cfg) << diagnostics.toString();
  EXPECT_EQ(cfg->optouts.lanes, (std::vector<Lane>{Lane::kMarketing, Lane::kTransactional}));
  auto none = load("optouts:\n  lanes: []\n", diagnostics);
  ASSERT_TRUE(none) << diagnostics.toString();
  EXPECT_TRUE(none->optouts.lanes.empty());
}

TEST(BridgeConfigOptOutsTest, AnUnknownLaneIsAPositionedError) {
  config::Diagnostics diagnostics;
  auto cfg = load("optouts:\n  lanes: [marketing, newsletters]\n", diagnostics);
  EXPECT_FALSE(cfg);
  EXPECT_NE(diagnostics.toString().find("optouts.lanes"), std::string::npos)
      << diagnostics.toString();
  EXPECT_NE(diagnostics.toString().find("newsletters"), std::string::npos)
      << diagnostics.toString();
}

}  // namespace
}  // namespace smsbridge
