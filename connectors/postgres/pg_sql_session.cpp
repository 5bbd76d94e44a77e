#include "connectors/postgres/pg_sql_session.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace smsbridge::postgres {
namespace {

// Rows fetched from the cursor per round trip: large enough that a big schedule is not slowed
// by round trips, small enough that a page of wide rows stays a few megabytes.
constexpr int kFetchRows = 500;

// Type OIDs from pg_type.h; stable across PostgreSQL versions.
constexpr pqxx::oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700,
                    kFloat8 = 701;

struct Bound {
  std::string sql;  // with $1, $2...
  std::vector<std::optional<std::string>> values;
};

// The text PostgreSQL reads back as the same value; nullopt is NULL.
Result<std::optional<std::string>> parameterText(const std::string& name, const Value& v) {
  if (v.isNull()) return std::optional<std::string>();
  if (v.isUnavailable()) {
    return rejectedError("the value of :" + name + " was not sent by the source (unchanged)");
  }
  if (v.isBool()) return std::optional<std::string>(v.asBool() ? "true" : "false");
  if (v.isInt()) return std::optional<std::string>(std::to_string(v.asInt()));
  if (v.isDouble()) return std::optional<std::string>(fmt::format("{}", v.asDouble()));
  return std::optional<std::string>(v.asString());
}

Result<Bound> bindParameters(std::string_view sql, const Row& params) {
  Bound bound;
  std::vector<std::string> names;
  bound.sql = replaceSqlParameters(sql, [&](const std::string& name) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) it = names.insert(names.end(), name);
    return "$" + std::to_string(it - names.begin() + 1);
  });
  for (const std::string& name : names) {
    const Value* value = params.find(name);
    if (!value) {
      return configError("the statement uses :" + name + ", but no value named '" + name +
                         "' is given");
    }
    auto text = parameterText(name, *value);
    if (!text) return text.error();
    bound.values.push_back(std::move(*text));
  }
  return bound;
}

Value cellValue(const pqxx::field& field, pqxx::oid type) {
  if (field.is_null()) return Value();
  const char* text = field.c_str();
  const std::size_t size = field.size();
  switch (type) {
    case kBool:
      return Value(text[0] == 't');
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: {
      std::int64_t n = 0;
      auto [ptr, ec] = std::from_chars(text, text + size, n);
      if (ec == std::errc() && ptr == text + size) return Value(n);
      break;  // an oid above INT64_MAX cannot happen; keep the text if it somehow does
    }
    case kFloat4:
    case kFloat8:
      // strtod reads "NaN" and "Infinity" too, as PostgreSQL writes them.
      return Value(std::strtod(text, nullptr));
    default:
      break;
  }
  return Value(std::string(text, size));
}

// The session's categories: a statement the server refuses is the config's fault, a value it
// cannot use is the row's. Connection problems keep PgConnection's categories.
Status sessionError(const std::exception& error, const std::string& server) {
  Status status = PgConnection::classify(error, server);
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error);
  if (!sql || status.category() == ErrorCategory::kTransient) return status;
  const std::string& state = sql->sqlstate();
  if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0) {
    return rejectedError(status.message());
  }
  return configError(status.message());
}

}  // namespace

Result<std::unique_ptr<PgSqlSession>> PgSqlSession::open(
    const std::string& dsn, std::chrono::milliseconds connect_timeout) {
  auto conn = PgConnection::open(dsn, connect_timeout);
  if (!conn) return conn.error();
  return std::unique_ptr<PgSqlSession>(new PgSqlSession(std::move(*conn)));
}

Status PgSqlSession::forEachRow(std::string_view sql, const Row& params,
                                const std::function<bool(const Row&)>& on_row) {
  auto bound = bindParameters(sql, params);
  if (!bound) return bound.error();
  Status caught;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    try {
      // DECLARE takes the parameters of the query it declares, so the values stay bound.
      txn.exec_params("DECLARE smsbridge_rows NO SCROLL CURSOR FOR " + bound->sql,
                      pqxx::prepare::make_dynamic_params(bound->values));
      const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM smsbridge_rows";
      while (true) {
        pqxx::result page = txn.exec(fetch);
        std::vector<std::string> names;
        std::vector<pqxx::oid> types;
        for (pqxx::row_size_type c = 0; c < page.columns(); ++c) {
          names.emplace_back(page.column_name(c));
          types.push_back(page.column_type(c));
        }
        for (const auto& r : page) {
          Row row;
          for (pqxx::row_size_type c = 0; c < page.columns(); ++c) {
            row.set(names[c], cellValue(r[c], types[c]));
          }
          if (!on_row(row)) return Status::ok();  // committing closes the cursor
        }
        if (page.size() < static_cast<pqxx::result::size_type>(kFetchRows)) return Status::ok();
      }
    } catch (const pqxx::sql_error& e) {
      // Categorised here rather than by transact(), which would call a syntax error internal.
      caught = sessionError(e, conn_->server());
      throw;
    }
  });
  if (!caught.isOk() && status.category() != ErrorCategory::kTransient) return caught;
  return status;
}

Result<std::int64_t> PgSqlSession::execute(std::string_view sql, const Row& params) {
  const Statement statement{std::string(sql), params};
  auto affected = executeAll(std::span<const Statement>(&statement, 1));
  if (!affected) return affected.error();
  return affected->front();
}

Result<std::vector<std::int64_t>> PgSqlSession::executeAll(std::span<const Statement> statements) {
  std::vector<Bound> bound;
  for (const Statement& statement : statements) {
    auto b = bindParameters(statement.sql, statement.params);
    if (!b) return b.error();
    bound.push_back(std::move(*b));
  }
  std::vector<std::int64_t> affected;
  Status caught;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    affected.clear();
    try {
      for (const Bound& b : bound) {
        pqxx::result result = txn.exec_params(b.sql, pqxx::prepare::make_dynamic_params(b.values));
        affected.push_back(static_cast<std::int64_t>(result.affected_rows()));
      }
      return Status::ok();
    } catch (const pqxx::sql_error& e) {
      caught = sessionError(e, conn_->server());
      throw;
    }
  });
  if (!caught.isOk() && status.category() != ErrorCategory::kTransient) return caught;
  if (!status.isOk()) return status;
  return affected;
}

}  // namespace smsbridge::postgres
