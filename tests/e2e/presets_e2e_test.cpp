// End-to-end with presets: the real binary, `smsbridge setup` creating what a preset needs, and
// rows written by "the application" becoming SMS.

#include <signal.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "connectors/sqlite/sqlite_db.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;
using testing::runToCompletion;
using testing::TempDir;
using testing::waitUntil;

// The application's own connection to the database file.
class App {
 public:
  explicit App(const std::string& path) {
    auto db = sqlite::Database::open(path, sqlite::Database::OpenMode::kCreateIfMissing,
                                     milliseconds(10'000));
    if (!db) throw std::runtime_error(db.error().toString());
    db_ = std::move(*db);
  }
  void exec(const std::string& sql) {
    Status s = db_->exec(sql);
    if (!s.isOk()) throw std::runtime_error(s.toString());
  }
  std::int64_t scalar(const std::string& sql) {
    auto st = db_->prepare(sql);
    if (!st) throw std::runtime_error(st.error().toString());
    auto row = st->step();
    if (!row || !*row) throw std::runtime_error("no row for " + sql);
    return st->columnInt(0);
  }
  std::string text(const std::string& sql) {
    auto st = db_->prepare(sql);
    if (!st) throw std::runtime_error(st.error().toString());
    auto row = st->step();
    if (!row || !*row) return "";
    return st->columnText(0);
  }

 private:
  std::unique_ptr<sqlite::Database> db_;
};

TEST(OutboxPresetE2eTest, CommittedOutboxRowsAreSentOnceAndRolledBackOnesNever) {
  TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << R"(defaults: {region: PL}
sources:
  app: {type: sqlite, path: app.db, capture: trigger, poll_interval: 100ms}
providers:
  sandbox: {type: sandbox, delivery_delay: 100ms}
routes:
  default: [sandbox]
presets: [outbox]
)";
  auto [setup_code, setup_out] =
      runToCompletion({SMSBRIDGE_BINARY, "setup", "-c", config}, dir.file("setup.log"));
  ASSERT_EQ(setup_code, 0) << setup_out;
  // Setup again changes nothing: the table and its triggers exist.
  auto [again_code, again_out] =
      runToCompletion({SMSBRIDGE_BINARY, "setup", "-c", config}, dir.file("setup2.log"));
  ASSERT_EQ(again_code, 0) << again_out;

  ChildProcess bridge({SMSBRIDGE_BINARY, "run", "-c", config}, dir.file("run.log"));
  App app(dir.file("app.db"));
  app.exec(
      "BEGIN; INSERT INTO smsbridge_outbox (\"to\", text, lane) VALUES ('600 100 200', 'Code: "
      "4711', "
      "'otp'); COMMIT");
  app.exec(
      "BEGIN; INSERT INTO smsbridge_outbox (\"to\", text) VALUES ('600 100 201', 'never'); "
      "ROLLBACK");
  // The application retries an insert with its own key: one SMS.
  for (int i = 0; i < 2; ++i) {
    app.exec(
        "INSERT INTO smsbridge_outbox (\"to\", text, dedup) VALUES ('+48 600 100 202', "
        "'Your order shipped', 'order-77-shipped')");
  }

  bool settled = waitUntil(
      [&] {
        return app.scalar("SELECT count(*) FROM smsbridge_messages") == 2 &&
               app.scalar(
                   "SELECT count(*) FROM smsbridge_messages WHERE status <> "
                   "'delivered'") == 0;
      },
      seconds(30));
  bridge.signal(SIGTERM);
  EXPECT_EQ(bridge.wait(seconds(15)), 0) << bridge.output();
  ASSERT_TRUE(settled) << bridge.output();
  EXPECT_EQ(app.text("SELECT lane || ' ' || recipient || ' ' || body FROM smsbridge_messages "
                     "WHERE mapping = 'outbox_otp'"),
            "otp +48600100200 Code: 4711");
  EXPECT_EQ(app.text("SELECT recipient FROM smsbridge_messages WHERE mapping = 'outbox'"),
            "+48600100202");
  EXPECT_EQ(app.scalar("SELECT count(*) FROM smsbridge_messages WHERE body = 'never'"), 0);
}

}  // namespace
}  // namespace smsbridge
