#pragma once

// `logical` capture on PostgreSQL: the built-in pgoutput plugin streams committed transactions
// from a replication slot over a publication that lists exactly the captured tables
// (reference/cdc.md C1). No trigger writes into the shop's tables' transactions, and the before
// image comes with the change (all columns under REPLICA IDENTITY FULL, the key otherwise).
//
// Positions: a batch is one or more whole committed transactions (those already waiting, up to
// batch_size changes) and its position is the last one's commit end LSN ("0/16B3748"). An
// event's position is its transaction's end LSN and its ordinal in it ("0/16B3748:2"), so each
// change has its own dedup key. The
// slot forgets WAL only up to what acknowledge() confirmed, that is what the store holds, so a
// crash replays from the store's checkpoint and dedup keys absorb the replay (DESIGN.md §2.1). When
// everything read so far is acknowledged, the position the server reports in its keepalives is
// confirmed too, so traffic the publication filters out (other tables, other databases) never pins
// WAL (§2.2).
//
// Errors: kTransient (server or walsender went away: poll() reconnects from the last confirmed
// position on the next call), kConfig (missing slot/publication before the first setup, no
// replica identity, privileges), kSourceLost (the slot vanished or lost WAL while a checkpoint
// exists: the message lists the recovery steps; the slot is never silently re-created).
//
// Threading: the capture thread calls every Source method; slotHealth() may be read from any
// thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_replication.h"
#include "connectors/postgres/pgoutput.h"
#include "core/connector.h"

namespace smsbridge::postgres {

// The slot and publication a `logical` source uses: the configured names, else
// `<prefix>slot_<source>` (lower-cased: slot names allow no capitals) and `<prefix>pub_<source>`.
// The one place the defaults are derived; setup, run and doctor all use it.
struct LogicalNames {
  std::string slot;
  std::string publication;
};
LogicalNames logicalNames(const std::string& prefix, const std::string& source,
                          const std::string& slot = "", const std::string& publication = "");

struct LogicalSourceConfig {
  std::string name;                   // source name from the config
  std::string dsn;                    // libpq URI or key=value string
  std::vector<std::string> tables;    // captured tables: "orders" (current schema) or "s.orders"
  std::string prefix = "smsbridge_";  // the bridge's own tables, never published
  std::string slot;                   // empty: <prefix>slot_<name>
  std::string publication;            // empty: <prefix>pub_<name>
  // Committed transactions already waiting are handed over together up to this many changes;
  // a larger transaction is still one batch, never split.
  int batch_size = 500;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // How often the confirmed position is repeated to the server while nothing else is sent;
  // well inside the server's wal_sender_timeout (60 s by default).
  std::chrono::milliseconds status_interval{std::chrono::seconds(10)};
  // How often pg_replication_slots is read for retained WAL and invalidation.
  std::chrono::milliseconds health_interval{std::chrono::seconds(60)};
  std::int64_t retained_wal_warning_bytes = std::int64_t{1} << 30;
};

// One reading of the slot's row in pg_replication_slots.
struct SlotHealth {
  std::string wal_status;  // reserved | extended | unreserved | lost
  Lsn restart_lsn = 0;
  Lsn confirmed_flush_lsn = 0;
  std::int64_t retained_wal_bytes = 0;  // pg_current_wal_lsn() - restart_lsn
  bool active = false;
};

class PgLogicalSource final : public Source {
 public:
  // Validates names only; connects lazily (setup/start), so a config can be checked offline.
  static Result<std::unique_ptr<PgLogicalSource>> create(LogicalSourceConfig config);

  const std::string& name() const override { return config_.name; }
  Status setup() override;
  Result<std::vector<std::string>> setupSql() override;
  void setBeforeImageTables(std::vector<std::string> tables, bool apply) override;
  Status start(const std::string& checkpoint) override;
  Result<ChangeBatch> poll(std::chrono::milliseconds wait) override;
  Status acknowledge(const std::string& position) override;

  const std::string& slotName() const { return config_.slot; }
  const std::string& publicationName() const { return config_.publication; }
  // The latest slot reading (start() and every health_interval); nullopt before the first.
  std::optional<SlotHealth> slotHealth() const;
  // Retained WAL from the latest slot reading.
  std::vector<SourceGauge> gauges() const override;

 private:
  // A captured table as the catalog describes it.
  struct TableInfo {
    std::string configured;  // as `tables:`/the mappings name it; events carry this name
    std::uint32_t oid = 0;
    std::string stream_name;  // as pgoutput.h's qualifiedTableName() renders it
    char replica_identity = 'd';
    std::vector<std::string> primary_key;
  };
  struct SetupPlan {
    std::vector<std::string> statements;  // one transaction
    std::string create_slot;              // outside a transaction; empty: the slot exists
  };

  explicit PgLogicalSource(LogicalSourceConfig config) : config_(std::move(config)) {}
  Status connect();
  Result<std::vector<TableInfo>> describeTables();
  Result<SetupPlan> plan();
  // nullopt when the slot does not exist.
  Result<std::optional<SlotHealth>> readSlot();
  // Reads the slot and refuses to go on when it is gone or lost. `checkpoint`: what the store
  // holds, for the recovery steps.
  Status checkSlot(bool log_info);
  Status openStream();
  void dropStream();
  bool nothingPending() const;
  Status sendStatus(bool reply_requested);
  // Applies one XLogData payload; a finished transaction worth handing over goes to `out`.
  Status handleXLogData(const XLogData& data, std::optional<ChangeBatch>& out);
  Status handleKeepalive(const PrimaryKeepalive& keepalive);
  std::string lostSlotRecovery() const;

  LogicalSourceConfig config_;
  std::set<std::string> before_image_tables_;
  bool apply_replica_identity_ = false;

  std::unique_ptr<PgConnection> conn_;
  std::unique_ptr<ReplicationStream> stream_;
  std::optional<TransactionAssembler> assembler_;
  std::map<std::string, std::string> configured_names_;  // stream name -> configured name
  std::map<std::uint32_t, std::vector<std::string>> primary_keys_;
  bool started_ = false;
  std::string checkpoint_;  // the store's position at start(), for messages
  Lsn skip_through_ = 0;    // transactions ending at or before this were already consumed
  Lsn confirmed_ = 0;       // flush position reported to the server
  Lsn received_ = 0;        // highest WAL position seen, reported as "write"
  Lsn last_returned_ = 0;   // end LSN of the last batch poll() handed out
  std::chrono::steady_clock::time_point last_status_{};
  std::chrono::steady_clock::time_point last_health_{};

  mutable std::mutex health_mu_;
  std::optional<SlotHealth> health_;
};

}  // namespace smsbridge::postgres
