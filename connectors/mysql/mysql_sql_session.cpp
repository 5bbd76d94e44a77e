#include "connectors/mysql/mysql_sql_session.h"

#include <charconv>
#include <cstdlib>

namespace smsbridge::mysql {
namespace {

struct Bound {
  std::string sql;  // with ? markers
  std::vector<Param> values;
};

Result<Param> parameterValue(const std::string& name, const Value& v) {
  if (v.isNull()) return Param(nullptr);
  if (v.isUnavailable()) {
    return rejectedError("the value of :" + name + " was not sent by the source (unchanged)");
  }
  if (v.isBool()) return Param(static_cast<std::int64_t>(v.asBool() ? 1 : 0));
  if (v.isInt()) return Param(v.asInt());
  if (v.isDouble()) return Param(v.asDouble());
  return Param(v.asString());
}

Result<Bound> bindParameters(std::string_view sql, const Row& params) {
  Bound bound;
  // `?` markers are positional, so a name used twice is bound twice.
  std::vector<std::string> order;
  bound.sql = replaceSqlParameters(sql, [&](const std::string& name) {
    order.push_back(name);
    return std::string("?");
  });
  for (const std::string& name : order) {
    const Value* value = params.find(name);
    if (!value) {
      return configError("the statement uses :" + name + ", but no value named '" + name +
                         "' is given");
    }
    auto param = parameterValue(name, *value);
    if (!param) return param.error();
    bound.values.push_back(std::move(*param));
  }
  return bound;
}

bool isIntegerType(enum_field_types type) {
  switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
      return true;
    default:
      return false;
  }
}

Value cellValue(const Connection::ResultColumn& column, const Cell& cell) {
  if (!cell) return Value();
  const std::string& text = *cell;
  if (isIntegerType(column.type)) {
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && ptr == text.data() + text.size()) return Value(n);
    return Value(text);  // BIGINT UNSIGNED beyond INT64_MAX
  }
  if (column.type == MYSQL_TYPE_DOUBLE || column.type == MYSQL_TYPE_FLOAT) {
    return Value(std::strtod(text.c_str(), nullptr));
  }
  return Value(text);
}

// Server errors that concern the bound values of one row rather than the statement.
bool isValueError(unsigned int code) {
  switch (code) {
    case 1048:  // column cannot be null
    case 1062:  // duplicate entry
    case 1264:  // out of range
    case 1292:  // incorrect datetime/number value
    case 1366:  // incorrect integer/string value
    case 1406:  // data too long
    case 1451:  // a foreign key refers to the row
    case 1452:  // no row for a foreign key
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<std::unique_ptr<MysqlSqlSession>> MysqlSqlSession::open(const ConnectionOptions& options) {
  std::unique_ptr<MysqlSqlSession> session(new MysqlSqlSession(options));
  SMSBRIDGE_RETURN_IF_ERROR(session->ensureConnected());
  return session;
}

Status MysqlSqlSession::ensureConnected() {
  if (conn_ && !conn_->isBroken()) return Status::ok();
  conn_.reset();
  auto conn = Connection::connect(options_);
  if (!conn) return conn.error();
  conn_ = std::move(*conn);
  return Status::ok();
}

// Connection calls a statement the server refuses internal (the bridge's own SQL should never
// be refused); here the SQL comes from the config, so it is the config's problem.
Status MysqlSqlSession::sessionError(const Status& status) const {
  if (status.category() == ErrorCategory::kTransient) return status;
  if (isValueError(conn_->lastErrorCode())) return rejectedError(status.message());
  if (status.category() == ErrorCategory::kInternal) return configError(status.message());
  return status;
}

Status MysqlSqlSession::forEachRow(std::string_view sql, const Row& params,
                                   const std::function<bool(const Row&)>& on_row) {
  auto bound = bindParameters(sql, params);
  if (!bound) return bound.error();
  SMSBRIDGE_RETURN_IF_ERROR(ensureConnected());
  Status status = conn_->forEachRow(
      bound->sql, bound->values,
      [&](const std::vector<Connection::ResultColumn>& columns, const ResultRow& cells) {
        Row row;
        for (std::size_t i = 0; i < columns.size(); ++i) {
          row.set(columns[i].name, cellValue(columns[i], cells[i]));
        }
        return on_row(row);
      });
  if (!status.isOk()) return sessionError(status);
  return Status::ok();
}

Result<std::int64_t> MysqlSqlSession::execute(std::string_view sql, const Row& params) {
  auto bound = bindParameters(sql, params);
  if (!bound) return bound.error();
  SMSBRIDGE_RETURN_IF_ERROR(ensureConnected());
  // Autocommit: the one statement is its own transaction.
  auto affected = conn_->execute(bound->sql, bound->values);
  if (!affected) return sessionError(affected.error());
  return static_cast<std::int64_t>(*affected);
}

Result<std::vector<std::int64_t>> MysqlSqlSession::executeAll(
    std::span<const Statement> statements) {
  std::vector<Bound> bound;
  for (const Statement& statement : statements) {
    auto b = bindParameters(statement.sql, statement.params);
    if (!b) return b.error();
    bound.push_back(std::move(*b));
  }
  SMSBRIDGE_RETURN_IF_ERROR(ensureConnected());
  if (Status s = conn_->begin(); !s.isOk()) return sessionError(s);
  std::vector<std::int64_t> affected;
  for (const Bound& b : bound) {
    auto n = conn_->execute(b.sql, b.values);
    if (!n) {
      Status error = sessionError(n.error());  // before the rollback, which resets nothing
      conn_->rollback();
      return error;
    }
    affected.push_back(static_cast<std::int64_t>(*n));
  }
  if (Status s = conn_->commit(); !s.isOk()) {
    Status error = sessionError(s);
    conn_->rollback();
    return error;
  }
  return affected;
}

}  // namespace smsbridge::mysql
