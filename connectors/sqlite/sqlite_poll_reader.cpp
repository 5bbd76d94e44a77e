#include "connectors/sqlite/sqlite_poll_reader.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/sql_ident.h"

namespace smsbridge::sqlite {
namespace {

std::string q(const std::string& identifier) {
  return quoteIdentifier(identifier, SqlDialect::kSqlite);
}

// Milliseconds since 1970 from SQLite date-time text; julianday() has ~20 µs precision, so
// anything finer would be noise.
std::string epochMillis(const std::string& column) {
  return fmt::format("((julianday({}) - 2440587.5) * 86400000.0)", q(column));
}

}  // namespace

Status SqlitePollReader::connect() {
  if (db_) return Status::ok();
  auto db = Database::open(path_, Database::OpenMode::kReadOnly, busy_timeout_);
  if (!db) return db.error();
  db_ = std::move(*db);
  return Status::ok();
}

Result<std::vector<std::string>> SqlitePollReader::primaryKey(const poll::TableSpec& table) {
  auto st = db_->prepare("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid");
  if (!st) return st.error();
  st->bind(1, table.table);
  std::vector<std::string> columns;
  std::vector<std::pair<std::int64_t, std::string>> pk;
  while (true) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    columns.push_back(st->columnText(0));
    if (std::int64_t k = st->columnInt(1); k > 0) pk.emplace_back(k, columns.back());
  }
  if (columns.empty()) {
    return configError("table '" + table.table + "' does not exist in '" + path_ + "'");
  }
  auto has = [&](const std::string& c) {
    return std::find(columns.begin(), columns.end(), c) != columns.end();
  };
  if (!table.change_column.empty() && !has(table.change_column)) {
    return configError("table '" + table.table + "' has no column '" + table.change_column +
                       "' (poll.tables." + table.table + ".change_column)");
  }
  for (const auto& c : table.watch) {
    if (!has(c)) {
      return configError("table '" + table.table + "' has no column '" + c + "' (poll.tables." +
                         table.table + ".watch)");
    }
  }
  if (pk.empty()) {
    return configError("table '" + table.table +
                       "' has no PRIMARY KEY; poll capture needs one to tell rows apart");
  }
  std::sort(pk.begin(), pk.end());
  std::vector<std::string> out;
  for (auto& [k, c] : pk) out.push_back(c);
  return out;
}

Result<std::vector<poll::PolledRow>> SqlitePollReader::page(const poll::PageQuery& query) {
  const poll::TableSpec& table = *query.table;
  const auto& pk = *query.primary_key;
  const bool timestamp = table.kind == poll::ChangeKind::kTimestamp;
  std::string mark = "NULL";
  if (!table.change_column.empty()) {
    mark = timestamp
               ? fmt::format("CAST(round({}) AS INTEGER) * 1000", epochMillis(table.change_column))
               : fmt::format("CAST({} AS INTEGER)", q(table.change_column));
  }
  std::vector<std::string> where;
  if (query.min_mark) {
    where.push_back(timestamp ? epochMillis(table.change_column) + " >= ?"
                              : q(table.change_column) + " >= ?");
  }
  std::string keys, placeholders;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    keys += (i ? ", " : "") + q(pk[i]);
    placeholders += i ? ", ?" : "?";
  }
  if (!query.after.empty()) where.push_back("(" + keys + ") > (" + placeholders + ")");
  std::string sql = fmt::format("SELECT {} AS smsbridge_mark, * FROM {}", mark, q(table.table));
  if (!where.empty()) sql += " WHERE " + fmt::format("{}", fmt::join(where, " AND "));
  sql += " ORDER BY " + keys + " LIMIT ?";

  auto st = db_->prepare(sql);
  if (!st) return st.error();
  int index = 1;
  if (query.min_mark) {
    if (timestamp) {
      st->bind(index++, static_cast<double>(*query.min_mark) / 1000.0);
    } else {
      st->bind(index++, *query.min_mark);
    }
  }
  for (const Value& v : query.after) st->bind(index++, v);
  st->bind(index, query.limit);

  std::vector<poll::PolledRow> rows;
  while (true) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) break;
    poll::PolledRow polled;
    if (!st->columnIsNull(0)) polled.mark = st->columnInt(0);
    for (int i = 1; i < st->columnCount(); ++i)
      polled.row.set(st->columnName(i), st->columnValue(i));
    rows.push_back(std::move(polled));
  }
  return rows;
}

}  // namespace smsbridge::sqlite
