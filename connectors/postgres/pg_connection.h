#pragma once

// The one place smsbridge talks to PostgreSQL through libpqxx. Every pqxx exception stops here
// and becomes a categorised Status (STYLE.md "Errors"), so the store and the sources above see
// only values:
//   kTransient  connection lost or refused, serialization failure, deadlock, lock or statement
//               timeout, server shutting down, too many connections: retrying later may help;
//   kConfig     authentication, missing database/schema/table/column, missing privilege: the
//               message names the server and says what the operator should do;
//   kInternal   anything else (a bug in our SQL, an unexpected result).
//
// Threading: a PgConnection is NOT thread-safe; its owner serialises calls (the store holds a
// mutex, a source is used by its one capture thread). Calls block on the network.
//
// A connection that broke is dropped; the next call reconnects, so a database restart costs
// the caller one kTransient error, not a restart of the bridge.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "core/result.h"

namespace smsbridge::postgres {

class PgConnection {
 public:
  // `dsn` is a libpq URI (postgresql://...) or key=value string. `connect_timeout` is added to
  // it unless the DSN sets one. Connects eagerly so a wrong DSN is reported at once.
  static Result<std::unique_ptr<PgConnection>> open(const std::string& dsn,
                                                    std::chrono::milliseconds connect_timeout);

  // Runs `body` in one read-committed transaction and commits when it returns ok; rolls back
  // when it returns an error or throws. `body` may use the pqxx::work freely: its exceptions
  // are caught and categorised here.
  Status transact(const std::function<Status(pqxx::work&)>& body);

  // Runs one statement outside an explicit transaction (autocommit).
  Status exec(const std::string& sql);

  // Runs `body` outside an explicit transaction: each statement it runs commits on its own.
  // For work that is one statement, atomic by itself: it saves the BEGIN and COMMIT round
  // trips of transact(). Errors are categorised as there; a connection lost mid-statement
  // leaves it unknown whether the statement committed (kTransient, like a lost COMMIT).
  Status autocommit(const std::function<Status(pqxx::nontransaction&)>& body);

  // "PostgreSQL at host:port/db": for messages. Never contains the password.
  const std::string& server() const { return server_; }

  // Turns a caught exception into a Status naming `server`: the one categorisation, for any
  // caller that has to touch pqxx outside transact().
  static Status classify(const std::exception& error, const std::string& server);

 private:
  PgConnection(std::string conninfo, std::string server)
      : conninfo_(std::move(conninfo)), server_(std::move(server)) {}
  Status ensureConnected();

  std::string conninfo_;
  std::string server_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace smsbridge::postgres
