// The databases from scripts/test-services.sh are what the CDC connectors need: PostgreSQL with
// logical decoding and a replication-capable role, MariaDB 10.11 writing full row images to its
// binlog. If these fail, every other integration test would fail for a confusing reason.

#include <libpq-fe.h>
#include <mysql.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/test_env.h"

namespace smsbridge::testing {
namespace {

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultCloser {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;
using PgResult = std::unique_ptr<PGresult, PgResultCloser>;

PgResult pgExec(PGconn* conn, const std::string& sql) {
  return PgResult(PQexec(conn, sql.c_str()));
}

// A URI with one more connection parameter, e.g. replication=database.
std::string withUriParam(const std::string& uri, const std::string& param) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + param;
}

TEST(PostgresServiceTest, AnswersSelectOne) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  PgConn conn(PQconnectdb(dsn.c_str()));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());

  PgResult result = pgExec(conn.get(), "SELECT 1");
  ASSERT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  ASSERT_EQ(PQntuples(result.get()), 1);
  EXPECT_STREQ(PQgetvalue(result.get(), 0, 0), "1");
}

TEST(PostgresServiceTest, HasLogicalDecodingEnabled) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  PgConn conn(PQconnectdb(dsn.c_str()));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());

  PgResult wal_level = pgExec(conn.get(), "SHOW wal_level");
  ASSERT_EQ(PQresultStatus(wal_level.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  EXPECT_STREQ(PQgetvalue(wal_level.get(), 0, 0), "logical");

  PgResult slots = pgExec(conn.get(), "SELECT current_setting('max_replication_slots')::int");
  ASSERT_EQ(PQresultStatus(slots.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  EXPECT_GE(std::stoi(PQgetvalue(slots.get(), 0, 0)), 10);
}

TEST(PostgresServiceTest, StoresAndReadsRows) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  PgConn conn(PQconnectdb(dsn.c_str()));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());

  PgResult create = pgExec(conn.get(),
                           "CREATE TEMP TABLE services_probe (id int PRIMARY KEY, phone text, "
                           "note text NOT NULL)");
  ASSERT_EQ(PQresultStatus(create.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn.get());
  PgResult insert = pgExec(conn.get(),
                           "INSERT INTO services_probe VALUES (1, '+48 600 100 200', 'zażółć'), "
                           "(2, NULL, 'second')");
  ASSERT_EQ(PQresultStatus(insert.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn.get());
  EXPECT_STREQ(PQcmdTuples(insert.get()), "2");

  PgResult rows = pgExec(conn.get(), "SELECT id, phone, note FROM services_probe ORDER BY id");
  ASSERT_EQ(PQresultStatus(rows.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  ASSERT_EQ(PQntuples(rows.get()), 2);
  EXPECT_STREQ(PQgetvalue(rows.get(), 0, 0), "1");
  EXPECT_STREQ(PQgetvalue(rows.get(), 0, 1), "+48 600 100 200");
  EXPECT_STREQ(PQgetvalue(rows.get(), 0, 2), "zażółć");
  EXPECT_EQ(PQgetisnull(rows.get(), 1, 1), 1);
  EXPECT_STREQ(PQgetvalue(rows.get(), 1, 2), "second");
}

TEST(PostgresServiceTest, AcceptsLogicalReplicationConnection) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  PgConn conn(PQconnectdb(withUriParam(dsn, "replication=database").c_str()));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());

  PgResult system = pgExec(conn.get(), "IDENTIFY_SYSTEM");
  ASSERT_EQ(PQresultStatus(system.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  ASSERT_EQ(PQntuples(system.get()), 1);
  ASSERT_EQ(PQnfields(system.get()), 4);  // systemid, timeline, xlogpos, dbname
  EXPECT_STRNE(PQgetvalue(system.get(), 0, 0), "");
  EXPECT_STRNE(PQgetvalue(system.get(), 0, 2), "");
  EXPECT_STREQ(PQgetvalue(system.get(), 0, 3), PQdb(conn.get()));

  // A temporary slot vanishes with the connection, so a crashed test leaves nothing behind.
  const std::string slot = "smsbridge_services_test_" + std::to_string(getpid());
  PgResult created =
      pgExec(conn.get(), "CREATE_REPLICATION_SLOT " + slot + " TEMPORARY LOGICAL pgoutput");
  ASSERT_EQ(PQresultStatus(created.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  EXPECT_STREQ(PQgetvalue(created.get(), 0, 0), slot.c_str());
}

struct MysqlCloser {
  void operator()(MYSQL* conn) const { mysql_close(conn); }
};
using MysqlConn = std::unique_ptr<MYSQL, MysqlCloser>;
using MysqlRows = std::vector<std::vector<std::optional<std::string>>>;

// Connects with Connector/C; on failure records why and returns null.
MysqlConn connectMysql(const std::string& dsn) {
  const std::optional<MysqlDsn> parts = parseMysqlDsn(dsn);
  if (!parts) {
    ADD_FAILURE() << "not a mysql:// DSN: " << dsn;
    return nullptr;
  }
  MysqlConn conn(mysql_init(nullptr));
  if (!conn) {
    ADD_FAILURE() << "mysql_init failed";
    return nullptr;
  }
  const unsigned int timeout_seconds = 10;
  mysql_options(conn.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout_seconds);
  mysql_options(conn.get(), MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (mysql_real_connect(conn.get(), parts->host.c_str(), parts->user.c_str(),
                         parts->password.c_str(), parts->database.c_str(), parts->port, nullptr,
                         0) == nullptr) {
    ADD_FAILURE() << "cannot connect to " << parts->host << ":" << parts->port << ": "
                  << mysql_error(conn.get());
    return nullptr;
  }
  return conn;
}

// Runs one statement; rows for a SELECT, empty for others, nullopt (with a failure) on error.
std::optional<MysqlRows> mysqlQuery(MYSQL* conn, const std::string& sql) {
  if (mysql_real_query(conn, sql.data(), sql.size()) != 0) {
    ADD_FAILURE() << sql << ": " << mysql_error(conn);
    return std::nullopt;
  }
  MYSQL_RES* result = mysql_store_result(conn);
  if (result == nullptr) {
    if (mysql_field_count(conn) != 0) {
      ADD_FAILURE() << sql << ": " << mysql_error(conn);
      return std::nullopt;
    }
    return MysqlRows{};
  }
  MysqlRows rows;
  const unsigned int columns = mysql_num_fields(result);
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    const unsigned long* lengths = mysql_fetch_lengths(result);
    auto& out = rows.emplace_back();
    for (unsigned int i = 0; i < columns; ++i) {
      if (row[i] == nullptr) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(std::string(row[i], lengths[i]));
      }
    }
  }
  mysql_free_result(result);
  return rows;
}

TEST(MariaDbServiceTest, WritesFullRowImagesToBinlog) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  MysqlConn conn = connectMysql(dsn);
  ASSERT_TRUE(conn);

  const auto rows = mysqlQuery(conn.get(),
                               "SELECT @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, "
                               "@@log_bin, @@sync_binlog, VERSION()");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  const auto& row = rows->front();
  EXPECT_EQ(row[0], "ROW");
  EXPECT_EQ(row[1], "FULL");
  EXPECT_EQ(row[2], "FULL");
  EXPECT_EQ(row[3], "1");
  EXPECT_EQ(row[4], "1");
  ASSERT_TRUE(row[5].has_value());
  EXPECT_TRUE(row[5]->starts_with("10.11")) << "VERSION() = " << *row[5];
  EXPECT_NE(mysql_get_server_version(conn.get()), 0ul);
}

TEST(MariaDbServiceTest, GrantsWhatABinlogReaderNeeds) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  MysqlConn conn = connectMysql(dsn);
  ASSERT_TRUE(conn);

  // USER_PRIVILEGES lists every account this user may read; GRANTEE is spelt 'user'@'host'.
  const auto privileges = mysqlQuery(
      conn.get(),
      "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES "
      "WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
      "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') "
      "AND PRIVILEGE_TYPE IN ('REPLICATION SLAVE', 'BINLOG MONITOR') ORDER BY PRIVILEGE_TYPE");
  ASSERT_TRUE(privileges);
  ASSERT_EQ(privileges->size(), 2u);
  EXPECT_EQ((*privileges)[0][0], "BINLOG MONITOR");
  EXPECT_EQ((*privileges)[1][0], "REPLICATION SLAVE");

  const auto status = mysqlQuery(conn.get(), "SHOW BINARY LOGS");
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->empty());
}

TEST(MariaDbServiceTest, StoresAndReadsRowsAndLogsThem) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  MysqlConn conn = connectMysql(dsn);
  ASSERT_TRUE(conn);

  const std::string table = "services_probe_" + std::to_string(getpid());
  ASSERT_TRUE(mysqlQuery(conn.get(), "DROP TABLE IF EXISTS " + table));
  ASSERT_TRUE(mysqlQuery(conn.get(), "CREATE TABLE " + table +
                                         " (id INT PRIMARY KEY, phone VARCHAR(32) NULL, "
                                         "note VARCHAR(64) NOT NULL) ENGINE=InnoDB"));
  const auto before = mysqlQuery(conn.get(), "SHOW MASTER STATUS");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 1u);

  ASSERT_TRUE(mysqlQuery(conn.get(), "INSERT INTO " + table +
                                         " VALUES (1, '+48 600 100 200', 'zażółć'), "
                                         "(2, NULL, 'second')"));
  EXPECT_EQ(mysql_affected_rows(conn.get()), 2u);
  const auto rows = mysqlQuery(conn.get(), "SELECT id, phone, note FROM " + table + " ORDER BY id");
  const auto after = mysqlQuery(conn.get(), "SHOW MASTER STATUS");
  ASSERT_TRUE(mysqlQuery(conn.get(), "DROP TABLE " + table));

  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0][0], "1");
  EXPECT_EQ((*rows)[0][1], "+48 600 100 200");
  EXPECT_EQ((*rows)[0][2], "zażółć");
  EXPECT_FALSE((*rows)[1][1].has_value());
  EXPECT_EQ((*rows)[1][2], "second");

  // The insert reached the binlog: file or position moved on.
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_NE((*before)[0][0].value_or("") + ":" + (*before)[0][1].value_or(""),
            (*after)[0][0].value_or("") + ":" + (*after)[0][1].value_or(""));
}

TEST(TestEnvTest, ParsesMysqlDsn) {
  const auto dsn = parseMysqlDsn("mysql://smsbridge:p%40ss@127.0.0.1:3307/smsbridge_test");
  ASSERT_TRUE(dsn);
  EXPECT_EQ(dsn->host, "127.0.0.1");
  EXPECT_EQ(dsn->port, 3307u);
  EXPECT_EQ(dsn->user, "smsbridge");
  EXPECT_EQ(dsn->password, "p@ss");
  EXPECT_EQ(dsn->database, "smsbridge_test");

  const auto defaults = parseMysqlDsn("mariadb://[::1]/shop?ssl-mode=DISABLED");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->host, "::1");
  EXPECT_EQ(defaults->port, 3306u);
  EXPECT_EQ(defaults->user, "");
  EXPECT_EQ(defaults->database, "shop");

  EXPECT_FALSE(parseMysqlDsn("postgresql://u:p@127.0.0.1:5432/db"));
  EXPECT_FALSE(parseMysqlDsn("mysql://u:p@127.0.0.1:notaport/db"));
  EXPECT_FALSE(parseMysqlDsn("mysql://u:p@:3306/db"));
  EXPECT_FALSE(parseMysqlDsn("mysql://u:p%4@127.0.0.1/db"));
}

}  // namespace
}  // namespace smsbridge::testing
