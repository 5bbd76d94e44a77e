// `logical` capture on the real PostgreSQL from scripts/test-services.sh: before images per
// replica identity, late commits, a large transaction and a consumer that crashes before
// acknowledging, a terminated walsender, filtered traffic moving the slot, unchanged TOAST, a
// lost slot, and what setup puts into (and refuses for) the publication. Each test has its own
// tables, publication and slot, so tests are independent and rerunnable.

#include "connectors/postgres/pg_logical_source.h"

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

using std::chrono::milliseconds;

// An upper bound for waiting on the server, not a timing assertion: tests finish as soon as
// what they wait for arrives.
constexpr int kMaxPolls = 150;
constexpr milliseconds kPollWait{200};

class PostgresLogicalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_PG_DSN(dsn);
    dsn_ = dsn;
    std::random_device random;
    tag_ = "pgl" + std::to_string(random() % 1'000'000'000);
    prefix_ = tag_ + "_sb_";
    orders_ = tag_ + "_orders";
    full_ = tag_ + "_full";
    other_ = tag_ + "_other";
    nopk_ = tag_ + "_nopk";
    exec("CREATE TABLE " + orders_ +
         " (id serial PRIMARY KEY, status text, total numeric(20,2), note text)");
    exec("ALTER TABLE " + orders_ + " ALTER COLUMN note SET STORAGE EXTERNAL");
    exec("CREATE TABLE " + full_ + " (id serial PRIMARY KEY, status text, qty integer)");
    exec("ALTER TABLE " + full_ + " REPLICA IDENTITY FULL");
    exec("CREATE TABLE " + other_ + " (id serial PRIMARY KEY, payload text)");
    exec("CREATE TABLE " + nopk_ + " (a integer)");
  }

  void TearDown() override {
    if (dsn_.empty()) return;
    // A forgotten slot would pin WAL on the test server for good.
    exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" +
         slot() + "' AND active_pid IS NOT NULL");
    for (int i = 0; i < 50 && slotActive(); ++i) {
      exec("SELECT pg_sleep(0.1)");
    }
    exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" +
        slot() + "'");
    exec("DROP PUBLICATION IF EXISTS " + publication());
    exec("DROP TABLE IF EXISTS " + orders_ + ", " + full_ + ", " + other_ + ", " + nopk_);
  }

  std::string slot() const { return prefix_ + "slot_shop"; }
  std::string publication() const { return prefix_ + "pub_shop"; }

  void exec(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    txn.exec("SET client_min_messages = warning");
    txn.exec(sql);
  }

  std::string queryOne(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    auto r = txn.exec(sql);
    if (r.empty() || r[0][0].is_null()) return "";
    return r[0][0].c_str();
  }

  bool slotActive() {
    return queryOne("SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot() + "'") ==
           "t";
  }

  Result<std::unique_ptr<PgLogicalSource>> source(std::vector<std::string> tables) {
    LogicalSourceConfig config;
    config.name = "shop";
    config.dsn = dsn_;
    config.tables = std::move(tables);
    config.prefix = prefix_;
    return PgLogicalSource::create(std::move(config));
  }

  // start() until the server has let go of a previous reader of the slot (a closed walsender
  // takes a moment to release it): the transient "slot is active" error.
  Status startWithRetry(PgLogicalSource& s, const std::string& checkpoint) {
    Status status = s.start(checkpoint);
    for (int i = 0;
         i < kMaxPolls && status.category() == ErrorCategory::kTransient && !status.isOk(); ++i) {
      exec("SELECT pg_sleep(0.1)");
      status = s.start(checkpoint);
    }
    return status;
  }

  std::unique_ptr<PgLogicalSource> installed(std::vector<std::string> tables) {
    auto s = source(std::move(tables));
    EXPECT_TRUE(s) << s.error().toString();
    if (!s) return nullptr;
    Status setup = (*s)->setup();
    EXPECT_TRUE(setup.isOk()) << setup.toString();
    return std::move(*s);
  }

  std::unique_ptr<PgLogicalSource> started(std::vector<std::string> tables) {
    auto s = installed(std::move(tables));
    if (!s) return nullptr;
    Status start = startWithRetry(*s, "");
    EXPECT_TRUE(start.isOk()) << start.toString();
    return s;
  }

  // Polls until `events` changes arrived (transient errors are retried as the capture loop
  // does); acknowledges each batch when `ack`.
  std::vector<ChangeBatch> collect(PgLogicalSource& s, std::size_t events, bool ack = true) {
    std::vector<ChangeBatch> batches;
    std::size_t seen = 0;
    for (int i = 0; i < kMaxPolls && seen < events; ++i) {
      auto batch = s.poll(kPollWait);
      if (!batch) {
        EXPECT_EQ(batch.error().category(), ErrorCategory::kTransient) << batch.error().toString();
        if (batch.error().category() != ErrorCategory::kTransient) break;
        continue;
      }
      if (batch->position.empty()) continue;
      seen += batch->events.size();
      if (ack) {
        Status a = s.acknowledge(batch->position);
        EXPECT_TRUE(a.isOk()) << a.toString();
      }
      batches.push_back(std::move(*batch));
    }
    EXPECT_EQ(seen, events);
    return batches;
  }

  static std::vector<ChangeEvent> flatten(const std::vector<ChangeBatch>& batches) {
    std::vector<ChangeEvent> events;
    for (const auto& b : batches) events.insert(events.end(), b.events.begin(), b.events.end());
    return events;
  }

  std::string dsn_, tag_, prefix_, orders_, full_, other_, nopk_;
};

// "0/16B3748" of an event position "0/16B3748:2": the commit it belongs to.
std::string commitOf(const ChangeEvent& event) {
  return event.position.substr(0, event.position.find(':'));
}

const Value& column(const std::optional<Row>& row, std::string_view name) {
  static const Value kMissing("<missing>");
  if (!row) return kMissing;
  const Value* v = row->find(name);
  return v ? *v : kMissing;
}

TEST_F(PostgresLogicalTest, EventsCarryBeforeImagesPerReplicaIdentity) {
  auto s = started({orders_, full_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status, total) VALUES ('new', 19.99)");
  exec("UPDATE " + orders_ + " SET status = 'completed' WHERE id = 1");
  exec("DELETE FROM " + orders_ + " WHERE id = 1");
  exec("INSERT INTO " + full_ + " (status, qty) VALUES ('new', 7)");
  exec("UPDATE " + full_ + " SET status = 'completed' WHERE id = 1");
  exec("DELETE FROM " + full_ + " WHERE id = 1");

  auto batches = collect(*s, 6);
  auto events = flatten(batches);
  ASSERT_EQ(events.size(), 6u);

  // DEFAULT identity: an UPDATE that keeps the key sends no old row; a DELETE sends the key.
  EXPECT_EQ(events[0].table, orders_);
  EXPECT_EQ(events[0].op, Op::kInsert);
  EXPECT_EQ(events[0].pk, "1");
  EXPECT_EQ(events[0].source, "shop");
  EXPECT_EQ(column(events[0].after, "status"), Value("new"));
  EXPECT_EQ(column(events[0].after, "total"), Value("19.99"));
  EXPECT_EQ(events[1].op, Op::kUpdate);
  EXPECT_FALSE(events[1].before.has_value());
  EXPECT_EQ(column(events[1].after, "status"), Value("completed"));
  EXPECT_EQ(events[2].op, Op::kDelete);
  ASSERT_TRUE(events[2].before.has_value());
  EXPECT_EQ(column(events[2].before, "id"), Value(1));
  EXPECT_EQ(events[2].before->find("status"), nullptr);  // not sent, which is not null
  EXPECT_FALSE(events[2].after.has_value());

  // FULL identity: the whole old row, and the pk is still the primary key, not every column.
  EXPECT_EQ(events[4].table, full_);
  EXPECT_EQ(events[4].op, Op::kUpdate);
  EXPECT_EQ(events[4].pk, "1");
  EXPECT_EQ(column(events[4].before, "status"), Value("new"));
  EXPECT_EQ(column(events[4].before, "qty"), Value(7));
  EXPECT_EQ(column(events[4].after, "status"), Value("completed"));
  EXPECT_EQ(events[5].op, Op::kDelete);
  EXPECT_EQ(events[5].pk, "1");
  EXPECT_EQ(column(events[5].before, "status"), Value("completed"));
  EXPECT_EQ(column(events[5].before, "qty"), Value(7));

  // Each change carries its own transaction's commit end LSN, growing with commit order, and a
  // batch ends where its last transaction does.
  for (std::size_t i = 1; i < events.size(); ++i) {
    auto prev = parseLsn(commitOf(events[i - 1]));
    auto cur = parseLsn(commitOf(events[i]));
    ASSERT_TRUE(prev && cur);
    EXPECT_LT(*prev, *cur);
  }
  for (const auto& batch : batches) EXPECT_EQ(commitOf(batch.events.back()), batch.position);
}

TEST_F(PostgresLogicalTest, WaitingTransactionsShareABatchButAreNeverSplit) {
  LogicalSourceConfig config;
  config.name = "shop";
  config.dsn = dsn_;
  config.tables = {orders_};
  config.prefix = prefix_;
  config.batch_size = 2;
  auto created = PgLogicalSource::create(std::move(config));
  ASSERT_TRUE(created) << created.error().toString();
  auto& s = **created;
  ASSERT_TRUE(s.setup().isOk());
  ASSERT_TRUE(startWithRetry(s, "").isOk());
  for (int i = 0; i < 3; ++i) exec("INSERT INTO " + orders_ + " (status) VALUES ('single')");
  exec("INSERT INTO " + orders_ + " (status) SELECT 'bulk' FROM generate_series(1, 5)");
  auto batches = collect(s, 8);
  std::map<std::string, std::set<std::size_t>> batches_of_position;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    EXPECT_EQ(commitOf(batches[b].events.back()), batches[b].position);
    for (const auto& e : batches[b].events) batches_of_position[commitOf(e)].insert(b);
  }
  EXPECT_EQ(batches_of_position.size(), 4u);  // four transactions
  for (const auto& [position, in] : batches_of_position) {
    EXPECT_EQ(in.size(), 1u) << "transaction " << position << " was split across batches";
  }
  // Several were waiting, but a batch is closed once it reaches batch_size: only its last
  // transaction may take it past that.
  for (const auto& batch : batches) {
    std::size_t before_last = 0;
    for (const auto& e : batch.events) before_last += commitOf(e) != batch.position ? 1 : 0;
    EXPECT_LT(before_last, 2u) << "batch ending at " << batch.position;
  }
}

TEST_F(PostgresLogicalTest, ChangesOfOneRowInOneTransactionHaveDistinctPositions) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status) VALUES ('new')");
  exec("BEGIN; UPDATE " + orders_ + " SET status = 'shipped' WHERE id = 1; UPDATE " + orders_ +
       " SET status = 'completed' WHERE id = 1; COMMIT");
  auto events = flatten(collect(*s, 3));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(commitOf(events[1]), commitOf(events[2]));
  // Otherwise a dedup key built from the position would drop the second SMS.
  EXPECT_NE(events[1].position, events[2].position);
  EXPECT_EQ(column(events[2].after, "status"), Value("completed"));
}

TEST_F(PostgresLogicalTest, TransactionCommittedAfterLaterOnesIsCaptured) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  pqxx::connection early_conn(dsn_);
  pqxx::work early(early_conn);
  early.exec("INSERT INTO " + orders_ + " (id, status) VALUES (100, 'early')");
  exec("INSERT INTO " + orders_ + " (id, status) VALUES (200, 'late')");
  auto first = collect(*s, 1);
  early.commit();
  auto second = collect(*s, 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].events[0].pk, "200");
  EXPECT_EQ(second[0].events[0].pk, "100");
  EXPECT_LT(*parseLsn(first[0].position), *parseLsn(second[0].position));
}

TEST_F(PostgresLogicalTest, LargeTransactionSurvivesAConsumerCrashBeforeAcknowledging) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status) SELECT 'bulk-' || g FROM generate_series(1, 1000) g");
  auto first = collect(*s, 1000, /*ack=*/false);
  ASSERT_EQ(first.size(), 1u);  // one commit: one batch, never split
  const std::string boundary = first[0].position;
  s.reset();  // crash: nothing acknowledged, the store holds no checkpoint

  auto again = installed({orders_});
  ASSERT_TRUE(again);
  ASSERT_TRUE(startWithRetry(*again, "").isOk());
  auto replay = collect(*again, 1000, /*ack=*/false);
  ASSERT_EQ(replay.size(), 1u);
  EXPECT_EQ(replay[0].position, boundary);  // replayed whole, from the same boundary
  std::set<std::string> pks;
  for (const auto& e : replay[0].events) pks.insert(e.pk);
  EXPECT_EQ(pks.size(), 1000u);

  // Now the store took it: the checkpoint is the boundary, and the next start resumes after it.
  ASSERT_TRUE(again->acknowledge(boundary).isOk());
  again.reset();
  exec("INSERT INTO " + orders_ + " (status) VALUES ('after')");
  auto resumed = installed({orders_});
  ASSERT_TRUE(resumed);
  ASSERT_TRUE(startWithRetry(*resumed, boundary).isOk());
  auto rest = collect(*resumed, 1);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(column(rest[0].events[0].after, "status"), Value("after"));
}

TEST_F(PostgresLogicalTest, ReconnectsAfterTheWalsenderIsTerminated) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  for (int i = 1; i <= 20; ++i) {
    exec("INSERT INTO " + orders_ + " (id, status) VALUES (" + std::to_string(i) + ", 'x')");
  }
  auto before = collect(*s, 20);
  exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" +
       slot() + "' AND active_pid IS NOT NULL");
  for (int i = 21; i <= 40; ++i) {
    exec("INSERT INTO " + orders_ + " (id, status) VALUES (" + std::to_string(i) + ", 'x')");
  }
  // collect() retries transient errors like the capture loop; poll() reconnects by itself.
  std::map<std::string, int> seen;
  std::vector<ChangeBatch> after;
  for (int i = 0; i < kMaxPolls && seen.size() < 20; ++i) {
    auto batch = s->poll(kPollWait);
    if (!batch) {
      ASSERT_EQ(batch.error().category(), ErrorCategory::kTransient) << batch.error().toString();
      continue;
    }
    if (batch->position.empty()) continue;
    for (const auto& e : batch->events) ++seen[e.pk];
    ASSERT_TRUE(s->acknowledge(batch->position).isOk());
  }
  ASSERT_EQ(seen.size(), 20u);
  for (int i = 21; i <= 40; ++i) EXPECT_EQ(seen[std::to_string(i)], 1) << "id " << i;
  for (int i = 1; i <= 20; ++i) {
    // Acknowledged before the walsender died: not replayed.
    EXPECT_EQ(seen.count(std::to_string(i)), 0u) << "id " << i;
  }
}

TEST_F(PostgresLogicalTest, FilteredTrafficStillAdvancesTheSlot) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + other_ +
       " (payload) SELECT repeat('y', 200) FROM generate_series(1, 2000)");
  for (int i = 0; i < 20; ++i) exec("INSERT INTO " + other_ + " (payload) VALUES ('z')");
  const std::string target = queryOne("SELECT pg_current_wal_lsn()");
  auto lsnOf = [](const std::string& text) -> Lsn {
    auto lsn = parseLsn(text);
    return lsn ? *lsn : 0;
  };
  std::string confirmed;
  for (int i = 0; i < kMaxPolls; ++i) {
    auto batch = s->poll(kPollWait);
    ASSERT_TRUE(batch) << batch.error().toString();
    EXPECT_TRUE(batch->position.empty()) << "a change of a table outside the publication";
    confirmed = queryOne(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + slot() + "'");
    if (lsnOf(confirmed) >= lsnOf(target)) break;
  }
  EXPECT_GE(lsnOf(confirmed), lsnOf(target)) << "confirmed " << confirmed << " target " << target;
  auto health = s->slotHealth();
  ASSERT_TRUE(health.has_value());
  EXPECT_FALSE(health->wal_status.empty());
}

TEST_F(PostgresLogicalTest, UnchangedToastColumnIsUnavailableNotEmpty) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status, note) VALUES ('new', repeat('n', 5000))");
  exec("UPDATE " + orders_ + " SET status = 'paid' WHERE id = 1");
  auto events = flatten(collect(*s, 2));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(column(events[0].after, "note"), Value(std::string(5000, 'n')));
  EXPECT_EQ(column(events[1].after, "status"), Value("paid"));
  EXPECT_TRUE(column(events[1].after, "note").isUnavailable());
}

TEST_F(PostgresLogicalTest, MissingOrLostSlotStopsCaptureWithRecoverySteps) {
  auto fresh = source({orders_});
  ASSERT_TRUE(fresh);
  Status never_set_up = (*fresh)->start("");
  EXPECT_EQ(never_set_up.category(), ErrorCategory::kConfig) << never_set_up.toString();
  EXPECT_NE(never_set_up.message().find("smsbridge setup"), std::string::npos);

  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status) VALUES ('new')");
  auto batches = collect(*s, 1);
  ASSERT_EQ(batches.size(), 1u);
  s.reset();
  for (int i = 0; i < 50 && slotActive(); ++i) exec("SELECT pg_sleep(0.1)");
  exec("SELECT pg_drop_replication_slot('" + slot() + "')");

  auto again = source({orders_});
  ASSERT_TRUE(again);
  Status lost = (*again)->start(batches[0].position);
  EXPECT_EQ(lost.category(), ErrorCategory::kSourceLost) << lost.toString();
  EXPECT_NE(lost.message().find(slot()), std::string::npos);
  EXPECT_NE(lost.message().find(batches[0].position), std::string::npos);
  EXPECT_NE(lost.message().find("To recover"), std::string::npos);
  // Never re-created behind the operator's back.
  EXPECT_EQ(
      queryOne("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot() + "'"),
      "0");
}

TEST_F(PostgresLogicalTest, SlotDroppedWhileRunningIsReportedAsLost) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status) VALUES ('new')");
  ASSERT_EQ(collect(*s, 1).size(), 1u);  // acknowledged: the store now holds a checkpoint
  exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" +
       slot() + "' AND active_pid IS NOT NULL");
  for (int i = 0; i < 50 && slotActive(); ++i) exec("SELECT pg_sleep(0.1)");
  exec("SELECT pg_drop_replication_slot('" + slot() + "')");
  Status last;
  for (int i = 0; i < 5; ++i) {
    auto batch = s->poll(kPollWait);
    if (batch) continue;
    last = batch.error();
    if (last.category() != ErrorCategory::kTransient) break;
  }
  EXPECT_EQ(last.category(), ErrorCategory::kSourceLost) << last.toString();
  EXPECT_NE(last.message().find("To recover"), std::string::npos) << last.toString();
}

TEST_F(PostgresLogicalTest, SetupPublishesExactlyTheCapturedTables) {
  auto own = source({prefix_ + "messages"});
  ASSERT_FALSE(own);
  EXPECT_EQ(own.error().category(), ErrorCategory::kConfig);

  auto s = installed({orders_, full_});
  ASSERT_TRUE(s);
  auto published = [&] {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    std::set<std::string> names;
    for (const auto& row : txn.exec_params(
             "SELECT tablename FROM pg_publication_tables WHERE pubname = $1", publication())) {
      names.insert(row[0].c_str());
    }
    return names;
  };
  EXPECT_EQ(published(), (std::set<std::string>{orders_, full_}));
  EXPECT_EQ(queryOne("SELECT plugin FROM pg_replication_slots WHERE slot_name = '" + slot() + "'"),
            "pgoutput");

  // Idempotent, and the list follows the mappings.
  auto fewer = installed({orders_});
  ASSERT_TRUE(fewer);
  EXPECT_EQ(published(), (std::set<std::string>{orders_}));

  // A table without replica identity would make the shop's UPDATEs fail: refused.
  auto nopk = source({orders_, nopk_});
  ASSERT_TRUE(nopk);
  Status refused = (*nopk)->setup();
  EXPECT_EQ(refused.category(), ErrorCategory::kConfig);
  EXPECT_NE(refused.message().find(nopk_), std::string::npos) << refused.toString();
  EXPECT_NE(refused.message().find("REPLICA IDENTITY FULL"), std::string::npos);
  EXPECT_EQ(published(), (std::set<std::string>{orders_}));
  exec("UPDATE " + nopk_ + " SET a = 1");  // still works in the shop
}

TEST_F(PostgresLogicalTest, ReplicaIdentityFullOnlyWhenAsked) {
  auto s = source({orders_});
  ASSERT_TRUE(s);
  (*s)->setBeforeImageTables({orders_}, /*apply=*/false);
  auto sql = (*s)->setupSql();
  ASSERT_TRUE(sql) << sql.error().toString();
  for (const auto& statement : *sql)
    EXPECT_EQ(statement.find("REPLICA IDENTITY"), std::string::npos);
  ASSERT_TRUE((*s)->setup().isOk());
  EXPECT_EQ(queryOne("SELECT relreplident FROM pg_class WHERE oid = '" + orders_ + "'::regclass"),
            "d");

  (*s)->setBeforeImageTables({orders_}, /*apply=*/true);
  ASSERT_TRUE((*s)->setup().isOk());
  EXPECT_EQ(queryOne("SELECT relreplident FROM pg_class WHERE oid = '" + orders_ + "'::regclass"),
            "f");

  // With FULL the update now carries the old status.
  ASSERT_TRUE(startWithRetry(**s, "").isOk());
  exec("INSERT INTO " + orders_ + " (status) VALUES ('new')");
  exec("UPDATE " + orders_ + " SET status = 'paid' WHERE id = 1");
  auto events = flatten(collect(**s, 2));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(column(events[1].before, "status"), Value("new"));
  EXPECT_EQ(events[1].pk, "1");
}

}  // namespace
}  // namespace smsbridge::postgres
