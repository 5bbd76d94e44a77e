#include "connectors/sqlite/sqlite_store.h"

#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "tests/fakes/status_change_checks.h"
#include "tests/fakes/status_poll_cases.h"
#include "tests/fakes/store_report_cases.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge::sqlite {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::create(dir_.file("store.db"), "smsbridge_", milliseconds(200));
    ASSERT_TRUE(store) << store.error().toString();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
  }

  SmsJob job(std::string key, Lane lane = Lane::kTransactional) {
    SmsJob j;
    j.dedup_key = std::move(key);
    j.source = "shop";
    j.mapping = "order_shipped";
    j.entity_table = "orders";
    j.entity_id = "1";
    j.recipient = "+48600700800";
    j.recipient_raw = "600 700 800";
    j.body = "Hello";
    j.segments = 1;
    j.lane = lane;
    j.route = "default";
    j.created_at = clock_.now();
    j.not_before = clock_.now();
    return j;
  }

  std::vector<SmsJob> claim(Lane lane, int limit = 10) {
    auto jobs = store_->claimDue(lane, limit, "me", seconds(30), clock_.now());
    EXPECT_TRUE(jobs) << jobs.error().toString();
    return jobs ? *jobs : std::vector<SmsJob>{};
  }

  int count(JobStatus status) {
    auto counts = store_->countByStatus();
    EXPECT_TRUE(counts);
    for (auto& [s, n] : *counts) {
      if (s == status) return n;
    }
    return 0;
  }

  // Read with a connection of its own, as support staff would.
  std::string queryText(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(dir_.file("store.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    std::string out = "<none>";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    } else {
      ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  JobStore& reportCasesStore() { return *store_; }
  std::string statusOf(std::int64_t id) {
    return queryText("SELECT status FROM smsbridge_messages WHERE id = " + std::to_string(id));
  }
  std::int64_t rowCount(const std::string& table) {
    return std::stoll(queryText("SELECT count(*) FROM smsbridge_" + table));
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, MigrateIsIdempotentAndSchemaChecks) {
  EXPECT_TRUE(store_->migrate().isOk());
  EXPECT_TRUE(store_->checkSchema().isOk());
}

TEST_F(SqliteStoreTest, CheckSchemaTellsToRunSetupOnAFreshDatabase) {
  auto fresh = SqliteStore::create(dir_.file("fresh.db"), "smsbridge_", milliseconds(200));
  ASSERT_TRUE(fresh);
  Status s = (*fresh)->checkSchema();
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("smsbridge setup"), std::string::npos) << s.message();
}

TEST_F(SqliteStoreTest, EnqueueSkipsDuplicateKeysAndSavesCheckpoint) {
  std::vector<SmsJob> jobs = {job("a"), job("b")};
  auto first = store_->enqueue(jobs, {"shop", "10"});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->inserted, 2);
  EXPECT_EQ(first->duplicates, 0);

  std::vector<SmsJob> replay = {job("b"), job("c")};
  auto second = store_->enqueue(replay, {"shop", "12"});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->inserted, 1);
  EXPECT_EQ(second->duplicates, 1);
  EXPECT_EQ(count(JobStatus::kQueued), 3);

  auto checkpoint = store_->loadCheckpoint("shop");
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(checkpoint->value_or(""), "12");
  EXPECT_EQ(store_->loadCheckpoint("other")->has_value(), false);
}

TEST_F(SqliteStoreTest, CheckpointAdvancesWithoutJobs) {
  ASSERT_TRUE(store_->enqueue({}, {"shop", "99"}));
  EXPECT_EQ(store_->loadCheckpoint("shop")->value_or(""), "99");
}

TEST_F(SqliteStoreTest, ClaimLeasesDueJobsOfOneLaneOnce) {
  SmsJob later = job("later");
  later.not_before = clock_.now() + seconds(60);
  std::vector<SmsJob> jobs = {job("t1"), job("otp1", Lane::kOtp), later};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));

  auto otp = claim(Lane::kOtp);
  ASSERT_EQ(otp.size(), 1u);
  EXPECT_EQ(otp[0].dedup_key, "otp1");
  EXPECT_EQ(otp[0].status, JobStatus::kSending);
  EXPECT_EQ(otp[0].lease_owner, "me");

  auto tx = claim(Lane::kTransactional);
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(tx[0].dedup_key, "t1");
  EXPECT_TRUE(claim(Lane::kTransactional).empty()) << "a leased job is not claimed twice";

  clock_.advance(seconds(61));
  auto due = claim(Lane::kTransactional);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].dedup_key, "later");
}

TEST_F(SqliteStoreTest, SuppressedJobsAreStoredButNeverClaimed) {
  SmsJob s = job("nophone");
  s.status = JobStatus::kSuppressed;
  s.status_reason = "missing";
  s.recipient.clear();
  std::vector<SmsJob> jobs = {s};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  EXPECT_TRUE(claim(Lane::kTransactional).empty());
  EXPECT_EQ(count(JobStatus::kSuppressed), 1);
}

TEST_F(SqliteStoreTest, OutcomeRecordsAttemptsAndSentStatus) {
  std::vector<SmsJob> jobs = {job("a")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  ASSERT_EQ(claimed.size(), 1u);

  JobOutcome outcome;
  outcome.job_id = claimed[0].id;
  outcome.status = JobStatus::kSent;
  outcome.provider = "sandbox";
  outcome.provider_message_id = "sbx-1";
  AttemptRecord attempt;
  attempt.provider = "sandbox";
  attempt.outcome = "accepted";
  attempt.http_status = 200;
  outcome.attempts = {attempt};
  ASSERT_TRUE(store_->recordOutcome(outcome, "me", clock_.now()).isOk());
  EXPECT_EQ(count(JobStatus::kSent), 1);

  // A second record for the same lease is refused: the job is no longer `sending`.
  EXPECT_EQ(store_->recordOutcome(outcome, "me", clock_.now()).category(),
            ErrorCategory::kTransient);
}

TEST_F(SqliteStoreTest, OutcomesOfARoundAreRecordedTogetherAndALostLeaseStaysApart) {
  std::vector<SmsJob> jobs = {job("a"), job("b")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  ASSERT_EQ(claimed.size(), 2u);
  std::vector<JobOutcome> outcomes(2);
  for (int i = 0; i < 2; ++i) {
    outcomes[i].job_id = claimed[i].id;
    outcomes[i].status = JobStatus::kSent;
    outcomes[i].provider = "sandbox";
    outcomes[i].provider_message_id = "sbx-" + std::to_string(i);
    outcomes[i].attempts.resize(1);
  }
  // The second job's lease moved to another dispatcher in the meantime.
  clock_.advance(seconds(31));
  ASSERT_EQ(*store_->requeueExpiredLeases(clock_.now()), 2);
  auto again = store_->claimDue(Lane::kTransactional, 1, "other", seconds(30), clock_.now());
  ASSERT_EQ(again->size(), 1u);
  std::int64_t stolen = (*again)[0].id;
  auto mine = store_->claimDue(Lane::kTransactional, 1, "me", seconds(30), clock_.now());
  ASSERT_EQ(mine->size(), 1u);

  auto statuses = store_->recordOutcomes(outcomes, "me", clock_.now());
  ASSERT_EQ(statuses.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    if (outcomes[i].job_id == stolen) {
      EXPECT_EQ(statuses[i].category(), ErrorCategory::kTransient) << statuses[i].toString();
    } else {
      EXPECT_TRUE(statuses[i].isOk()) << statuses[i].toString();
    }
  }
  EXPECT_EQ(count(JobStatus::kSent), 1);
  EXPECT_EQ(count(JobStatus::kSending), 1);
}

TEST_F(SqliteStoreTest, RetryRequeuesWithNotBefore) {
  std::vector<SmsJob> jobs = {job("a")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  JobOutcome outcome;
  outcome.job_id = claimed.at(0).id;
  outcome.status = JobStatus::kQueued;
  outcome.not_before = clock_.now() + seconds(10);
  outcome.attempts.resize(1);
  ASSERT_TRUE(store_->recordOutcome(outcome, "me", clock_.now()).isOk());
  EXPECT_TRUE(claim(Lane::kTransactional).empty());
  clock_.advance(seconds(11));
  auto again = claim(Lane::kTransactional);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 1);
}

TEST_F(SqliteStoreTest, DeliveryReportsOnlyMoveForward) {
  std::vector<SmsJob> jobs = {job("a")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  JobOutcome outcome;
  outcome.job_id = claimed.at(0).id;
  outcome.status = JobStatus::kSent;
  outcome.provider = "sandbox";
  outcome.provider_message_id = "sbx-1";
  ASSERT_TRUE(store_->recordOutcome(outcome, "me", clock_.now()).isOk());

  DeliveryReport delivered{.provider = "sandbox",
                           .provider_message_id = "sbx-1",
                           .status = JobStatus::kDelivered,
                           .reason = "",
                           .reported_at = clock_.now()};
  EXPECT_EQ(*store_->applyDeliveryReport(delivered, clock_.now()), ReportEffect::kApplied);
  EXPECT_EQ(*store_->applyDeliveryReport(delivered, clock_.now()), ReportEffect::kNoOp);
  DeliveryReport late_sent{.provider = "sandbox",
                           .provider_message_id = "sbx-1",
                           .status = JobStatus::kSent,
                           .reason = "",
                           .reported_at = clock_.now()};
  EXPECT_EQ(*store_->applyDeliveryReport(late_sent, clock_.now()), ReportEffect::kNoOp);
  DeliveryReport unknown{.provider = "sandbox",
                         .provider_message_id = "sbx-404",
                         .status = JobStatus::kDelivered,
                         .reason = "",
                         .reported_at = clock_.now()};
  EXPECT_EQ(*store_->applyDeliveryReport(unknown, clock_.now()), ReportEffect::kParked);
  DeliveryReport other_provider{.provider = "twilio",
                                .provider_message_id = "sbx-1",
                                .status = JobStatus::kDelivered,
                                .reason = "",
                                .reported_at = clock_.now()};
  EXPECT_EQ(*store_->applyDeliveryReport(other_provider, clock_.now()), ReportEffect::kParked);
  EXPECT_EQ(count(JobStatus::kDelivered), 1);
}

TEST_F(SqliteStoreTest, ExpiredLeasesAreRequeued) {
  std::vector<SmsJob> jobs = {job("a")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  ASSERT_EQ(claim(Lane::kTransactional).size(), 1u);
  EXPECT_EQ(*store_->requeueExpiredLeases(clock_.now()), 0);
  clock_.advance(seconds(31));
  EXPECT_EQ(*store_->requeueExpiredLeases(clock_.now()), 1);
  EXPECT_EQ(claim(Lane::kTransactional).size(), 1u);
}

TEST_F(SqliteStoreTest, LockedDatabaseIsATransientErrorNamingTheFile) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("store.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::vector<SmsJob> jobs = {job("a")};
  auto result = store_->enqueue(jobs, {"shop", "1"});
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().category(), ErrorCategory::kTransient);
  EXPECT_NE(result.error().message().find("store.db"), std::string::npos);
  EXPECT_NE(result.error().message().find("locked"), std::string::npos);
  // Nothing was half-written: the retry succeeds and inserts the job once.
  auto retry = store_->enqueue(jobs, {"shop", "1"});
  ASSERT_TRUE(retry) << retry.error().toString();
  EXPECT_EQ(retry->inserted, 1);
}

TEST_F(SqliteStoreTest, StatusChangesOfWriteBackMappingsAreLoggedWithTheirChange) {
  testing::checkStatusChangeLog(*store_, clock_);
}

TEST_F(SqliteStoreTest, ReportsInBatchesAndParkedReportsLogOneStatusChangeEach) {
  testing::checkReportsLogTheirChanges(*store_, clock_);
}

TEST_F(SqliteStoreTest, NoStatusChangesAreLoggedWithoutWriteBack) {
  testing::checkNoStatusChangesWithoutWriteBack(*store_, clock_);
}

TEST_F(SqliteStoreTest, StatusPollsHandOutSentJobsOncePerInterval) {
  testing::checkClaimStatusPolls(*store_);
}

SMSBRIDGE_STORE_REPORT_CASES(SqliteStoreTest)

TEST_F(SqliteStoreTest, ASchemaOneStoreIsMigratedInPlace) {
  // A store set up by an earlier release: messages without provider_message_id_norm, version 1.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("old.db").c_str(), &db), SQLITE_OK);
  const char* old_schema =
      "CREATE TABLE smsbridge_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL, "
      "migrated_at TEXT NOT NULL);"
      "INSERT INTO smsbridge_schema VALUES ('store', 1, '2026-01-01T00:00:00Z');"
      "CREATE TABLE smsbridge_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, dedup_key TEXT NOT "
      "NULL UNIQUE, source TEXT NOT NULL, mapping TEXT NOT NULL, entity_table TEXT, entity_id "
      "TEXT, recipient_raw TEXT, recipient TEXT, sender TEXT, body TEXT NOT NULL, encoding TEXT "
      "NOT NULL, segments INTEGER NOT NULL, lane TEXT NOT NULL, route TEXT, status TEXT NOT "
      "NULL, status_reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, provider TEXT, "
      "provider_message_id TEXT, price REAL, currency TEXT, not_before TEXT NOT NULL, "
      "expires_at TEXT, lease_owner TEXT, lease_until TEXT, created_at TEXT NOT NULL, "
      "updated_at TEXT NOT NULL, sent_at TEXT, final_at TEXT);"
      "INSERT INTO smsbridge_messages (dedup_key, source, mapping, body, encoding, segments, "
      "lane, status, provider, provider_message_id, not_before, created_at, updated_at) VALUES "
      "('old', 'shop', 'm', 'Hi', 'gsm7', 1, 'transactional', 'sent', 'smsapi', ' OLD-1 ', "
      "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');";
  ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto old = SqliteStore::create(dir_.file("old.db"), "smsbridge_", milliseconds(200));
  ASSERT_TRUE(old);
  EXPECT_FALSE((*old)->checkSchema().isOk());
  ASSERT_TRUE((*old)->migrate().isOk());
  ASSERT_TRUE((*old)->migrate().isOk()) << "a second migration must not add the column again";
  EXPECT_TRUE((*old)->checkSchema().isOk());
  // Ids sent before the upgrade are found by their normalised form too.
  DeliveryReport delivered{.provider = "smsapi",
                           .provider_message_id = "old-1",
                           .status = JobStatus::kDelivered,
                           .reported_at = clock_.now()};
  auto effect = (*old)->applyDeliveryReport(delivered, clock_.now());
  ASSERT_TRUE(effect) << effect.error().toString();
  EXPECT_EQ(*effect, ReportEffect::kApplied);
}

TEST(SqliteStoreOpenTest, CorruptFileIsAClearConfigError) {
  testing::TempDir dir;
  std::ofstream(dir.file("corrupt.db")) << "this is not a database, just some text padding "
                                           "that is long enough to be read as a header.....";
  auto store = SqliteStore::create(dir.file("corrupt.db"), "smsbridge_", milliseconds(100));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(store.error().message().find("corrupt.db"), std::string::npos);
  EXPECT_NE(store.error().message().find("not a SQLite database or is corrupt"), std::string::npos)
      << store.error().message();
}

TEST(SqliteStoreOpenTest, MissingDirectoryIsAClearConfigError) {
  auto store = SqliteStore::create("/nonexistent-dir/x/store.db", "smsbridge_", milliseconds(100));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(store.error().message().find("/nonexistent-dir/x/store.db"), std::string::npos);
}

TEST(SqliteStoreOpenTest, InvalidPrefixIsRejected) {
  testing::TempDir dir;
  auto store = SqliteStore::create(dir.file("s.db"), "bad prefix;", milliseconds(100));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().category(), ErrorCategory::kConfig);
}

TEST_F(SqliteStoreTest, CountsJobsByStatusAndLane) { testing::checkCountByStatusAndLane(*store_); }

}  // namespace
}  // namespace smsbridge::sqlite
