#include "connectors/sqlite/sqlite_sql_session.h"

#include <cctype>

namespace smsbridge::sqlite {

namespace {

bool onlyBlanksOrSemicolons(const char* text) {
  for (; text && *text; ++text) {
    if (!std::isspace(static_cast<unsigned char>(*text)) && *text != ';') return false;
  }
  return true;
}

std::string excerpt(std::string_view sql) {
  std::string text(sql.substr(0, 80));
  return sql.size() > 80 ? text + "..." : text;
}

}  // namespace

Result<std::unique_ptr<SqliteSqlSession>> SqliteSqlSession::open(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  auto db = Database::open(path, Database::OpenMode::kExisting, busy_timeout);
  if (!db) return db.error();
  return std::unique_ptr<SqliteSqlSession>(new SqliteSqlSession(std::move(*db)));
}

Status SqliteSqlSession::statementError(int rc, std::string_view sql) const {
  switch (rc & 0xff) {
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
    case SQLITE_AUTH:
      return configError("SQLite database '" + db_->path() + "': " + sqlite3_errmsg(db_->handle()) +
                         " in '" + excerpt(sql) + "'");
    default:
      return db_->error(rc, "running '" + excerpt(sql) + "'");
  }
}

Status SqliteSqlSession::stepError(const Status& failed, std::string_view sql) const {
  // A bind failure never reached SQLite; otherwise the connection's last error is the step's.
  const int rc = sqlite3_errcode(db_->handle());
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return failed;
  return statementError(rc, sql);
}

Result<sqlite::Statement> SqliteSqlSession::prepareBound(std::string_view sql, const Row& params) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_->handle(), sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  if (rc != SQLITE_OK) return statementError(rc, sql);
  sqlite::Statement statement(db_.get(), raw);
  if (!raw) return configError("the SQL '" + excerpt(sql) + "' holds no statement");
  // `tail` points into `sql`, which need not end with a NUL: compare by length.
  std::string rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
  if (!onlyBlanksOrSemicolons(rest.c_str())) {
    return configError("the SQL '" + excerpt(sql) +
                       "' holds more than one statement; give one statement per query");
  }
  const int count = sqlite3_bind_parameter_count(raw);
  for (int i = 1; i <= count; ++i) {
    const char* name = sqlite3_bind_parameter_name(raw, i);
    // Only `:name` is part of the contract; `?`, `@name` and `$name` would bind by accident.
    if (!name || name[0] != ':') {
      return configError("the SQL '" + excerpt(sql) + "' has a parameter '" + (name ? name : "?") +
                         "'; name parameters `:name`");
    }
    const Value* value = params.find(name + 1);
    if (!value) {
      return configError("the SQL '" + excerpt(sql) + "' uses parameter '" + name +
                         "', which has no value");
    }
    statement.bind(i, *value);
  }
  return statement;
}

Status SqliteSqlSession::forEachRow(std::string_view sql, const Row& params,
                                    const std::function<bool(const Row&)>& on_row) {
  auto statement = prepareBound(sql, params);
  if (!statement) return statement.error();
  std::vector<std::string> names;
  for (int i = 0; i < statement->columnCount(); ++i) names.push_back(statement->columnName(i));
  while (true) {
    auto more = statement->step();
    if (!more) return stepError(more.error(), sql);
    if (!*more) return Status::ok();
    Row row;
    for (int i = 0; i < static_cast<int>(names.size()); ++i) {
      row.set(names[static_cast<std::size_t>(i)], statement->columnValue(i));
    }
    if (!on_row(row)) return Status::ok();
  }
}

Result<std::int64_t> SqliteSqlSession::execute(std::string_view sql, const Row& params) {
  auto statement = prepareBound(sql, params);
  if (!statement) return statement.error();
  while (true) {
    auto more = statement->step();
    if (!more) return stepError(more.error(), sql);
    if (!*more) break;
  }
  return static_cast<std::int64_t>(sqlite3_changes(db_->handle()));
}

Result<std::vector<std::int64_t>> SqliteSqlSession::executeAll(
    std::span<const SqlSession::Statement> statements) {
  // BEGIN IMMEDIATE: the write lock up front, so the transaction never fails half-way on
  // lock upgrade; a busy file fails here, before anything ran.
  SMSBRIDGE_RETURN_IF_ERROR(db_->beginWrite());
  std::vector<std::int64_t> counts;
  for (const SqlSession::Statement& statement : statements) {
    auto changed = execute(statement.sql, statement.params);
    if (!changed) {
      db_->rollback();
      return changed.error();
    }
    counts.push_back(*changed);
  }
  if (Status s = db_->commit(); !s.isOk()) {
    db_->rollback();
    return s;
  }
  return counts;
}

}  // namespace smsbridge::sqlite
