// MysqlStore and the Connector/C connection layer against the real MariaDB of
// scripts/test-services.sh. Every test works on tables with its own random prefix, so tests are
// independent of each other and of earlier runs, and drops them at the end.

#include "connectors/mysql/mysql_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <map>

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_connection.h"
#include "tests/fakes/status_change_checks.h"
#include "tests/fakes/status_poll_cases.h"
#include "tests/fakes/store_report_cases.h"
#include "tests/integration/test_env.h"

namespace smsbridge::mysql {
namespace {

using std::chrono::seconds;

std::string uniquePrefix() {
  static const char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out = "sbt";
  for (int i = 0; i < 8; ++i) out += kHex[rd() % 16];
  return out + "_";
}

const TimePoint kNow = TimePoint(seconds(1'800'000'000));

SmsJob job(const std::string& key, Lane lane = Lane::kTransactional) {
  SmsJob j;
  j.dedup_key = key;
  j.source = "shop";
  j.mapping = "order_completed";
  j.entity_table = "orders";
  j.entity_id = key;
  j.recipient_raw = "600 100 200";
  j.recipient = "+48600100200";
  j.sender = "Shop";
  j.body = "Cześć Łukasz, zamówienie gotowe 😀";
  j.encoding = Encoding::kUcs2;
  j.segments = 1;
  j.lane = lane;
  j.route = "default";
  j.status = JobStatus::kQueued;
  j.not_before = kNow - seconds(60);
  j.created_at = kNow - seconds(60);
  return j;
}

class MysqlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
    auto options = parseDsn(dsn);
    ASSERT_TRUE(options) << options.error().toString();
    options_ = *options;
    auto admin = Connection::connect(options_);
    ASSERT_TRUE(admin) << admin.error().toString();
    admin_ = std::move(*admin);
    store_ = newStore();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    if (!admin_) return;
    // Children first: attempts references messages.
    for (const char* name : {"attempts", "status_changes", "messages", "checkpoints", "shadow",
                             "optouts", "inbound", "reports_parked", "schema"}) {
      (void)admin_->exec("DROP TABLE IF EXISTS `" + prefix_ + name + "`");
    }
    (void)admin_->exec("DROP TABLE IF EXISTS `" + prefix_ + "status_polls`");
  }

  std::unique_ptr<MysqlStore> newStore() {
    auto store = MysqlStore::create(options_, prefix_);
    EXPECT_TRUE(store) << store.error().toString();
    return store ? std::move(*store) : nullptr;
  }

  std::int64_t count(const std::string& sql) {
    auto rows = admin_->query(sql);
    EXPECT_TRUE(rows) << rows.error().toString();
    if (!rows || rows->empty()) return -1;
    return std::stoll(rows->at(0).at(0).value_or("-1"));
  }

  // The fixture leaves the tables to each test (some need them missing).
  JobStore& reportCasesStore() {
    Status migrated = store_->migrate();
    EXPECT_TRUE(migrated.isOk()) << migrated.toString();
    return *store_;
  }
  std::string statusOf(std::int64_t id) {
    auto rows = admin_->query("SELECT status FROM `" + prefix_ +
                              "messages` WHERE id = " + std::to_string(id));
    EXPECT_TRUE(rows) << rows.error().toString();
    if (!rows || rows->empty()) return "<none>";
    return rows->at(0).at(0).value_or("<null>");
  }
  std::int64_t rowCount(const std::string& table) {
    return count("SELECT COUNT(*) FROM `" + prefix_ + table + "`");
  }

  std::string prefix_ = uniquePrefix();
  ConnectionOptions options_;
  std::unique_ptr<Connection> admin_;
  std::unique_ptr<MysqlStore> store_;
};

TEST(MysqlDsnTest, ParsesUrlAndKeyValueForms) {
  auto url = parseDsn("mysql://shop%40x:p%3Ass@db.local:3307/wp_shop");
  ASSERT_TRUE(url) << url.error().toString();
  EXPECT_EQ(url->user, "shop@x");
  EXPECT_EQ(url->password, "p:ss");
  EXPECT_EQ(url->host, "db.local");
  EXPECT_EQ(url->port, 3307u);
  EXPECT_EQ(url->database, "wp_shop");
  EXPECT_EQ(url->describe(), "shop@x@db.local:3307/wp_shop");

  auto kv = parseDsn("host=10.0.0.5 user=bridge password=s3cret dbname=erp");
  ASSERT_TRUE(kv) << kv.error().toString();
  EXPECT_EQ(kv->host, "10.0.0.5");
  EXPECT_EQ(kv->port, 3306u);
  EXPECT_EQ(kv->user, "bridge");
  EXPECT_EQ(kv->database, "erp");

  auto no_db = parseDsn("mysql://u:secretpw@host:3306");
  ASSERT_FALSE(no_db);
  EXPECT_EQ(no_db.error().category(), ErrorCategory::kConfig);
  EXPECT_EQ(no_db.error().message().find("secretpw"), std::string::npos);
  EXPECT_FALSE(parseDsn("mysql://u@host:99999/db"));
  EXPECT_FALSE(parseDsn("postgresql://u@host/db"));
  EXPECT_FALSE(parseDsn("host=x colour=blue dbname=y"));
}

TEST_F(MysqlStoreTest, WrongPasswordIsAConfigErrorNamingTheServer) {
  ConnectionOptions bad = options_;
  bad.password = "definitely-wrong";
  auto conn = Connection::connect(bad);
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().category(), ErrorCategory::kConfig) << conn.error().toString();
  EXPECT_NE(conn.error().message().find(bad.host), std::string::npos);
  EXPECT_NE(conn.error().message().find("check the user and password"), std::string::npos);
  EXPECT_EQ(conn.error().message().find("definitely-wrong"), std::string::npos);
}

TEST_F(MysqlStoreTest, MissingTablesAreAConfigErrorAskingForSetup) {
  auto rows = admin_->query("SELECT * FROM `" + prefix_ + "nothing_here`");
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(rows.error().message().find("smsbridge setup"), std::string::npos);

  Status before = store_->checkSchema();
  ASSERT_FALSE(before.isOk());
  EXPECT_EQ(before.category(), ErrorCategory::kConfig);
  EXPECT_NE(before.message().find("do not exist"), std::string::npos) << before.message();
  EXPECT_NE(before.message().find("run `smsbridge setup -c <config>` first"), std::string::npos);
  auto enqueue = store_->enqueue(std::vector<SmsJob>{job("k1")}, {"shop", "1"});
  ASSERT_FALSE(enqueue);
  EXPECT_EQ(enqueue.error().category(), ErrorCategory::kConfig);
}

TEST_F(MysqlStoreTest, MigrateIsIdempotentAndCheckSchemaReportsTheVersion) {
  ASSERT_TRUE(store_->migrate().isOk());
  ASSERT_TRUE(store_->migrate().isOk());
  EXPECT_TRUE(store_->checkSchema().isOk());

  ASSERT_TRUE(admin_->exec("UPDATE `" + prefix_ + "schema` SET version = 0").isOk());
  Status old = store_->checkSchema();
  ASSERT_FALSE(old.isOk());
  EXPECT_EQ(old.category(), ErrorCategory::kConfig);
  EXPECT_NE(old.message().find("is at version 0, this build needs 2; run `smsbridge setup"),
            std::string::npos)
      << old.message();

  ASSERT_TRUE(admin_->exec("UPDATE `" + prefix_ + "schema` SET version = 3").isOk());
  Status newer = store_->checkSchema();
  ASSERT_FALSE(newer.isOk());
  EXPECT_NE(newer.message().find("upgrade smsbridge"), std::string::npos) << newer.message();

  ASSERT_TRUE(store_->migrate().isOk());
  EXPECT_TRUE(store_->checkSchema().isOk());
  EXPECT_FALSE(store_->migrationSql().empty());
}

TEST_F(MysqlStoreTest, EnqueueSkipsDuplicatesAndSavesTheCheckpointWithTheJobs) {
  ASSERT_TRUE(store_->migrate().isOk());
  auto first = store_->enqueue(std::vector<SmsJob>{job("a"), job("b")}, {"shop", "10"});
  ASSERT_TRUE(first) << first.error().toString();
  EXPECT_EQ(first->inserted, 2);
  EXPECT_EQ(first->duplicates, 0);

  auto replay = store_->enqueue(std::vector<SmsJob>{job("a"), job("b"), job("c")}, {"shop", "20"});
  ASSERT_TRUE(replay) << replay.error().toString();
  EXPECT_EQ(replay->inserted, 1);
  EXPECT_EQ(replay->duplicates, 2);
  auto checkpoint = store_->loadCheckpoint("shop");
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(*checkpoint, std::optional<std::string>("20"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM `" + prefix_ + "messages`"), 3);

  // A batch that fails half-way leaves neither its first job nor its checkpoint behind.
  SmsJob too_long = job(std::string(300, 'x'));
  auto failed = store_->enqueue(std::vector<SmsJob>{job("d"), too_long}, {"shop", "30"});
  ASSERT_FALSE(failed);
  checkpoint = store_->loadCheckpoint("shop");
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(*checkpoint, std::optional<std::string>("20"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM `" + prefix_ + "messages`"), 3);

  auto none = store_->loadCheckpoint("other");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

// A capture batch goes in as a few multi-row INSERTs; every job of it must come out as if it
// had been inserted alone: a key repeated inside the batch once, ids in batch order, the jobs of
// write-back mappings logged, opted-out recipients of marketing suppressed.
TEST_F(MysqlStoreTest, ALargeBatchIsStoredJobByJobInOrder) {
  ASSERT_TRUE(store_->migrate().isOk());
  store_->setWriteBackMappings({"order_logged"});
  ASSERT_TRUE(store_->setOptOut("+48600999999", true, "STOP", kNow).isOk());
  std::vector<SmsJob> jobs;
  for (int i = 0; i < 250; ++i) jobs.push_back(job("k" + std::to_string(1000 + i)));
  jobs[120].mapping = "order_logged";
  jobs[180] = job("k1010");  // the same key as an earlier job of this batch
  jobs[200].lane = Lane::kMarketing;
  jobs[200].recipient = "+48600999999";
  auto first = store_->enqueue(jobs, {"shop", "1"});
  ASSERT_TRUE(first) << first.error().toString();
  EXPECT_EQ(first->inserted, 249);
  EXPECT_EQ(first->duplicates, 1);

  auto keys = admin_->query("SELECT dedup_key FROM `" + prefix_ + "messages` ORDER BY id");
  ASSERT_TRUE(keys) << keys.error().toString();
  std::vector<std::string> expected;
  for (const SmsJob& j : jobs) {
    if (std::find(expected.begin(), expected.end(), j.dedup_key) == expected.end()) {
      expected.push_back(j.dedup_key);
    }
  }
  std::vector<std::string> stored;
  for (const auto& row : *keys) stored.push_back(row.at(0).value_or(""));
  EXPECT_EQ(stored, expected);
  EXPECT_EQ(rowCount("status_changes"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM `" + prefix_ +
                  "messages` WHERE status = 'suppressed' AND dedup_key = 'k1200'"),
            1);

  auto replay = store_->enqueue(jobs, {"shop", "2"});
  ASSERT_TRUE(replay) << replay.error().toString();
  EXPECT_EQ(replay->inserted, 0);
  EXPECT_EQ(replay->duplicates, 250);
  EXPECT_EQ(rowCount("messages"), 249);
  EXPECT_EQ(rowCount("status_changes"), 1);
}

TEST_F(MysqlStoreTest, CheckpointSavedAtIsWhenTheLastBatchCommitted) {
  ASSERT_TRUE(store_->migrate().isOk());
  auto none = store_->checkpointSavedAt("shop");
  ASSERT_TRUE(none) << none.error().toString();
  EXPECT_FALSE(none->has_value());

  // Saved times are UTC_TIMESTAMP(3) on the server, which runs on this machine's clock.
  const TimePoint before = std::chrono::system_clock::now() - seconds(1);
  ASSERT_TRUE(store_->enqueue(std::vector<SmsJob>{}, {"shop", "binlog.000007:1234"}));
  const TimePoint after = std::chrono::system_clock::now() + seconds(1);
  auto saved = store_->checkpointSavedAt("shop");
  ASSERT_TRUE(saved) << saved.error().toString();
  ASSERT_TRUE(saved->has_value());
  EXPECT_GE(**saved, before);
  EXPECT_LE(**saved, after);
  ASSERT_TRUE(admin_
                  ->exec("UPDATE `" + prefix_ +
                         "checkpoints` SET updated_at = UTC_TIMESTAMP(3) - INTERVAL 3 DAY")
                  .isOk());
  auto old = store_->checkpointSavedAt("shop");
  ASSERT_TRUE(old && old->has_value());
  EXPECT_LT(**old, before - std::chrono::hours(70));
}

// The fallback for servers without SKIP LOCKED, forced on the test server that has it: one
// store at a time claims, the other stands by until the first one's connection ends.
TEST_F(MysqlStoreTest, WithoutSkipLockedOneStoreAtATimeDispatches) {
  EXPECT_EQ(store_->claimLocking(), ClaimLocking::kSkipLocked)
      << "the test server is MariaDB 10.11";
  ASSERT_TRUE(store_->migrate().isOk());
  ASSERT_TRUE(store_->enqueue(std::vector<SmsJob>{job("a"), job("b"), job("c")}, {"shop", "1"}));
  store_->forceClaimLocking(ClaimLocking::kSingleDispatcher);
  auto standby = newStore();
  ASSERT_NE(standby, nullptr);
  standby->forceClaimLocking(ClaimLocking::kSingleDispatcher);

  auto first = store_->claimDue(Lane::kTransactional, 1, "w1", seconds(30), kNow);
  ASSERT_TRUE(first) << first.error().toString();
  EXPECT_EQ(first->size(), 1u);
  auto waiting = standby->claimDue(Lane::kTransactional, 10, "w2", seconds(30), kNow);
  ASSERT_TRUE(waiting) << waiting.error().toString();
  EXPECT_TRUE(waiting->empty()) << "a second dispatcher claimed beside the first";
  StatusPollQuery polls;
  polls.provider = "sandbox";
  polls.sent_from = kNow - std::chrono::hours(24);
  polls.sent_until = kNow;
  polls.limit = 10;
  auto no_polls = standby->claimStatusPolls(polls, kNow);
  ASSERT_TRUE(no_polls) << no_polls.error().toString();
  EXPECT_TRUE(no_polls->empty());
  auto again = store_->claimDue(Lane::kTransactional, 1, "w1", seconds(30), kNow);
  ASSERT_TRUE(again) << again.error().toString();
  EXPECT_EQ(again->size(), 1u) << "the holder keeps dispatching";

  // The dispatcher's process ends (its connection with it): the standby takes over once the
  // server has closed that session, which happens after the client hung up.
  store_.reset();
  Result<std::vector<SmsJob>> taken_over = std::vector<SmsJob>{};
  for (int i = 0; i < 200 && taken_over && taken_over->empty(); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    taken_over = standby->claimDue(Lane::kTransactional, 10, "w2", seconds(30), kNow);
  }
  ASSERT_TRUE(taken_over) << taken_over.error().toString();
  ASSERT_EQ(taken_over->size(), 1u);
  EXPECT_EQ(taken_over->front().dedup_key, "c");
  store_ = std::move(standby);  // TearDown drops the tables
}

TEST_F(MysqlStoreTest, ClaimLeasesDueJobsOfOneLaneAndKeepsUtf8mb4Text) {
  ASSERT_TRUE(store_->migrate().isOk());
  SmsJob later = job("later");
  later.status = JobStatus::kScheduled;
  later.not_before = kNow + seconds(3600);
  SmsJob price = job("priced");
  ASSERT_TRUE(
      store_->enqueue(std::vector<SmsJob>{job("otp", Lane::kOtp), price, later}, {"shop", "1"}));

  auto claimed = store_->claimDue(Lane::kTransactional, 10, "w1", seconds(30), kNow);
  ASSERT_TRUE(claimed) << claimed.error().toString();
  ASSERT_EQ(claimed->size(), 1u);
  const SmsJob& got = claimed->front();
  EXPECT_EQ(got.dedup_key, "priced");
  EXPECT_EQ(got.status, JobStatus::kSending);
  EXPECT_EQ(got.lease_owner, "w1");
  EXPECT_EQ(got.lease_until, std::optional<TimePoint>(kNow + seconds(30)));
  EXPECT_EQ(got.body, "Cześć Łukasz, zamówienie gotowe 😀");
  EXPECT_EQ(got.encoding, Encoding::kUcs2);
  EXPECT_EQ(got.not_before, kNow - seconds(60));
  EXPECT_GT(got.id, 0);

  auto again = store_->claimDue(Lane::kTransactional, 10, "w2", seconds(30), kNow);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  auto otp = store_->claimDue(Lane::kOtp, 10, "w2", seconds(30), kNow);
  ASSERT_TRUE(otp);
  EXPECT_EQ(otp->size(), 1u);
  auto scheduled =
      store_->claimDue(Lane::kTransactional, 10, "w2", seconds(30), kNow + seconds(3601));
  ASSERT_TRUE(scheduled);
  ASSERT_EQ(scheduled->size(), 1u);
  EXPECT_EQ(scheduled->front().dedup_key, "later");
}

TEST_F(MysqlStoreTest, TwoConcurrentClaimersNeverClaimTheSameJob) {
  ASSERT_TRUE(store_->migrate().isOk());
  constexpr int kJobs = 200;
  std::vector<SmsJob> jobs;
  for (int i = 0; i < kJobs; ++i) jobs.push_back(job("job-" + std::to_string(i)));
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));

  auto other = newStore();  // its own connection, like a second bridge instance
  ASSERT_NE(other, nullptr);
  std::vector<std::int64_t> ids_a, ids_b;
  std::atomic<bool> failed{false};
  auto claimer = [&](MysqlStore* store, std::vector<std::int64_t>* ids, const char* owner) {
    while (true) {
      auto claimed = store->claimDue(Lane::kTransactional, 7, owner, seconds(30), kNow);
      if (!claimed) {
        // A deadlock or lock timeout is a legal, retryable answer; anything else is not.
        if (claimed.error().category() == ErrorCategory::kTransient) continue;
        failed = true;
        return;
      }
      if (claimed->empty()) return;
      for (const auto& j : *claimed) ids->push_back(j.id);
    }
  };
  std::thread a(claimer, store_.get(), &ids_a, "a");
  std::thread b(claimer, other.get(), &ids_b, "b");
  a.join();
  b.join();
  ASSERT_FALSE(failed);
  std::set<std::int64_t> all(ids_a.begin(), ids_a.end());
  for (auto id : ids_b) EXPECT_TRUE(all.insert(id).second) << "job " << id << " claimed twice";
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(ids_a.size() + ids_b.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(count("SELECT COUNT(*) FROM `" + prefix_ + "messages` WHERE status = 'sending'"),
            kJobs);
}

TEST_F(MysqlStoreTest, OutcomesAndDeliveryReportsOnlyMoveForward) {
  ASSERT_TRUE(store_->migrate().isOk());
  ASSERT_TRUE(store_->enqueue(std::vector<SmsJob>{job("a")}, {"shop", "1"}));
  auto claimed = store_->claimDue(Lane::kTransactional, 1, "w1", seconds(30), kNow);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  const std::int64_t id = claimed->front().id;

  JobOutcome outcome;
  outcome.job_id = id;
  outcome.status = JobStatus::kSent;
  outcome.provider = "smsapi";
  outcome.provider_message_id = "m-1";
  outcome.price = 0.165;
  outcome.currency = "PLN";
  outcome.attempts.push_back({id, "smsapi", "accepted", 200, "", "", kNow, kNow + seconds(1)});
  EXPECT_EQ(store_->recordOutcome(outcome, "someone-else", kNow).category(),
            ErrorCategory::kTransient);
  EXPECT_EQ(count("SELECT COUNT(*) FROM `" + prefix_ + "attempts`"), 0);
  ASSERT_TRUE(store_->recordOutcome(outcome, "w1", kNow).isOk());
  EXPECT_EQ(count("SELECT COUNT(*) FROM `" + prefix_ + "attempts`"), 1);

  DeliveryReport delivered{.provider = "smsapi",
                           .provider_message_id = "m-1",
                           .status = JobStatus::kDelivered,
                           .reason = "DELIVRD",
                           .reported_at = kNow};
  DeliveryReport late_sent{.provider = "smsapi",
                           .provider_message_id = "m-1",
                           .status = JobStatus::kSent,
                           .reason = "",
                           .reported_at = kNow};
  DeliveryReport unknown{.provider = "smsapi",
                         .provider_message_id = "m-404",
                         .status = JobStatus::kDelivered,
                         .reason = "",
                         .reported_at = kNow};
  auto effect = store_->applyDeliveryReport(delivered, kNow + seconds(5));
  ASSERT_TRUE(effect) << effect.error().toString();
  EXPECT_EQ(*effect, ReportEffect::kApplied);
  EXPECT_EQ(*store_->applyDeliveryReport(late_sent, kNow + seconds(6)), ReportEffect::kNoOp);
  EXPECT_EQ(*store_->applyDeliveryReport(delivered, kNow + seconds(7)), ReportEffect::kNoOp);
  EXPECT_EQ(*store_->applyDeliveryReport(unknown, kNow), ReportEffect::kParked);

  auto rows = admin_->query(
      "SELECT status, status_reason, price, provider_message_id, "
      "sent_at IS NOT NULL, final_at IS NOT NULL, attempts FROM `" +
      prefix_ + "messages`");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0)[0], "delivered");
  EXPECT_EQ(rows->at(0)[1], "DELIVRD");
  EXPECT_DOUBLE_EQ(std::stod(rows->at(0)[2].value_or("0")), 0.165);
  EXPECT_EQ(rows->at(0)[3], "m-1");
  EXPECT_EQ(rows->at(0)[4], "1");
  EXPECT_EQ(rows->at(0)[5], "1");
  EXPECT_EQ(rows->at(0)[6], "1");

  auto counts = store_->countByStatus();
  ASSERT_TRUE(counts);
  EXPECT_EQ(*counts, (std::vector<std::pair<JobStatus, int>>{{JobStatus::kDelivered, 1}}));
}

TEST_F(MysqlStoreTest, InDoubtJobsOfHoldRoutesAreFailedNotResent) {
  ASSERT_TRUE(store_->migrate().isOk());
  SmsJob resent = job("b");
  resent.route = "other";
  ASSERT_TRUE(store_->enqueue(std::vector<SmsJob>{job("a"), resent}, {"shop", "1"}));
  auto claimed = store_->claimDue(Lane::kTransactional, 5, "dead", seconds(30), kNow);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  const std::vector<std::string> hold = {"default"};
  auto n = store_->holdExpiredLeases(kNow + seconds(31), hold);
  ASSERT_TRUE(n) << n.error().toString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(*store_->requeueExpiredLeases(kNow + seconds(31)), 1);
  auto counts = store_->countByStatus();
  ASSERT_TRUE(counts);
  std::map<JobStatus, int> by_status(counts->begin(), counts->end());
  EXPECT_EQ(by_status,
            (std::map<JobStatus, int>{{JobStatus::kQueued, 1}, {JobStatus::kFailed, 1}}));
}

TEST_F(MysqlStoreTest, ExpiredLeasesAreRequeuedAndTheOldOwnerLosesTheJob) {
  ASSERT_TRUE(store_->migrate().isOk());
  ASSERT_TRUE(store_->enqueue(std::vector<SmsJob>{job("a")}, {"shop", "1"}));
  auto claimed = store_->claimDue(Lane::kTransactional, 1, "dead", seconds(30), kNow);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1u);

  auto early = store_->requeueExpiredLeases(kNow + seconds(10));
  ASSERT_TRUE(early);
  EXPECT_EQ(*early, 0);
  auto late = store_->requeueExpiredLeases(kNow + seconds(31));
  ASSERT_TRUE(late);
  EXPECT_EQ(*late, 1);

  auto reclaimed =
      store_->claimDue(Lane::kTransactional, 1, "alive", seconds(30), kNow + seconds(31));
  ASSERT_TRUE(reclaimed);
  ASSERT_EQ(reclaimed->size(), 1u);
  EXPECT_EQ(reclaimed->front().status_reason, "in_doubt: lease expired, resending");

  JobOutcome retry;
  retry.job_id = claimed->front().id;
  retry.status = JobStatus::kQueued;
  retry.not_before = kNow + seconds(120);
  EXPECT_EQ(store_->recordOutcome(retry, "dead", kNow + seconds(32)).category(),
            ErrorCategory::kTransient);
  ASSERT_TRUE(store_->recordOutcome(retry, "alive", kNow + seconds(32)).isOk());
  auto too_early =
      store_->claimDue(Lane::kTransactional, 1, "alive", seconds(30), kNow + seconds(60));
  ASSERT_TRUE(too_early);
  EXPECT_TRUE(too_early->empty());
  auto due = store_->claimDue(Lane::kTransactional, 1, "alive", seconds(30), kNow + seconds(120));
  ASSERT_TRUE(due);
  EXPECT_EQ(due->size(), 1u);
}

TEST_F(MysqlStoreTest, ClaimSkipsJobsAnotherTransactionHolds) {
  ASSERT_TRUE(admin_->supportsSkipLocked()) << "the test server is MariaDB 10.11";
  ASSERT_TRUE(store_->migrate().isOk());
  ASSERT_TRUE(store_->enqueue(std::vector<SmsJob>{job("held"), job("free")}, {"shop", "1"}));
  // Another dispatcher is in the middle of claiming "held".
  ASSERT_TRUE(admin_->begin().isOk());
  auto held =
      admin_->query("SELECT id FROM `" + prefix_ + "messages` WHERE dedup_key = 'held' FOR UPDATE");
  ASSERT_TRUE(held) << held.error().toString();
  auto claimed = store_->claimDue(Lane::kTransactional, 10, "w1", seconds(30), kNow);
  admin_->rollback();
  ASSERT_TRUE(claimed) << claimed.error().toString();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().dedup_key, "free");
}

SMSBRIDGE_STORE_REPORT_CASES(MysqlStoreTest)

TEST_F(MysqlStoreTest, ASchemaOneStoreIsMigratedInPlace) {
  // As an earlier release left it: no provider_message_id_norm, no unique inbound ids, no
  // parked reports, version 1. MySQL has no ADD COLUMN IF NOT EXISTS: migrate() must look.
  ASSERT_TRUE(store_->migrate().isOk());
  const std::string messages = "`" + prefix_ + "messages`";
  for (const std::string& sql :
       {"DROP TABLE `" + prefix_ + "reports_parked`",
        "ALTER TABLE " + messages + " DROP KEY messages_provider_norm",
        "ALTER TABLE " + messages + " DROP COLUMN provider_message_id_norm",
        "ALTER TABLE `" + prefix_ + "inbound` DROP KEY inbound_provider_id",
        "UPDATE `" + prefix_ + "schema` SET version = 1"}) {
    ASSERT_TRUE(admin_->exec(sql).isOk()) << sql;
  }
  ASSERT_TRUE(admin_
                  ->exec("INSERT INTO " + messages +
                         " (dedup_key, source, mapping, body, encoding, segments, lane, status, "
                         "provider, provider_message_id, not_before, created_at, updated_at) "
                         "VALUES ('old', 'shop', 'm', 'Hi', 'gsm7', 1, 'transactional', "
                         "'sent', 'smsapi', ' OLD-1 ', NOW(), NOW(), NOW())")
                  .isOk());
  EXPECT_EQ(store_->checkSchema().category(), ErrorCategory::kConfig);
  Status migrated = store_->migrate();
  ASSERT_TRUE(migrated.isOk()) << migrated.toString();
  ASSERT_TRUE(store_->migrate().isOk()) << "a second migration must skip the ALTERs";
  EXPECT_TRUE(store_->checkSchema().isOk());
  DeliveryReport delivered{.provider = "smsapi",
                           .provider_message_id = "old-1",
                           .status = JobStatus::kDelivered,
                           .reported_at = kNow};
  auto effect = store_->applyDeliveryReport(delivered, kNow);
  ASSERT_TRUE(effect) << effect.error().toString();
  EXPECT_EQ(*effect, ReportEffect::kApplied);
}

TEST_F(MysqlStoreTest, ReconnectsAfterTheConnectionIsKilled) {
  // A user of its own, so killing its sessions cannot disturb tests running in parallel.
  const std::string user = prefix_ + "u";
  const std::string password = "pw-" + prefix_;
  ASSERT_TRUE(
      admin_->exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + password + "'").isOk());
  struct DropUser {
    Connection* admin;
    std::string user;
    ~DropUser() { (void)admin->exec("DROP USER IF EXISTS '" + user + "'@'%'"); }
  } drop_user{admin_.get(), user};
  ASSERT_TRUE(
      admin_->exec("GRANT ALL ON `" + options_.database + "`.* TO '" + user + "'@'%'").isOk());
  ConnectionOptions own = options_;
  own.user = user;
  own.password = password;
  auto created = MysqlStore::create(own, prefix_);
  ASSERT_TRUE(created) << created.error().toString();
  store_ = std::move(*created);
  ASSERT_TRUE(store_->migrate().isOk());
  ASSERT_TRUE(store_->enqueue(std::vector<SmsJob>{job("a")}, {"shop", "1"}));
  const Param who[] = {user};
  auto sessions =
      admin_->query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", who);
  ASSERT_TRUE(sessions) << sessions.error().toString();
  ASSERT_EQ(sessions->size(), 1u);
  ASSERT_TRUE(
      admin_
          ->exec("KILL CONNECTION " + std::to_string(std::stoll(sessions->at(0)[0].value_or("0"))))
          .isOk());
  // The first call finds the connection gone (kTransient, retry), the next one reconnects.
  auto lost = store_->countByStatus();
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().category(), ErrorCategory::kTransient) << lost.error().toString();
  auto counts = store_->countByStatus();
  ASSERT_TRUE(counts) << counts.error().toString();
  EXPECT_EQ(*counts, (std::vector<std::pair<JobStatus, int>>{{JobStatus::kQueued, 1}}));
}

TEST_F(MysqlStoreTest, StatusChangesOfWriteBackMappingsAreLoggedWithTheirChange) {
  ASSERT_TRUE(store_->migrate().isOk());
  ManualClock clock;
  testing::checkStatusChangeLog(*store_, clock);
}

TEST_F(MysqlStoreTest, ReportsInBatchesAndParkedReportsLogOneStatusChangeEach) {
  ASSERT_TRUE(store_->migrate().isOk());
  ManualClock clock;
  testing::checkReportsLogTheirChanges(*store_, clock);
}

TEST_F(MysqlStoreTest, NoStatusChangesAreLoggedWithoutWriteBack) {
  ASSERT_TRUE(store_->migrate().isOk());
  ManualClock clock;
  testing::checkNoStatusChangesWithoutWriteBack(*store_, clock);
}

TEST_F(MysqlStoreTest, StatusPollsHandOutSentJobsOncePerInterval) {
  ASSERT_TRUE(store_->migrate().isOk());
  testing::checkClaimStatusPolls(*store_);
}

TEST_F(MysqlStoreTest, CountsJobsByStatusAndLane) {
  ASSERT_TRUE(store_->migrate().isOk());
  testing::checkCountByStatusAndLane(*store_);
}

}  // namespace
}  // namespace smsbridge::mysql
