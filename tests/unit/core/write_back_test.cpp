#include "core/write_back.h"

#include <map>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "connectors/sqlite/sqlite_store.h"
#include "tests/fakes/status_change_checks.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// What the fake source database holds; shared by every session opened on it, so a reconnect
// sees what an earlier session committed.
struct FakeSourceDb {
  std::set<std::tuple<std::int64_t, std::string, std::int64_t>> markers;
  std::vector<std::pair<std::string, Row>> actions;  // committed action statements
  std::map<std::int64_t, std::string> mirror;        // job id → status
  int opens = 0;
  bool unreachable = false;
  // The next executeAll calls fail with this category...
  int fail_next = 0;
  ErrorCategory fail_category = ErrorCategory::kTransient;
  // ...or commit and then lose the answer (the bridge dies before hearing of the commit).
  bool commit_then_lose_answer = false;
};

class FakeSqlSession : public SqlSession {
 public:
  explicit FakeSqlSession(FakeSourceDb& db) : db_(db) {}

  Status forEachRow(std::string_view sql, const Row& params,
                    const std::function<bool(const Row&)>& on_row) override {
    if (sql.find("write_back_done") == std::string_view::npos) {
      return internalError("unexpected query");
    }
    if (db_.markers.count(key(params))) on_row(Row{{"1", std::int64_t{1}}});
    return Status::ok();
  }

  Result<std::int64_t> execute(std::string_view sql, const Row& params) override {
    if (sql.find("message_status") == std::string_view::npos) return internalError("unexpected");
    db_.mirror[params.find("job_id")->asInt()] = params.find("status")->asString();
    return std::int64_t{1};
  }

  Result<std::vector<std::int64_t>> executeAll(
      std::span<const SqlSession::Statement> statements) override {
    if (db_.fail_next > 0) {
      --db_.fail_next;
      if (!db_.commit_then_lose_answer) return Status(db_.fail_category, "injected failure");
    }
    if (statements.size() != 2 || statements[0].sql.find("write_back_done") == std::string::npos) {
      return internalError("expected the marker, then the action");
    }
    auto marker = key(statements[0].params);
    if (db_.markers.count(marker)) return internalError("duplicate key in write_back_done");
    db_.markers.insert(marker);
    db_.actions.emplace_back(statements[1].sql, statements[1].params);
    if (db_.commit_then_lose_answer) {
      db_.commit_then_lose_answer = false;
      return transientError("connection lost after COMMIT");
    }
    return std::vector<std::int64_t>{1, 1};
  }

 private:
  static std::tuple<std::int64_t, std::string, std::int64_t> key(const Row& params) {
    return {params.find("job_id")->asInt(), params.find("status")->asString(),
            params.find("action_index")->asInt()};
  }
  FakeSourceDb& db_;
};

class WriteBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store =
        sqlite::SqliteStore::create(dir_.file("store.db"), "smsbridge_", milliseconds(200));
    ASSERT_TRUE(store) << store.error().toString();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
    store_->setWriteBackMappings({"noted"});

    config_.actions["noted"] = {
        WriteBackAction{{JobStatus::kDelivered},
                        "INSERT INTO notes (order_id, note) VALUES (:entity_id, :status)"},
        WriteBackAction{{}, "UPDATE orders SET sms = :status WHERE id = :entity_id"},
    };
    config_.max_attempts = 3;
    config_.sources["shop"] = source();
  }

  WriteBackSource source(bool mirror = false) {
    WriteBackSource s;
    s.dialect = SqlDialect::kSqlite;
    s.mirror = mirror;
    s.open_sql = [this]() -> Result<std::unique_ptr<SqlSession>> {
      ++db_.opens;
      if (db_.unreachable) return transientError("connection refused");
      return std::unique_ptr<SqlSession>(std::make_unique<FakeSqlSession>(db_));
    };
    return s;
  }

  std::int64_t enqueueAndSend(const std::string& key) {
    std::vector<SmsJob> jobs = {testing::writeBackTestJob(key, "noted", clock_.now())};
    EXPECT_TRUE(store_->enqueue(jobs, {"shop", key}));
    auto claimed = store_->claimDue(Lane::kTransactional, 1, "me", seconds(30), clock_.now());
    EXPECT_TRUE(claimed && claimed->size() == 1u);
    JobOutcome sent;
    sent.job_id = (*claimed)[0].id;
    sent.status = JobStatus::kSent;
    sent.provider = "sandbox";
    sent.provider_message_id = "m-" + key;
    sent.price = 0.07;
    EXPECT_TRUE(store_->recordOutcome(sent, "me", clock_.now()).isOk());
    return sent.job_id;
  }

  void deliver(const std::string& key) {
    DeliveryReport report;
    report.provider = "sandbox";
    report.provider_message_id = "m-" + key;
    report.status = JobStatus::kDelivered;
    auto effect = store_->applyDeliveryReport(report, clock_.now());
    ASSERT_TRUE(effect);
    ASSERT_EQ(*effect, ReportEffect::kApplied);
  }

  int round(WriteBack& write_back) {
    auto taken = write_back.runOnce();
    EXPECT_TRUE(taken) << taken.error().toString();
    return taken ? *taken : -1;
  }

  // Runs rounds (advancing the clock past every backoff) until nothing is pending.
  void drain(WriteBack& write_back) {
    for (int i = 0;
         i < 20 && !testing::pendingChanges(*store_, clock_.now() + seconds(600)).empty(); ++i) {
      round(write_back);
      clock_.advance(seconds(600));
    }
  }

  std::vector<std::string> actionLog() const {
    std::vector<std::string> log;
    for (const auto& [sql, params] : db_.actions) {
      log.push_back(params.find("status")->asString() + " " + sql.substr(0, 6));
    }
    return log;
  }

  ::smsbridge::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  FakeSourceDb db_;
  WriteBackConfig config_;
};

TEST_F(WriteBackTest, EachActionRunsOnceOnTheStatusesItNamesWithTheJobBound) {
  WriteBack write_back(config_, *store_, clock_);
  enqueueAndSend("a");
  drain(write_back);
  deliver("a");
  drain(write_back);

  // queued runs nothing; sent runs the action without `on`; delivered runs both.
  EXPECT_EQ(actionLog(),
            (std::vector<std::string>{"sent UPDATE", "delivered INSERT", "delivered UPDATE"}));
  const Row& params = db_.actions[1].second;
  EXPECT_EQ(params.find("entity_id")->asString(), "17");
  EXPECT_EQ(params.find("entity_table")->asString(), "orders");
  EXPECT_EQ(params.find("provider")->asString(), "sandbox");
  EXPECT_EQ(params.find("provider_message_id")->asString(), "m-a");
  EXPECT_EQ(params.find("recipient")->asString(), "+48600700800");
  EXPECT_EQ(params.find("mapping")->asString(), "noted");
  EXPECT_DOUBLE_EQ(params.find("price")->asDouble(), 0.07);
  EXPECT_TRUE(params.find("currency")->isNull());
  EXPECT_EQ(params.find("lane")->asString(), "transactional");
  EXPECT_FALSE(params.find("changed_at")->asString().empty());
  // Every field an action may name is bound.
  for (const std::string& field : writeBackFieldNames()) {
    EXPECT_NE(params.find(field), nullptr) << field;
  }
  EXPECT_TRUE(testing::pendingChanges(*store_, clock_.now() + seconds(3600)).empty());
}

TEST_F(WriteBackTest, AnActionCommittedBeforeACrashIsNotRunAgain) {
  WriteBack write_back(config_, *store_, clock_);
  enqueueAndSend("a");
  db_.fail_next = 1;
  db_.commit_then_lose_answer = true;
  drain(write_back);

  EXPECT_EQ(actionLog(), (std::vector<std::string>{"sent UPDATE"}));
  EXPECT_TRUE(testing::pendingChanges(*store_, clock_.now() + seconds(3600)).empty());
}

TEST_F(WriteBackTest, AnUnreachableSourceIsRetriedWithBackoffAndNeverGivenUp) {
  WriteBack write_back(config_, *store_, clock_);
  enqueueAndSend("a");
  enqueueAndSend("b");
  round(write_back);  // the queued changes: nothing to run, done
  db_.unreachable = true;
  db_.opens = 0;
  EXPECT_EQ(round(write_back), 2);
  EXPECT_EQ(db_.opens, 1);  // one connection attempt per round, not one per change
  // Not due again before the first backoff...
  EXPECT_TRUE(testing::pendingChanges(*store_, clock_.now()).empty());
  clock_.advance(seconds(1));
  ASSERT_EQ(testing::pendingChanges(*store_, clock_.now()).size(), 2u);
  // ...and never given up while the database is merely away, however often it fails.
  for (int i = 0; i < config_.max_attempts + 2; ++i) {
    round(write_back);
    clock_.advance(seconds(600));
  }
  auto pending = testing::pendingChanges(*store_, clock_.now());
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].attempts, config_.max_attempts + 3);
  EXPECT_TRUE(db_.actions.empty());

  db_.unreachable = false;
  drain(write_back);
  EXPECT_EQ(actionLog(), (std::vector<std::string>{"sent UPDATE", "sent UPDATE"}));
}

TEST_F(WriteBackTest, AFailingActionIsGivenUpAfterMaxAttemptsAndLaterChangesGoOn) {
  WriteBack write_back(config_, *store_, clock_);
  enqueueAndSend("a");
  deliver("a");
  db_.fail_next = config_.max_attempts;
  db_.fail_category = ErrorCategory::kConfig;  // e.g. a column the action names does not exist
  drain(write_back);

  // `sent` failed for good; `delivered` ran after it.
  EXPECT_EQ(actionLog(), (std::vector<std::string>{"delivered INSERT", "delivered UPDATE"}));
  EXPECT_TRUE(testing::pendingChanges(*store_, clock_.now() + seconds(3600)).empty());
}

TEST_F(WriteBackTest, TheMirrorFollowsEveryJobOfTheSource) {
  config_.actions.clear();
  config_.sources["shop"] = source(/*mirror=*/true);
  WriteBack write_back(config_, *store_, clock_);
  const std::int64_t id = enqueueAndSend("a");
  drain(write_back);
  EXPECT_EQ(db_.mirror[id], "sent");
  deliver("a");
  drain(write_back);
  EXPECT_EQ(db_.mirror[id], "delivered");
  EXPECT_TRUE(db_.actions.empty());
}

TEST(WriteBackSqlTest, SetupCreatesTheMarkerAndOnlyWhenAskedTheMirror) {
  auto sql = writeBackSetupSql(SqlDialect::kPostgres, "sb_", "sb_message_status", false);
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_NE(sql[0].find("\"sb_write_back_done\""), std::string::npos);
  EXPECT_NE(sql[0].find("PRIMARY KEY (job_id, status, action_index)"), std::string::npos);
  sql = writeBackSetupSql(SqlDialect::kMysql, "sb_", "order_sms", true);
  ASSERT_EQ(sql.size(), 2u);
  EXPECT_NE(sql[1].find("`order_sms`"), std::string::npos);
}

TEST(WriteBackSqlTest, ActionsRunOnSentAndLaterStatusesByDefault) {
  WriteBackAction any{{}, "x"};
  EXPECT_TRUE(any.runsOn(JobStatus::kSent));
  EXPECT_TRUE(any.runsOn(JobStatus::kSuppressed));
  EXPECT_FALSE(any.runsOn(JobStatus::kQueued));
  WriteBackAction delivered{{JobStatus::kDelivered}, "x"};
  EXPECT_FALSE(delivered.runsOn(JobStatus::kSent));
  EXPECT_TRUE(delivered.runsOn(JobStatus::kDelivered));
}

}  // namespace
}  // namespace smsbridge
