// End-to-end on real PostgreSQL and MariaDB: the binary captures a shop's changes with
// `trigger` capture, keeps its store in the same database, and writes the statuses back there.

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/mariadb_shop.h"
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

// The shop's own connection: plain SQL, as the shop application would send it.
class ShopDb {
 public:
  virtual ~ShopDb() = default;
  virtual void exec(const std::string& sql) = 0;
  virtual long long scalar(const std::string& sql) = 0;
  // Tables whose names start with `prefix`, to clean up after the test.
  virtual void dropTablesLike(const std::string& prefix) = 0;
};

class PgShop final : public ShopDb {
 public:
  explicit PgShop(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn_));
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
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
      std::string error = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error(sql + ": " + error);
    }
    long long v = std::atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
  }
  void dropTablesLike(const std::string& prefix) override {
    exec(
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE "
        "schemaname = 'public' AND tablename LIKE '" +
        prefix +
        "%' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t) || ' CASCADE'; END LOOP; "
        "END $$");
    exec(
        "DO $$ DECLARE f text; BEGIN FOR f IN SELECT p.oid::regprocedure::text FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND "
        "p.proname LIKE '" +
        prefix + "%' LOOP EXECUTE 'DROP FUNCTION IF EXISTS ' || f || ' CASCADE'; END LOOP; END $$");
  }

 private:
  PGconn* conn_;
};

class MysqlShop final : public ShopDb {
 public:
  explicit MysqlShop(const std::string& dsn) : db_(dsn) {}
  void exec(const std::string& sql) override { db_.exec(sql); }
  long long scalar(const std::string& sql) override { return db_.scalar(sql); }
  void dropTablesLike(const std::string& prefix) override { db_.dropTablesLike(prefix); }

 private:
  testing::MariaDbShop db_;
};

void shipOrdersThroughTheBridge(ShopDb& shop, const std::string& type, const std::string& dsn_var,
                                const std::string& text_type) {
  // Names unique to this run, so parallel or repeated runs never meet.
  std::string tag = "e2e" + std::to_string(getpid()) + "_";
  std::string orders = tag + "orders";
  std::string prefix = tag + "sb_";
  shop.dropTablesLike(tag);
  shop.exec("CREATE TABLE " + orders + " (id INT PRIMARY KEY, status " + text_type + ", phone " +
            text_type + ", name " + text_type + ")");
  shop.exec("INSERT INTO " + orders +
            " VALUES (1, 'processing', '600 700 800', 'Anna'), (2, 'processing', "
            "'+48 601 234 567', 'Łukasz'), (3, 'processing', '', 'Marek')");

  TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  std::ofstream(config) << "defaults: {region: PL}\n"
                           "sources:\n"
                           "  shop: {type: "
                        << type << ", dsn: \"${" << dsn_var
                        << "}\", capture: trigger, poll_interval: 100ms}\n"
                           "store: {table_prefix: "
                        << prefix
                        << "}\n"
                           "providers:\n"
                           "  sandbox: {type: sandbox, delivery_delay: 200ms}\n"
                           "routes:\n"
                           "  default: [sandbox]\n"
                           "mappings:\n"
                           "  shipped:\n"
                           "    table: "
                        << orders
                        << "\n"
                           "    on: [update]\n"
                           "    when: \"status == 'shipped' and old.status != 'shipped'\"\n"
                           "    to: \"{{ phone }}\"\n"
                           "    text: \"Hi {{ name }}, order {{ id }} shipped\"\n";
  auto [setup_code, setup_out] =
      runToCompletion({SMSBRIDGE_BINARY, "setup", "-c", config}, dir.file("setup.log"));
  ASSERT_EQ(setup_code, 0) << setup_out;

  ChildProcess bridge({SMSBRIDGE_BINARY, "run", "-c", config}, dir.file("run.log"));
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id IN (1, 2)");
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 3");
  shop.exec("UPDATE " + orders + " SET status = 'shipped' WHERE id = 1");  // no second SMS

  std::string messages = prefix + "messages";
  bool settled = waitUntil(
      [&] {
        return shop.scalar("SELECT count(*) FROM " + messages) == 3 &&
               shop.scalar("SELECT count(*) FROM " + messages +
                           " WHERE status IN ('queued', 'sending', 'sent')") == 0;
      },
      seconds(30));
  bridge.signal(SIGTERM);
  EXPECT_EQ(bridge.wait(seconds(15)), 0) << bridge.output();
  ASSERT_TRUE(settled) << bridge.output();
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages + " WHERE status = 'delivered'"), 2);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE status = 'suppressed' AND status_reason LIKE 'missing%'"),
            1);
  EXPECT_EQ(shop.scalar("SELECT count(*) FROM " + messages +
                        " WHERE recipient = '+48601234567' AND body = 'Hi Łukasz, order 2 "
                        "shipped'"),
            1);
  shop.dropTablesLike(tag);
}

TEST(DatabasesE2eTest, PostgresTriggerCaptureWithStoreInTheShopDatabase) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  setenv("SMSBRIDGE_TEST_PG_DSN", dsn.c_str(), 1);  // the config reads ${SMSBRIDGE_TEST_PG_DSN}
  PgShop shop(dsn);
  shipOrdersThroughTheBridge(shop, "postgres", "SMSBRIDGE_TEST_PG_DSN", "TEXT");
}

TEST(DatabasesE2eTest, MariadbTriggerCaptureWithStoreInTheShopDatabase) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  setenv("SMSBRIDGE_TEST_MYSQL_DSN", dsn.c_str(), 1);
  MysqlShop shop(dsn);
  shipOrdersThroughTheBridge(shop, "mysql", "SMSBRIDGE_TEST_MYSQL_DSN", "VARCHAR(100)");
}

}  // namespace
}  // namespace smsbridge
