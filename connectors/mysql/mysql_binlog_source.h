#pragma once

// `binlog` capture on MySQL / MariaDB: the bridge connects as a replica (COM_BINLOG_DUMP through
// MariaDB Connector/C's mariadb_rpl), reads the ROW binlog and decodes the row images itself
// (binlog_rows.h). Nothing is installed in the shop's database; the server needs log_bin,
// binlog_format=ROW, binlog_row_image=FULL (binlog_row_metadata=FULL recommended), and the user
// REPLICATION SLAVE + REPLICATION CLIENT (MariaDB >= 10.5.2: BINLOG MONITOR) + SELECT.
//
// Transactions: the events from a GTID / QUERY "BEGIN" to the XID (or QUERY "COMMIT") are one
// ChangeBatch; a DDL statement is a transaction of its own. The batch's position is the binlog
// file and the offset of the event after the commit, so a restart resumes at a transaction
// boundary and replays nothing that was acknowledged (cdc.md C2, B1 #4). Transactions that
// touch no captured table still yield an empty batch with their position (the latest one, at
// most once per heartbeat_interval), so the stored checkpoint keeps up with the binlog and
// purging cannot strand it (DESIGN §2.2). Transactions that only write the bridge's own tables
// (same database, table prefix) yield nothing: storing their position would be another such
// write, and the bridge would feed on itself.
//
// Threading: mariadb_rpl_fetch() blocks, so a reader thread per source fetches, decodes and
// assembles transactions into a bounded queue; poll() (the capture thread) takes whole
// transactions out of it. A lost connection (server restart, KILL of the dump thread, a dead
// link noticed through the heartbeat) is retried by the reader with backoff, resuming after the
// last transaction it queued, so nothing queued is read twice and nothing is skipped. Errors a
// reconnect cannot fix come out of poll(): a purged binlog file (kSourceLost), compressed or
// unknown events, missing privileges, a table altered while the bridge was stopped (kConfig).
//
// The replica server_id must be unique among the server and all its replicas: a second replica
// with the same id makes the server drop one of the two dump connections.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connectors/mysql/binlog_rows.h"
#include "connectors/mysql/mysql_connection.h"
#include "core/connector.h"

namespace smsbridge::mysql {

// A resume point: the binlog file and the offset of the first event not yet consumed, plus the
// MariaDB GTID (domain-server-sequence) or MySQL GTID of the last consumed transaction when the
// server writes them (for diagnostics and manual repositioning after a failover).
// Text form: "binlog.000003:1234" or "binlog.000003:1234;gtid=0-1-57".
struct BinlogPosition {
  std::string file;
  std::uint32_t offset = 4;  // the first event of every file starts at 4
  std::string gtid;

  std::string toString() const;
  static std::optional<BinlogPosition> parse(std::string_view text);
  bool operator==(const BinlogPosition&) const = default;
};

inline constexpr std::uint32_t kDefaultReplicaServerId = 4'242'424'242;

struct BinlogSourceConfig {
  std::string name;                   // source name from the config
  ConnectionOptions connection;       // the shop database; only its tables are captured
  std::vector<std::string> tables;    // captured tables, in the DSN's database
  std::string prefix = "smsbridge_";  // the bridge's own tables
  std::uint32_t server_id = kDefaultReplicaServerId;
  int batch_size = 500;  // most events per poll(); a bigger transaction still comes whole
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(5)};
  // Most transactions the reader keeps ahead of poll(); it waits for room beyond that, unless
  // fewer than batch_size events are queued (small transactions still fill a whole batch).
  std::size_t queue_transactions = 256;
};

class MysqlBinlogSource final : public Source {
 public:
  // Validates names only; connects in start().
  static Result<std::unique_ptr<MysqlBinlogSource>> create(BinlogSourceConfig config);
  ~MysqlBinlogSource() override;

  const std::string& name() const override { return config_.name; }
  // Nothing to install: the binlog is the server's own.
  Status setup() override { return Status::ok(); }
  Result<std::vector<std::string>> setupSql() override { return std::vector<std::string>{}; }
  // Checks the server settings and the captured tables, then starts the reader after
  // `checkpoint`; an empty checkpoint starts at the server's current binlog end (and the first
  // poll() returns that position, so it is stored before any change can be missed). Calling
  // start() again drops what was read and not handed out, and restarts at `checkpoint`.
  Status start(const std::string& checkpoint) override;
  Result<ChangeBatch> poll(std::chrono::milliseconds wait) override;
  // Nothing to confirm to the server for a binlog; the checkpoint in the store is the position.
  Status acknowledge(const std::string& position) override;

 private:
  explicit MysqlBinlogSource(BinlogSourceConfig config);

  // Reader thread.
  void readLoop(BinlogPosition from);
  Status streamOnce(BinlogPosition& resume);
  // False when stopping.
  bool enqueue(ChangeBatch batch);
  void fail(Status status);
  // The table schema from information_schema, for table maps without FULL metadata.
  Result<TableSchema> tableSchema(const std::string& table);
  void stopReader();
  bool waitForStop(std::chrono::milliseconds d);

  BinlogSourceConfig config_;
  std::set<std::string> tables_;

  std::thread reader_;
  std::atomic<bool> stopping_{false};
  // Guards the queue, the error, and the live replication connection (interrupted on stop).
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChangeBatch> queue_;
  std::size_t queued_events_ = 0;  // events in queue_
  std::optional<Status> error_;
  MYSQL* live_mysql_ = nullptr;  // the dump connection while it is open

  // Reader-thread only.
  std::unique_ptr<Connection> schema_conn_;
  std::map<std::string, TableSchema> schema_cache_;
};

}  // namespace smsbridge::mysql
