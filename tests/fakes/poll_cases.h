#pragma once

// `capture: poll` scenarios every engine must pass, shared by the SQLite unit test and the
// PostgreSQL and MariaDB integration tests. Each test fixture is a PollShop: it owns an orders
// table in its engine and says how to write to it; the scenarios drive the shared PollSource
// over it the way CaptureLoop does, with the store in a SQLite file as in a read-only deployment.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "connectors/poll_capture.h"
#include "core/job_store.h"

namespace smsbridge::testing {

// An orders table (id counting from 1, status, total, a timestamp change column) in one engine.
// Stamps are 'YYYY-MM-DD HH:MM:SS' in UTC.
class PollShop {
 public:
  virtual ~PollShop() = default;

  // The table's name as the engine's SQL writes it, and its change column.
  virtual std::string ordersTable() const = 0;
  virtual std::string stampColumn() const = 0;
  // Runs a statement as the shop's own application would (not through the bridge's session).
  virtual void exec(const std::string& sql) = 0;
  // The same, in a transaction that stays open until the returned function commits it.
  virtual std::function<void()> execUncommitted(const std::string& sql) = 0;
  // A poll source over the orders table with this page size, started from the store's durable
  // checkpoint (as after a restart).
  virtual std::unique_ptr<Source> source(int batch_size) = 0;
  virtual JobStore& store() = 0;

  void insertOrder(const std::string& status, double total, const std::string& stamp) {
    exec("INSERT INTO " + ordersTable() + " (status, total, " + stampColumn() + ") VALUES ('" +
         status + "', " + std::to_string(total) + ", '" + stamp + "')");
  }
  // Sets status and stamp of order `id`, or of every order when `id` is 0.
  void updateOrders(int id, const std::string& status, const std::string& stamp) {
    exec(updateSql(id, status, stamp));
  }
  // The same update left uncommitted: a writer that stamped its row before another one
  // committed a later stamp.
  std::function<void()> updateUncommitted(int id, const std::string& status,
                                          const std::string& stamp) {
    return execUncommitted(updateSql(id, status, stamp));
  }

 private:
  std::string updateSql(int id, const std::string& status, const std::string& stamp) const {
    return "UPDATE " + ordersTable() + " SET status = '" + status + "', " + stampColumn() + " = '" +
           stamp + "'" + (id ? " WHERE id = " + std::to_string(id) : "");
  }
};

// Settings for polling `table` by its timestamp column `change_column`.
inline poll::Settings pollSettings(const std::string& table, const std::string& change_column,
                                   int batch_size) {
  poll::Settings s;
  s.name = "shop";
  s.batch_size = batch_size;
  s.overlap = std::chrono::minutes(5);
  poll::TableSpec orders;
  orders.table = table;
  orders.change_column = change_column;
  s.tables.push_back(orders);
  return s;
}

// A PollSource over `reader` that keeps its shadow in `store`, started from the store's
// checkpoint; nullptr (and a test failure) when it cannot start.
inline std::unique_ptr<Source> startPollSource(poll::Settings settings,
                                               std::unique_ptr<poll::Reader> reader,
                                               JobStore& store) {
  auto src = poll::PollSource::create(std::move(settings), std::move(reader));
  EXPECT_TRUE(src) << src.error().toString();
  if (!src) return nullptr;
  (*src)->attachShadowStore(store);
  auto checkpoint = store.loadCheckpoint("shop");
  EXPECT_TRUE(checkpoint);
  Status started = (*src)->start(checkpoint && *checkpoint ? **checkpoint : "");
  EXPECT_TRUE(started.isOk()) << started.toString();
  return std::unique_ptr<Source>(std::move(*src));
}

// What CaptureLoop does, without mappings: every batch is committed with its shadow and then
// acknowledged, until a round finds nothing. Returns the events in order.
inline std::vector<ChangeEvent> drainPoll(Source& src, JobStore& store) {
  std::vector<ChangeEvent> events;
  for (int guard = 0; guard < 100; ++guard) {
    auto batch = src.poll(std::chrono::milliseconds(0));
    EXPECT_TRUE(batch) << batch.error().toString();
    if (!batch || batch->position.empty()) break;
    auto enq = store.enqueue({}, Checkpoint{"shop", batch->position, batch->shadow});
    EXPECT_TRUE(enq) << enq.error().toString();
    EXPECT_TRUE(src.acknowledge(batch->position).isOk());
    events.insert(events.end(), batch->events.begin(), batch->events.end());
  }
  return events;
}

// Rows there before the first round are a baseline, not SMS; later inserts and updates come in
// key order, updates with the row as it was before.
inline void checkBaselineThenInsertsAndUpdatesWithBeforeImages(PollShop& shop) {
  shop.insertOrder("processing", 10, "2026-11-22 10:00:00");
  auto src = shop.source(100);
  ASSERT_TRUE(src);
  EXPECT_TRUE(drainPoll(*src, shop.store()).empty()) << "the first round is a baseline";

  shop.insertOrder("processing", 20.5, "2026-11-22 10:01:00");
  shop.updateOrders(1, "completed", "2026-11-22 10:01:02");
  auto events = drainPoll(*src, shop.store());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].pk, "1");
  EXPECT_EQ(events[0].op, Op::kUpdate);
  ASSERT_TRUE(events[0].before);
  EXPECT_EQ(*events[0].before->find("status"), Value("processing"));
  EXPECT_EQ(*events[0].after->find("status"), Value("completed"));
  EXPECT_EQ(events[1].pk, "2");
  EXPECT_EQ(events[1].op, Op::kInsert);
  EXPECT_EQ(events[1].after->find("total")->toNumber(), 20.5);
  EXPECT_TRUE(drainPoll(*src, shop.store()).empty()) << "re-reading the overlap makes no events";
}

// A transaction that stamped its row (10:08) before another committed a later stamp (10:10),
// and itself commits only after the bridge saw the later one: a `updated_at > last` watermark
// would skip it; the overlap window catches it.
inline void checkLateCommitWithAnOlderStampIsCaptured(PollShop& shop) {
  shop.insertOrder("processing", 10, "2026-11-22 10:00:00");
  auto src = shop.source(100);
  ASSERT_TRUE(src);
  drainPoll(*src, shop.store());

  std::function<void()> commit = shop.updateUncommitted(1, "completed", "2026-11-22 10:08:00");
  shop.insertOrder("pending", 5, "2026-11-22 10:10:00");
  auto seen = drainPoll(*src, shop.store());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].pk, "2");

  commit();
  auto late = drainPoll(*src, shop.store());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].pk, "1");
  ASSERT_TRUE(late[0].before);
  EXPECT_EQ(*late[0].before->find("status"), Value("processing"));
  EXPECT_TRUE(drainPoll(*src, shop.store()).empty());
}

// A bridge that read a batch and died before the store had it: its successor starts from the
// durable checkpoint and shadow and finds the same changes at the same positions (so the same
// dedup keys), nothing lost; once they are committed, a third instance finds nothing new.
inline void checkRestartFromTheDurableCheckpointLosesAndDuplicatesNothing(PollShop& shop) {
  for (int i = 0; i < 5; ++i) shop.insertOrder("pending", 1, "2026-11-22 10:00:00");
  {
    auto first = shop.source(2);
    ASSERT_TRUE(first);
    drainPoll(*first, shop.store());
  }
  shop.updateOrders(0, "processing", "2026-11-22 10:05:00");

  auto crashed = shop.source(2);
  ASSERT_TRUE(crashed);
  auto lost = crashed->poll(std::chrono::milliseconds(0));  // read, then "crash" before enqueue
  ASSERT_TRUE(lost) << lost.error().toString();
  ASSERT_EQ(lost->events.size(), 2u);

  auto restarted = shop.source(2);
  ASSERT_TRUE(restarted);
  auto events = drainPoll(*restarted, shop.store());
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].position, lost->events[0].position) << "same change, same dedup key";
  EXPECT_EQ(events[1].position, lost->events[1].position) << "same change, same dedup key";

  auto third = shop.source(2);
  ASSERT_TRUE(third);
  EXPECT_TRUE(drainPoll(*third, shop.store()).empty());
}

}  // namespace smsbridge::testing
