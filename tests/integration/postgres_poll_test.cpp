// `poll` capture on the real PostgreSQL from scripts/test-services.sh, read through a session
// that may not write, with the store in a separate SQLite file: the read-only deployment.
// Each test works on its own table and store file, so tests are independent and rerunnable.

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "connectors/poll_capture.h"
#include "connectors/postgres/pg_doctor.h"
#include "connectors/postgres/pg_poll_reader.h"
#include "connectors/sqlite/sqlite_store.h"
#include "core/mapping.h"
#include "tests/fakes/poll_cases.h"
#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

using std::chrono::milliseconds;

class PostgresPollTest : public ::testing::Test, public testing::PollShop {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_PG_DSN(dsn);
    dsn_ = dsn;
    std::random_device random;
    tag_ = "pgp" + std::to_string(random() % 1'000'000'000);
    orders_ = tag_ + "_orders";
    exec("CREATE TABLE " + orders_ +
         " (id serial PRIMARY KEY, status text, total numeric(20,2), "
         "updated_at timestamptz NOT NULL DEFAULT now())");
    // The bridge's session may not write at all: every transaction it opens is read-only.
    // SelectOnlyRole... below uses a role with nothing but the grants `setup` prints.
    ro_dsn_ = dsn_ + (dsn_.find('?') == std::string::npos ? "?" : "&") +
              "options=-c%20default_transaction_read_only%3Don";
    store_path_ = (std::filesystem::temp_directory_path() / (tag_ + "_bridge.db")).string();
    auto store = sqlite::SqliteStore::create(store_path_, "smsbridge_", milliseconds(1000));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
  }

  void TearDown() override {
    if (dsn_.empty()) return;
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(store_path_ + suffix);
    exec("DROP TABLE IF EXISTS " + orders_);
  }

  // testing::PollShop
  std::string ordersTable() const override { return orders_; }
  std::string stampColumn() const override { return "updated_at"; }
  void exec(const std::string& sql) override {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    txn.exec("SET client_min_messages = warning");
    txn.exec(sql);
  }

  std::unique_ptr<Source> source(int batch_size) override {
    return testing::startPollSource(testing::pollSettings(orders_, "updated_at", batch_size),
                                    std::make_unique<PgPollReader>(ro_dsn_, milliseconds(5000)),
                                    *store_);
  }

  std::vector<ChangeEvent> drain(Source& src) { return testing::drainPoll(src, *store_); }

  std::function<void()> execUncommitted(const std::string& sql) override {
    auto conn = std::make_shared<pqxx::connection>(dsn_);
    auto txn = std::make_shared<pqxx::work>(*conn);
    txn->exec(sql);
    return [conn, txn] { txn->commit(); };
  }
  JobStore& store() override { return *store_; }

  std::string dsn_, ro_dsn_, tag_, orders_, store_path_;
  std::unique_ptr<sqlite::SqliteStore> store_;
};

TEST_F(PostgresPollTest, ReadOnlySessionCapturesInsertsAndUpdatesWithBeforeImages) {
  testing::checkBaselineThenInsertsAndUpdatesWithBeforeImages(*this);
}

TEST_F(PostgresPollTest, TransactionCommittingAfterLaterOnesIsCaptured) {
  testing::checkLateCommitWithAnOlderStampIsCaptured(*this);
}

TEST_F(PostgresPollTest, RestartFromTheDurableCheckpointLosesAndDuplicatesNothing) {
  testing::checkRestartFromTheDurableCheckpointLosesAndDuplicatesNothing(*this);
}

TEST_F(PostgresPollTest, TimestampWithoutTimeZoneAndVersionColumnsWork) {
  // Odoo's write_date is `timestamp without time zone` in UTC; the session here is not UTC, so
  // a bound computed in the wrong zone would be hours off and miss or re-read rows.
  exec("ALTER TABLE " + orders_ +
       " ALTER COLUMN updated_at TYPE timestamp USING updated_at AT TIME ZONE 'UTC', "
       "ADD COLUMN version bigint NOT NULL DEFAULT 1");
  exec("INSERT INTO " + orders_ + " (status, updated_at) VALUES ('draft', '2026-11-22 10:00:00')");
  ro_dsn_ += "%20-c%20TimeZone%3DAmerica/Los_Angeles";
  auto src = source(100);
  drain(*src);
  exec("INSERT INTO " + orders_ + " (status, updated_at) VALUES ('draft', '2026-11-22 10:10:00')");
  ASSERT_EQ(drain(*src).size(), 1u);
  exec("UPDATE " + orders_ +
       " SET status = 'sale', updated_at = '2026-11-22 10:07:00' WHERE id = 1");
  auto late = drain(*src);
  ASSERT_EQ(late.size(), 1u) << "older than the highest seen, inside the 5 minute overlap";
  EXPECT_EQ(late[0].pk, "1");
  exec("UPDATE " + orders_ +
       " SET status = 'cancel', updated_at = '2026-11-22 09:00:00' WHERE id = 1");
  EXPECT_TRUE(drain(*src).empty()) << "older than the overlap: the documented limit";

  poll::Settings s;
  s.name = "shop-v";
  s.version_overlap = 10;
  poll::TableSpec t;
  t.table = orders_;
  t.change_column = "version";
  t.kind = poll::ChangeKind::kVersion;
  s.tables.push_back(t);
  auto v = poll::PollSource::create(std::move(s),
                                    std::make_unique<PgPollReader>(ro_dsn_, milliseconds(5000)));
  ASSERT_TRUE(v);
  (*v)->attachShadowStore(*store_);
  ASSERT_TRUE((*v)->start("").isOk());
  auto baseline = (*v)->poll(milliseconds(0));
  ASSERT_TRUE(baseline) << baseline.error().toString();
  EXPECT_TRUE(baseline->events.empty());
  EXPECT_NE(baseline->position.find("\"mark\":1"), std::string::npos) << baseline->position;
}

// The deployment poll mode is for: the shop's DBA gives the bridge a role with exactly the
// GRANTs `smsbridge setup` prints for poll capture, and the store lives elsewhere (here a SQLite
// file). Changes become jobs in that store, and the shop database is never written: the role
// could not (every write would fail with "permission denied" and surface as an error), and
// afterwards nothing in the shop database belongs to it or carries the bridge's prefix.
TEST_F(PostgresPollTest, SelectOnlyRoleWithSetupGrantsCapturesIntoAStoreElsewhere) {
  // pg_hba.conf of the test services lets only their own user in over TCP, so the bridge's
  // connection logs in as that user and switches to the role in the startup packet
  // (options=-c role=...): every privilege check is then the role's, as for a login role.
  const std::string role = tag_ + "_reader";
  exec("CREATE ROLE " + role + " NOLOGIN");
  exec("GRANT " + role + " TO CURRENT_USER");
  struct DropRole {
    std::string dsn, role;
    ~DropRole() {
      try {
        pqxx::connection conn(dsn);
        pqxx::nontransaction txn(conn);
        txn.exec("DROP OWNED BY " + role);
        txn.exec("DROP ROLE IF EXISTS " + role);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "dropping role " << role << ": " << e.what();
      }
    }
  } drop_role{dsn_, role};

  GrantRequest request;
  request.user = role;
  request.database = pqxx::connection(dsn_).dbname();
  request.source = "shop";
  request.capture = "poll";
  request.tables = {orders_};
  request.holds_store = false;
  int grants = 0;
  for (const std::string& statement : grantStatements(request)) {
    if (statement.rfind("--", 0) == 0) continue;
    // Least privilege for poll mode is reading: anything else would be a defect of setup.
    EXPECT_TRUE(statement.rfind("GRANT CONNECT ", 0) == 0 ||
                statement.rfind("GRANT USAGE ON SCHEMA ", 0) == 0 ||
                statement.rfind("GRANT SELECT ON ", 0) == 0)
        << statement;
    exec(statement);
    ++grants;
  }
  EXPECT_EQ(grants, 3);
  const std::string role_dsn =
      dsn_ + (dsn_.find('?') == std::string::npos ? "?" : "&") + "options=-c%20role%3D" + role;
  {
    // The role really is read-only on the shop's table, so a write attempt cannot go unnoticed.
    pqxx::connection conn(role_dsn);
    pqxx::nontransaction txn(conn);
    EXPECT_EQ(txn.exec("SELECT current_user")[0][0].as<std::string>(), role);
    EXPECT_THROW(txn.exec("UPDATE " + orders_ + " SET status = status"),
                 pqxx::insufficient_privilege);
  }

  MappingSpec spec;
  spec.name = "order_completed";
  spec.source = "shop";
  spec.table = orders_;
  spec.on = {"update"};
  spec.when = "status == 'completed' and old.status != 'completed'";
  spec.to = "+48601234567";
  spec.text = "Order {{ id }} is complete.";
  MappingDefaults defaults;
  defaults.region = "PL";
  auto mapping = Mapping::compile(spec, defaults, [](std::string_view key, std::size_t, auto msg) {
    ADD_FAILURE() << key << ": " << msg;
  });
  ASSERT_TRUE(mapping);
  std::vector<Mapping> list;
  list.push_back(std::move(*mapping));
  MappingEngine engine(std::move(list));

  exec("INSERT INTO " + orders_ + " (status) VALUES ('processing'), ('processing')");
  auto created =
      poll::PollSource::create(testing::pollSettings(orders_, "updated_at", 100),
                               std::make_unique<PgPollReader>(role_dsn, milliseconds(5000)));
  ASSERT_TRUE(created) << created.error().toString();
  poll::PollSource& src = **created;
  src.attachShadowStore(*store_);
  auto setup_sql = src.setupSql();
  ASSERT_TRUE(setup_sql) << setup_sql.error().toString();
  EXPECT_TRUE(setup_sql->empty()) << "setup has nothing to install in the shop database";
  ASSERT_TRUE(src.setup().isOk());
  ASSERT_TRUE(src.start("").isOk());

  // Each round as `run` does it: poll, map, enqueue the jobs with the checkpoint and shadow.
  auto round = [&] {
    int inserted = 0;
    for (int guard = 0; guard < 100; ++guard) {
      auto batch = src.poll(milliseconds(0));
      EXPECT_TRUE(batch) << batch.error().toString();
      if (!batch || batch->position.empty()) break;
      auto jobs = engine.map(batch->events, std::chrono::system_clock::now());
      auto enqueued = store_->enqueue(jobs, Checkpoint{"shop", batch->position, batch->shadow});
      EXPECT_TRUE(enqueued) << enqueued.error().toString();
      if (enqueued) inserted += enqueued->inserted;
    }
    return inserted;
  };
  EXPECT_EQ(round(), 0) << "the first round is a baseline";
  exec("UPDATE " + orders_ + " SET status = 'completed', updated_at = now() WHERE id = 1");
  exec("UPDATE " + orders_ + " SET status = 'completed', updated_at = now() WHERE id = 2");
  EXPECT_EQ(round(), 2);
  exec("UPDATE " + orders_ + " SET total = 5, updated_at = now() WHERE id = 1");
  EXPECT_EQ(round(), 0) << "still completed: no second SMS";

  auto queued = store_->claimDue(Lane::kTransactional, 10, "test", std::chrono::seconds(30),
                                 std::chrono::system_clock::now() + std::chrono::minutes(1));
  ASSERT_TRUE(queued) << queued.error().toString();
  std::vector<std::string> bodies;
  for (const SmsJob& job : *queued) bodies.push_back(job.body);
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies, (std::vector<std::string>{"Order 1 is complete.", "Order 2 is complete."}));

  pqxx::connection conn(dsn_);
  pqxx::nontransaction txn(conn);
  EXPECT_EQ(
      txn.exec_params("SELECT count(*) FROM pg_class WHERE relowner = $1::regrole", role)[0][0]
          .as<int>(),
      0)
      << "the role created nothing in the shop database (any table, index or sequence it made "
         "would be its own)";
}

TEST_F(PostgresPollTest, MissingPrimaryKeyOrColumnIsAConfigError) {
  auto src = poll::PollSource::create(
      poll::Settings{.name = "shop",
                     .tables = {poll::TableSpec{.table = orders_,
                                                .change_column = "modified",
                                                .kind = poll::ChangeKind::kTimestamp,
                                                .watch = {}}},
                     .configured = {},
                     .prefix = "smsbridge_",
                     .overlap = std::chrono::minutes(5),
                     .version_overlap = 0,
                     .batch_size = 10},
      std::make_unique<PgPollReader>(ro_dsn_, milliseconds(5000)));
  ASSERT_TRUE(src);
  (*src)->attachShadowStore(*store_);
  Status st = (*src)->start("");
  EXPECT_EQ(st.category(), ErrorCategory::kConfig) << st.toString();
  EXPECT_NE(st.message().find("modified"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace smsbridge::postgres
