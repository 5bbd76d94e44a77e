// `trigger` capture on the real PostgreSQL from scripts/test-services.sh: what the installed
// triggers record, consume-and-mark across a late-committing transaction, and the refusals.
// Each test works on its own tables and prefix, so tests are independent and rerunnable.

#include "connectors/postgres/pg_trigger_source.h"

#include <random>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

using std::chrono::milliseconds;

class PostgresTriggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_PG_DSN(dsn);
    dsn_ = dsn;
    std::random_device random;
    tag_ = "pgt" + std::to_string(random() % 1'000'000'000);
    prefix_ = tag_ + "_sb_";
    orders_ = tag_ + "_orders";
    exec("CREATE TABLE " + orders_ +
         " (id serial PRIMARY KEY, status text, total numeric(20,2), qty integer, paid boolean, "
         "note jsonb, big numeric)");
    exec("CREATE TABLE " + tag_ +
         "_lines (order_id integer, line integer, sku text, "
         "PRIMARY KEY (order_id, line))");
    exec("CREATE TABLE " + tag_ + "_nopk (a integer)");
    exec("CREATE SCHEMA " + tag_ + "_s");
    exec("CREATE TABLE " + tag_ + "_s.items (code text PRIMARY KEY, stock integer)");
  }

  void TearDown() override {
    if (dsn_.empty()) return;
    exec("DROP TABLE IF EXISTS " + orders_ + ", " + tag_ + "_lines, " + tag_ + "_nopk, " + prefix_ +
         "changes");
    exec("DROP SCHEMA IF EXISTS " + tag_ + "_s CASCADE");
    exec("DROP FUNCTION IF EXISTS " + prefix_ + "capture()");
  }

  void exec(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    txn.exec("SET client_min_messages = warning");
    txn.exec(sql);
  }

  Result<std::unique_ptr<PgTriggerSource>> source(std::vector<std::string> tables) {
    TriggerSourceConfig config;
    config.name = "shop";
    config.dsn = dsn_;
    config.tables = std::move(tables);
    config.prefix = prefix_;
    config.batch_size = 100;
    return PgTriggerSource::create(std::move(config));
  }

  std::unique_ptr<PgTriggerSource> started(std::vector<std::string> tables) {
    auto s = source(std::move(tables));
    EXPECT_TRUE(s) << s.error().toString();
    if (!s) return nullptr;
    Status setup = (*s)->setup();
    EXPECT_TRUE(setup.isOk()) << setup.toString();
    Status start = (*s)->start("");
    EXPECT_TRUE(start.isOk()) << start.toString();
    return std::move(*s);
  }

  ChangeBatch poll(PgTriggerSource& s) {
    auto batch = s.poll(milliseconds(0));
    EXPECT_TRUE(batch) << batch.error().toString();
    return batch ? *batch : ChangeBatch{};
  }

  std::string dsn_;
  std::string tag_;
  std::string prefix_;
  std::string orders_;
};

const Value& column(const std::optional<Row>& row, std::string_view name) {
  static const Value kMissing("<missing>");
  if (!row) return kMissing;
  const Value* v = row->find(name);
  return v ? *v : kMissing;
}

TEST_F(PostgresTriggerTest, CapturesInsertUpdateDeleteWithBeforeAndAfterImages) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ +
       " (status, total, qty, paid, note, big) VALUES ('new', 19.990, 2, true, "
       "'{\"gift\": true}', 123456789012345678901234.5)");
  exec("UPDATE " + orders_ + " SET status = 'completed' WHERE id = 1");
  exec("DELETE FROM " + orders_ + " WHERE id = 1");

  ChangeBatch batch = poll(*s);
  ASSERT_EQ(batch.events.size(), 3u);
  const ChangeEvent& ins = batch.events[0];
  const ChangeEvent& upd = batch.events[1];
  const ChangeEvent& del = batch.events[2];
  EXPECT_EQ(ins.source, "shop");
  EXPECT_EQ(ins.table, orders_);
  EXPECT_EQ(ins.op, Op::kInsert);
  EXPECT_EQ(ins.pk, "1");
  EXPECT_FALSE(ins.before.has_value());
  ASSERT_TRUE(ins.after.has_value());
  EXPECT_EQ(column(ins.after, "id"), Value(1));
  EXPECT_EQ(column(ins.after, "status"), Value("new"));
  EXPECT_EQ(column(ins.after, "total"), Value(19.99));
  EXPECT_EQ(column(ins.after, "qty"), Value(2));
  EXPECT_EQ(column(ins.after, "paid"), Value(true));
  EXPECT_EQ(column(ins.after, "note"), Value("{\"gift\": true}"));
  // More digits than a double holds: kept as text, not rounded.
  EXPECT_EQ(column(ins.after, "big"), Value("123456789012345678901234.5"));
  // The table's column order, not jsonb's.
  ASSERT_EQ(ins.after->size(), 7u);
  EXPECT_EQ(ins.after->columns()[0].first, "id");
  EXPECT_EQ(ins.after->columns()[1].first, "status");
  EXPECT_FALSE(ins.txid.empty());

  EXPECT_EQ(upd.op, Op::kUpdate);
  EXPECT_EQ(column(upd.before, "status"), Value("new"));
  EXPECT_EQ(column(upd.after, "status"), Value("completed"));
  EXPECT_NE(upd.txid, ins.txid);

  EXPECT_EQ(del.op, Op::kDelete);
  EXPECT_EQ(del.pk, "1");
  EXPECT_FALSE(del.after.has_value());
  EXPECT_EQ(column(del.before, "status"), Value("completed"));

  // Each event carries its own change id; the batch ends at the last one.
  EXPECT_LT(std::stoll(ins.position), std::stoll(upd.position));
  EXPECT_LT(std::stoll(upd.position), std::stoll(del.position));
  EXPECT_EQ(batch.position, del.position);

  ASSERT_TRUE(s->acknowledge(batch.position).isOk());
  EXPECT_TRUE(poll(*s).events.empty());
}

TEST_F(PostgresTriggerTest, CompositeKeysAndSchemaQualifiedTables) {
  const std::string items = tag_ + "_s.items";
  auto s = started({tag_ + "_lines", items});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + tag_ + "_lines VALUES (3, 2, 'SKU-1')");
  exec("INSERT INTO " + items + " VALUES ('A-1', 4)");
  ChangeBatch batch = poll(*s);
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].pk, "3|2");
  EXPECT_EQ(batch.events[1].table, items);
  EXPECT_EQ(batch.events[1].pk, "A-1");
  EXPECT_EQ(column(batch.events[1].after, "stock"), Value(4));
}

TEST_F(PostgresTriggerTest, ALateCommitIsDeliveredNeitherLostNorRepeated) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  pqxx::connection conn_a(dsn_);
  pqxx::work txn_a(conn_a);
  txn_a.exec("INSERT INTO " + orders_ + " (id, status) VALUES (100, 'from A')");  // change 1
  exec("INSERT INTO " + orders_ + " (id, status) VALUES (200, 'from B')");        // change 2

  ChangeBatch first = poll(*s);
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.events[0].pk, "200");
  ASSERT_TRUE(s->acknowledge(first.position).isOk());

  txn_a.commit();
  ChangeBatch second = poll(*s);
  ASSERT_EQ(second.events.size(), 1u);
  EXPECT_EQ(second.events[0].pk, "100");
  // The late row has the LOWER change id: an `id > last` cursor would have skipped it.
  EXPECT_LT(std::stoll(second.events[0].position), std::stoll(first.events[0].position));
  ASSERT_TRUE(s->acknowledge(second.position).isOk());
  EXPECT_TRUE(poll(*s).events.empty());
}

TEST_F(PostgresTriggerTest, AnUnacknowledgedBatchComesAgainAfterARestart) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status) VALUES ('new')");
  ChangeBatch batch = poll(*s);
  ASSERT_EQ(batch.events.size(), 1u);
  // The bridge dies before its jobs are stored: a new source reads the same change again.
  auto restarted = source({orders_});
  ASSERT_TRUE(restarted);
  ASSERT_TRUE((*restarted)->start(batch.position).isOk());
  ChangeBatch again = poll(**restarted);
  ASSERT_EQ(again.events.size(), 1u);
  EXPECT_EQ(again.events[0].position, batch.events[0].position);
  ASSERT_TRUE((*restarted)->acknowledge(again.position).isOk());
  EXPECT_TRUE(poll(**restarted).events.empty());
}

TEST_F(PostgresTriggerTest, AcknowledgeMarksOnlyTheDeliveredBatch) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  exec("INSERT INTO " + orders_ + " (status) VALUES ('one')");
  ChangeBatch batch = poll(*s);
  ASSERT_EQ(batch.events.size(), 1u);
  exec("INSERT INTO " + orders_ + " (status) VALUES ('two')");  // committed after the poll
  ASSERT_TRUE(s->acknowledge(batch.position).isOk());
  ChangeBatch next = poll(*s);
  ASSERT_EQ(next.events.size(), 1u);
  EXPECT_EQ(column(next.events[0].after, "status"), Value("two"));
}

TEST_F(PostgresTriggerTest, SetupIsIdempotent) {
  auto s = started({orders_});
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->setup().isOk());
  exec("INSERT INTO " + orders_ + " (status) VALUES ('new')");
  EXPECT_EQ(poll(*s).events.size(), 1u);  // one trigger, not two
  auto sql = s->setupSql();
  ASSERT_TRUE(sql);
  EXPECT_NE((*sql)[0].find("xid8"), std::string::npos);
}

TEST_F(PostgresTriggerTest, StartWithoutSetupTellsToRunSetup) {
  auto s = source({orders_});
  ASSERT_TRUE(s);
  Status st = (*s)->start("");
  EXPECT_EQ(st.category(), ErrorCategory::kConfig);
  EXPECT_NE(st.message().find("run `smsbridge setup"), std::string::npos) << st.message();
  // Changes table there, trigger missing on a newly listed table: same advice.
  ASSERT_TRUE(started({orders_}));
  auto wider = source({orders_, tag_ + "_lines"});
  ASSERT_TRUE(wider);
  Status missing = (*wider)->start("");
  EXPECT_EQ(missing.category(), ErrorCategory::kConfig);
  EXPECT_NE(missing.message().find(tag_ + "_lines"), std::string::npos) << missing.message();
}

TEST_F(PostgresTriggerTest, RefusesToCaptureItsOwnTables) {
  for (const std::string& own : {prefix_ + "changes", "public." + prefix_ + "messages"}) {
    auto s = source({own});
    ASSERT_FALSE(s) << own;
    EXPECT_EQ(s.error().category(), ErrorCategory::kConfig);
    EXPECT_NE(s.error().message().find("smsbridge's own"), std::string::npos);
  }
}

TEST_F(PostgresTriggerTest, ATableWithoutPrimaryKeyIsAConfigErrorNamingIt) {
  auto s = source({tag_ + "_nopk"});
  ASSERT_TRUE(s);
  Status st = (*s)->setup();
  EXPECT_EQ(st.category(), ErrorCategory::kConfig);
  EXPECT_NE(st.message().find(tag_ + "_nopk' has no primary key"), std::string::npos)
      << st.message();
}

TEST_F(PostgresTriggerTest, AMissingTableIsAConfigError) {
  auto s = source({tag_ + "_nothere"});
  ASSERT_TRUE(s);
  Status st = (*s)->setup();
  EXPECT_EQ(st.category(), ErrorCategory::kConfig);
  EXPECT_NE(st.message().find("does not exist"), std::string::npos) << st.message();
}

TEST(PostgresJsonbValueTest, NumbersAreExactOrText) {
  EXPECT_EQ(jsonbValue("number", "17"), Value(17));
  EXPECT_EQ(jsonbValue("number", "-4.50"), Value(-4.5));
  EXPECT_EQ(jsonbValue("number", "99999999999999999999"), Value("99999999999999999999"));
  EXPECT_EQ(jsonbValue("number", "0.10000000000000000001"), Value("0.10000000000000000001"));
  EXPECT_EQ(jsonbValue("null", std::nullopt), Value());
  EXPECT_EQ(jsonbValue("boolean", "false"), Value(false));
  EXPECT_EQ(jsonbValue("array", "[1, 2]"), Value("[1, 2]"));
}

}  // namespace
}  // namespace smsbridge::postgres
