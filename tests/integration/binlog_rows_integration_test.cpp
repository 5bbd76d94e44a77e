// The binlog row decoder against a real MariaDB: write rows of every supported type, read the
// server's own event bytes back over the replication protocol (MariaDB Connector/C's
// mariadb_rpl: COM_BINLOG_DUMP, framing only), and decode TABLE_MAP and ROWS events with
// connectors/mysql/binlog_rows.
//
// The oracle for every value is the server itself: after each statement the test SELECTs the
// affected rows (session time zone UTC, BIT as integers), and the decoded after images must
// equal those, the before images the previous state. A few values are also spelled out, so
// that a decoder and a SELECT that agreed on something wrong would still be caught.
//
// mariadb_rpl_fetch() hands out the raw packet: MARIADB_RPL_EVENT::raw_data holds the network
// OK byte followed by the event, and raw_data_ofs points at the event's 19-byte header, so
// the decoder sees exactly the bytes the server sent.

#include <mysql.h>
// mariadb_rpl.h needs mysql.h's types first.
#include <mariadb_rpl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "connectors/mysql/binlog_rows.h"
#include "tests/integration/test_env.h"

namespace smsbridge::testing {
namespace {

using mysql::RowChange;
using mysql::RowsKind;

struct MysqlCloser {
  void operator()(MYSQL* conn) const { mysql_close(conn); }
};
using MysqlConn = std::unique_ptr<MYSQL, MysqlCloser>;
struct RplCloser {
  void operator()(MARIADB_RPL* rpl) const { mariadb_rpl_close(rpl); }
};
struct EventFree {
  void operator()(MARIADB_RPL_EVENT* event) const { mariadb_free_rpl_event(event); }
};

using TextRow = std::vector<std::optional<std::string>>;

MysqlConn connect(const std::string& dsn) {
  const std::optional<MysqlDsn> parts = parseMysqlDsn(dsn);
  if (!parts) {
    ADD_FAILURE() << "not a mysql:// DSN: " << dsn;
    return nullptr;
  }
  MysqlConn conn(mysql_init(nullptr));
  const unsigned int timeout_seconds = 10;
  mysql_options(conn.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout_seconds);
  mysql_options(conn.get(), MYSQL_OPT_READ_TIMEOUT, &timeout_seconds);
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

// Runs one statement; its rows (empty for non-SELECTs), or nullopt after recording a failure.
std::optional<std::vector<TextRow>> query(MYSQL* conn, const std::string& sql) {
  if (mysql_real_query(conn, sql.data(), sql.size()) != 0) {
    ADD_FAILURE() << sql << ": " << mysql_error(conn);
    return std::nullopt;
  }
  MYSQL_RES* result = mysql_store_result(conn);
  std::vector<TextRow> rows;
  if (result == nullptr) {
    if (mysql_field_count(conn) == 0) return rows;
    ADD_FAILURE() << sql << ": " << mysql_error(conn);
    return std::nullopt;
  }
  const unsigned int fields = mysql_num_fields(result);
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    const unsigned long* lengths = mysql_fetch_lengths(result);
    TextRow out;
    for (unsigned int i = 0; i < fields; ++i) {
      if (row[i] == nullptr) {
        out.emplace_back();
      } else {
        out.emplace_back(std::string(row[i], lengths[i]));
      }
    }
    rows.push_back(std::move(out));
  }
  mysql_free_result(result);
  return rows;
}

struct TestColumn {
  std::string_view name;
  std::string_view sql_type;
};

// One column of every type the decoder supports, in table order.
constexpr TestColumn kColumns[] = {
    {"id", "INT NOT NULL"},
    {"lang", "CHAR(2) NOT NULL"},
    {"ti", "TINYINT"},
    {"tu", "TINYINT UNSIGNED"},
    {"si", "SMALLINT"},
    {"su", "SMALLINT UNSIGNED"},
    {"mi", "MEDIUMINT"},
    {"mu", "MEDIUMINT UNSIGNED"},
    {"i", "INT"},
    {"iu", "INT UNSIGNED"},
    {"bi", "BIGINT"},
    {"bu", "BIGINT UNSIGNED"},
    {"dc", "DECIMAL(14,4)"},
    {"dn", "DECIMAL(30,10)"},
    {"f", "FLOAT"},
    {"d", "DOUBLE"},
    {"vc", "VARCHAR(20)"},
    {"vl", "VARCHAR(300)"},
    {"ch", "CHAR(100)"},
    {"bn", "BINARY(4)"},
    {"en", "ENUM('new','paid','shipped')"},
    {"st", "SET('a','b','c','d')"},
    {"tx", "TEXT"},
    {"bl", "BLOB"},
    {"js", "JSON"},
    {"dt", "DATE"},
    {"tm", "TIME"},
    {"tm2", "TIME(2)"},
    {"tm6", "TIME(6)"},
    {"dtm", "DATETIME"},
    {"dtm3", "DATETIME(3)"},
    {"ts", "TIMESTAMP NULL"},
    {"ts6", "TIMESTAMP(6) NULL"},
    {"yr", "YEAR"},
    {"b1", "BIT(1)"},
    {"b12", "BIT(12)"},
    {"b64", "BIT(64)"},
};

bool isFloating(std::string_view name) { return name == "f" || name == "d"; }

// What the binlog should say about a row: the server's own rendering of it.
void expectRowMatches(const Row& decoded, const TextRow& selected, const std::string& what) {
  ASSERT_EQ(decoded.size(), std::size(kColumns)) << what;
  ASSERT_EQ(selected.size(), std::size(kColumns)) << what;
  for (std::size_t i = 0; i < std::size(kColumns); ++i) {
    const std::string_view name = kColumns[i].name;
    const auto& [decoded_name, value] = decoded.columns()[i];
    EXPECT_EQ(decoded_name, name) << what;
    const std::optional<std::string>& text = selected[i];
    if (!text) {
      EXPECT_TRUE(value.isNull()) << what << " " << name << ": " << value.toDebugString();
      continue;
    }
    if (isFloating(name)) {
      ASSERT_TRUE(value.isDouble()) << what << " " << name << ": " << value.toDebugString();
      EXPECT_EQ(value.asDouble(), std::strtod(text->c_str(), nullptr))
          << what << " " << name << ": SELECT says " << *text;
      continue;
    }
    EXPECT_EQ(value.toText(), *text) << what << " " << name << ": " << value.toDebugString();
  }
}

// Every column as the text protocol renders it; BIT as an integer, like the decoder.
std::string selectList() {
  std::string out;
  for (const TestColumn& c : kColumns) {
    if (!out.empty()) out += ", ";
    if (c.sql_type.starts_with("BIT")) {
      out += "CAST(" + std::string(c.name) + " AS UNSIGNED)";
    } else {
      out += c.name;
    }
  }
  return out;
}

// ENUM/SET members from information_schema.COLUMNS.COLUMN_TYPE, e.g. "enum('a','it''s')".
std::vector<std::string> membersOf(std::string_view column_type) {
  std::vector<std::string> out;
  const auto open = column_type.find('(');
  if (open == std::string_view::npos) return out;
  std::string current;
  bool quoted = false;
  for (std::size_t i = open + 1; i < column_type.size(); ++i) {
    const char c = column_type[i];
    if (!quoted) {
      if (c == '\'') quoted = true;
      continue;
    }
    if (c == '\'' && i + 1 < column_type.size() && column_type[i + 1] == '\'') {
      current += '\'';
      ++i;
    } else if (c == '\'') {
      out.push_back(current);
      current.clear();
      quoted = false;
    } else {
      current += c;
    }
  }
  return out;
}

class BinlogRowsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
    dsn_ = dsn;
    const std::optional<MysqlDsn> parts = parseMysqlDsn(dsn_);
    ASSERT_TRUE(parts.has_value()) << dsn_;
    database_ = parts->database;
    conn_ = connect(dsn_);
    ASSERT_TRUE(conn_);
    table_ = "binlog_rows_" + std::to_string(getpid()) + "_" +
             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
  }

  void TearDown() override {
    if (conn_) query(conn_.get(), "DROP TABLE IF EXISTS " + table_);
  }

  void exec(const std::string& sql) { ASSERT_TRUE(query(conn_.get(), sql).has_value()); }

  // The current state of the rows with these ids, in id order.
  std::vector<TextRow> snapshot(const std::string& ids) {
    auto rows = query(conn_.get(), "SELECT " + selectList() + " FROM " + table_ + " WHERE id IN (" +
                                       ids + ") ORDER BY id");
    return rows.value_or(std::vector<TextRow>{});
  }

  std::string dsn_;
  std::string database_;
  MysqlConn conn_;
  std::string table_;
};

TEST_F(BinlogRowsIntegrationTest, DecodesTheServersOwnRowEvents) {
  auto settings = query(conn_.get(),
                        "SELECT @@global.binlog_format, @@global.binlog_row_image, "
                        "@@global.binlog_row_metadata, @@global.binlog_checksum, "
                        "@@global.log_bin_compress");
  ASSERT_TRUE(settings && settings->size() == 1);
  const TextRow& s = (*settings)[0];
  ASSERT_EQ(s[0], "ROW");
  ASSERT_EQ(s[1], "FULL");
  ASSERT_EQ(s[2], "FULL");
  ASSERT_EQ(s[4], "0");
  const bool server_checksums = s[3] == "CRC32";

  auto status = query(conn_.get(), "SHOW MASTER STATUS");
  ASSERT_TRUE(status && status->size() == 1) << "log_bin must be on";
  const std::string file = *(*status)[0][0];
  const unsigned long start = std::stoul(*(*status)[0][1]);

  // Writes, each followed by the server's view of the rows it touched.
  std::string columns_sql;
  for (const TestColumn& c : kColumns) {
    columns_sql += std::string(c.name) + " " + std::string(c.sql_type) + ", ";
  }
  exec("SET time_zone = '+02:00'");
  exec("CREATE TABLE " + table_ + " (" + columns_sql + "PRIMARY KEY (id, lang))");

  std::vector<std::vector<TextRow>> after;  // per rows event, the after images in row order
  exec("INSERT INTO " + table_ +
       " VALUES (1, 'en', -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, "
       "4294967295, -9223372036854775808, 18446744073709551615, 1234567890.1234, "
       "-12345678901234567890.0123456789, 1.1, -2.5e-300, 'zażółć', REPEAT('x', 300), "
       "'Ünïcode ✓', 'ab\\0c', 'paid', 'a,c,d', 'line1\\nline2', X'00FF10', "
       "'{\"k\": [1, \"two\", null, true, 2.5]}', '2024-02-29', '-838:59:59', '12:34:56.78', "
       "'-00:00:01.500001', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999', "
       "'2024-05-06 12:00:00', '2038-01-19 05:14:07.123456', 2155, b'1', b'101010101010', "
       "b'1111111111111111111111111111111111111111111111111111111111111111')");
  exec("SET time_zone = '+00:00'");
  const std::vector<TextRow> row1 = snapshot("1");
  exec("SET time_zone = '+02:00'");
  exec("INSERT INTO " + table_ + " (id, lang) VALUES (2, 'pl'); ");
  exec("INSERT INTO " + table_ +
       " VALUES (3, 'de', 0, 0, 1, 2, 3, 4, 5, 6, 7, 9223372036854775808, 0.0001, 0, -0.5, "
       "1e300, '', 'y', 'pad  ', 'a ', 'new', '', '', '', '[]', '0000-00-00', '00:00:00', "
       "'-12:00:00.01', '838:59:59.000000', '2000-01-01 00:00:00', '2000-01-01 00:00:00.001', "
       "'1970-01-01 02:00:01', NULL, 1901, b'0', b'0', b'1')");
  exec("SET time_zone = '+00:00'");
  const std::vector<TextRow> rows23 = snapshot("2, 3");
  exec("BEGIN");
  exec("UPDATE " + table_ +
       " SET ti = 7, vc = 'changed', en = 'shipped', ts = NULL, js = '{}' WHERE id = 1");
  exec("UPDATE " + table_ + " SET dc = -dc, tm2 = '00:00:00.99', b64 = 0 WHERE id IN (1, 3)");
  exec("COMMIT");
  const std::vector<TextRow> rows13 = snapshot("1, 3");
  exec("SET SESSION binlog_row_image = MINIMAL");
  exec("UPDATE " + table_ + " SET si = 42 WHERE id = 2");
  exec("DELETE FROM " + table_ + " WHERE id = 2");
  exec("SET SESSION binlog_row_image = FULL");
  exec("DELETE FROM " + table_ + " WHERE id IN (1, 3)");
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(row1.size(), 1u);
  ASSERT_EQ(rows23.size(), 2u);
  ASSERT_EQ(rows13.size(), 2u);

  status = query(conn_.get(), "SHOW MASTER STATUS");
  ASSERT_TRUE(status && status->size() == 1);
  ASSERT_EQ(*(*status)[0][0], file) << "the binlog rotated during the test";
  const unsigned long end = std::stoul(*(*status)[0][1]);

  // Read the events back over the replication protocol.
  MysqlConn replica = connect(dsn_);
  ASSERT_TRUE(replica);
  ASSERT_TRUE(query(replica.get(), "SET @master_binlog_checksum = @@global.binlog_checksum"));
  ASSERT_TRUE(query(replica.get(), "SET @mariadb_slave_capability = 4"));
  std::unique_ptr<MARIADB_RPL, RplCloser> rpl(mariadb_rpl_init(replica.get()));
  ASSERT_TRUE(rpl);
  const unsigned int server_id = 100000 + static_cast<unsigned int>(getpid() % 100000);
  ASSERT_EQ(mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_FILENAME, file.c_str(), file.size()), 0);
  ASSERT_EQ(mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_START, start), 0);
  ASSERT_EQ(mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_SERVER_ID, server_id), 0);
  // Non-blocking: the server ends the dump with EOF at the end of the binlog.
  ASSERT_EQ(mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_FLAGS,
                                 static_cast<unsigned int>(MARIADB_RPL_BINLOG_DUMP_NON_BLOCK)),
            0);
  ASSERT_EQ(mariadb_rpl_open(rpl.get()), 0) << mysql_error(replica.get());

  std::optional<mysql::ServerFlavor> flavor;
  std::map<std::uint64_t, mysql::TableMap> maps;
  std::vector<mysql::RowsEvent> decoded;
  int table_maps = 0;
  int xids = 0;
  bool in_our_transaction = false;
  bool reached_end = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int n = 0; n < 10000 && !reached_end; ++n) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "reading the binlog took too long";
    std::unique_ptr<MARIADB_RPL_EVENT, EventFree> event(mariadb_rpl_fetch(rpl.get(), nullptr));
    if (!event) {
      ASSERT_EQ(mysql_errno(replica.get()), 0u) << mysql_error(replica.get());
      break;  // EOF
    }
    const std::span<const std::uint8_t> bytes(event->raw_data + event->raw_data_ofs,
                                              event->raw_data_size - event->raw_data_ofs);
    ASSERT_EQ(bytes.size(), event->event_length) << "event type " << event->event_type;

    switch (event->event_type) {
      case FORMAT_DESCRIPTION_EVENT:
        flavor = mysql::flavorFromServerVersion(event->event.format_description.server_version);
        EXPECT_EQ(*flavor, mysql::ServerFlavor::kMariaDb);
        // After the FORMAT_DESCRIPTION, mariadb_rpl knows whether events carry a CRC32.
        EXPECT_EQ(rpl->use_checksum != 0, server_checksums);
        continue;
      case TABLE_MAP_EVENT:
      case WRITE_ROWS_EVENT_V1:
      case UPDATE_ROWS_EVENT_V1:
      case DELETE_ROWS_EVENT_V1:
      case WRITE_ROWS_EVENT:
      case UPDATE_ROWS_EVENT:
      case DELETE_ROWS_EVENT:
      case XID_EVENT:
        break;
      default:
        continue;
    }
    auto view = mysql::splitEvent(bytes, rpl->use_checksum != 0);
    ASSERT_TRUE(view.has_value()) << view.error().toString();
    ASSERT_EQ(view->header.type, event->event_type);
    const std::uint8_t type = view->header.type;

    if (type == TABLE_MAP_EVENT) {
      auto head = mysql::peekTableMap(view->body);
      ASSERT_TRUE(head.has_value()) << head.error().toString();
      EXPECT_EQ(head->table_id, event->event.table_map.table_id);
      if (head->table != table_ || head->schema != database_) continue;
      ASSERT_TRUE(flavor.has_value()) << "TABLE_MAP before FORMAT_DESCRIPTION";
      auto map = mysql::parseTableMap(view->body, *flavor);
      ASSERT_TRUE(map.has_value()) << map.error().toString();
      EXPECT_EQ(map->columns.size(), event->event.table_map.column_count);
      maps[map->table_id] = std::move(*map);
      ++table_maps;
    } else if (type == XID_EVENT) {
      if (in_our_transaction) ++xids;
      in_our_transaction = false;
      reached_end = view->header.next_position >= end;
    } else {
      // MariaDB writes V1 rows events (cdc.md C2); a V2 code here would be news.
      EXPECT_TRUE(type >= WRITE_ROWS_EVENT_V1 && type <= DELETE_ROWS_EVENT_V1) << int(type);
      auto head = mysql::peekRowsEvent(type, view->body);
      ASSERT_TRUE(head.has_value()) << head.error().toString();
      auto map = maps.find(head->table_id);
      if (map == maps.end()) continue;  // another test's table
      auto rows = mysql::decodeRowsEvent(type, view->body, map->second);
      ASSERT_TRUE(rows.has_value()) << rows.error().toString();
      decoded.push_back(std::move(*rows));
      in_our_transaction = true;
    }
  }
  ASSERT_TRUE(reached_end) << "the dump ended before position " << end;
  // One transaction per autocommitted statement, one for the explicit BEGIN … COMMIT.
  EXPECT_EQ(xids, 7);

  // One TABLE_MAP and one rows event per statement, in the order written.
  EXPECT_EQ(table_maps, 8);
  ASSERT_EQ(decoded.size(), 8u);
  const RowsKind kinds[] = {RowsKind::kWrite,  RowsKind::kWrite,  RowsKind::kWrite,
                            RowsKind::kUpdate, RowsKind::kUpdate, RowsKind::kUpdate,
                            RowsKind::kDelete, RowsKind::kDelete};
  const std::size_t counts[] = {1, 1, 1, 1, 2, 1, 1, 2};
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    EXPECT_EQ(decoded[i].header.kind, kinds[i]) << "statement " << i;
    EXPECT_TRUE(decoded[i].header.statementEnd()) << "statement " << i;
    ASSERT_EQ(decoded[i].rows.size(), counts[i]) << "statement " << i;
  }

  const Row& inserted = *decoded[0].rows[0].after;
  expectRowMatches(inserted, row1[0], "insert row 1");
  // Spelled out, independent of SELECT.
  EXPECT_EQ(*inserted.find("bu"), Value("18446744073709551615"));
  EXPECT_EQ(*inserted.find("dn"), Value("-12345678901234567890.0123456789"));
  EXPECT_EQ(*inserted.find("ts"), Value("2024-05-06 10:00:00"));
  EXPECT_EQ(*inserted.find("ts6"), Value("2038-01-19 03:14:07.123456"));
  EXPECT_EQ(*inserted.find("tm6"), Value("-00:00:01.500001"));
  EXPECT_EQ(*inserted.find("en"), Value("paid"));
  EXPECT_EQ(*inserted.find("st"), Value("a,c,d"));
  EXPECT_EQ(*inserted.find("b12"), Value(0b101010101010));
  EXPECT_EQ(*inserted.find("f"), Value(1.1));

  expectRowMatches(*decoded[1].rows[0].after, rows23[0], "insert row 2");
  expectRowMatches(*decoded[2].rows[0].after, rows23[1], "insert row 3");
  EXPECT_EQ(*decoded[2].rows[0].after->find("ts"), Value("1970-01-01 00:00:01"));
  EXPECT_EQ(*decoded[2].rows[0].after->find("tm2"), Value("-12:00:00.01"));

  // The explicit transaction: the first UPDATE touches row 1, the second rows 1 and 3.
  expectRowMatches(*decoded[3].rows[0].before, row1[0], "first update, row 1 before");
  EXPECT_EQ(*decoded[3].rows[0].after->find("vc"), Value("changed"));
  EXPECT_EQ(*decoded[4].rows[0].before, *decoded[3].rows[0].after);
  expectRowMatches(*decoded[4].rows[0].after, rows13[0], "second update, row 1 after");
  expectRowMatches(*decoded[4].rows[1].before, rows23[1], "second update, row 3 before");
  expectRowMatches(*decoded[4].rows[1].after, rows13[1], "second update, row 3 after");
  EXPECT_EQ(*decoded[4].rows[0].after->find("dc"), Value("-1234567890.1234"));

  // MINIMAL images: the key before, the changed column after, the rest unavailable.
  const RowChange& minimal = decoded[5].rows[0];
  EXPECT_EQ(*minimal.before->find("id"), Value(2));
  EXPECT_EQ(*minimal.before->find("lang"), Value("pl"));
  EXPECT_TRUE(minimal.before->find("si")->isUnavailable());
  EXPECT_EQ(*minimal.after->find("si"), Value(42));
  EXPECT_TRUE(minimal.after->find("lang")->isUnavailable());
  EXPECT_EQ(*decoded[6].rows[0].before->find("lang"), Value("pl"));
  EXPECT_TRUE(decoded[6].rows[0].before->find("vc")->isUnavailable());

  // The final delete removes rows 1 and 3 with their last state as before images.
  expectRowMatches(*decoded[7].rows[0].before, rows13[0], "delete row 1");
  expectRowMatches(*decoded[7].rows[1].before, rows13[1], "delete row 3");

  const mysql::TableMap& map = maps.begin()->second;
  // ChangeEvents for the final delete, keyed by the composite primary key.
  auto events = mysql::toChangeEvents(map, decoded[7], {"shop", file, {}, ""});
  ASSERT_TRUE(events.has_value()) << events.error().toString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].event.pk, "1|en");
  EXPECT_EQ((*events)[1].event.pk, "3|de");
  EXPECT_EQ((*events)[0].event.table, table_);
  EXPECT_EQ((*events)[0].event.op, Op::kDelete);

  // The TABLE_MAP's metadata agrees with information_schema, so applyTableSchema (the path for
  // servers without binlog_row_metadata=FULL) accepts it, and the members match.
  auto info = query(conn_.get(),
                    "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
                    "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '" +
                        table_ + "' ORDER BY ORDINAL_POSITION");
  ASSERT_TRUE(info && info->size() == std::size(kColumns));
  mysql::TableSchema schema;
  for (const TextRow& row : *info) {
    const std::string& type = *row[1];
    mysql::ColumnSchema column{*row[0], type.ends_with("unsigned"), {}, ""};
    if (type.starts_with("enum(") || type.starts_with("set(")) column.members = membersOf(type);
    schema.columns.push_back(column);
  }
  schema.primary_key = {"id", "lang"};
  for (std::size_t i = 0; i < map.columns.size(); ++i) {
    EXPECT_EQ(map.columns[i].members, schema.columns[i].members) << map.columns[i].name;
  }
  mysql::TableMap stripped = map;
  stripped.has_names = stripped.has_members = stripped.has_signedness = false;
  stripped.has_primary_key = false;
  stripped.primary_key.clear();
  for (mysql::Column& c : stripped.columns) {
    c.name.clear();
    c.members.clear();
    c.is_unsigned = false;
  }
  mysql::TableMap with_names = map;
  ASSERT_TRUE(mysql::applyTableSchema(with_names, schema).isOk());
  ASSERT_TRUE(mysql::applyTableSchema(stripped, schema).isOk());
  for (std::size_t i = 0; i < map.columns.size(); ++i) {
    EXPECT_EQ(stripped.columns[i].name, map.columns[i].name);
    EXPECT_EQ(stripped.columns[i].members, map.columns[i].members);
    // information_schema does not call YEAR unsigned; MariaDB's signedness field does.
    if (map.columns[i].type != mysql::ColumnType::kYear) {
      EXPECT_EQ(stripped.columns[i].is_unsigned, map.columns[i].is_unsigned) << map.columns[i].name;
    }
  }
  ASSERT_EQ(stripped.primary_key.size(), 2u);
  EXPECT_EQ(stripped.primary_key[1].column, 1u);
}

}  // namespace
}  // namespace smsbridge::testing
