#include "connectors/mysql/mysql_poll_reader.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/sql_ident.h"

namespace smsbridge::mysql {
namespace {

std::string q(const std::string& identifier) {
  return quoteIdentifier(identifier, SqlDialect::kMysql);
}

}  // namespace

Status MysqlPollReader::connect() {
  if (conn_ && !conn_->isBroken()) return Status::ok();
  conn_.reset();
  auto conn = Connection::connect(options_);
  if (!conn) return conn.error();
  SMSBRIDGE_RETURN_IF_ERROR(
      (*conn)->exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
  SMSBRIDGE_RETURN_IF_ERROR((*conn)->exec("SET autocommit = 1"));
  conn_ = std::move(*conn);
  return Status::ok();
}

Result<std::vector<std::string>> MysqlPollReader::primaryKey(const poll::TableSpec& table) {
  const Param name[] = {table.table};
  auto columns = conn_->query(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND "
      "table_name = ? ORDER BY ordinal_position",
      name);
  if (!columns) return columns.error();
  std::vector<std::string> all;
  for (const auto& row : *columns) all.push_back(row[0].value_or(""));
  if (all.empty()) {
    return configError("table '" + table.table + "' does not exist in " + options_.describe() +
                       " (or this user cannot see it)");
  }
  auto check = [&](const std::string& column, const char* key) -> Status {
    if (std::find(all.begin(), all.end(), column) != all.end()) return Status::ok();
    return configError("table '" + table.table + "' has no column '" + column + "' (poll.tables." +
                       table.table + "." + key + ")");
  };
  if (!table.change_column.empty()) {
    SMSBRIDGE_RETURN_IF_ERROR(check(table.change_column, "change_column"));
  }
  for (const auto& column : table.watch) SMSBRIDGE_RETURN_IF_ERROR(check(column, "watch"));
  auto keys = conn_->query(
      "SELECT column_name FROM information_schema.key_column_usage WHERE table_schema = "
      "DATABASE() AND table_name = ? AND constraint_name = 'PRIMARY' ORDER BY ordinal_position",
      name);
  if (!keys) return keys.error();
  std::vector<std::string> pk;
  for (const auto& row : *keys) pk.push_back(row[0].value_or(""));
  if (pk.empty()) {
    return configError("table '" + table.table +
                       "' has no PRIMARY KEY; poll capture needs one to tell rows apart");
  }
  columns_[table.table] = std::move(all);
  return pk;
}

Result<std::vector<poll::PolledRow>> MysqlPollReader::page(const poll::PageQuery& query) {
  SMSBRIDGE_RETURN_IF_ERROR(connect());
  const poll::TableSpec& table = *query.table;
  const auto& pk = *query.primary_key;
  const auto& columns = columns_[table.table];
  const bool timestamp = table.kind == poll::ChangeKind::kTimestamp;
  std::string mark = "NULL";
  if (!table.change_column.empty()) {
    mark = timestamp ? fmt::format("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {})",
                                   q(table.change_column))
                     : fmt::format("CAST({} AS SIGNED)", q(table.change_column));
  }
  std::vector<std::string> where;
  std::vector<Param> params;
  if (query.min_mark) {
    // The bound is a DATETIME, so an index on the change column is used.
    where.push_back(
        q(table.change_column) +
        (timestamp ? " >= TIMESTAMPADD(MICROSECOND, ?, '1970-01-01 00:00:00')" : " >= ?"));
    params.emplace_back(*query.min_mark);
  }
  std::string keys, placeholders;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    keys += (i ? ", " : "") + q(pk[i]);
    placeholders += i ? ", ?" : "?";
  }
  if (!query.after.empty()) {
    where.push_back("(" + keys + ") > (" + placeholders + ")");
    for (const Value& v : query.after) {
      if (v.isNull()) {
        params.emplace_back(nullptr);
      } else {
        params.emplace_back(v.toText());
      }
    }
  }
  std::string list;
  for (const auto& c : columns) list += ", " + q(c);
  std::string sql = fmt::format("SELECT {}{} FROM {}", mark, list, q(table.table));
  if (!where.empty()) sql += fmt::format(" WHERE {}", fmt::join(where, " AND "));
  sql += fmt::format(" ORDER BY {} LIMIT {}", keys, query.limit);

  auto result = conn_->query(sql, params);
  if (!result) return result.error();
  std::vector<poll::PolledRow> rows;
  for (const ResultRow& r : *result) {
    poll::PolledRow polled;
    if (r[0]) {
      std::int64_t m = 0;
      auto [ptr, ec] = std::from_chars(r[0]->data(), r[0]->data() + r[0]->size(), m);
      if (ec == std::errc() && ptr == r[0]->data() + r[0]->size()) polled.mark = m;
    }
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const Cell& cell = r[i + 1];
      polled.row.set(columns[i], cell ? Value(*cell) : Value());
    }
    rows.push_back(std::move(polled));
  }
  return rows;
}

}  // namespace smsbridge::mysql
