// End-to-end: `smsbridge doctor` on a SQLite config, the real binary, its output and exit code.

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "connectors/sqlite/sqlite_db.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;
using testing::runToCompletion;
using testing::TempDir;

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
    return runToCompletion({SMSBRIDGE_BINARY, "doctor", "-c", config}, dir_.file("doctor.log"));
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
      runToCompletion({SMSBRIDGE_BINARY, "setup", "-c", config_}, dir_.file("setup.log"));
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
  auto [code, out] = runToCompletion({SMSBRIDGE_BINARY, "doctor", "--help"}, dir.file("log"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("FAIL"), std::string::npos) << out;
  EXPECT_NE(out.find("Exit 0 when"), std::string::npos) << out;
  auto [top_code, top] = runToCompletion({SMSBRIDGE_BINARY, "--help"}, dir.file("top.log"));
  EXPECT_NE(top.find("doctor"), std::string::npos) << top;
}

}  // namespace
}  // namespace smsbridge
