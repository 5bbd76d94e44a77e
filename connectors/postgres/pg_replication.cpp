#include "connectors/postgres/pg_replication.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "core/sql_ident.h"

namespace smsbridge::postgres {
namespace {

// Seconds between the Unix epoch and PostgreSQL's, 2000-01-01.
constexpr std::int64_t kPostgresEpochOffsetSeconds = 946'684'800;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::uint64_t readUint64(std::string_view data, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(data[at + i]);
  return v;
}

void appendUint64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string describe(PGconn* conn) {
  const char* host = PQhost(conn);
  const char* port = PQport(conn);
  const char* db = PQdb(conn);
  std::string server = "PostgreSQL at ";
  server += host && *host ? host : "localhost";
  server += ":";
  server += port && *port ? port : "5432";
  if (db && *db) server += std::string("/") + db;
  return server;
}

// Connection-time failures come as text only (no SQLSTATE), so they are told apart by it.
Status classifyConnectFailure(const std::string& what, const std::string& server) {
  if (contains(what, "replication connection") || contains(what, "replication role") ||
      contains(what, "start WAL sender") || contains(what, "start walsender")) {
    return configError(server + " refused the replication connection: " + what +
                       "; the bridge's user needs the REPLICATION attribute (ALTER ROLE ... "
                       "REPLICATION) and pg_hba.conf must let it connect to this database");
  }
  if (contains(what, "authentication failed") || contains(what, "no pg_hba.conf entry") ||
      contains(what, "password is required") || contains(what, "no password supplied")) {
    return configError(server + " refused the login: " + what +
                       "; check the user and password in the source's `dsn` and the server's "
                       "pg_hba.conf");
  }
  if (contains(what, "does not exist") || contains(what, "invalid connection option") ||
      contains(what, "invalid URI")) {
    return configError(server + ": " + what + "; check the source's `dsn`");
  }
  return transientError(server + " is unreachable: " + what);
}

}  // namespace

Result<ReplicationMessage> parseReplicationMessage(std::string_view data) {
  if (data.empty()) return internalError("empty replication message");
  if (data[0] == 'w') {
    if (data.size() < 25) {
      return internalError("XLogData message of " + std::to_string(data.size()) +
                           " bytes is shorter than its 25-byte header");
    }
    XLogData w;
    w.data_start = readUint64(data, 1);
    w.wal_end = readUint64(data, 9);
    w.send_time = static_cast<std::int64_t>(readUint64(data, 17));
    w.payload.assign(data.substr(25));
    return ReplicationMessage(std::move(w));
  }
  if (data[0] == 'k') {
    if (data.size() < 18) {
      return internalError("keepalive message of " + std::to_string(data.size()) +
                           " bytes is shorter than 18");
    }
    PrimaryKeepalive k;
    k.wal_end = readUint64(data, 1);
    k.send_time = static_cast<std::int64_t>(readUint64(data, 9));
    k.reply_requested = data[17] != 0;
    return ReplicationMessage(k);
  }
  return internalError("unknown replication message type '" + std::string(1, data[0]) + "'");
}

std::string encodeStandbyStatus(Lsn write, Lsn flush, Lsn apply, std::int64_t client_time,
                                bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  appendUint64(out, write);
  appendUint64(out, flush);
  appendUint64(out, apply);
  appendUint64(out, static_cast<std::uint64_t>(client_time));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

std::int64_t postgresNow() {
  auto since_unix = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return since_unix.count() - kPostgresEpochOffsetSeconds * 1'000'000;
}

ReplicationStream::~ReplicationStream() { PQfinish(conn_); }

Result<std::unique_ptr<ReplicationStream>> ReplicationStream::connect(
    const std::string& dsn, std::chrono::milliseconds connect_timeout) {
  // libpq expands `dsn` (URI or key=value) and lets the later keywords override it, so the
  // walsender mode is set whatever the DSN says.
  std::vector<const char*> keys = {"dbname", "replication", "fallback_application_name"};
  std::vector<const char*> values = {dsn.c_str(), "database", "smsbridge"};
  const std::string seconds =
      std::to_string(std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(
                                                connect_timeout + std::chrono::milliseconds(999))
                                                .count()));
  if (!contains(dsn, "connect_timeout")) {
    keys.push_back("connect_timeout");
    values.push_back(seconds.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr) return internalError("libpq could not allocate a connection");
  std::string server = describe(conn) + " (replication)";
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string what = trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return classifyConnectFailure(what, server);
  }
  return std::unique_ptr<ReplicationStream>(new ReplicationStream(conn, std::move(server)));
}

Status ReplicationStream::failure(std::string_view doing, const std::string& message,
                                  const char* sqlstate) const {
  const std::string state = sqlstate ? sqlstate : "";
  const std::string what = server_ + ": " + std::string(doing) + ": " + message;
  if (contains(message, "can no longer get changes") || contains(message, "has been invalidated") ||
      contains(message, "has already been removed")) {
    return sourceLostError(what +
                           "; the slot lost WAL the bridge had not consumed yet, so changes "
                           "were lost on the server");
  }
  if (state == "42704") {
    return configError(what + "; run `smsbridge setup -c <config>` to create it");
  }
  if (state == "42501" || state.rfind("28", 0) == 0) {
    return configError(what + "; the bridge's user needs the REPLICATION attribute");
  }
  if (state == "55006") {
    return transientError(what +
                          " (another process is reading the slot; is a second bridge "
                          "running with this config?)");
  }
  if (state.empty() || state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 ||
      state.rfind("57", 0) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    return transientError(what);
  }
  // An unknown server error is retried with backoff, each retry logged: stopping the bridge for
  // something a server restart may clear would be worse.
  return transientError(what + " (SQLSTATE " + state + ")");
}

Result<SystemIdentity> ReplicationStream::identifySystem() {
  PGresult* res = PQexec(conn_, "IDENTIFY_SYSTEM");
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 4) {
    Status s = failure("IDENTIFY_SYSTEM", trimmed(PQerrorMessage(conn_)),
                       PQresultErrorField(res, PG_DIAG_SQLSTATE));
    PQclear(res);
    return s;
  }
  SystemIdentity id;
  id.system_id = PQgetvalue(res, 0, 0);
  id.timeline = std::atoi(PQgetvalue(res, 0, 1));
  auto pos = parseLsn(PQgetvalue(res, 0, 2));
  id.dbname = PQgetisnull(res, 0, 3) ? "" : PQgetvalue(res, 0, 3);
  PQclear(res);
  if (!pos) return pos.error();
  id.xlog_pos = *pos;
  return id;
}

Status ReplicationStream::startLogical(const std::string& slot, Lsn start,
                                       const std::vector<std::string>& publications) {
  // Slot names are [a-z0-9_] (PostgreSQL's own rule, checked by the caller) and so need no
  // quoting; publication names are identifiers inside a string option.
  std::string names;
  for (const auto& p : publications) {
    names += (names.empty() ? "" : ",") + quoteIdentifier(p, SqlDialect::kPostgres);
  }
  const std::string command = "START_REPLICATION SLOT " + slot + " LOGICAL " + formatLsn(start) +
                              " (proto_version '1', publication_names " + quoteLiteral(names) + ")";
  PGresult* res = PQexec(conn_, command.c_str());
  if (PQresultStatus(res) != PGRES_COPY_BOTH) {
    Status s = failure("starting replication from slot " + slot, trimmed(PQerrorMessage(conn_)),
                       PQresultErrorField(res, PG_DIAG_SQLSTATE));
    PQclear(res);
    return s;
  }
  PQclear(res);
  streaming_ = true;
  return Status::ok();
}

Status ReplicationStream::waitSocket(bool for_write, std::chrono::milliseconds wait) {
  pollfd fd{};
  fd.fd = PQsocket(conn_);
  if (fd.fd < 0) return transientError(server_ + ": connection is closed");
  fd.events = for_write ? POLLOUT : POLLIN;
  int rc = ::poll(&fd, 1, static_cast<int>(std::max<long long>(0, wait.count())));
  if (rc < 0 && errno != EINTR) {
    return transientError(server_ + ": waiting on the socket failed: errno " +
                          std::to_string(errno));
  }
  return Status::ok();
}

Status ReplicationStream::streamEnded() {
  streaming_ = false;
  std::string message = "the server ended the replication stream";
  std::string state;
  while (PGresult* res = PQgetResult(conn_)) {
    if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
      message = trimmed(PQresultErrorMessage(res));
      const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      state = s ? s : "";
    }
    PQclear(res);
  }
  Status s = failure("streaming", message, state.empty() ? nullptr : state.c_str());
  // A stream that ended cleanly is still an interruption to the capture loop.
  if (s.category() == ErrorCategory::kConfig || s.category() == ErrorCategory::kSourceLost)
    return s;
  return transientError(s.message());
}

Result<std::optional<ReplicationMessage>> ReplicationStream::read(std::chrono::milliseconds wait) {
  using Clock = std::chrono::steady_clock;
  if (!streaming_) return internalError("read() outside a replication stream");
  const auto deadline = Clock::now() + wait;
  bool consumed = false;
  for (;;) {
    char* buffer = nullptr;
    int n = PQgetCopyData(conn_, &buffer, /*async=*/1);
    if (n > 0) {
      // Parsed in libpq's buffer: the payload is then copied once, not twice, per change.
      auto message = parseReplicationMessage(std::string_view(buffer, static_cast<std::size_t>(n)));
      PQfreemem(buffer);
      if (!message) return message.error();
      return std::optional<ReplicationMessage>(std::move(*message));
    }
    if (n == -1) return streamEnded();
    if (n == -2) {
      streaming_ = false;
      return transientError(server_ +
                            ": replication connection lost: " + trimmed(PQerrorMessage(conn_)));
    }
    // Nothing buffered: read what the socket holds once before deciding to wait.
    if (!consumed) {
      if (PQconsumeInput(conn_) == 0) {
        streaming_ = false;
        return transientError(server_ +
                              ": replication connection lost: " + trimmed(PQerrorMessage(conn_)));
      }
      consumed = true;
      continue;
    }
    auto now = Clock::now();
    if (now >= deadline) return std::optional<ReplicationMessage>();
    SMSBRIDGE_RETURN_IF_ERROR(
        waitSocket(false, std::chrono::ceil<std::chrono::milliseconds>(deadline - now)));
    consumed = false;
  }
}

Status ReplicationStream::sendStatus(Lsn write, Lsn flush, bool reply_requested) {
  if (!streaming_) return internalError("sendStatus() outside a replication stream");
  const std::string message =
      encodeStandbyStatus(write, flush, flush, postgresNow(), reply_requested);
  if (PQputCopyData(conn_, message.data(), static_cast<int>(message.size())) != 1 ||
      PQflush(conn_) != 0) {
    return transientError(server_ +
                          ": could not send a status update: " + trimmed(PQerrorMessage(conn_)));
  }
  return Status::ok();
}

}  // namespace smsbridge::postgres
