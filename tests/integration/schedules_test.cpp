// Schedules over the real PostgreSQL and MariaDB of scripts/test-services.sh: the built-in
// :now parameter compares with each database's own timestamps, and a run streams its rows into
// jobs exactly once.

#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_sql_session.h"
#include "connectors/postgres/pg_sql_session.h"
#include "connectors/sqlite/sqlite_store.h"
#include "core/schedule_runner.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

// 2026-11-20 (a Friday) 00:00:00 UTC.
const TimePoint kFriday = TimePoint(seconds(1'795'132'800));

std::string tableName() {
  std::random_device rd;
  return "sched" + std::to_string(rd() % 100000000);
}

// Runs a daily 10:00 reminder for bookings starting within 24 hours of the run against
// `session`, and checks who got a job: the two bookings inside the window, once each.
void runReminder(std::function<Result<std::unique_ptr<SqlSession>>()> open,
                 const std::string& table) {
  const std::string path =
      (std::filesystem::temp_directory_path() / (table + "_store.db")).string();
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
  } cleanup{path};
  auto store = sqlite::SqliteStore::create(path, "smsbridge_", milliseconds(500));
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->migrate().isOk());
  ScheduleSpec spec;
  spec.name = "reminder";
  spec.source = "db";
  spec.cron = "0 10 * * *";
  spec.query = "SELECT id, phone FROM " + table +
               " WHERE starts_at > :now AND starts_at <= :tomorrow ORDER BY id";
  spec.params = {{"tomorrow", "2026-11-21 10:00:00"}};
  spec.batch_size = 1;
  spec.job.to = "{{ phone }}";
  spec.job.text = "Booking {{ id }} tomorrow";
  auto schedule = Schedule::compile(spec, MappingDefaults{},
                                    [](std::string_view key, std::size_t, std::string message) {
                                      ADD_FAILURE() << key << ": " << message;
                                    });
  ASSERT_TRUE(schedule);
  std::vector<Schedule> schedules;
  schedules.push_back(std::move(*schedule));
  ManualClock clock(kFriday);
  ScheduleRunner runner(
      std::move(schedules), **store, [&](const std::string&) { return open(); }, clock,
      [&](TimePoint until) {
        if (until > clock.now()) clock.set(until);
        return true;
      });
  runner.runDue();
  clock.set(kFriday + hours(10));
  runner.runDue();
  EXPECT_EQ(runner.lastRun(0).rows, 2);
  EXPECT_EQ(runner.lastRun(0).inserted, 2);
  EXPECT_EQ(runner.lastRun(0).largest_batch, 1);
  auto counts = (*store)->countByStatus();
  ASSERT_TRUE(counts);
  int queued = 0;
  for (auto& [status, n] : *counts) {
    if (status == JobStatus::kQueued) queued = n;
  }
  EXPECT_EQ(queued, 2);
}

constexpr char kRows[] =
    " VALUES (1, '+48600100201', '2026-11-20 09:00:00'),"  // before the run
    " (2, '+48600100202', '2026-11-20 15:30:00'),"         // inside the window
    " (3, '+48600100203', '2026-11-21 09:59:00'),"         // inside the window
    " (4, '+48600100204', '2026-11-22 12:00:00')";         // later

TEST(SchedulesPostgres, NowComparesWithTimestampsAndRowsBecomeJobsOnce) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  auto open = [dsn]() -> Result<std::unique_ptr<SqlSession>> {
    auto session = postgres::PgSqlSession::open(dsn, seconds(5));
    if (!session) return session.error();
    return std::unique_ptr<SqlSession>(std::move(*session));
  };
  auto admin = open();
  ASSERT_TRUE(admin) << admin.error().toString();
  const std::string table = tableName();
  ASSERT_TRUE((*admin)->execute(
      "CREATE TABLE " + table + " (id bigint PRIMARY KEY, phone text, starts_at timestamp)",
      Row{}));
  ASSERT_TRUE((*admin)->execute("INSERT INTO " + table + kRows, Row{}));
  runReminder(open, table);
  EXPECT_TRUE((*admin)->execute("DROP TABLE " + table, Row{}));
}

TEST(SchedulesMysql, NowComparesWithDatetimesAndRowsBecomeJobsOnce) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  auto options = mysql::parseDsn(dsn);
  ASSERT_TRUE(options) << options.error().toString();
  auto open = [options = *options]() -> Result<std::unique_ptr<SqlSession>> {
    auto session = mysql::MysqlSqlSession::open(options);
    if (!session) return session.error();
    return std::unique_ptr<SqlSession>(std::move(*session));
  };
  auto admin = open();
  ASSERT_TRUE(admin) << admin.error().toString();
  const std::string table = tableName();
  ASSERT_TRUE((*admin)->execute("CREATE TABLE " + table +
                                    " (id bigint PRIMARY KEY, phone varchar(20), starts_at "
                                    "datetime)",
                                Row{}));
  ASSERT_TRUE((*admin)->execute("INSERT INTO " + table + kRows, Row{}));
  runReminder(open, table);
  EXPECT_TRUE((*admin)->execute("DROP TABLE " + table, Row{}));
}

}  // namespace
}  // namespace smsbridge
