#include "connectors/postgres/pg_poll_reader.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/sql_ident.h"

namespace smsbridge::postgres {
namespace {

std::string q(const std::string& identifier) {
  return quoteIdentifier(identifier, SqlDialect::kPostgres);
}

Value fromJson(const nlohmann::ordered_json& j) {
  if (j.is_null()) return Value();
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  return Value(j.dump());  // json/jsonb/array columns: their text
}

// The lower bound, as a value of the change column's own type, so an index on it is used.
std::string boundExpression(const std::string& type) {
  const std::string instant = "to_timestamp($1::float8 / 1000000)";
  if (type == "timestamp with time zone") return instant;
  if (type == "date") return "(" + instant + " AT TIME ZONE 'UTC')::date";
  return "(" + instant + " AT TIME ZONE 'UTC')";  // timestamp without time zone
}

}  // namespace

Status PgPollReader::connect() {
  if (conn_) return Status::ok();
  auto conn = PgConnection::open(dsn_, connect_timeout_);
  if (!conn) return conn.error();
  conn_ = std::move(*conn);
  return Status::ok();
}

Result<std::vector<std::string>> PgPollReader::primaryKey(const poll::TableSpec& table) {
  std::vector<std::string> pk;
  std::map<std::string, std::string> types;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    pk.clear();
    types.clear();
    auto exists = txn.exec_params("SELECT to_regclass($1) IS NOT NULL", q(table.table));
    if (!exists[0][0].as<bool>()) {
      return configError("table '" + table.table + "' does not exist on " + conn_->server() +
                         " (or this user cannot see it)");
    }
    auto columns = txn.exec_params(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
        q(table.table));
    for (const auto& row : columns) types[row[0].c_str()] = row[1].c_str();
    auto keys = txn.exec_params(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
        "a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        q(table.table));
    for (const auto& row : keys) pk.emplace_back(row[0].c_str());
    return Status::ok();
  });
  if (!status.isOk()) return status;
  auto check = [&](const std::string& column, const char* key) -> Status {
    if (types.count(column)) return Status::ok();
    return configError("table '" + table.table + "' has no column '" + column + "' (poll.tables." +
                       table.table + "." + key + ")");
  };
  if (!table.change_column.empty()) {
    SMSBRIDGE_RETURN_IF_ERROR(check(table.change_column, "change_column"));
    const std::string& type = types[table.change_column];
    const bool is_time = type.rfind("timestamp", 0) == 0 || type == "date";
    const bool is_int = type == "integer" || type == "bigint" || type == "smallint" ||
                        type.rfind("numeric", 0) == 0;
    if (table.kind == poll::ChangeKind::kTimestamp ? !is_time : !is_int) {
      return configError("column '" + table.table + "." + table.change_column + "' is " + type +
                         ", which does not fit poll.tables." + table.table + ".kind");
    }
    change_types_[table.table] = type;
  }
  for (const auto& column : table.watch) SMSBRIDGE_RETURN_IF_ERROR(check(column, "watch"));
  if (pk.empty()) {
    return configError("table '" + table.table +
                       "' has no PRIMARY KEY; poll capture needs one to tell rows apart");
  }
  return pk;
}

Result<std::vector<poll::PolledRow>> PgPollReader::page(const poll::PageQuery& query) {
  const poll::TableSpec& table = *query.table;
  const auto& pk = *query.primary_key;
  const bool timestamp = table.kind == poll::ChangeKind::kTimestamp;
  std::string mark = "NULL::bigint";
  if (!table.change_column.empty()) {
    mark = timestamp
               ? fmt::format("(extract(epoch FROM t.{}) * 1000000)::bigint", q(table.change_column))
               : fmt::format("t.{}::bigint", q(table.change_column));
  }
  // $1 is always the lower mark (NULL: no lower bound), $2.. the key of the previous page.
  std::vector<std::string> where;
  std::vector<std::optional<std::string>> params;
  params.push_back(query.min_mark ? std::optional<std::string>(std::to_string(*query.min_mark))
                                  : std::nullopt);
  if (query.min_mark) {
    where.push_back(fmt::format(
        "t.{} >= {}", q(table.change_column),
        timestamp ? boundExpression(change_types_[table.table]) : std::string("$1::bigint")));
  } else {
    where.push_back("$1::text IS NULL");
  }
  std::string keys, placeholders;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    keys += (i ? ", t." : "t.") + q(pk[i]);
    if (i < query.after.size()) {
      placeholders += fmt::format("{}${}", i ? ", " : "", params.size() + 1);
      const Value& v = query.after[i];
      params.push_back(v.isNull() ? std::nullopt : std::optional<std::string>(v.toText()));
    }
  }
  if (!query.after.empty()) where.push_back("(" + keys + ") > (" + placeholders + ")");
  const std::string sql = fmt::format(
      "SELECT {} AS smsbridge_mark, row_to_json(t.*)::text FROM {} AS t WHERE {} ORDER BY {} "
      "LIMIT {}",
      mark, q(table.table), fmt::join(where, " AND "), keys, query.limit);

  std::vector<poll::PolledRow> rows;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    rows.clear();
    auto result = txn.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
    for (const auto& r : result) {
      poll::PolledRow polled;
      if (!r[0].is_null()) polled.mark = r[0].as<std::int64_t>();
      auto j = nlohmann::ordered_json::parse(r[1].c_str(), nullptr, false);
      if (!j.is_object()) return internalError("row_to_json returned no object");
      for (auto it = j.begin(); it != j.end(); ++it) polled.row.set(it.key(), fromJson(it.value()));
      rows.push_back(std::move(polled));
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return rows;
}

}  // namespace smsbridge::postgres
