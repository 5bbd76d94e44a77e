#pragma once

// The crash scenario every database's crash e2e test runs (exactly-once enqueue across
// crashes, DESIGN.md §2.1): 10,000 orders are each paid once by one of four concurrent
// writers while the bridge is SIGKILLed at random points and restarted; the mapping fires on
// the transition, so after the last restart every order must have exactly one job, sent.
//
// The database-specific parts (the shop connection, the table, the source's config keys) come
// from the caller; the driver owns the config's common part, the kills and the verdict.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge::testing {

inline constexpr int kCrashOrders = 10'000;
inline constexpr int kCrashWriters = 4;

struct CrashCase {
  std::string dsn;  // each writer opens its own shop connection with it
  // The table of kCrashOrders orders (ids 1..kCrashOrders, status 'new', a phone, and an
  // updated_at column for poll mode), already created and filled by the caller.
  std::string orders;
  std::string prefix;  // the store's table prefix, in the source database
  // The `shop` source's keys, each line indented by four spaces, ending in a newline.
  std::string source_yaml;
  std::vector<std::string> setup_flags;  // extra `smsbridge setup` arguments
  std::string now_sql;                   // the shop's "now" for updated_at
  // A count query that is > 0 once the bridge's first run may see changes (binlog capture
  // starts at the binlog's end, poll's first round records existing rows); empty: at once.
  std::string ready_sql;
};

// The whole config: the case's source, the store beside it, a sandbox provider and the
// mapping that fires once per paid order.
inline std::string crashConfig(const CrashCase& c) {
  return "defaults: {region: PL}\n"
         "sources:\n"
         "  shop:\n" +
         c.source_yaml + "store: {table_prefix: " + c.prefix +
         "}\n"
         "providers:\n"
         "  sandbox: {type: sandbox, delivery_delay: 50ms}\n"
         "routes:\n"
         "  default: [sandbox]\n"
         "dispatcher: {batch_size: 200, max_inflight: 400}\n"
         "mappings:\n"
         "  paid:\n"
         "    table: " +
         c.orders +
         "\n"
         "    on: [update]\n"
         "    when: \"status == 'paid' and old.status != 'paid'\"\n"
         "    to: \"{{ phone }}\"\n"
         "    text: \"Order {{ id }} is paid\"\n";  // the default dedup key: row + transition
}

// Runs the scenario; `Shop` is a connection class with a (dsn) constructor, exec() and
// scalar() (pg_shop.h, mariadb_shop.h). Reports through gtest assertions.
template <typename Shop>
void payOrdersWhileKilling(Shop& shop, const CrashCase& c) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const std::string messages = c.prefix + "messages";
  TempDir dir;
  const std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << crashConfig(c);

  ASSERT_TRUE(setupBridge(config, dir.file("setup.log"), c.setup_flags));

  auto bridge = std::make_unique<BridgeProcess>(config, dir.file("run0.log"));
  if (!c.ready_sql.empty()) {
    ASSERT_TRUE(waitUntil([&] { return shop.scalar(c.ready_sql) > 0; }, seconds(60)))
        << bridge->output();
  }

  std::atomic<int> paid{0};
  std::atomic<bool> writer_failed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kCrashWriters; ++w) {
    writers.emplace_back([&, w] {
      try {
        Shop conn(c.dsn);
        for (int id = 1 + w; id <= kCrashOrders; id += kCrashWriters) {
          conn.exec("UPDATE " + c.orders + " SET status = 'paid', updated_at = " + c.now_sql +
                    " WHERE id = " + std::to_string(id));
          ++paid;
        }
      } catch (const std::exception&) {
        writer_failed = true;
      }
    });
  }

  // Kill the bridge at random points while the writers commit, restarting it each time.
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  for (int run = 1; run <= 4 && paid < kCrashOrders; ++run) {
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(300, 2500)(rng)));
    bridge->kill();
    ++kills;
    bridge =
        std::make_unique<BridgeProcess>(config, dir.file("run" + std::to_string(run) + ".log"));
  }
  for (auto& t : writers) t.join();
  ASSERT_FALSE(writer_failed);
  ASSERT_EQ(paid, kCrashOrders);

  const bool complete = waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM " + messages) == kCrashOrders &&
               shop.scalar("SELECT count(*) FROM " + messages +
                           " WHERE status IN ('queued', 'sending')") == 0;
      },
      seconds(240));
  EXPECT_TRUE(bridge->stop(seconds(30)));
  ASSERT_TRUE(complete) << "jobs: " << shop.scalar("SELECT count(*) FROM " + messages) << " of "
                        << kCrashOrders << " after " << kills << " kills\n"
                        << bridge->output();
  EXPECT_GE(kills, 1);
  EXPECT_EQ(shop.scalar("SELECT count(DISTINCT entity_id) FROM " + messages), kCrashOrders);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE status = 'sent' OR status = 'delivered'"),
            kCrashOrders);
}

}  // namespace smsbridge::testing
