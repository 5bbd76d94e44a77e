#include "connectors/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <algorithm>
#include <string_view>

namespace smsbridge::postgres {
namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// "PostgreSQL at host:port/db" from the DSN itself, so even a connection that never opened
// can be named, and never with its password.
std::string describeServer(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error) PQfreemem(error);
  std::string host = "localhost", port = "5432", dbname;
  if (options) {
    for (PQconninfoOption* o = options; o->keyword; ++o) {
      if (!o->val || !*o->val) continue;
      std::string_view key = o->keyword;
      if (key == "host" || (key == "hostaddr" && host == "localhost")) host = o->val;
      if (key == "port") port = o->val;
      if (key == "dbname") dbname = o->val;
    }
    PQconninfoFree(options);
  }
  return "PostgreSQL at " + host + ":" + port + (dbname.empty() ? "" : "/" + dbname);
}

std::string withConnectTimeout(const std::string& dsn, std::chrono::milliseconds timeout) {
  if (contains(dsn, "connect_timeout")) return dsn;
  // libpq takes whole seconds; 0 would mean "wait forever".
  long long seconds = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(timeout + std::chrono::milliseconds(999))
             .count());
  bool uri = dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
  if (!uri) return dsn + " connect_timeout=" + std::to_string(seconds);
  return dsn + (contains(dsn, "?") ? "&" : "?") + "connect_timeout=" + std::to_string(seconds);
}

// libpq reports connection-time failures as text only, so authentication and a missing
// database are told apart from an unreachable server by the server's message.
Status classifyConnectFailure(const std::string& what, const std::string& server) {
  if (contains(what, "password authentication failed") || contains(what, "authentication failed") ||
      contains(what, "no pg_hba.conf entry") || contains(what, "password is required") ||
      contains(what, "no password supplied")) {
    return configError(server + " refused the login: " + what +
                       "; check the user and password in the source's `dsn` and the server's "
                       "pg_hba.conf");
  }
  if (contains(what, "database \"") && contains(what, "does not exist")) {
    return configError(server + ": " + what + "; check the database name in the source's `dsn`");
  }
  if (contains(what, "role \"") && contains(what, "does not exist")) {
    return configError(server + ": " + what + "; check the user name in the source's `dsn`");
  }
  if (contains(what, "invalid connection option") || contains(what, "invalid URI") ||
      contains(what, "missing \"=\"")) {
    return configError("the source's `dsn` is not a valid libpq connection string: " + what);
  }
  return transientError(server + " is unreachable: " + what);
}

}  // namespace

Status PgConnection::classify(const std::exception& error, const std::string& server) {
  std::string what = error.what();
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    const std::string& state = sql->sqlstate();
    std::string_view cls = std::string_view(state).substr(0, 2);
    if (cls == "08" || cls == "53" || state == "40001" || state == "40P01" || state == "55P03" ||
        state == "57014" || state == "57P01" || state == "57P02" || state == "57P03") {
      return transientError(server + ": " + what);
    }
    if (cls == "28") {
      return configError(server + " refused the login: " + what +
                         "; check the user and password in the source's `dsn`");
    }
    if (state == "42501") {
      return configError(server + ": " + what +
                         "; grant the bridge's user the privilege (see `smsbridge setup "
                         "--dry-run` for the statements it needs)");
    }
    if (state == "42P01" || state == "42703" || state == "3F000" || state == "3D000" ||
        state == "42883") {
      return configError(server + ": " + what +
                         "; check `tables:` and the mappings, then run `smsbridge setup -c "
                         "<config>`");
    }
    return internalError(server + ": " + what + " (SQLSTATE " + state + ")");
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error)) {
    return classifyConnectFailure(what, server);
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error)) {
    // The commit may or may not have happened; every write the bridge makes is idempotent
    // (dedup keys, forward-only statuses), so retrying is safe.
    return transientError(server + ": connection lost during commit: " + what);
  }
  return internalError(server + ": " + what);
}

Result<std::unique_ptr<PgConnection>> PgConnection::open(const std::string& dsn,
                                                         std::chrono::milliseconds timeout) {
  std::string server = describeServer(dsn);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (!options) {
    std::string what = error ? error : "unparsable";
    if (error) PQfreemem(error);
    while (!what.empty() && what.back() == '\n') what.pop_back();
    return configError("the source's `dsn` is not a valid libpq connection string: " + what);
  }
  PQconninfoFree(options);
  std::unique_ptr<PgConnection> conn(new PgConnection(withConnectTimeout(dsn, timeout), server));
  SMSBRIDGE_RETURN_IF_ERROR(conn->ensureConnected());
  return conn;
}

Status PgConnection::ensureConnected() {
  if (conn_ && conn_->is_open()) return Status::ok();
  conn_.reset();
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo_);
    // Notices ("relation already exists, skipping" from idempotent DDL) are noise in the
    // bridge's log.
    pqxx::nontransaction setup(*conn);
    setup.exec("SET client_min_messages = warning");
    setup.commit();
    conn_ = std::move(conn);
    return Status::ok();
  } catch (const std::exception& e) {
    return classify(e, server_);
  }
}

Status PgConnection::transact(const std::function<Status(pqxx::work&)>& body) {
  SMSBRIDGE_RETURN_IF_ERROR(ensureConnected());
  try {
    pqxx::work txn(*conn_);
    Status status = body(txn);
    if (!status.isOk()) {
      txn.abort();
      return status;
    }
    txn.commit();
    return Status::ok();
  } catch (const std::exception& e) {
    if (!conn_->is_open()) conn_.reset();
    return classify(e, server_);
  }
}

Status PgConnection::autocommit(const std::function<Status(pqxx::nontransaction&)>& body) {
  SMSBRIDGE_RETURN_IF_ERROR(ensureConnected());
  try {
    pqxx::nontransaction txn(*conn_);
    Status status = body(txn);
    txn.commit();
    return status;
  } catch (const std::exception& e) {
    if (!conn_->is_open()) conn_.reset();
    return classify(e, server_);
  }
}

Status PgConnection::exec(const std::string& sql) {
  SMSBRIDGE_RETURN_IF_ERROR(ensureConnected());
  try {
    pqxx::nontransaction txn(*conn_);
    txn.exec(sql);
    txn.commit();
    return Status::ok();
  } catch (const std::exception& e) {
    if (!conn_->is_open()) conn_.reset();
    return classify(e, server_);
  }
}

}  // namespace smsbridge::postgres
