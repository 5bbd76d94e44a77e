#include "core/schedule_runner.h"

#include <gtest/gtest.h>

#include "connectors/sqlite/sqlite_sql_session.h"
#include "connectors/sqlite/sqlite_store.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// 2026-11-20 (a Friday) 00:00:00 UTC.
const TimePoint kFriday = TimePoint(seconds(1'795'132'800));

struct Problem {
  std::string key;
  std::size_t offset;
  std::string message;
};

ScheduleSpec baseSpec() {
  ScheduleSpec spec;
  spec.name = "reminder";
  spec.source = "shop";
  spec.cron = "0 10 * * *";
  spec.query = "SELECT id, phone, name FROM customers ORDER BY id";
  spec.job.to = "{{ phone }}";
  spec.job.text = "Hi {{ name }}";
  return spec;
}

std::optional<Schedule> compile(const ScheduleSpec& spec,
                                std::vector<Problem>* problems = nullptr) {
  MappingDefaults defaults;
  defaults.region = "PL";
  return Schedule::compile(spec, defaults,
                           [&](std::string_view key, std::size_t offset, std::string message) {
                             if (problems) problems->push_back({std::string(key), offset, message});
                           });
}

TEST(ScheduleCompile, ABadCronIsReportedAtItsField) {
  ScheduleSpec spec = baseSpec();
  spec.cron = "0 25 * * FRI";
  std::vector<Problem> problems;
  EXPECT_FALSE(compile(spec, &problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "cron");
  EXPECT_EQ(problems[0].offset, 2u);
  EXPECT_NE(problems[0].message.find("hour"), std::string::npos) << problems[0].message;
}

TEST(ScheduleCompile, NeedsExactlyOneTriggerAKnownZoneAndValuesForEveryParameter) {
  ScheduleSpec spec = baseSpec();
  spec.every = minutes(15);
  spec.time_zone = "Mars/Olympus";
  spec.query = "SELECT id FROM t WHERE a > :now AND b = :tier";
  std::vector<Problem> problems;
  EXPECT_FALSE(compile(spec, &problems));
  std::vector<std::string> keys;
  for (const auto& p : problems) keys.push_back(p.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"cron", "time_zone", "query"}));
  EXPECT_EQ(problems[2].offset, spec.query.find(":tier"));

  spec = baseSpec();
  spec.query = "SELECT id FROM t WHERE b = :tier";
  spec.params = {{"tier", "gold"}};
  EXPECT_TRUE(compile(spec));
}

TEST(ScheduleCompile, JobFieldsAreCheckedLikeAMappings) {
  ScheduleSpec spec = baseSpec();
  spec.job.text = "Hi {{ name ";
  spec.job.lane = "bulk";
  std::vector<Problem> problems;
  EXPECT_FALSE(compile(spec, &problems));
  std::vector<std::string> keys;
  for (const auto& p : problems) keys.push_back(p.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"text", "lane"}));
}

TEST(ScheduleTrigger, IntervalsAreAlignedToTheEpochAndCronReadsItsZone) {
  ScheduleSpec spec = baseSpec();
  spec.cron.clear();
  spec.every = minutes(15);
  auto every = compile(spec);
  ASSERT_TRUE(every);
  EXPECT_EQ(every->next(kFriday + minutes(7)), kFriday + minutes(15));
  EXPECT_EQ(every->next(kFriday + minutes(15)), kFriday + minutes(30));

  spec = baseSpec();
  spec.cron = "0 10 * * FRI";
  spec.time_zone = "Europe/Warsaw";
  auto friday = compile(spec);
  ASSERT_TRUE(friday);
  // 10:00 in Warsaw in November is 09:00 UTC.
  EXPECT_EQ(friday->next(kFriday), kFriday + hours(9));
  EXPECT_EQ(friday->next(kFriday + hours(9)), kFriday + hours(9 + 7 * 24));
}

TEST(ScheduleState, RoundTripsThroughItsPosition) {
  ScheduleState done{kFriday};
  EXPECT_EQ(ScheduleState::parse(done.format()), done);
  ScheduleState running{kFriday, kFriday + hours(1), 2000};
  EXPECT_EQ(running.format(),
            "done=2026-11-20T00:00:00.000Z running=2026-11-20T01:00:00.000Z "
            "rows=2000");
  EXPECT_EQ(ScheduleState::parse(running.format()), running);
  EXPECT_FALSE(ScheduleState::parse("rows=3"));
  EXPECT_FALSE(ScheduleState::parse("done=yesterday"));
}

// A SQLite shop with `customers`, a SQLite store beside it, a ManualClock and a wait that only
// moves that clock (and can refuse, as a shutdown does).
class ScheduleRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.set(kFriday);
    auto db = sqlite::Database::open(dir_.file("shop.db"),
                                     sqlite::Database::OpenMode::kCreateIfMissing, milliseconds(0));
    ASSERT_TRUE(db);
    shop_ = std::move(*db);
    ASSERT_TRUE(shop_
                    ->exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, phone TEXT, name TEXT,"
                           " last_login TEXT)")
                    .isOk());
    auto store =
        sqlite::SqliteStore::create(dir_.file("store.db"), "smsbridge_", milliseconds(500));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
  }

  void addCustomers(int count) {
    ASSERT_TRUE(shop_
                    ->exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
                           "i < " +
                           std::to_string(count) +
                           ") INSERT INTO customers SELECT i, printf('+48600%06d', i), "
                           "'c' || i, '2026-01-01 00:00:00' FROM n")
                    .isOk());
  }

  std::unique_ptr<ScheduleRunner> runner(const ScheduleSpec& spec) {
    std::vector<Schedule> schedules;
    auto schedule = compile(spec);
    EXPECT_TRUE(schedule);
    if (schedule) schedules.push_back(std::move(*schedule));
    return std::make_unique<ScheduleRunner>(
        std::move(schedules), *store_,
        [this](const std::string& source) -> Result<std::unique_ptr<SqlSession>> {
          EXPECT_EQ(source, "shop");
          ++sessions_opened_;
          auto session = sqlite::SqliteSqlSession::open(dir_.file("shop.db"), milliseconds(500));
          if (!session) return session.error();
          return std::unique_ptr<SqlSession>(std::move(*session));
        },
        clock_,
        [this](TimePoint until) {
          waits_.push_back(until - clock_.now());
          if (waits_left_ == 0) return false;
          if (waits_left_ > 0) --waits_left_;
          if (until > clock_.now()) clock_.set(until);
          return true;
        });
  }

  int count(JobStatus status) {
    auto counts = store_->countByStatus();
    EXPECT_TRUE(counts);
    for (auto& [s, n] : *counts) {
      if (s == status) return n;
    }
    return 0;
  }

  std::optional<ScheduleState> state() {
    auto saved = store_->loadCheckpoint("schedule:reminder");
    EXPECT_TRUE(saved);
    if (!saved || !*saved) return std::nullopt;
    return ScheduleState::parse(**saved);
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<sqlite::Database> shop_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::vector<TimePoint::duration> waits_;
  int waits_left_ = -1;  // -1: never refuse
  int sessions_opened_ = 0;
};

TEST_F(ScheduleRunnerTest, RunsAtItsTimeWithNowBoundToTheScheduledTime) {
  addCustomers(3);
  ScheduleSpec spec = baseSpec();
  // Only customers whose last login is 30 days or more before the run.
  spec.query =
      "SELECT id, phone, name FROM customers WHERE last_login <= datetime(:now, '-30 days')";
  ASSERT_TRUE(
      shop_->exec("UPDATE customers SET last_login = '2026-11-19 12:00:00' WHERE id = 2").isOk());
  auto r = runner(spec);

  EXPECT_EQ(r->runDue(), kFriday + hours(1));  // first sight: registered, nothing due yet
  EXPECT_EQ(state(), ScheduleState{kFriday});
  EXPECT_EQ(count(JobStatus::kQueued), 0);

  clock_.set(kFriday + hours(10));
  auto next = r->runDue();
  EXPECT_EQ(next, kFriday + hours(11));  // the hourly wake comes before tomorrow's run
  EXPECT_EQ(count(JobStatus::kQueued), 2);
  EXPECT_EQ(r->lastRun(0).rows, 2);
  EXPECT_EQ(state(), ScheduleState{kFriday + hours(10)});

  clock_.set(kFriday + hours(10) + minutes(5));
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 2) << "ran twice for one scheduled time";
}

TEST_F(ScheduleRunnerTest, MisfireSkipRunsNoneOfTheMissedTimes) {
  addCustomers(2);
  {
    auto r = runner(baseSpec());
    r->runDue();  // registered at Friday 00:00
  }
  // Down for three days: Friday, Saturday and Sunday 10:00 passed.
  clock_.set(kFriday + hours(3 * 24 + 8));
  auto r = runner(baseSpec());
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 0);
  EXPECT_EQ(state(), ScheduleState{kFriday + hours(2 * 24 + 10)});

  clock_.set(kFriday + hours(3 * 24 + 10));
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 2);
}

TEST_F(ScheduleRunnerTest, MisfireSkipStillRunsATimeWithinTheGrace) {
  addCustomers(2);
  auto r = runner(baseSpec());
  r->runDue();
  clock_.set(kFriday + hours(10) + seconds(30));
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 2);
}

TEST_F(ScheduleRunnerTest, MisfireRunOnceCatchesUpWithOneRun) {
  addCustomers(2);
  ScheduleSpec spec = baseSpec();
  spec.misfire = Misfire::kRunOnce;
  // Each row once per run: :last_run tells the query what the missed runs would have seen.
  spec.query = "SELECT id, phone, name || ' since ' || :last_run AS name FROM customers";
  {
    auto r = runner(spec);
    r->runDue();
  }
  clock_.set(kFriday + hours(3 * 24 + 8));
  auto r = runner(spec);
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 2);
  EXPECT_EQ(r->lastRun(0).rows, 2);
  EXPECT_EQ(state(), ScheduleState{kFriday + hours(2 * 24 + 10)});
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 2);
}

TEST_F(ScheduleRunnerTest, AStopMidRunResumesWithoutDuplicatesOrLostRows) {
  addCustomers(10);
  ScheduleSpec spec = baseSpec();
  spec.pace = 3;  // batches of 3 with a wait after each
  {
    auto r = runner(spec);
    r->runDue();
    clock_.set(kFriday + hours(10));
    waits_left_ = 1;  // the second wait is a shutdown
    EXPECT_EQ(r->runDue(), std::nullopt);
  }
  EXPECT_EQ(count(JobStatus::kQueued), 6);
  EXPECT_EQ(state(), (ScheduleState{kFriday, kFriday + hours(10), 6}));

  // Restarted a day later: the interrupted run is finished whatever the misfire policy, and
  // Saturday's run, past its grace, is skipped.
  clock_.set(kFriday + hours(24 + 11));
  waits_left_ = -1;
  auto r = runner(spec);
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 10);
  EXPECT_EQ(r->lastRun(0).inserted, 4);
  EXPECT_EQ(r->lastRun(0).duplicates, 6);
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 10);
  EXPECT_EQ(state(), ScheduleState{kFriday + hours(24 + 10)});
}

TEST_F(ScheduleRunnerTest, AStopIsHeardBetweenBatchesWithoutAPace) {
  addCustomers(10);
  ScheduleSpec spec = baseSpec();
  spec.batch_size = 4;
  auto r = runner(spec);
  r->runDue();
  clock_.set(kFriday + hours(10));
  waits_left_ = 0;
  EXPECT_EQ(r->runDue(), std::nullopt);
  EXPECT_EQ(count(JobStatus::kQueued), 4);
  EXPECT_EQ(state(), (ScheduleState{kFriday, kFriday + hours(10), 4}));
}

TEST_F(ScheduleRunnerTest, AFailedRunIsRetriedAndLeavesNothingHalfDone) {
  addCustomers(2);
  ScheduleSpec spec = baseSpec();
  spec.query = "SELECT id, phone, name FROM clients";
  auto r = runner(spec);
  r->runDue();
  clock_.set(kFriday + hours(10));
  EXPECT_EQ(r->runDue(), kFriday + hours(10) + seconds(30));
  EXPECT_EQ(state(), (ScheduleState{kFriday, kFriday + hours(10), 0}));
  ASSERT_TRUE(shop_->exec("CREATE TABLE clients AS SELECT * FROM customers").isOk());
  clock_.set(kFriday + hours(10) + seconds(30));
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 2);
  EXPECT_EQ(sessions_opened_, 2) << "a failed run reconnects";
}

TEST_F(ScheduleRunnerTest, PaceSpreadsJobsOverTime) {
  addCustomers(10);
  ScheduleSpec spec = baseSpec();
  spec.pace = 2;
  auto r = runner(spec);
  r->runDue();
  clock_.set(kFriday + hours(10));
  waits_.clear();
  r->runDue();
  EXPECT_EQ(count(JobStatus::kQueued), 10);
  // Two jobs a second: each batch of 2 waits until its second is over.
  EXPECT_EQ(waits_, std::vector<TimePoint::duration>(5, seconds(1)));
  EXPECT_EQ(clock_.now(), kFriday + hours(10) + seconds(5));
  EXPECT_EQ(r->lastRun(0).largest_batch, 2);
}

TEST_F(ScheduleRunnerTest, TheDefaultDedupKeyNamesScheduleRunAndRow) {
  addCustomers(1);
  ScheduleSpec spec = baseSpec();
  auto schedule = compile(spec);
  ASSERT_TRUE(schedule);
  Row row{{"id", Value(7)}, {"phone", Value("+48600100200")}, {"name", Value("Ann")}};
  SmsJob job = schedule->jobFor(row, "7", kFriday + hours(10), kFriday + hours(10));
  EXPECT_EQ(job.dedup_key, "reminder|shop||7|2026-11-20T10:00:00.000Z");
  EXPECT_EQ(job.body, "Hi Ann");
  EXPECT_EQ(job.recipient, "+48600100200");
  EXPECT_EQ(job.mapping, "reminder");
  spec.job.dedup = "cart:{{ id }}";
  SmsJob once = compile(spec)->jobFor(row, "7", kFriday, kFriday);
  EXPECT_EQ(once.dedup_key, "reminder|cart:7");
}

// 100,000 rows stream through: at most one batch of jobs is ever held.
TEST_F(ScheduleRunnerTest, AHundredThousandRowsStreamInBatches) {
  addCustomers(100'000);
  ScheduleSpec spec = baseSpec();
  spec.batch_size = 1000;
  auto r = runner(spec);
  r->runDue();
  clock_.set(kFriday + hours(10));
  r->runDue();
  const ScheduleRunStats& stats = r->lastRun(0);
  EXPECT_EQ(stats.rows, 100'000);
  EXPECT_EQ(stats.inserted, 100'000);
  EXPECT_EQ(stats.largest_batch, 1000);
  EXPECT_EQ(stats.batches, 101);  // 100 full batches and the (empty) completing commit
  EXPECT_EQ(count(JobStatus::kQueued), 100'000);
}

}  // namespace
}  // namespace smsbridge
