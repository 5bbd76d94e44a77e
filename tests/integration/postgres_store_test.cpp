// PostgresStore against the real PostgreSQL from scripts/test-services.sh. Every test uses its
// own table prefix, so tests are independent and a rerun never meets a leftover.

#include "connectors/postgres/pg_store.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "core/clock.h"
#include "tests/fakes/claim_priority_checks.h"
#include "tests/fakes/status_change_checks.h"
#include "tests/fakes/status_poll_cases.h"
#include "tests/fakes/store_report_cases.h"
#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_PG_DSN(dsn);
    dsn_ = dsn;
    std::random_device random;
    prefix_ = "pgs" + std::to_string(random() % 1'000'000'000) + "_";
    auto store = PostgresStore::create(dsn_, prefix_, seconds(5));
    ASSERT_TRUE(store) << store.error().toString();
    store_ = std::move(*store);
    Status migrated = store_->migrate();
    ASSERT_TRUE(migrated.isOk()) << migrated.toString();
  }

  void TearDown() override {
    if (dsn_.empty()) return;
    store_.reset();
    admin("DROP TABLE IF EXISTS " + prefix_ + "status_changes, " + prefix_ + "attempts, " +
          prefix_ + "messages, " + prefix_ + "checkpoints, " + prefix_ + "shadow, " + prefix_ +
          "optouts, " + prefix_ + "inbound, " + prefix_ + "reports_parked, " + prefix_ + "schema");
    admin("DROP TABLE IF EXISTS " + prefix_ + "status_polls");
  }

  void admin(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    txn.exec("SET client_min_messages = warning");
    txn.exec(sql);
  }

  std::string queryText(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    auto r = txn.exec(sql);
    return r.empty() || r[0][0].is_null() ? "<none>" : r[0][0].c_str();
  }
  JobStore& reportCasesStore() { return *store_; }
  std::string statusOf(std::int64_t id) {
    return queryText("SELECT status FROM " + prefix_ + "messages WHERE id = " + std::to_string(id));
  }
  std::int64_t rowCount(const std::string& table) {
    return std::stoll(queryText("SELECT count(*) FROM " + prefix_ + table));
  }

  std::unique_ptr<PostgresStore> openAnother() {
    auto store = PostgresStore::create(dsn_, prefix_, seconds(5));
    EXPECT_TRUE(store) << store.error().toString();
    return store ? std::move(*store) : nullptr;
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

  std::vector<SmsJob> claim(Lane lane, int limit = 10, const std::string& owner = "me") {
    auto jobs = store_->claimDue(lane, limit, owner, seconds(30), clock_.now());
    EXPECT_TRUE(jobs) << jobs.error().toString();
    return jobs ? *jobs : std::vector<SmsJob>{};
  }

  int count(JobStatus status) {
    auto counts = store_->countByStatus();
    EXPECT_TRUE(counts) << counts.error().toString();
    if (!counts) return -1;
    for (auto& [s, n] : *counts) {
      if (s == status) return n;
    }
    return 0;
  }

  std::string dsn_;
  std::string prefix_;
  ManualClock clock_;
  std::unique_ptr<PostgresStore> store_;
};

TEST_F(PostgresStoreTest, MigrateIsIdempotentAndSchemaChecks) {
  EXPECT_TRUE(store_->migrate().isOk());
  Status s = store_->checkSchema();
  EXPECT_TRUE(s.isOk()) << s.toString();
}

TEST_F(PostgresStoreTest, CheckSchemaTellsToRunSetupOnAFreshDatabase) {
  auto fresh = PostgresStore::create(dsn_, prefix_ + "fresh_", seconds(5));
  ASSERT_TRUE(fresh);
  Status s = (*fresh)->checkSchema();
  EXPECT_EQ(s.category(), ErrorCategory::kConfig);
  EXPECT_NE(s.message().find("do not exist"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("run `smsbridge setup"), std::string::npos) << s.message();
}

TEST_F(PostgresStoreTest, CheckSchemaNamesAnOldOrNewerVersion) {
  admin("UPDATE " + prefix_ + "schema SET version = 0 WHERE component = 'store'");
  Status old = store_->checkSchema();
  EXPECT_EQ(old.category(), ErrorCategory::kConfig);
  EXPECT_NE(old.message().find("is at version 0, this build needs 2; run `smsbridge setup"),
            std::string::npos)
      << old.message();
  admin("UPDATE " + prefix_ + "schema SET version = 3 WHERE component = 'store'");
  Status newer = store_->checkSchema();
  EXPECT_NE(newer.message().find("upgrade smsbridge"), std::string::npos) << newer.message();
  EXPECT_TRUE(store_->migrate().isOk());
  EXPECT_TRUE(store_->checkSchema().isOk());
}

TEST_F(PostgresStoreTest, EnqueueSkipsDuplicateKeysAndSavesCheckpoint) {
  std::vector<SmsJob> jobs = {job("a"), job("b")};
  auto first = store_->enqueue(jobs, {"shop", "10"});
  ASSERT_TRUE(first) << first.error().toString();
  EXPECT_EQ(first->inserted, 2);
  EXPECT_EQ(first->duplicates, 0);
  std::vector<SmsJob> replay = {job("b"), job("c")};
  auto second = store_->enqueue(replay, {"shop", "11"});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->inserted, 1);
  EXPECT_EQ(second->duplicates, 1);
  auto checkpoint = store_->loadCheckpoint("shop");
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(*checkpoint, std::optional<std::string>("11"));
  EXPECT_EQ(count(JobStatus::kQueued), 3);
  auto none = store_->loadCheckpoint("other");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST_F(PostgresStoreTest, ALargeBatchCountsEveryDuplicateAndKeepsBatchOrder) {
  // Enqueue sends a batch as one statement; its counts must still be exact per job: keys
  // stored by an earlier batch, keys repeated inside this batch, and quotes, backslashes and
  // braces in the text must all come through unchanged.
  std::vector<SmsJob> earlier;
  for (int i = 0; i < 2000; i += 10) earlier.push_back(job("k" + std::to_string(i)));
  ASSERT_TRUE(store_->enqueue(earlier, {"shop", "1"}));
  std::vector<SmsJob> batch;
  for (int i = 0; i < 2000; ++i) {
    SmsJob j = job("k" + std::to_string(i));
    j.body = "Order {" + std::to_string(i) + "}: \"quoted\" \\ back\\slash, NULL";
    batch.push_back(std::move(j));
  }
  batch.push_back(job("k5"));     // repeated inside the batch
  batch.push_back(job("k1990"));  // repeated, and stored by the earlier batch
  auto result = store_->enqueue(batch, {"shop", "2"});
  ASSERT_TRUE(result) << result.error().toString();
  EXPECT_EQ(result->inserted, 1800);
  EXPECT_EQ(result->duplicates, 202);
  EXPECT_EQ(*store_->loadCheckpoint("shop"), std::optional<std::string>("2"));
  EXPECT_EQ(count(JobStatus::kQueued), 2000);

  auto claimed = store_->claimDue(Lane::kTransactional, 3000, "me", seconds(30), clock_.now());
  ASSERT_TRUE(claimed) << claimed.error().toString();
  ASSERT_EQ(claimed->size(), 2000u);
  // Ids follow batch order, so equal not_before claims oldest-enqueued first.
  EXPECT_EQ((*claimed)[200].dedup_key, "k1");
  EXPECT_EQ((*claimed)[201].dedup_key, "k2");
  for (const SmsJob& j : *claimed) {
    if (j.dedup_key == "k7") {
      EXPECT_EQ(j.body, "Order {7}: \"quoted\" \\ back\\slash, NULL");
      EXPECT_EQ(j.recipient_raw, "600 700 800");
      EXPECT_FALSE(j.expires_at.has_value());
    }
    if (j.dedup_key == "k5") {
      EXPECT_EQ(j.body, "Order {5}: \"quoted\" \\ back\\slash, NULL");
    }
  }
}

TEST_F(PostgresStoreTest, AnEmptyBatchStillSavesTheCheckpoint) {
  // A batch whose changes were all filtered out must still move the position (DESIGN §2.2).
  auto result = store_->enqueue({}, {"shop", "0/16B3748"});
  ASSERT_TRUE(result) << result.error().toString();
  EXPECT_EQ(result->inserted, 0);
  EXPECT_EQ(result->duplicates, 0);
  EXPECT_EQ(*store_->loadCheckpoint("shop"), std::optional<std::string>("0/16B3748"));
}

TEST_F(PostgresStoreTest, ShadowRowsNamedTwiceInABatchKeepTheLastState) {
  // Poll pages may name a row twice; the shadow is one upsert per batch, and the row's last
  // state in the page must win, or the next page would see a change that was already mapped.
  Checkpoint first{
      "shop", "w1", {{"orders", "1", R"({"s":"a"})"}, {"orders", "2", R"({"s":"x"})"}}};
  ASSERT_TRUE(store_->enqueue({}, first));
  Checkpoint second{"shop",
                    "w2",
                    {{"orders", "1", R"({"s":"b"})"},
                     {"orders", "3", R"({"s":"\"q\"{}"})"},
                     {"orders", "1", R"({"s":"c"})"}}};
  ASSERT_TRUE(store_->enqueue({}, second));
  std::vector<std::string> pks = {"1", "2", "3"};
  auto states = store_->loadShadow("shop", "orders", pks);
  ASSERT_TRUE(states) << states.error().toString();
  EXPECT_EQ(*states,
            (std::map<std::string, std::string>{
                {"1", R"({"s":"c"})"}, {"2", R"({"s":"x"})"}, {"3", R"({"s":"\"q\"{}"})"}}));
  EXPECT_EQ(*store_->loadCheckpoint("shop"), std::optional<std::string>("w2"));
}

TEST_F(PostgresStoreTest, AFailedEnqueueKeepsNeitherJobsNorCheckpoint) {
  std::vector<SmsJob> first = {job("a")};
  ASSERT_TRUE(store_->enqueue(first, {"shop", "10"}));
  SmsJob bad = job("bad");
  bad.body = "\xff\xfe not UTF-8";  // the server refuses it: the second insert fails
  std::vector<SmsJob> jobs = {job("b"), bad};
  auto result = store_->enqueue(jobs, {"shop", "20"});
  ASSERT_FALSE(result);
  EXPECT_EQ(*store_->loadCheckpoint("shop"), std::optional<std::string>("10"));
  EXPECT_EQ(count(JobStatus::kQueued), 1);  // "b" was rolled back with the failure
  // The store is usable after the failed transaction.
  std::vector<SmsJob> retry = {job("b")};
  auto ok = store_->enqueue(retry, {"shop", "20"});
  ASSERT_TRUE(ok) << ok.error().toString();
  EXPECT_EQ(ok->inserted, 1);
}

TEST_F(PostgresStoreTest, ClaimTakesDueJobsOfOneLaneOldestFirst) {
  SmsJob later = job("later");
  later.not_before = clock_.now() - seconds(10);
  SmsJob earlier = job("earlier");
  earlier.not_before = clock_.now() - seconds(60);
  SmsJob future = job("future");
  future.not_before = clock_.now() + seconds(60);
  future.status = JobStatus::kScheduled;
  SmsJob otp = job("otp", Lane::kOtp);
  std::vector<SmsJob> jobs = {later, earlier, future, otp};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));

  auto claimed = claim(Lane::kTransactional);
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].dedup_key, "earlier");
  EXPECT_EQ(claimed[1].dedup_key, "later");
  EXPECT_EQ(claimed[0].status, JobStatus::kSending);
  EXPECT_EQ(claimed[0].lease_owner, "me");
  ASSERT_TRUE(claimed[0].lease_until.has_value());
  EXPECT_EQ(*claimed[0].lease_until, clock_.now() + seconds(30));
  EXPECT_EQ(claimed[0].not_before, earlier.not_before);
  EXPECT_EQ(claimed[0].body, "Hello");
  EXPECT_EQ(claimed[0].recipient, "+48600700800");
  EXPECT_TRUE(claim(Lane::kTransactional).empty());  // leased jobs are not claimed again

  clock_.advance(seconds(61));
  auto due_now = claim(Lane::kTransactional);
  ASSERT_EQ(due_now.size(), 1u);
  EXPECT_EQ(due_now[0].dedup_key, "future");
  auto otp_claimed = claim(Lane::kOtp);
  ASSERT_EQ(otp_claimed.size(), 1u);
  EXPECT_EQ(otp_claimed[0].lane, Lane::kOtp);
}

TEST_F(PostgresStoreTest, ClaimByPriorityTakesLanesInStrictOrder) {
  testing::checkClaimByPriority(*store_, clock_.now());
}

TEST_F(PostgresStoreTest, ClaimByPrioritySuppressesOptedOutMarketing) {
  testing::checkClaimByPrioritySuppressesOptOuts(*store_, clock_.now());
}

TEST_F(PostgresStoreTest, ParkedReportsApplyWhenTheirSendResultIsRecorded) {
  std::vector<SmsJob> jobs = {job("parked"), job("plain")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  ASSERT_EQ(claimed.size(), 2u);
  // The report races ahead of its send result: kept until the result names its id.
  DeliveryReport report;
  report.provider = "smsapi";
  report.provider_message_id = "pm-parked";
  report.status = JobStatus::kDelivered;
  report.reported_at = clock_.now();
  auto effect = store_->applyDeliveryReport(report, clock_.now());
  ASSERT_TRUE(effect) << effect.error().toString();
  ASSERT_EQ(*effect, ReportEffect::kParked);

  std::vector<JobOutcome> outcomes(2);
  for (std::size_t i = 0; i < 2; ++i) {
    outcomes[i].job_id = claimed[i].id;
    outcomes[i].status = JobStatus::kSent;
    outcomes[i].provider = "smsapi";
    outcomes[i].provider_message_id = "pm-" + claimed[i].dedup_key;
  }
  for (const Status& s : store_->recordOutcomes(outcomes, "me", clock_.now())) {
    EXPECT_TRUE(s.isOk()) << s.toString();
  }
  for (const SmsJob& j : claimed) {
    EXPECT_EQ(statusOf(j.id), j.dedup_key == "parked" ? "delivered" : "sent") << j.dedup_key;
  }
  EXPECT_EQ(rowCount("reports_parked"), 0);
}

TEST_F(PostgresStoreTest, TwoConcurrentClaimersNeverClaimTheSameJob) {
  constexpr int kJobs = 300;
  std::vector<SmsJob> jobs;
  for (int i = 0; i < kJobs; ++i) jobs.push_back(job("job-" + std::to_string(i)));
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto other = openAnother();
  ASSERT_TRUE(other);

  auto drain = [&](JobStore& store, const std::string& owner, std::vector<std::int64_t>& ids,
                   bool& failed) {
    while (true) {
      auto batch = store.claimDue(Lane::kTransactional, 7, owner, seconds(30), clock_.now());
      if (!batch) {
        failed = true;
        return;
      }
      // SKIP LOCKED: an empty batch means every remaining job is being claimed by the other.
      if (batch->empty()) return;
      for (const auto& j : *batch) ids.push_back(j.id);
    }
  };
  std::vector<std::int64_t> mine, theirs;
  bool mine_failed = false, theirs_failed = false;
  std::thread a([&] { drain(*store_, "a", mine, mine_failed); });
  std::thread b([&] { drain(*other, "b", theirs, theirs_failed); });
  a.join();
  b.join();
  ASSERT_FALSE(mine_failed);
  ASSERT_FALSE(theirs_failed);
  std::set<std::int64_t> all(mine.begin(), mine.end());
  for (std::int64_t id : theirs) {
    EXPECT_TRUE(all.insert(id).second) << "job " << id << " was claimed by both";
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(mine.size() + theirs.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(count(JobStatus::kSending), kJobs);
}

TEST_F(PostgresStoreTest, OutcomeThenReportsMoveOnlyForward) {
  std::vector<SmsJob> jobs = {job("a")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  ASSERT_EQ(claimed.size(), 1u);

  JobOutcome outcome;
  outcome.job_id = claimed[0].id;
  outcome.status = JobStatus::kSent;
  outcome.provider = "smsapi";
  outcome.provider_message_id = "m-1";
  outcome.price = 0.165;
  outcome.currency = "PLN";
  AttemptRecord attempt;
  attempt.job_id = claimed[0].id;
  attempt.provider = "smsapi";
  attempt.outcome = "accepted";
  attempt.http_status = 200;
  attempt.started_at = clock_.now();
  attempt.finished_at = clock_.now();
  outcome.attempts = {attempt};
  EXPECT_EQ(store_->recordOutcome(outcome, "someone-else", clock_.now()).category(),
            ErrorCategory::kTransient);
  Status recorded = store_->recordOutcome(outcome, "me", clock_.now());
  ASSERT_TRUE(recorded.isOk()) << recorded.toString();
  EXPECT_EQ(count(JobStatus::kSent), 1);

  DeliveryReport delivered{.provider = "smsapi",
                           .provider_message_id = "m-1",
                           .status = JobStatus::kDelivered,
                           .reason = "DELIVRD",
                           .reported_at = clock_.now()};
  DeliveryReport late_sent{.provider = "smsapi",
                           .provider_message_id = "m-1",
                           .status = JobStatus::kSent,
                           .reason = "",
                           .reported_at = clock_.now()};
  DeliveryReport unknown{.provider = "smsapi",
                         .provider_message_id = "m-404",
                         .status = JobStatus::kDelivered,
                         .reason = "",
                         .reported_at = clock_.now()};
  EXPECT_EQ(*store_->applyDeliveryReport(delivered, clock_.now()), ReportEffect::kApplied);
  EXPECT_EQ(*store_->applyDeliveryReport(late_sent, clock_.now()), ReportEffect::kNoOp);
  EXPECT_EQ(*store_->applyDeliveryReport(delivered, clock_.now()), ReportEffect::kNoOp);
  EXPECT_EQ(*store_->applyDeliveryReport(unknown, clock_.now()), ReportEffect::kParked);
  EXPECT_EQ(count(JobStatus::kDelivered), 1);
  EXPECT_EQ(count(JobStatus::kSent), 0);

  pqxx::connection conn(dsn_);
  pqxx::work txn(conn);
  auto row = txn.exec1(
      "SELECT m.price, m.currency, m.attempts, m.sent_at IS NOT NULL, "
      "m.final_at IS NOT NULL, m.status_reason, (SELECT count(*) FROM " +
      prefix_ + "attempts a WHERE a.message_id = m.id) FROM " + prefix_ + "messages m");
  EXPECT_DOUBLE_EQ(row[0].as<double>(), 0.165);
  EXPECT_EQ(row[1].as<std::string>(), "PLN");
  EXPECT_EQ(row[2].as<int>(), 1);
  EXPECT_TRUE(row[3].as<bool>());
  EXPECT_TRUE(row[4].as<bool>());
  EXPECT_EQ(row[5].as<std::string>(), "DELIVRD");
  EXPECT_EQ(row[6].as<int>(), 2);  // the lost-lease call's attempt is kept as an audit record
}

TEST_F(PostgresStoreTest, OutcomesOfARoundAreRecordedTogetherButALostLeaseOnlyFailsItsOwn) {
  std::vector<SmsJob> jobs = {job("a"), job("b"), job("c")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  ASSERT_EQ(claimed.size(), 3u);
  std::vector<JobOutcome> outcomes(3);
  for (std::size_t i = 0; i < 3; ++i) {
    outcomes[i].job_id = claimed[i].id;
    outcomes[i].status = JobStatus::kSent;
    outcomes[i].provider = "smsapi";
    outcomes[i].provider_message_id = "m-" + std::to_string(i);
    outcomes[i].attempts.resize(1);
    outcomes[i].attempts[0].provider = "smsapi";
    outcomes[i].attempts[0].outcome = "accepted";
    // Values reach the server as escaped literals: quotes and backslashes must arrive intact.
    outcomes[i].attempts[0].error_message = "it's \"quoted\" \\ ');--";
  }
  // One job's lease moved to another dispatcher in the meantime.
  clock_.advance(seconds(31));
  ASSERT_EQ(*store_->requeueExpiredLeases(clock_.now()), 3);
  auto stolen = claim(Lane::kTransactional, 1, "other");
  ASSERT_EQ(stolen.size(), 1u);
  ASSERT_EQ(claim(Lane::kTransactional, 2, "me").size(), 2u);

  auto statuses = store_->recordOutcomes(outcomes, "me", clock_.now());
  ASSERT_EQ(statuses.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    if (outcomes[i].job_id == stolen[0].id) {
      EXPECT_EQ(statuses[i].category(), ErrorCategory::kTransient) << statuses[i].toString();
    } else {
      EXPECT_TRUE(statuses[i].isOk()) << statuses[i].toString();
    }
  }
  EXPECT_EQ(count(JobStatus::kSent), 2);
  EXPECT_EQ(count(JobStatus::kSending), 1);
  pqxx::connection conn(dsn_);
  pqxx::work txn(conn);
  // Every attempt is kept, the lost-lease one too: it is the audit trail of what was sent.
  EXPECT_EQ(txn.exec1("SELECT count(*) FROM " + prefix_ + "attempts WHERE error_message = " +
                      txn.quote(outcomes[0].attempts[0].error_message))[0]
                .as<int>(),
            3);
  EXPECT_EQ(txn.exec1("SELECT count(*) FROM " + prefix_ +
                      "messages WHERE provider_message_id LIKE 'm-%' AND sent_at IS NOT NULL AND "
                      "final_at IS NULL AND attempts = 1")[0]
                .as<int>(),
            2);
}

TEST_F(PostgresStoreTest, ARetryGoesBackToQueuedUntilItsTime) {
  std::vector<SmsJob> jobs = {job("a")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  auto claimed = claim(Lane::kTransactional);
  ASSERT_EQ(claimed.size(), 1u);
  JobOutcome retry;
  retry.job_id = claimed[0].id;
  retry.status = JobStatus::kQueued;
  retry.not_before = clock_.now() + seconds(20);
  ASSERT_TRUE(store_->recordOutcome(retry, "me", clock_.now()).isOk());
  EXPECT_TRUE(claim(Lane::kTransactional).empty());
  clock_.advance(seconds(20));
  EXPECT_EQ(claim(Lane::kTransactional).size(), 1u);
}

TEST_F(PostgresStoreTest, ExpiredLeasesAreRequeued) {
  std::vector<SmsJob> jobs = {job("a")};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  ASSERT_EQ(claim(Lane::kTransactional).size(), 1u);
  auto early = store_->requeueExpiredLeases(clock_.now() + seconds(10));
  ASSERT_TRUE(early);
  EXPECT_EQ(*early, 0);
  auto expired = store_->requeueExpiredLeases(clock_.now() + seconds(31));
  ASSERT_TRUE(expired) << expired.error().toString();
  EXPECT_EQ(*expired, 1);
  EXPECT_EQ(count(JobStatus::kQueued), 1);
  auto again = claim(Lane::kTransactional);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].status_reason, "in_doubt: lease expired, resending");
}

TEST_F(PostgresStoreTest, InDoubtJobsOfHoldRoutesAreFailedNotResent) {
  SmsJob held = job("a");
  SmsJob resent = job("b");
  resent.route = "other";
  std::vector<SmsJob> jobs = {held, resent};
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  ASSERT_EQ(claim(Lane::kTransactional).size(), 2u);
  const std::vector<std::string> hold = {"default"};
  auto early = store_->holdExpiredLeases(clock_.now() + seconds(10), hold);
  ASSERT_TRUE(early) << early.error().toString();
  EXPECT_EQ(*early, 0);
  auto n = store_->holdExpiredLeases(clock_.now() + seconds(31), hold);
  ASSERT_TRUE(n) << n.error().toString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(*store_->requeueExpiredLeases(clock_.now() + seconds(31)), 1);
  EXPECT_EQ(count(JobStatus::kFailed), 1);
  EXPECT_EQ(count(JobStatus::kQueued), 1);
}

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerDropsTheConnection) {
  std::string tagged = dsn_ + (dsn_.find('?') == std::string::npos ? "?" : "&") +
                       "application_name=" + prefix_ + "victim";
  auto store = PostgresStore::create(tagged, prefix_, seconds(5));
  ASSERT_TRUE(store) << store.error().toString();
  ASSERT_TRUE((*store)->countByStatus());
  admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
        prefix_ + "victim'");
  auto first = (*store)->countByStatus();
  if (!first) {
    EXPECT_EQ(first.error().category(), ErrorCategory::kTransient);
  }
  auto second = (*store)->countByStatus();
  EXPECT_TRUE(second) << second.error().toString();
}

TEST_F(PostgresStoreTest, StatusChangesOfWriteBackMappingsAreLoggedWithTheirChange) {
  ManualClock clock;
  testing::checkStatusChangeLog(*store_, clock);
}

TEST_F(PostgresStoreTest, ReportsInBatchesAndParkedReportsLogOneStatusChangeEach) {
  ManualClock clock;
  testing::checkReportsLogTheirChanges(*store_, clock);
}

TEST_F(PostgresStoreTest, NoStatusChangesAreLoggedWithoutWriteBack) {
  ManualClock clock;
  testing::checkNoStatusChangesWithoutWriteBack(*store_, clock);
}

SMSBRIDGE_STORE_REPORT_CASES(PostgresStoreTest)

TEST_F(PostgresStoreTest, ASchemaOneStoreIsMigratedInPlace) {
  // As an earlier release left it: no provider_message_id_norm, no parked reports, version 1.
  admin("DROP TABLE " + prefix_ + "reports_parked");
  admin("DROP INDEX " + prefix_ + "messages_provider_norm");
  admin("ALTER TABLE " + prefix_ + "messages DROP COLUMN provider_message_id_norm");
  admin("UPDATE " + prefix_ + "schema SET version = 1");
  admin("INSERT INTO " + prefix_ +
        "messages (dedup_key, source, mapping, body, encoding, segments, lane, status, provider, "
        "provider_message_id, not_before, created_at, updated_at) VALUES ('old', 'shop', 'm', "
        "'Hi', 'gsm7', 1, 'transactional', 'sent', 'smsapi', ' OLD-1 ', now(), now(), now())");
  EXPECT_EQ(store_->checkSchema().category(), ErrorCategory::kConfig);
  Status migrated = store_->migrate();
  ASSERT_TRUE(migrated.isOk()) << migrated.toString();
  EXPECT_TRUE(store_->checkSchema().isOk());
  DeliveryReport delivered{.provider = "smsapi",
                           .provider_message_id = "old-1",
                           .status = JobStatus::kDelivered,
                           .reported_at = clock_.now()};
  auto effect = store_->applyDeliveryReport(delivered, clock_.now());
  ASSERT_TRUE(effect) << effect.error().toString();
  EXPECT_EQ(*effect, ReportEffect::kApplied);
}

TEST(PostgresConnectionTest, WrongPasswordIsAConfigErrorNamingTheServer) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  auto at = dsn.find(":smsbridge@");
  ASSERT_NE(at, std::string::npos) << "the test expects the DSN test-services.sh writes";
  std::string wrong = dsn;
  wrong.replace(at, 11, ":wrong-password@");
  auto store = PostgresStore::create(wrong, "smsbridge_", seconds(5));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(store.error().message().find("PostgreSQL at 127.0.0.1"), std::string::npos)
      << store.error().message();
  EXPECT_EQ(store.error().message().find("wrong-password"), std::string::npos)
      << "the password leaked: " << store.error().message();
}

TEST(PostgresConnectionTest, UnreachableServerIsTransient) {
  auto store = PostgresStore::create("postgresql://u:p@127.0.0.1:1/db", "smsbridge_", seconds(2));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().category(), ErrorCategory::kTransient) << store.error().toString();
}

TEST(PostgresConnectionTest, MissingDatabaseIsAConfigError) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  auto slash = dsn.rfind('/');
  auto store =
      PostgresStore::create(dsn.substr(0, slash) + "/no_such_db_here", "smsbridge_", seconds(5));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().category(), ErrorCategory::kConfig) << store.error().toString();
}

TEST_F(PostgresStoreTest, StatusPollsHandOutSentJobsOncePerInterval) {
  testing::checkClaimStatusPolls(*store_);
}

TEST_F(PostgresStoreTest, CountsJobsByStatusAndLane) {
  testing::checkCountByStatusAndLane(*store_);
}

}  // namespace
}  // namespace smsbridge::postgres
