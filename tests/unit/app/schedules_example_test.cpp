// The schedules example (examples/schedules) against its own shop.sql: every query is valid
// SQL for SQLite, binds its parameters, and picks the rows its comment promises.

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "app/bridge_config.h"
#include "connectors/sqlite/sqlite_db.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SchedulesExample, EachQueryPicksTheRowsItPromises) {
  const fs::path example = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "schedules";
  testing::TempDir dir;
  fs::copy_file(example / "smsbridge.yaml", dir.file("smsbridge.yaml"));
  {
    auto db = sqlite::Database::open(
        dir.file("shop.db"), sqlite::Database::OpenMode::kCreateIfMissing, std::chrono::seconds(5));
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->exec(readFile(example / "shop.sql")).isOk());
  }
  config::Diagnostics diagnostics;
  auto cfg = loadBridgeConfig(dir.file("smsbridge.yaml"), {}, diagnostics);
  ASSERT_TRUE(cfg) << diagnostics.toString();
  ASSERT_EQ(cfg->schedules.size(), 4u);
  auto session = cfg->sources.front().open_sql();
  ASSERT_TRUE(session) << session.error().toString();

  // shop.sql's times are relative to the moment it ran: a run a minute later, after one a
  // minute earlier, is due for the booking that starts 24 hours and a minute after it.
  const TimePoint now = std::chrono::system_clock::now();
  std::map<std::string, std::vector<std::string>> recipients;
  for (const Schedule& schedule : cfg->schedules) {
    const Row params =
        schedule.parameters(now + std::chrono::minutes(1), now - std::chrono::minutes(1));
    Status s = (*session)->forEachRow(schedule.spec().query, params, [&](const Row& row) {
      auto key = schedule.rowKey(row);
      EXPECT_TRUE(key) << key.error().toString();
      SmsJob job = schedule.jobFor(row, key ? *key : "", now, now);
      EXPECT_TRUE(job.status == JobStatus::kQueued || job.status == JobStatus::kScheduled)
          << schedule.name() << ": " << job.status_reason;
      recipients[schedule.name()].push_back(job.recipient);
      return true;
    });
    EXPECT_TRUE(s.isOk()) << schedule.name() << ": " << s.toString();
  }
  using List = std::vector<std::string>;
  EXPECT_EQ(recipients["booking_reminder"], List{"+48600700800"});  // Anna's haircut
  EXPECT_EQ(recipients["win_back"], List{"+48601234567"});        // Łukasz; Marta gave no consent
  EXPECT_EQ(recipients["abandoned_cart"], List{"+48601234567"});  // only cart 1
  // Anna ordered a week ago; Marta gave no consent.
  EXPECT_EQ(recipients["friday_campaign"], (List{"+48601234567", "+48603456789"}));
}

}  // namespace
}  // namespace smsbridge
