// SIGKILL at random points while 10,000 updates commit, in every PostgreSQL capture mode: after
// the last restart every expected job exists exactly once (issue: exactly-once enqueue across
// crashes). Each of 10,000 orders is paid once by one of four concurrent writers; the mapping
// fires on the transition, so the expected jobs are exactly one per order.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/pg_shop.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;
using testing::Cleanup;
using testing::runToCompletion;
using testing::Shop;
using testing::TempDir;
using testing::waitUntil;

constexpr int kOrders = 10'000;
constexpr int kWriters = 4;

class PostgresCrashE2eTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PostgresCrashE2eTest, EveryJobExactlyOnceAcrossKills) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);
  const std::string mode = GetParam();
  Shop shop(dsn);
  const std::string tag = "e2ek" + mode.substr(0, 2) + std::to_string(getpid()) + "_";
  const std::string orders = tag + "orders";
  const std::string prefix = tag + "sb_";
  const std::string messages = prefix + "messages";
  Cleanup cleanup{shop, tag, prefix + "slot_shop", prefix + "pub_shop"};
  shop.exec("CREATE TABLE " + orders +
            " (id INT PRIMARY KEY, status TEXT NOT NULL, phone TEXT NOT NULL, "
            "updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())");
  shop.exec("INSERT INTO " + orders + " SELECT g, 'new', '+48 601 ' || lpad(g::text, 6, '0'), " +
            "clock_timestamp() FROM generate_series(1, " + std::to_string(kOrders) + ") g");

  TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream out(config);
  out << "defaults: {region: PL}\n"
         "sources:\n"
         "  shop:\n"
         "    type: postgres\n"
         "    dsn: \"${SMSBRIDGE_TEST_PG_DSN}\"\n"
         "    capture: "
      << mode
      << "\n"
         "    poll_interval: 100ms\n";
  if (mode == "poll") {
    out << "    poll: {overlap: 30s, tables: {" << orders
        << ": {change_column: updated_at, watch: [status]}}}\n";
  }
  out << "store: {table_prefix: " << prefix
      << "}\n"
         "providers:\n"
         "  sandbox: {type: sandbox, delivery_delay: 50ms}\n"
         "routes:\n"
         "  default: [sandbox]\n"
         "dispatcher: {batch_size: 200, max_inflight: 400}\n"
         "mappings:\n"
         "  paid:\n"
         "    table: "
      << orders
      << "\n"
         "    on: [update]\n"
         "    when: \"status == 'paid' and old.status != 'paid'\"\n"
         "    to: \"{{ phone }}\"\n"
         "    text: \"Order {{ id }} is paid\"\n";  // the default dedup key: row + transition
  out.close();

  std::vector<std::string> setup_args = {SMSBRIDGE_BINARY, "setup", "-c", config};
  if (mode == "logical") setup_args.push_back("--set-replica-identity");
  auto [setup_code, setup_out] = runToCompletion(setup_args, dir.file("setup.log"));
  ASSERT_EQ(setup_code, 0) << setup_out;

  // Poll mode's first round only records the existing rows, and a change committed before that
  // round is complete counts as existing state: let it finish (the table has a mark) before any
  // payment.
  auto bridge = std::make_unique<ChildProcess>(
      std::vector<std::string>{SMSBRIDGE_BINARY, "run", "-c", config}, dir.file("run0.log"));
  if (mode == "poll") {
    ASSERT_TRUE(waitUntil(
        [&] {
          return shop.scalar("SELECT count(*) FROM " + prefix +
                             "checkpoints WHERE source = 'shop' AND position LIKE '%\"mark\"%'") >
                 0;
        },
        seconds(60)))
        << bridge->output();
  }

  std::atomic<int> paid{0};
  std::vector<std::thread> writers;
  std::atomic<bool> writer_failed{false};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      try {
        Shop conn(dsn);
        for (int id = 1 + w; id <= kOrders; id += kWriters) {
          conn.exec("UPDATE " + orders +
                    " SET status = 'paid', updated_at = clock_timestamp() WHERE id = " +
                    std::to_string(id));
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
  std::string history;  // the killed runs' logs, for a failure message
  for (int run = 1; run <= 4 && paid < kOrders; ++run) {
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(300, 2500)(rng)));
    bridge->signal(SIGKILL);
    bridge->wait(seconds(15));
    ++kills;
    history += "--- run " + std::to_string(run - 1) + " (killed)\n" + bridge->output();
    bridge = std::make_unique<ChildProcess>(
        std::vector<std::string>{SMSBRIDGE_BINARY, "run", "-c", config},
        dir.file("run" + std::to_string(run) + ".log"));
  }
  for (auto& t : writers) t.join();
  ASSERT_FALSE(writer_failed);
  ASSERT_EQ(paid, kOrders);

  bool complete = waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM " + messages) == kOrders &&
               shop.scalar("SELECT count(*) FROM " + messages +
                           " WHERE status IN ('queued', 'sending')") == 0;
      },
      seconds(240));
  bridge->signal(SIGTERM);
  EXPECT_EQ(bridge->wait(seconds(30)), 0) << bridge->output();
  ASSERT_TRUE(complete) << "jobs: " << shop.scalar("SELECT count(*) FROM " + messages) << " of "
                        << kOrders << " after " << kills << " kills\n"
                        << bridge->output();
  EXPECT_GE(kills, 1);
  EXPECT_EQ(shop.scalar("SELECT count(DISTINCT entity_id) FROM " + messages), kOrders);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE status = 'sent' OR status = "
                        "'delivered'"),
            kOrders);
}

INSTANTIATE_TEST_SUITE_P(Modes, PostgresCrashE2eTest,
                         ::testing::Values("trigger", "logical", "poll"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace smsbridge
