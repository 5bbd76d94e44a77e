// The pgoutput decoder against bytes a real PostgreSQL writes: a publication and a pgoutput slot
// on the test server, real INSERT/UPDATE/DELETE under both replica identities, and the slot read
// through pg_logical_slot_get_binary_changes() (the same messages START_REPLICATION streams,
// without the 'w' header).

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/postgres/pgoutput.h"
#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultCloser {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;
using PgResult = std::unique_ptr<PGresult, PgResultCloser>;

// One row of pg_logical_slot_get_binary_changes(): the LSN the server reports for the message
// (for a Commit, the transaction's end LSN), its xid and the pgoutput payload.
struct SlotRow {
  std::string lsn;
  std::string xid;
  std::string data;
};

// A transaction as the bridge would see it, plus the raw messages for byte-level assertions.
struct Decoded {
  std::vector<TransactionBatch> batches;
  std::vector<PgoutputMessage> messages;
  std::vector<SlotRow> commit_rows;  // the slot rows that carried the Commit messages
};

class PgoutputIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_PG_DSN(dsn);
    conn_.reset(PQconnectdb(dsn.c_str()));
    ASSERT_EQ(PQstatus(conn_.get()), CONNECTION_OK) << PQerrorMessage(conn_.get());
    // Unique per run, so a rerun or a leftover from a killed run never collides.
    std::random_device random;
    prefix_ = "pgo_" + std::to_string(random() % 1'000'000'000);
    ASSERT_TRUE(exec("SET client_min_messages = warning"));
  }

  // Runs even when the test body failed: a forgotten slot would pin WAL on the server forever.
  void TearDown() override {
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) return;
    EXPECT_TRUE(
        exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
             "WHERE slot_name = '" +
             slot() + "'"));
    EXPECT_TRUE(exec("DROP PUBLICATION IF EXISTS " + publication()));
    EXPECT_TRUE(exec("DROP SCHEMA IF EXISTS " + prefix_ + " CASCADE"));
    EXPECT_TRUE(exec("DROP TABLE IF EXISTS " + prefix_ + "_orders"));
    EXPECT_TRUE(exec("DROP TYPE IF EXISTS " + prefix_ + "_mood"));
  }

  std::string slot() const { return prefix_ + "_slot"; }
  std::string publication() const { return prefix_ + "_pub"; }

  ::testing::AssertionResult exec(const std::string& sql) {
    PgResult result(PQexec(conn_.get(), sql.c_str()));
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << sql << ": " << PQerrorMessage(conn_.get());
  }

  std::vector<std::string> column(const std::string& sql) {
    PgResult result(PQexec(conn_.get(), sql.c_str()));
    EXPECT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK)
        << sql << ": " << PQerrorMessage(conn_.get());
    std::vector<std::string> values;
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      values.emplace_back(PQgetvalue(result.get(), row, 0));
    }
    return values;
  }

  std::uint32_t oidOf(const std::string& table) {
    std::vector<std::string> oid = column("SELECT '" + table + "'::regclass::oid");
    return oid.size() == 1 ? static_cast<std::uint32_t>(std::stoul(oid[0])) : 0;
  }

  // The primary key columns in key order: what a connector passes to setPrimaryKey().
  std::vector<std::string> primaryKeyOf(const std::string& table) {
    return column(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
        "a.attnum = ANY(i.indkey) WHERE i.indrelid = '" +
        table +
        "'::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)");
  }

  // The publication must exist before the slot, or the slot's historic snapshot cannot see it.
  ::testing::AssertionResult createPublicationAndSlot(const std::string& tables) {
    ::testing::AssertionResult pub =
        exec("CREATE PUBLICATION " + publication() + " FOR TABLE " + tables);
    if (!pub) return pub;
    return exec("SELECT pg_create_logical_replication_slot('" + slot() + "', 'pgoutput')");
  }

  // Consumes everything the slot holds, asking for binary results so bytea arrives raw.
  std::vector<SlotRow> readSlot() {
    const std::string slot_name = slot();
    const std::string pub_name = publication();
    const char* params[] = {slot_name.c_str(), pub_name.c_str()};
    PgResult result(PQexecParams(conn_.get(),
                                 "SELECT lsn::text, xid::text, data FROM "
                                 "pg_logical_slot_get_binary_changes($1, NULL, NULL, "
                                 "'proto_version', '1', 'publication_names', $2)",
                                 2, nullptr, params, nullptr, nullptr, /*resultFormat=*/1));
    EXPECT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn_.get());
    std::vector<SlotRow> rows;
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      const auto field = [&](int col) {
        return std::string(PQgetvalue(result.get(), row, col), PQgetlength(result.get(), row, col));
      };
      rows.push_back({field(0), field(1), field(2)});
    }
    return rows;
  }

  // Decodes the slot's contents with `assembler`; a decode or assembly error fails the test.
  Decoded decodeSlot(TransactionAssembler& assembler) {
    Decoded out;
    for (const SlotRow& row : readSlot()) {
      Result<PgoutputMessage> message = decodePgoutput(row.data);
      EXPECT_TRUE(message.has_value()) << message.status().toString();
      if (!message) return out;
      out.messages.push_back(*message);
      if (std::holds_alternative<CommitMessage>(*message)) out.commit_rows.push_back(row);
      Result<std::optional<TransactionBatch>> batch = assembler.feed(std::move(*message));
      EXPECT_TRUE(batch.has_value()) << batch.status().toString();
      if (!batch) return out;
      if (*batch) out.batches.push_back(std::move(**batch));
    }
    return out;
  }

  PgConn conn_;
  std::string prefix_;
};

template <typename T>
std::vector<T> messagesOf(const std::vector<PgoutputMessage>& messages) {
  std::vector<T> out;
  for (const PgoutputMessage& m : messages) {
    if (const T* typed = std::get_if<T>(&m)) out.push_back(*typed);
  }
  return out;
}

TEST_F(PgoutputIntegrationTest, DecodesRealChangesUnderBothReplicaIdentities) {
  const std::string orders = prefix_ + "_orders";      // public, REPLICA IDENTITY FULL
  const std::string bookings = prefix_ + ".bookings";  // own schema, REPLICA IDENTITY DEFAULT
  ASSERT_TRUE(exec("CREATE TABLE " + orders +
                   " (id int PRIMARY KEY, status text NOT NULL, total numeric(10,2), paid bool, "
                   "qty bigint, small smallint, ratio float8, f4 real, note text, big text, "
                   "created timestamptz)"));
  ASSERT_TRUE(exec("ALTER TABLE " + orders + " REPLICA IDENTITY FULL"));
  ASSERT_TRUE(exec("CREATE SCHEMA " + prefix_));
  ASSERT_TRUE(exec("CREATE TABLE " + bookings +
                   " (id int, lang text, status text, big text, PRIMARY KEY (id, lang))"));
  // EXTERNAL: stored out of line without compression, so an unchanged value is left out of the
  // new tuple ('u') however compressible the test text is.
  ASSERT_TRUE(exec("ALTER TABLE " + orders + " ALTER COLUMN big SET STORAGE EXTERNAL"));
  ASSERT_TRUE(exec("ALTER TABLE " + bookings + " ALTER COLUMN big SET STORAGE EXTERNAL"));
  ASSERT_TRUE(createPublicationAndSlot(orders + ", " + bookings));

  const std::string big_x(5000, 'x');
  const std::string big_y(5000, 'y');
  ASSERT_TRUE(exec("BEGIN; INSERT INTO " + orders +
                   " VALUES (1, 'new', 12.50, true, 9000000000, -3, 0.25, 1.5, NULL, '" + big_x +
                   "', '2024-01-02 03:04:05+00'); INSERT INTO " + bookings +
                   " VALUES (7, 'en', "
                   "'new', '" +
                   big_y + "'); COMMIT"));
  ASSERT_TRUE(exec("UPDATE " + orders + " SET status = 'paid' WHERE id = 1"));
  ASSERT_TRUE(exec("UPDATE " + bookings + " SET status = 'paid' WHERE id = 7"));
  ASSERT_TRUE(exec("UPDATE " + bookings + " SET id = 8 WHERE id = 7"));
  ASSERT_TRUE(exec("DELETE FROM " + orders + " WHERE id = 1"));
  ASSERT_TRUE(exec("DELETE FROM " + bookings));

  TransactionAssembler assembler("shop");
  const std::uint32_t orders_oid = oidOf(orders);
  const std::vector<std::string> orders_pk = primaryKeyOf(orders);
  ASSERT_EQ(orders_pk, std::vector<std::string>{"id"});
  assembler.relations().setPrimaryKey(orders_oid, orders_pk);
  Decoded decoded = decodeSlot(assembler);
  ASSERT_EQ(decoded.batches.size(), 6U);

  // What the server really sends: FULL flags every column as key, DEFAULT only the key columns.
  for (const RelationMessage& relation : messagesOf<RelationMessage>(decoded.messages)) {
    if (relation.oid == orders_oid) {
      EXPECT_EQ(relation.replica_identity, ReplicaIdentity::kFull);
      for (const RelationColumn& c : relation.columns) EXPECT_TRUE(c.key) << c.name;
    } else {
      EXPECT_EQ(relation.replica_identity, ReplicaIdentity::kDefault);
      EXPECT_EQ(relation.schema, prefix_);
      ASSERT_EQ(relation.columns.size(), 4U);
      EXPECT_TRUE(relation.columns[0].key);
      EXPECT_TRUE(relation.columns[1].key);
      EXPECT_FALSE(relation.columns[2].key);
      EXPECT_FALSE(relation.columns[3].key);
    }
  }
  // The FULL update carries the whole old row ('O') and still leaves the unchanged out-of-line
  // value out of the new one.
  const std::vector<UpdateMessage> updates = messagesOf<UpdateMessage>(decoded.messages);
  ASSERT_EQ(updates.size(), 3U);
  ASSERT_TRUE(updates[0].old_tuple.has_value());
  EXPECT_EQ(updates[0].old_tuple->kind, OldTuple::Kind::kFull);
  EXPECT_EQ(updates[0].old_tuple->columns[9].kind, TupleColumn::Kind::kText);
  EXPECT_EQ(updates[0].new_tuple[9].kind, TupleColumn::Kind::kUnchanged);
  EXPECT_FALSE(updates[1].old_tuple.has_value());
  ASSERT_TRUE(updates[2].old_tuple.has_value());
  EXPECT_EQ(updates[2].old_tuple->kind, OldTuple::Kind::kKey);

  // Positions: the Commit's end LSN, which is also the LSN the server reports for that row,
  // strictly increasing across transactions; xid and commit time from the server.
  const auto now = std::chrono::system_clock::now();
  Lsn previous = 0;
  for (std::size_t i = 0; i < decoded.batches.size(); ++i) {
    const TransactionBatch& batch = decoded.batches[i];
    EXPECT_EQ(batch.position, decoded.commit_rows[i].lsn);
    EXPECT_EQ(std::to_string(batch.xid), decoded.commit_rows[i].xid);
    Result<Lsn> lsn = parseLsn(batch.position);
    ASSERT_TRUE(lsn.has_value()) << batch.position;
    EXPECT_EQ(*lsn, batch.end_lsn);
    EXPECT_GT(*lsn, previous);
    previous = *lsn;
    EXPECT_LT(std::chrono::abs(now - batch.commit_ts), std::chrono::minutes(5));
    for (const ChangeEvent& event : batch.events) {
      EXPECT_EQ(event.source, "shop");
      EXPECT_EQ(event.position, batch.position);
      EXPECT_EQ(event.txid, decoded.commit_rows[i].xid);
      EXPECT_EQ(event.commit_ts, batch.commit_ts);
    }
  }

  const Row full_row_new = {{"id", 1},
                            {"status", "new"},
                            {"total", "12.50"},
                            {"paid", true},
                            {"qty", std::int64_t{9'000'000'000}},
                            {"small", -3},
                            {"ratio", 0.25},
                            {"f4", 1.5},
                            {"note", NullValue{}},
                            {"big", big_x},
                            {"created", "2024-01-02 03:04:05+00"}};
  Row full_row_paid = full_row_new;
  full_row_paid.set("status", "paid");

  // 1. One transaction, two tables.
  const std::vector<ChangeEvent>& t1 = decoded.batches[0].events;
  ASSERT_EQ(t1.size(), 2U);
  EXPECT_EQ(t1[0].table, orders);
  EXPECT_EQ(t1[0].op, Op::kInsert);
  EXPECT_EQ(t1[0].pk, "1");
  EXPECT_FALSE(t1[0].before.has_value());
  EXPECT_EQ(t1[0].after, full_row_new);
  EXPECT_EQ(t1[1].table, bookings);
  EXPECT_EQ(t1[1].pk, "7|en");
  EXPECT_EQ(t1[1].after, (Row{{"id", 7}, {"lang", "en"}, {"status", "new"}, {"big", big_y}}));

  // 2. FULL: the whole before image; the unchanged TOAST value comes from it.
  ASSERT_EQ(decoded.batches[1].events.size(), 1U);
  const ChangeEvent& t2 = decoded.batches[1].events[0];
  EXPECT_EQ(t2.op, Op::kUpdate);
  EXPECT_EQ(t2.pk, "1");
  EXPECT_EQ(t2.before, full_row_new);
  EXPECT_EQ(t2.after, full_row_paid);

  // 3. DEFAULT, key unchanged: no before image; the TOAST value is unavailable, not empty.
  ASSERT_EQ(decoded.batches[2].events.size(), 1U);
  const ChangeEvent& t3 = decoded.batches[2].events[0];
  EXPECT_EQ(t3.pk, "7|en");
  EXPECT_FALSE(t3.before.has_value());
  EXPECT_EQ(t3.after,
            (Row{{"id", 7}, {"lang", "en"}, {"status", "paid"}, {"big", UnavailableValue{}}}));

  // 4. DEFAULT, key changed: the old key only.
  ASSERT_EQ(decoded.batches[3].events.size(), 1U);
  const ChangeEvent& t4 = decoded.batches[3].events[0];
  EXPECT_EQ(t4.pk, "8|en");
  EXPECT_EQ(t4.before, (Row{{"id", 7}, {"lang", "en"}}));
  EXPECT_EQ(t4.after,
            (Row{{"id", 8}, {"lang", "en"}, {"status", "paid"}, {"big", UnavailableValue{}}}));

  // 5. FULL delete: the whole old row, big value included.
  ASSERT_EQ(decoded.batches[4].events.size(), 1U);
  const ChangeEvent& t5 = decoded.batches[4].events[0];
  EXPECT_EQ(t5.op, Op::kDelete);
  EXPECT_EQ(t5.pk, "1");
  EXPECT_EQ(t5.before, full_row_paid);
  EXPECT_FALSE(t5.after.has_value());

  // 6. DEFAULT delete: the key only.
  ASSERT_EQ(decoded.batches[5].events.size(), 1U);
  const ChangeEvent& t6 = decoded.batches[5].events[0];
  EXPECT_EQ(t6.table, bookings);
  EXPECT_EQ(t6.pk, "8|en");
  EXPECT_EQ(t6.before, (Row{{"id", 8}, {"lang", "en"}}));
  EXPECT_FALSE(t6.after.has_value());
}

TEST_F(PgoutputIntegrationTest, FollowsSchemaChangesCustomTypesAndTruncate) {
  const std::string orders = prefix_ + "_orders";
  const std::string mood = prefix_ + "_mood";
  ASSERT_TRUE(exec("CREATE TYPE " + mood + " AS ENUM ('happy', 'sad')"));
  ASSERT_TRUE(exec("CREATE TABLE " + orders + " (id bigint PRIMARY KEY, feeling " + mood + ")"));
  ASSERT_TRUE(createPublicationAndSlot(orders));

  ASSERT_TRUE(exec("INSERT INTO " + orders + " VALUES (1, 'happy')"));
  ASSERT_TRUE(exec("ALTER TABLE " + orders + " ADD COLUMN phone text"));
  ASSERT_TRUE(exec("INSERT INTO " + orders + " VALUES (2, 'sad', '+48600100200')"));
  ASSERT_TRUE(exec("TRUNCATE " + orders));

  TransactionAssembler assembler("crm");
  Decoded decoded = decodeSlot(assembler);
  ASSERT_EQ(decoded.batches.size(), 3U);

  // A non-built-in type is announced before the relation that uses it; its values stay text.
  const std::vector<TypeMessage> types = messagesOf<TypeMessage>(decoded.messages);
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types[0].name, mood);
  EXPECT_EQ(types[0].schema, "public");

  // The relation is announced again after ALTER TABLE, with the new column.
  const std::vector<RelationMessage> relations = messagesOf<RelationMessage>(decoded.messages);
  ASSERT_GE(relations.size(), 2U);
  EXPECT_EQ(relations[0].columns.size(), 2U);
  EXPECT_EQ(relations[1].columns.size(), 3U);

  ASSERT_EQ(decoded.batches[0].events.size(), 1U);
  EXPECT_EQ(decoded.batches[0].events[0].after, (Row{{"id", 1}, {"feeling", "happy"}}));
  ASSERT_EQ(decoded.batches[1].events.size(), 1U);
  EXPECT_EQ(decoded.batches[1].events[0].after,
            (Row{{"id", 2}, {"feeling", "sad"}, {"phone", "+48600100200"}}));
  EXPECT_EQ(decoded.batches[1].events[0].source, "crm");

  EXPECT_TRUE(decoded.batches[2].events.empty());
  EXPECT_EQ(decoded.batches[2].truncated_tables, std::vector<std::string>{orders});
}

}  // namespace
}  // namespace smsbridge::postgres
