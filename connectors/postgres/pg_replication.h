#pragma once

// The walsender side of PostgreSQL's streaming replication protocol over raw libpq: libpqxx 6.4
// has no replication API, and a `replication=database` connection accepts only the simple query
// protocol (reference/cdc.md C1). Everything libpq-specific about logical capture lives here;
// pgoutput.h decodes what arrives inside the XLogData messages.
//
// Errors:
//   kTransient   the server is unreachable, restarting, or ended the stream (walsender
//                terminated, wal_sender_timeout): reconnect and resume from the last
//                confirmed position;
//   kConfig      login refused, no REPLICATION privilege or pg_hba entry, a missing slot or
//                publication: the message says what the operator should do;
//   kSourceLost  the slot can no longer stream (its WAL was removed, it was invalidated);
//   kInternal    a malformed protocol message.
//
// Threading: not thread-safe; one capture thread owns a ReplicationStream. Calls block at most
// for the wait they are given (plus the connect timeout when connecting).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "connectors/postgres/pgoutput.h"
#include "core/result.h"

struct pg_conn;

namespace smsbridge::postgres {

// 'w': WAL data; `payload` is one pgoutput message.
struct XLogData {
  Lsn data_start = 0;
  Lsn wal_end = 0;
  std::int64_t send_time = 0;  // µs since 2000-01-01
  std::string payload;
};

// 'k': the server's heartbeat. `wal_end` is how far it has sent; everything before it that
// matched nothing in the publication was filtered out on the server.
struct PrimaryKeepalive {
  Lsn wal_end = 0;
  std::int64_t send_time = 0;
  bool reply_requested = false;
};

using ReplicationMessage = std::variant<XLogData, PrimaryKeepalive>;

// Parses one CopyData message from the walsender. Pure; kInternal on a short or unknown one.
Result<ReplicationMessage> parseReplicationMessage(std::string_view data);

// The 34-byte Standby Status Update ('r'). `client_time` is µs since 2000-01-01.
std::string encodeStandbyStatus(Lsn write, Lsn flush, Lsn apply, std::int64_t client_time,
                                bool reply_requested);

// Now, as the protocol's µs since 2000-01-01.
std::int64_t postgresNow();

// The answer to IDENTIFY_SYSTEM.
struct SystemIdentity {
  std::string system_id;
  int timeline = 0;
  Lsn xlog_pos = 0;  // the server's current WAL flush position
  std::string dbname;
};

class ReplicationStream {
 public:
  ~ReplicationStream();
  ReplicationStream(const ReplicationStream&) = delete;
  ReplicationStream& operator=(const ReplicationStream&) = delete;

  // Opens a logical walsender connection (`replication=database` is added to `dsn`).
  static Result<std::unique_ptr<ReplicationStream>> connect(
      const std::string& dsn, std::chrono::milliseconds connect_timeout);

  Result<SystemIdentity> identifySystem();

  // START_REPLICATION SLOT `slot` LOGICAL `start` with pgoutput proto_version 1. The server
  // begins at the later of `start` and the slot's confirmed_flush_lsn, always at a transaction
  // boundary.
  Status startLogical(const std::string& slot, Lsn start,
                      const std::vector<std::string>& publications);

  // The next message, waiting up to `wait` on the socket; nullopt when none arrived in time.
  Result<std::optional<ReplicationMessage>> read(std::chrono::milliseconds wait);

  // Sends a Standby Status Update. `flush` is what the server may forget: it becomes the
  // slot's confirmed_flush_lsn.
  Status sendStatus(Lsn write, Lsn flush, bool reply_requested = false);

  // "PostgreSQL at host:port/db" (replication connection), for messages; no password.
  const std::string& server() const { return server_; }

 private:
  ReplicationStream(pg_conn* conn, std::string server) : conn_(conn), server_(std::move(server)) {}
  // Categorises what the server said when a command or the stream ended.
  Status failure(std::string_view doing, const std::string& message, const char* sqlstate) const;
  Status streamEnded();
  Status waitSocket(bool for_write, std::chrono::milliseconds wait);

  pg_conn* conn_;
  std::string server_;
  bool streaming_ = false;
};

}  // namespace smsbridge::postgres
