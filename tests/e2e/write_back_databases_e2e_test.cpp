// End-to-end write-back on real PostgreSQL and MariaDB: a shop captured with `trigger`, the
// store in a separate SQLite file, the sandbox provider reporting delivery by itself. The
// shop's status table must show `delivered`, and each `write_back:` action must have run
// exactly once per status change.

#include <libpq-fe.h>
#include <mysql.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;
using testing::runToCompletion;
using testing::TempDir;
using testing::waitUntil;

class ShopDb {
 public:
  virtual ~ShopDb() = default;
  virtual void exec(const std::string& sql) = 0;
  virtual long long scalar(const std::string& sql) = 0;  // -1 on any error
};

class PgShop final : public ShopDb {
 public:
  explicit PgShop(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn_));
    exec("SET client_min_messages = warning");
  }
  ~PgShop() override { PQfinish(conn_); }
  void exec(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string error = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) throw std::runtime_error(sql + ": " + error);
  }
  long long scalar(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    long long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                      ? std::atoll(PQgetvalue(r, 0, 0))
                      : -1;
    PQclear(r);
    return v;
  }

 private:
  PGconn* conn_;
};

class MysqlShop final : public ShopDb {
 public:
  explicit MysqlShop(const std::string& dsn) : conn_(mysql_init(nullptr)) {
    auto parts = testing::parseMysqlDsn(dsn);
    if (!parts) throw std::runtime_error("bad mysql DSN");
    if (!mysql_real_connect(conn_, parts->host.c_str(), parts->user.c_str(),
                            parts->password.c_str(), parts->database.c_str(), parts->port, nullptr,
                            0)) {
      throw std::runtime_error(mysql_error(conn_));
    }
  }
  ~MysqlShop() override { mysql_close(conn_); }
  void exec(const std::string& sql) override {
    if (mysql_query(conn_, sql.c_str()) != 0) {
      throw std::runtime_error(sql + ": " + mysql_error(conn_));
    }
    if (MYSQL_RES* r = mysql_store_result(conn_)) mysql_free_result(r);
  }
  long long scalar(const std::string& sql) override {
    if (mysql_query(conn_, sql.c_str()) != 0) return -1;
    MYSQL_RES* r = mysql_store_result(conn_);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : nullptr;
    long long v = row && row[0] ? std::atoll(row[0]) : -1;
    if (r) mysql_free_result(r);
    return v;
  }

 private:
  MYSQL* conn_;
};

void writeBackThroughTheBridge(ShopDb& shop, const std::string& type, const std::string& dsn_var,
                               const std::string& text_type) {
  // Names unique to this run, so parallel or repeated runs never meet.
  const std::string tag = "wb" + std::to_string(getpid()) + "_";
  const std::string orders = tag + "orders", notes = tag + "notes", log = tag + "log";
  const std::string prefix = tag + "sb_";
  const std::vector<std::string> tables = {orders,
                                           notes,
                                           log,
                                           prefix + "changes",
                                           prefix + "write_back_done",
                                           prefix + "message_status"};
  auto cleanup = [&] {
    for (const auto& t : tables) shop.exec("DROP TABLE IF EXISTS " + t);
  };
  cleanup();
  shop.exec("CREATE TABLE " + orders + " (id INT PRIMARY KEY, status " + text_type + ", phone " +
            text_type + ")");
  shop.exec("CREATE TABLE " + notes + " (order_id " + text_type + ", note " + text_type + ")");
  shop.exec("CREATE TABLE " + log + " (job_id BIGINT, status " + text_type + ", provider " +
            text_type + ", changed_at " + text_type + ")");
  shop.exec("INSERT INTO " + orders +
            " VALUES (1, 'new', '600 700 800'), (2, 'new', '601 234 567'), (3, 'new', '')");

  TempDir dir;
  const std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << "defaults: {region: PL}\n"
                           "sources:\n"
                           "  shop: {type: "
                        << type << ", dsn: \"${" << dsn_var
                        << "}\", capture: trigger, poll_interval: 100ms}\n"
                           "  bridge: {type: sqlite, path: bridge.db}\n"
                           "store: {source: bridge, table_prefix: "
                        << prefix
                        << "}\n"
                           "providers:\n"
                           "  sandbox: {type: sandbox, delivery_delay: 50ms}\n"
                           "routes:\n"
                           "  default: [sandbox]\n"
                           "write_back: {poll_interval: 100ms}\n"
                           "mappings:\n"
                           "  shipped:\n"
                           "    source: shop\n"
                           "    table: "
                        << orders
                        << "\n"
                           "    on: [update]\n"
                           "    when: \"status == 'shipped' and old.status != 'shipped'\"\n"
                           "    to: \"{{ phone }}\"\n"
                           "    text: \"Order {{ id }} shipped\"\n"
                           "    write_back:\n"
                           "      - on: [delivered, suppressed]\n"
                           "        sql: \"INSERT INTO "
                        << notes
                        << " (order_id, note) VALUES (:entity_id, :status)\"\n"
                           "      - sql: \"INSERT INTO "
                        << log
                        << " (job_id, status, provider, changed_at) VALUES (:job_id, :status, "
                           ":provider, :changed_at)\"\n";
  auto [setup_code, setup_out] =
      runToCompletion({SMSBRIDGE_BINARY, "setup", "-c", config}, dir.file("setup.log"));
  ASSERT_EQ(setup_code, 0) << setup_out;

  const std::string mirror = prefix + "message_status";
  {
    ChildProcess bridge({SMSBRIDGE_BINARY, "run", "-c", config}, dir.file("run.log"));
    shop.exec("UPDATE " + orders + " SET status = 'shipped'");
    bool settled = waitUntil(
        [&] {
          return shop.scalar("SELECT count(*) FROM " + mirror +
                             " WHERE status IN ('delivered', 'suppressed')") == 3 &&
                 shop.scalar("SELECT count(*) FROM " + log) == 5;
        },
        seconds(60));
    bridge.signal(SIGTERM);
    EXPECT_EQ(bridge.wait(seconds(15)), 0) << bridge.output();
    ASSERT_TRUE(settled) << bridge.output();
  }
  // A restart runs nothing again.
  {
    ChildProcess again({SMSBRIDGE_BINARY, "run", "-c", config}, dir.file("run2.log"));
    std::this_thread::sleep_for(milliseconds(1500));
    again.signal(SIGTERM);
    EXPECT_EQ(again.wait(seconds(15)), 0) << again.output();
  }

  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + mirror +
                        " WHERE status = 'delivered' AND provider = 'sandbox'"),
            2);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + notes), 3);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + notes + " WHERE note = 'delivered'"), 2);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + notes +
                        " WHERE order_id = '3' AND note = 'suppressed'"),
            1);
  // sent + delivered for two SMS, suppressed for the third: each exactly once.
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + log), 5);
  EXPECT_EQ(
      shop.scalar("SELECT count(*) FROM (SELECT DISTINCT job_id, status FROM " + log + ") AS d"),
      5);
  // One marker per action run: 3 notes and 5 log rows.
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + prefix + "write_back_done"), 8);
  cleanup();
}

TEST(WriteBackDatabasesE2eTest, PostgresShopGetsActionsAndStatusMirrorOnce) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  PgShop shop(dsn);
  ::setenv("WB_E2E_PG_DSN", dsn.c_str(), 1);
  writeBackThroughTheBridge(shop, "postgres", "WB_E2E_PG_DSN", "text");
}

TEST(WriteBackDatabasesE2eTest, MariadbShopGetsActionsAndStatusMirrorOnce) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  MysqlShop shop(dsn);
  ::setenv("WB_E2E_MYSQL_DSN", dsn.c_str(), 1);
  writeBackThroughTheBridge(shop, "mysql", "WB_E2E_MYSQL_DSN", "VARCHAR(191)");
}

}  // namespace
}  // namespace smsbridge
