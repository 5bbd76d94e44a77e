#include "connectors/postgres/pg_logical_source.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/sql_ident.h"

namespace smsbridge::postgres {
namespace {

using Clock = std::chrono::steady_clock;

std::string_view baseName(std::string_view table) {
  auto dot = table.rfind('.');
  return dot == std::string_view::npos ? table : table.substr(dot + 1);
}

std::string sqlName(std::string_view name) { return quoteIdentifier(name, SqlDialect::kPostgres); }

// PostgreSQL's rule for slot names: lower-case letters, digits and '_', at most 63.
Status validateSlotName(const std::string& slot) {
  bool ok = !slot.empty() && slot.size() <= 63 && std::all_of(slot.begin(), slot.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (ok) return Status::ok();
  return configError("replication slot name '" + slot +
                     "' is not usable: PostgreSQL allows only lower-case letters, digits and '_' "
                     "(at most 63); set `slot:` in the source");
}

std::string lowered(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string megabytes(std::int64_t bytes) { return std::to_string(bytes / (1024 * 1024)) + "MB"; }

}  // namespace

LogicalNames logicalNames(const std::string& prefix, const std::string& source,
                          const std::string& slot, const std::string& publication) {
  return {slot.empty() ? lowered(prefix + "slot_" + source) : slot,
          publication.empty() ? prefix + "pub_" + source : publication};
}

Result<std::unique_ptr<PgLogicalSource>> PgLogicalSource::create(LogicalSourceConfig config) {
  LogicalNames names = logicalNames(config.prefix, config.name, config.slot, config.publication);
  config.slot = names.slot;
  config.publication = names.publication;
  if (config.batch_size < 1) return configError("batch_size must be at least 1");
  SMSBRIDGE_RETURN_IF_ERROR(validateSlotName(config.slot));
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(config.publication, "publication"));
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(config.prefix + "checkpoints", "table prefix"));
  for (const auto& table : config.tables) {
    SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(table, "table"));
    // The bridge writes its own tables; publishing them would capture its own writes.
    if (isBridgeOwnedTable(baseName(table), config.prefix)) {
      return configError("source '" + config.name + "' cannot capture '" + table +
                         "': tables starting with '" + config.prefix +
                         "' are smsbridge's own (capturing them would loop)");
    }
  }
  return std::unique_ptr<PgLogicalSource>(new PgLogicalSource(std::move(config)));
}

void PgLogicalSource::setBeforeImageTables(std::vector<std::string> tables, bool apply) {
  before_image_tables_ = std::set<std::string>(tables.begin(), tables.end());
  apply_replica_identity_ = apply;
}

std::optional<SlotHealth> PgLogicalSource::slotHealth() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

std::vector<SourceGauge> PgLogicalSource::gauges() const {
  std::optional<SlotHealth> health = slotHealth();
  if (!health) return {};
  return {{"smsbridge_source_retained_wal_bytes",
           "WAL the source's replication slot makes the server keep (at the last slot reading).",
           static_cast<double>(health->retained_wal_bytes)}};
}

Status PgLogicalSource::connect() {
  if (conn_) return Status::ok();
  auto conn = PgConnection::open(config_.dsn, config_.connect_timeout);
  if (!conn) return conn.error().withContext("source '" + config_.name + "'");
  conn_ = std::move(*conn);
  return Status::ok();
}

Result<std::vector<PgLogicalSource::TableInfo>> PgLogicalSource::describeTables() {
  std::vector<TableInfo> tables;
  std::string missing;
  SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
    tables.clear();
    for (const auto& table : config_.tables) {
      auto r = txn.exec_params(
          "SELECT c.oid, n.nspname, c.relname, c.relreplident FROM pg_class c JOIN "
          "pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
          sqlName(table));
      if (r.empty()) {
        missing = table;
        return Status::ok();
      }
      TableInfo info;
      info.configured = table;
      info.oid = r[0][0].as<std::uint32_t>();
      RelationMessage relation;
      relation.schema = r[0][1].c_str();
      relation.name = r[0][2].c_str();
      info.stream_name = qualifiedTableName(relation);
      info.replica_identity = r[0][3].c_str()[0];
      auto pk = txn.exec_params(
          "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
          "a.attnum = ANY (i.indkey) WHERE i.indrelid = $1 AND i.indisprimary "
          "ORDER BY array_position(i.indkey::int2[], a.attnum)",
          info.oid);
      for (const auto& row : pk) info.primary_key.push_back(row[0].c_str());
      tables.push_back(std::move(info));
    }
    return Status::ok();
  }));
  if (!missing.empty()) {
    return configError("source '" + config_.name + "': table '" + missing + "' does not exist in " +
                       conn_->server() + " (check `tables:` and the mappings' `table:`)");
  }
  return tables;
}

Result<std::optional<SlotHealth>> PgLogicalSource::readSlot() {
  std::optional<SlotHealth> health;
  std::string plugin, database, current_database;
  SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
    health.reset();
    auto r = txn.exec_params(
        "SELECT COALESCE(wal_status, ''), COALESCE(restart_lsn::text, '0/0'), "
        "COALESCE(confirmed_flush_lsn::text, '0/0'), "
        "COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint, active, "
        "COALESCE(plugin, ''), COALESCE(database, ''), current_database() "
        "FROM pg_replication_slots WHERE slot_name = $1",
        config_.slot);
    if (r.empty()) return Status::ok();
    SlotHealth h;
    h.wal_status = r[0][0].c_str();
    auto restart = parseLsn(r[0][1].c_str());
    auto confirmed = parseLsn(r[0][2].c_str());
    if (!restart) return restart.error();
    if (!confirmed) return confirmed.error();
    h.restart_lsn = *restart;
    h.confirmed_flush_lsn = *confirmed;
    h.retained_wal_bytes = r[0][3].as<long long>();
    h.active = r[0][4].as<bool>();
    plugin = r[0][5].c_str();
    database = r[0][6].c_str();
    current_database = r[0][7].c_str();
    health = h;
    return Status::ok();
  }));
  if (health && (plugin != "pgoutput" || database != current_database)) {
    return configError(
        "source '" + config_.name + "': replication slot '" + config_.slot + "' in " +
        conn_->server() + " belongs to " +
        (plugin != "pgoutput" ? "plugin '" + plugin + "'" : "database '" + database + "'") +
        ", not to this source's pgoutput capture; set another `slot:` name");
  }
  return health;
}

std::string PgLogicalSource::lostSlotRecovery() const {
  return fmt::format(
      "To recover: (1) find what changed in the captured tables since the checkpoint and send "
      "what matters by hand or from a schedule; (2) drop what is left of the slot: SELECT "
      "pg_drop_replication_slot('{0}') (if it still exists); (3) forget the old position: "
      "DELETE FROM {1}checkpoints WHERE source = '{2}'; (4) run `smsbridge setup -c <config>`, "
      "which creates a new slot; capture then starts from that moment. To keep this from "
      "recurring, watch the retained WAL and size max_slot_wal_keep_size generously",
      config_.slot, config_.prefix, config_.name);
}

Status PgLogicalSource::checkSlot(bool log_info) {
  auto slot = readSlot();
  if (!slot) return slot.error();
  if (!*slot) {
    if (!checkpoint_.empty()) {
      return sourceLostError("source '" + config_.name + "': replication slot '" + config_.slot +
                             "' is missing in " + conn_->server() +
                             " although the store holds checkpoint " + checkpoint_ +
                             "; the changes since then cannot be read any more, and re-creating "
                             "the slot would skip them silently. " +
                             lostSlotRecovery());
    }
    return configError("source '" + config_.name + "': replication slot '" + config_.slot +
                       "' does not exist in " + conn_->server() +
                       "; run `smsbridge setup -c <config>` first (it creates the publication "
                       "and the slot)");
  }
  const SlotHealth& h = **slot;
  {
    std::lock_guard lock(health_mu_);
    health_ = h;
  }
  if (h.wal_status == "lost") {
    return sourceLostError("source '" + config_.name + "': replication slot '" + config_.slot +
                           "' in " + conn_->server() +
                           " lost WAL it still needed (wal_status=lost, usually "
                           "max_slot_wal_keep_size was exceeded); changes after checkpoint " +
                           (checkpoint_.empty() ? "<none>" : checkpoint_) + " are gone. " +
                           lostSlotRecovery());
  }
  if (h.retained_wal_bytes > config_.retained_wal_warning_bytes) {
    spdlog::warn(
        "The replication slot retains a lot of WAL on the server; is capture falling behind? "
        "source={} slot={} retained_wal={} wal_status={} confirmed_flush_lsn={}",
        config_.name, config_.slot, megabytes(h.retained_wal_bytes), h.wal_status,
        formatLsn(h.confirmed_flush_lsn));
  } else if (log_info) {
    spdlog::info("Replication slot ready. source={} slot={} retained_wal={} wal_status={}",
                 config_.name, config_.slot, megabytes(h.retained_wal_bytes), h.wal_status);
  }
  return Status::ok();
}

Result<PgLogicalSource::SetupPlan> PgLogicalSource::plan() {
  SMSBRIDGE_RETURN_IF_ERROR(connect());
  if (config_.tables.empty()) {
    return configError("source '" + config_.name +
                       "': no table to capture (no mapping reads this source and `tables:` is "
                       "empty)");
  }
  auto tables = describeTables();
  if (!tables) return tables.error();
  SetupPlan plan;
  std::string list;
  for (const TableInfo& table : *tables) {
    const std::string name = sqlName(table.configured);
    list += (list.empty() ? "" : ", ") + name;
    const std::string make_full = "ALTER TABLE " + name + " REPLICA IDENTITY FULL";
    const bool wants_full = before_image_tables_.count(table.configured) > 0;
    if (wants_full && table.replica_identity != 'f') {
      if (apply_replica_identity_) {
        plan.statements.push_back(make_full);
      } else {
        spdlog::warn(
            "Mappings of table {} read old values (old.*, changed(), crossed_*()), but its "
            "updates carry no before image until you run: {}; (or rerun setup with "
            "--set-replica-identity). source={}",
            table.configured, make_full, config_.name);
      }
    }
    const bool identity_usable = table.replica_identity == 'f' || table.replica_identity == 'i' ||
                                 (table.replica_identity == 'd' && !table.primary_key.empty()) ||
                                 (wants_full && apply_replica_identity_);
    if (!identity_usable) {
      // A published table without one makes the shop's own UPDATEs and DELETEs fail.
      return configError(
          "source '" + config_.name + "': table '" + table.configured +
          "' has no replica identity (no primary key, and REPLICA IDENTITY " +
          (table.replica_identity == 'n' ? "NOTHING" : "DEFAULT") +
          "); publishing it would make every UPDATE and DELETE on it fail in the application. "
          "Add a primary key, or run: " +
          make_full + "; then run setup again");
    }
  }
  bool publication_exists = false;
  SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
    publication_exists =
        !txn.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", config_.publication)
             .empty();
    return Status::ok();
  }));
  const std::string publication = sqlName(config_.publication);
  // SET TABLE replaces the list, so a table dropped from the mappings leaves the publication.
  plan.statements.push_back(publication_exists
                                ? "ALTER PUBLICATION " + publication + " SET TABLE " + list
                                : "CREATE PUBLICATION " + publication + " FOR TABLE " + list);
  auto slot = readSlot();
  if (!slot) return slot.error();
  if (!*slot) {
    plan.create_slot =
        "SELECT pg_create_logical_replication_slot(" + quoteLiteral(config_.slot) + ", 'pgoutput')";
  }
  return plan;
}

Result<std::vector<std::string>> PgLogicalSource::setupSql() {
  auto p = plan();
  if (!p) return p.error();
  std::vector<std::string> sql = p->statements;
  if (!p->create_slot.empty()) sql.push_back(p->create_slot);
  return sql;
}

Status PgLogicalSource::setup() {
  auto p = plan();
  if (!p) return p.error();
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    for (const auto& statement : p->statements) txn.exec(statement);
    return Status::ok();
  });
  if (!status.isOk()) return status.withContext("source '" + config_.name + "'");
  // After the publication (cdc.md C1), and on its own: a slot cannot be created in a
  // transaction that has written.
  if (!p->create_slot.empty()) {
    if (Status s = conn_->exec(p->create_slot); !s.isOk()) {
      return s.withContext("source '" + config_.name + "': creating replication slot '" +
                           config_.slot + "'");
    }
  }
  spdlog::info("Installed logical capture. source={} publication={} slot={} tables={}",
               config_.name, config_.publication, config_.slot, fmt::join(config_.tables, ","));
  return Status::ok();
}

Status PgLogicalSource::start(const std::string& checkpoint) {
  started_ = false;
  dropStream();
  Lsn start_lsn = 0;
  if (!checkpoint.empty()) {
    auto lsn = parseLsn(checkpoint);
    if (!lsn) {
      return internalError("source '" + config_.name + "': stored checkpoint '" + checkpoint +
                           "' is not a PostgreSQL LSN (was the source's capture mode changed? "
                           "then delete its row in " +
                           config_.prefix + "checkpoints)");
    }
    start_lsn = *lsn;
  }
  checkpoint_ = checkpoint;
  SMSBRIDGE_RETURN_IF_ERROR(connect());
  SMSBRIDGE_RETURN_IF_ERROR(checkSlot(/*log_info=*/true));
  last_health_ = Clock::now();
  bool publication_exists = false;
  SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
    publication_exists =
        !txn.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", config_.publication)
             .empty();
    return Status::ok();
  }));
  if (!publication_exists) {
    return configError("source '" + config_.name + "': publication '" + config_.publication +
                       "' does not exist in " + conn_->server() +
                       "; run `smsbridge setup -c <config>`");
  }
  auto tables = describeTables();
  if (!tables) return tables.error();
  configured_names_.clear();
  primary_keys_.clear();
  for (const TableInfo& table : *tables) {
    configured_names_[table.stream_name] = table.configured;
    if (!table.primary_key.empty()) primary_keys_[table.oid] = table.primary_key;
  }
  skip_through_ = start_lsn;
  confirmed_ = start_lsn;
  received_ = start_lsn;
  last_returned_ = 0;
  SMSBRIDGE_RETURN_IF_ERROR(openStream());
  started_ = true;
  spdlog::info("Capturing changes. source={} mode=logical slot={} publication={} from={}",
               config_.name, config_.slot, config_.publication,
               checkpoint.empty() ? "slot position" : checkpoint);
  return Status::ok();
}

Status PgLogicalSource::openStream() {
  auto stream = ReplicationStream::connect(config_.dsn, config_.connect_timeout);
  if (!stream) return stream.error().withContext("source '" + config_.name + "'");
  // The server starts at the later of this and the slot's confirmed_flush_lsn.
  Status s = (*stream)->startLogical(config_.slot, confirmed_, {config_.publication});
  if (!s.isOk()) return s.withContext("source '" + config_.name + "'");
  stream_ = std::move(*stream);
  // The server announces every relation again on a new stream; the primary keys from pg_index
  // override the key flags, which under REPLICA IDENTITY FULL mark every column.
  assembler_.emplace(config_.name);
  for (const auto& [oid, columns] : primary_keys_) {
    assembler_->relations().setPrimaryKey(oid, columns);
  }
  last_status_ = Clock::now();
  return Status::ok();
}

void PgLogicalSource::dropStream() {
  stream_.reset();
  if (assembler_) assembler_->reset();
}

bool PgLogicalSource::nothingPending() const {
  return assembler_ && !assembler_->inTransaction() && last_returned_ <= confirmed_;
}

Status PgLogicalSource::sendStatus(bool reply_requested) {
  if (!stream_) return Status::ok();
  Status s = stream_->sendStatus(std::max(received_, confirmed_), confirmed_, reply_requested);
  if (!s.isOk()) {
    dropStream();
    return s.withContext("source '" + config_.name + "'");
  }
  last_status_ = Clock::now();
  return Status::ok();
}

Status PgLogicalSource::handleKeepalive(const PrimaryKeepalive& keepalive) {
  received_ = std::max(received_, keepalive.wal_end);
  bool advanced = false;
  // Everything up to wal_end was either handed out and acknowledged or filtered out by the
  // publication; confirming it keeps the slot from pinning WAL while the shop is busy with
  // tables the bridge does not capture.
  if (nothingPending() && keepalive.wal_end > confirmed_) {
    confirmed_ = keepalive.wal_end;
    advanced = true;
  }
  if (keepalive.reply_requested || advanced) return sendStatus(false);
  return Status::ok();
}

Status PgLogicalSource::handleXLogData(const XLogData& data, std::optional<ChangeBatch>& out) {
  received_ = std::max(received_, data.data_start);
  auto message = decodePgoutput(data.payload);
  if (!message) return message.error().withContext("source '" + config_.name + "'");
  auto batch = assembler_->feed(std::move(*message));
  if (!batch) return batch.error().withContext("source '" + config_.name + "'");
  if (!*batch) return Status::ok();
  TransactionBatch& txn = **batch;
  // Replays after a reconnect: the server may resend what the store already holds.
  if (txn.end_lsn <= skip_through_) return Status::ok();
  for (const auto& table : txn.truncated_tables) {
    spdlog::warn(
        "A captured table was truncated; no SMS is sent for the removed rows. source={} "
        "table={} position={}",
        config_.name, table, txn.position);
  }
  if (txn.events.empty()) {
    // Nothing to map (PostgreSQL before 15 sends empty transactions): confirm it like a
    // keepalive rather than spending a store transaction on it.
    if (nothingPending() && txn.end_lsn > confirmed_) confirmed_ = txn.end_lsn;
    return Status::ok();
  }
  for (std::size_t i = 0; i < txn.events.size(); ++i) {
    ChangeEvent& event = txn.events[i];
    auto it = configured_names_.find(event.table);
    if (it != configured_names_.end()) event.table = it->second;
    // Every change of a transaction shares its commit LSN, and the default dedup key is built
    // from the position: two updates of one row in one transaction would collapse into one
    // job. The ordinal is deterministic because the server replays a transaction whole and in
    // the same order.
    event.position = txn.position + ":" + std::to_string(i);
  }
  last_returned_ = txn.end_lsn;
  out = ChangeBatch{std::move(txn.events), std::move(txn.position)};
  return Status::ok();
}

Result<ChangeBatch> PgLogicalSource::poll(std::chrono::milliseconds wait) {
  if (!started_) return internalError("poll() before start()");
  if (!stream_) {
    // The previous stream broke: resume where the server was last told we are.
    skip_through_ = std::max(skip_through_, confirmed_);
    last_returned_ = std::min(last_returned_, confirmed_);
    // A slot dropped or invalidated meanwhile must surface as lost, never as "run setup"
    // (which would create a new slot and skip the changes in between).
    SMSBRIDGE_RETURN_IF_ERROR(checkSlot(/*log_info=*/false));
    SMSBRIDGE_RETURN_IF_ERROR(openStream());
    spdlog::info("Replication stream reconnected. source={} from={}", config_.name,
                 formatLsn(confirmed_));
  }
  if (Clock::now() - last_health_ >= config_.health_interval) {
    last_health_ = Clock::now();
    Status s = checkSlot(/*log_info=*/false);
    if (s.category() == ErrorCategory::kSourceLost) return s;
    if (!s.isOk()) {
      spdlog::warn("Could not read the replication slot's state. source={} error=\"{}\"",
                   config_.name, s.toString());
    }
  }
  const auto deadline = Clock::now() + wait;
  // Transactions that are already waiting in the stream join the batch, up to batch_size
  // changes: one store transaction for many small shop commits. Each event keeps its own
  // transaction's position and the batch ends at a commit, so replays and dedup keys are the
  // same however the stream was cut into batches.
  std::optional<ChangeBatch> out;
  for (;;) {
    auto now = Clock::now();
    if (now - last_status_ >= config_.status_interval) {
      SMSBRIDGE_RETURN_IF_ERROR(sendStatus(false));
    }
    auto until_status = config_.status_interval - (now - last_status_);
    auto remaining =
        out ? Clock::duration::zero()
            : std::max(Clock::duration::zero(), std::min(deadline - now, until_status));
    auto message = stream_->read(std::chrono::ceil<std::chrono::milliseconds>(remaining));
    if (!message) {
      dropStream();
      return message.error().withContext("source '" + config_.name + "'");
    }
    if (!*message) {
      if (out) return std::move(*out);
      if (Clock::now() >= deadline) return ChangeBatch{};
      continue;
    }
    if (const auto* keepalive = std::get_if<PrimaryKeepalive>(&**message)) {
      SMSBRIDGE_RETURN_IF_ERROR(handleKeepalive(*keepalive));
      continue;
    }
    std::optional<ChangeBatch> batch;
    Status s = handleXLogData(std::get<XLogData>(**message), batch);
    if (!s.isOk()) {
      dropStream();
      return s;
    }
    if (!batch) continue;
    if (!out) {
      out = std::move(batch);
    } else {
      std::move(batch->events.begin(), batch->events.end(), std::back_inserter(out->events));
      out->position = std::move(batch->position);
    }
    if (out->events.size() >= static_cast<std::size_t>(config_.batch_size)) {
      return std::move(*out);
    }
  }
}

Status PgLogicalSource::acknowledge(const std::string& position) {
  if (position.empty()) return Status::ok();
  auto lsn = parseLsn(position);
  if (!lsn) return lsn.error().withContext("source '" + config_.name + "': acknowledge");
  if (*lsn <= confirmed_) return Status::ok();
  confirmed_ = *lsn;
  skip_through_ = std::max(skip_through_, *lsn);
  checkpoint_ = position;  // the store holds it now: a vanished slot is from here on a loss
  return sendStatus(false);
}

}  // namespace smsbridge::postgres
