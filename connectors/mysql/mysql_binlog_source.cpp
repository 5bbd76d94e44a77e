#include "connectors/mysql/mysql_binlog_source.h"

#include <mysql.h>
// mariadb_rpl.h needs mysql.h's types first.
#include <errmsg.h>
#include <mariadb_rpl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/sql_ident.h"

namespace smsbridge::mysql {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};

// MySQL 8.0.14+ HEARTBEAT_LOG_EVENT_V2; MariaDB and older MySQL send type 27.
constexpr std::uint8_t kHeartbeatV2Event = 41;
// MySQL 8.0.20+ binlog_transaction_compression.
constexpr std::uint8_t kTransactionPayloadEvent = 40;

struct MysqlCloser {
  void operator()(MYSQL* mysql) const { mysql_close(mysql); }
};
struct RplCloser {
  void operator()(MARIADB_RPL* rpl) const { mariadb_rpl_close(rpl); }
};
struct EventFree {
  void operator()(MARIADB_RPL_EVENT* event) const { mariadb_free_rpl_event(event); }
};

std::string_view view(const MARIADB_STRING& s) {
  return s.str == nullptr ? std::string_view() : std::string_view(s.str, s.length);
}

std::string upperTrimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() &&
         (std::isspace(static_cast<unsigned char>(text.back())) || text.back() == ';')) {
    text.remove_suffix(1);
  }
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string eventName(std::uint8_t type) {
  switch (type) {
    case QUERY_COMPRESSED_EVENT:
      return "QUERY_COMPRESSED_EVENT";
    case WRITE_ROWS_COMPRESSED_EVENT_V1:
      return "WRITE_ROWS_COMPRESSED_EVENT_V1";
    case UPDATE_ROWS_COMPRESSED_EVENT_V1:
      return "UPDATE_ROWS_COMPRESSED_EVENT_V1";
    case DELETE_ROWS_COMPRESSED_EVENT_V1:
      return "DELETE_ROWS_COMPRESSED_EVENT_V1";
    case WRITE_ROWS_COMPRESSED_EVENT:
      return "WRITE_ROWS_COMPRESSED_EVENT";
    case UPDATE_ROWS_COMPRESSED_EVENT:
      return "UPDATE_ROWS_COMPRESSED_EVENT";
    case DELETE_ROWS_COMPRESSED_EVENT:
      return "DELETE_ROWS_COMPRESSED_EVENT";
    case kTransactionPayloadEvent:
      return "TRANSACTION_PAYLOAD_EVENT";
    case PARTIAL_UPDATE_ROWS_EVENT:
      return "PARTIAL_UPDATE_ROWS_EVENT";
    case XA_PREPARE_LOG_EVENT:
      return "XA_PREPARE_LOG_EVENT";
    case START_ENCRYPTION_EVENT:
      return "START_ENCRYPTION_EVENT";
    case INCIDENT_EVENT:
      return "INCIDENT_EVENT";
    default:
      return "event type " + std::to_string(type);
  }
}

// Events that carry nothing a transaction's rows depend on.
bool isPassive(std::uint8_t type) {
  switch (type) {
    case STOP_EVENT:
    case INTVAR_EVENT:  // statement-based context; ROW events carry the values themselves
    case RAND_EVENT:
    case USER_VAR_EVENT:
    case IGNORABLE_LOG_EVENT:
    case ROWS_QUERY_LOG_EVENT:
    case PREVIOUS_GTIDS_LOG_EVENT:
    case TRANSACTION_CONTEXT_EVENT:
    case VIEW_CHANGE_EVENT:
    case ANNOTATE_ROWS_EVENT:
    case BINLOG_CHECKPOINT_EVENT:
    case GTID_LIST_EVENT:
    case ANONYMOUS_GTID_LOG_EVENT:
      return true;
    default:
      return false;
  }
}

// Turns the event stream of one dump connection into transactions. Knows nothing about
// threads or sockets: events in, finished ChangeBatches out through `emit`.
//
// Transactions without captured changes only move the position, and storing a position is
// itself a write to the store, which the binlog logs as a transaction. So that the bridge
// does not feed on its own writes, a transaction that only touches the bridge's own tables
// (same database, table prefix) is never handed out, and other position-only transactions are
// handed out at most once per heartbeat interval (the latest one; a heartbeat flushes it).
// `advance` hears of every transaction boundary, so a reconnect resumes after it.
class TransactionAssembler {
 public:
  using SchemaLookup = std::function<Result<TableSchema>(const std::string& table)>;
  using Emit = std::function<bool(ChangeBatch)>;  // false: stop reading
  using Advance = std::function<void(const BinlogPosition&)>;

  TransactionAssembler(const BinlogSourceConfig& config, const std::set<std::string>& tables,
                       BinlogPosition start, SchemaLookup schema, std::function<void()> ddl_seen,
                       Emit emit, Advance advance)
      : config_(config),
        tables_(tables),
        file_(std::move(start.file)),
        gtid_(std::move(start.gtid)),
        schema_(std::move(schema)),
        ddl_seen_(std::move(ddl_seen)),
        emit_(std::move(emit)),
        advance_(std::move(advance)) {}

  // Returns false with ok status when emit asked to stop.
  Result<bool> handle(const MARIADB_RPL_EVENT& event, bool has_checksum) {
    const std::uint8_t type = static_cast<std::uint8_t>(event.event_type);
    switch (type) {
      case ROTATE_EVENT:
        return rotate(event, has_checksum);
      case FORMAT_DESCRIPTION_EVENT:
        flavor_ = flavorFromServerVersion(event.event.format_description.server_version);
        return true;
      case HEARTBEAT_LOG_EVENT:
      case kHeartbeatV2Event:
        return flushHeldPosition();
      case GTID_EVENT:  // MariaDB: starts a transaction; no BEGIN follows
        open_ = true;
        standalone_ = (event.event.gtid.flags & FL_STANDALONE) != 0;
        pending_gtid_ = fmt::format("{}-{}-{}", event.event.gtid.domain_id, event.server_id,
                                    event.event.gtid.sequence_nr);
        return true;
      case GTID_LOG_EVENT:  // MySQL: a QUERY "BEGIN" follows, or a DDL statement
        pending_gtid_ = mysqlGtid(event);
        return true;
      case QUERY_EVENT:
        return query(event);
      case XID_EVENT:
        return commit(event);
      case TABLE_MAP_EVENT:
        return tableMap(event, has_checksum);
      default:
        break;
    }
    if (isRowsEventType(type)) return rows(event, has_checksum);
    if (isPassive(type)) return true;
    switch (type) {
      case QUERY_COMPRESSED_EVENT:
      case WRITE_ROWS_COMPRESSED_EVENT_V1:
      case UPDATE_ROWS_COMPRESSED_EVENT_V1:
      case DELETE_ROWS_COMPRESSED_EVENT_V1:
      case WRITE_ROWS_COMPRESSED_EVENT:
      case UPDATE_ROWS_COMPRESSED_EVENT:
      case DELETE_ROWS_COMPRESSED_EVENT:
        return unsupported(event,
                           "the server writes compressed binlog events; set "
                           "log_bin_compress=OFF on it");
      case kTransactionPayloadEvent:
        return unsupported(event,
                           "the server compresses transactions in the binlog; set "
                           "binlog_transaction_compression=OFF on it");
      case PARTIAL_UPDATE_ROWS_EVENT:
        return unsupported(event,
                           "the server logs partial JSON updates; set "
                           "binlog_row_value_options='' on it");
      case XA_PREPARE_LOG_EVENT:
        return unsupported(event,
                           "XA (two-phase) transactions are not supported by binlog "
                           "capture; use `capture: trigger` for this database");
      default:
        break;
    }
    // The server marks events an older reader may skip; anything else could carry changes.
    if ((event.flags & LOG_EVENT_IGNORABLE_F) != 0) return true;
    return unsupported(event, "smsbridge does not know this binlog event");
  }

 private:
  Status unsupported(const MARIADB_RPL_EVENT& event, std::string_view advice) const {
    return configError(fmt::format(
        "source '{}': cannot read {} at {}:{} in the binlog: {}; nothing after it is captured",
        config_.name, eventName(static_cast<std::uint8_t>(event.event_type)), file_,
        event.next_event_pos, advice));
  }

  static std::string mysqlGtid(const MARIADB_RPL_EVENT& event) {
    const auto& g = event.event.gtid_log;
    std::string uuid;
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) uuid += '-';
      uuid += fmt::format("{:02x}", static_cast<unsigned char>(g.source_id[i]));
    }
    return fmt::format("{}:{}", uuid, g.sequence_nr);
  }

  Result<bool> query(const MARIADB_RPL_EVENT& event) {
    const std::string statement = upperTrimmed(view(event.event.query.statement));
    if (statement == "BEGIN" || statement.starts_with("XA START")) {
      open_ = true;
      standalone_ = false;
      return true;
    }
    // ROLLBACK is logged only when a non-transactional table was changed: those rows stay.
    if (statement == "COMMIT" || statement == "ROLLBACK") return commit(event);
    if (open_ && !standalone_) {
      // Inside a transaction with ROW logging a query is a statement-logged change (a session
      // with binlog_format=STATEMENT/MIXED) that has no row images to capture.
      if (view(event.event.query.database) == config_.connection.database) {
        spdlog::warn(
            "A change was logged as a statement, not as rows, and is not captured; set "
            "binlog_format=ROW for every session. source={} position={}:{} statement=\"{}\"",
            config_.name, file_, event.next_event_pos,
            std::string(view(event.event.query.statement)).substr(0, 200));
      }
      return true;
    }
    // DDL and other standalone statements are a transaction of their own. A table they alter
    // must be looked up again in information_schema.
    ddl_seen_();
    return commit(event);
  }

  // A real ROTATE ends a file and names the next one. The artificial one at the start of a
  // dump names the file we asked for, and arrives before the FORMAT_DESCRIPTION says whether
  // events carry checksums, so its name is not trusted. mariadb_rpl's parsed filename of a
  // real ROTATE is wrong in 3.3 (it came out as "0"), so it is read from the event's bytes.
  Result<bool> rotate(const MARIADB_RPL_EVENT& event, bool has_checksum) {
    if ((event.flags & LOG_EVENT_ARTIFICIAL_F) != 0 || event.timestamp == 0) return true;
    auto body = bodyOf(event, has_checksum);
    if (!body) return body.error();
    if (body->size() <= 8) return internalError("a ROTATE_EVENT without a file name");
    file_.assign(reinterpret_cast<const char*>(body->data()) + 8, body->size() - 8);
    return true;
  }

  Result<bool> tableMap(const MARIADB_RPL_EVENT& event, bool has_checksum) {
    auto body = bodyOf(event, has_checksum);
    if (!body) return body.error();
    auto head = peekTableMap(*body);
    if (!head) return head.error();
    const bool ours = head->schema == config_.connection.database;
    if (!ours || !tables_.contains(head->table)) {
      maps_.erase(head->table_id);
      if (ours && head->table.starts_with(config_.prefix)) {
        touched_own_ = true;
      } else {
        touched_other_ = true;
      }
      return true;
    }
    touched_other_ = true;
    if (!flavor_) return internalError("a TABLE_MAP_EVENT came before the FORMAT_DESCRIPTION");
    auto map = parseTableMap(*body, *flavor_);
    if (!map) return map.error().withContext("source '" + config_.name + "'");
    if (!map->has_names || !map->has_primary_key || !map->has_signedness || !map->has_members) {
      auto schema = schema_(map->table);
      if (!schema) return schema.error();
      Status applied = applyTableSchema(*map, *schema);
      if (!applied.isOk()) {
        return applied.withContext(
            "source '" + config_.name +
            "': the binlog has no column names for this table (binlog_row_metadata is not FULL) "
            "and its columns differ from information_schema, probably because the table was "
            "altered while the bridge was stopped; set binlog_row_metadata=FULL or restart "
            "capture from the current position");
      }
    }
    maps_[map->table_id] = std::move(*map);
    return true;
  }

  Result<bool> rows(const MARIADB_RPL_EVENT& event, bool has_checksum) {
    auto body = bodyOf(event, has_checksum);
    if (!body) return body.error();
    const auto type = static_cast<std::uint8_t>(event.event_type);
    auto head = peekRowsEvent(type, *body);
    if (!head) return head.error();
    auto map = maps_.find(head->table_id);
    if (map == maps_.end()) return true;  // a table this source does not capture
    auto decoded = decodeRowsEvent(type, *body, map->second);
    if (!decoded) return decoded.error().withContext("source '" + config_.name + "'");
    // Positions and commit time are known at the commit; filled in there.
    auto changes = toChangeEvents(map->second, *decoded, ChangeContext{config_.name, "", {}, ""});
    if (!changes) return changes.error().withContext("source '" + config_.name + "'");
    for (BinlogChange& change : *changes) events_.push_back(std::move(change.event));
    return true;
  }

  Result<bool> commit(const MARIADB_RPL_EVENT& event) {
    const BinlogPosition position{file_, event.next_event_pos,
                                  pending_gtid_.empty() ? gtid_ : pending_gtid_};
    const std::string text = position.toString();
    const auto commit_ts =
        std::chrono::system_clock::time_point(std::chrono::seconds(event.timestamp));
    const std::string txid = pending_gtid_.empty() ? text : pending_gtid_;
    ChangeBatch batch;
    batch.position = text;
    batch.events = std::move(events_);
    for (ChangeEvent& e : batch.events) {
      e.position = text;
      e.commit_ts = commit_ts;
      e.txid = txid;
    }
    events_.clear();
    gtid_ = position.gtid;
    pending_gtid_.clear();
    open_ = false;
    standalone_ = false;
    const bool own_only = batch.events.empty() && touched_own_ && !touched_other_;
    touched_own_ = touched_other_ = false;
    advance_(position);
    if (!batch.events.empty()) {
      held_.reset();
      return handOut(std::move(batch));
    }
    if (!own_only) held_ = std::move(batch);
    return flushHeldPosition();
  }

  // Hands out the held position-only batch if the last one is at least an interval old.
  bool flushHeldPosition() {
    if (!held_) return true;
    if (last_position_only_ &&
        std::chrono::steady_clock::now() - *last_position_only_ < config_.heartbeat_interval) {
      return true;
    }
    ChangeBatch batch = std::move(*held_);
    held_.reset();
    return handOut(std::move(batch));
  }

  bool handOut(ChangeBatch batch) {
    if (batch.events.empty()) last_position_only_ = std::chrono::steady_clock::now();
    return emit_(std::move(batch));
  }

  // The event's body as binlog_rows wants it: the bytes the server sent, after the common header
  // and without the CRC32.
  static Result<std::span<const std::uint8_t>> bodyOf(const MARIADB_RPL_EVENT& event,
                                                      bool has_checksum) {
    if (event.raw_data == nullptr || event.raw_data_size < event.raw_data_ofs) {
      return internalError("mariadb_rpl returned an event without its bytes");
    }
    const std::span<const std::uint8_t> bytes(event.raw_data + event.raw_data_ofs,
                                              event.raw_data_size - event.raw_data_ofs);
    auto split = splitEvent(bytes, has_checksum);
    if (!split) return split.error();
    return split->body;
  }

  const BinlogSourceConfig& config_;
  const std::set<std::string>& tables_;
  std::string file_;
  std::string gtid_;          // of the last committed transaction
  std::string pending_gtid_;  // of the transaction being read
  std::optional<ServerFlavor> flavor_;
  std::map<std::uint64_t, TableMap> maps_;  // captured tables by table id
  bool open_ = false;
  bool standalone_ = false;
  std::vector<ChangeEvent> events_;
  bool touched_own_ = false;         // the transaction wrote the bridge's own tables
  bool touched_other_ = false;       // ...or any other table
  std::optional<ChangeBatch> held_;  // position-only, waiting for its interval
  std::optional<std::chrono::steady_clock::time_point> last_position_only_;
  SchemaLookup schema_;
  std::function<void()> ddl_seen_;
  Emit emit_;
  Advance advance_;
};

bool isConnectionLoss(unsigned int code) {
  switch (code) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case 1053:  // server shutdown in progress
    case 1927:  // connection killed
    case 1040:  // too many connections
      return true;
    default:
      return false;
  }
}

// A failed dump connection as a Status: what a reconnect can fix is kTransient.
Status dumpError(MYSQL* mysql, const BinlogSourceConfig& config, std::string_view doing,
                 const BinlogPosition& position) {
  const unsigned int code = mysql_errno(mysql);
  const std::string text =
      fmt::format("source '{}': {} ({}) at {}: {} [MySQL error {}]", config.name, doing,
                  config.connection.describe(), position.toString(), mysql_error(mysql), code);
  if (code == 0 || isConnectionLoss(code)) return transientError(text);
  const std::string_view message = mysql_error(mysql);
  if (code == 1236 && (message.find("server_id") != std::string_view::npos ||
                       message.find("server_uuid") != std::string_view::npos)) {
    return configError(text + "; give this source a `server_id` no other replica uses");
  }
  switch (code) {
    case 1236:  // ER_MASTER_FATAL_ERROR_READING_BINLOG: purged file, bad position
      return sourceLostError(
          text +
          "; the stored position is no longer in the server's binlog (purged, or the server "
          "was replaced). Changes since then cannot be read from the binlog: remove the "
          "source's row from the checkpoints table to restart at the current end, and check "
          "binlog_expire_logs_seconds");
    case 1045:
    case 1044:
    case 1227:  // needs REPLICATION SLAVE
    case 1142:
      return configError(text +
                         "; grant the user REPLICATION SLAVE, REPLICATION CLIENT (MariaDB: "
                         "BINLOG MONITOR) and SELECT");
    default:
      return transientError(text);
  }
}

}  // namespace

std::string BinlogPosition::toString() const {
  std::string out = file + ":" + std::to_string(offset);
  if (!gtid.empty()) out += ";gtid=" + gtid;
  return out;
}

std::optional<BinlogPosition> BinlogPosition::parse(std::string_view text) {
  BinlogPosition position;
  if (auto semi = text.find(';'); semi != std::string_view::npos) {
    std::string_view rest = text.substr(semi + 1);
    if (!rest.starts_with("gtid=") || rest.size() == 5) return std::nullopt;
    position.gtid = std::string(rest.substr(5));
    text = text.substr(0, semi);
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  position.file = std::string(text.substr(0, colon));
  const std::string_view number = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), position.offset);
  if (ec != std::errc() || ptr != number.data() + number.size() || position.offset < 4) {
    return std::nullopt;
  }
  return position;
}

Result<std::unique_ptr<MysqlBinlogSource>> MysqlBinlogSource::create(BinlogSourceConfig config) {
  for (const auto& table : config.tables) {
    SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(table, "table"));
    if (isBridgeOwnedTable(table, config.prefix)) {
      return configError("source '" + config.name + "' cannot capture '" + table +
                         "': tables starting with '" + config.prefix +
                         "' are smsbridge's own (capturing them would loop)");
    }
  }
  if (config.server_id == 0) {
    return configError("source '" + config.name +
                       "': server_id must not be 0 (the server refuses such a replica)");
  }
  if (config.batch_size < 1) return configError("batch_size must be at least 1");
  if (config.queue_transactions < 1) config.queue_transactions = 1;
  return std::unique_ptr<MysqlBinlogSource>(new MysqlBinlogSource(std::move(config)));
}

MysqlBinlogSource::MysqlBinlogSource(BinlogSourceConfig config)
    : config_(std::move(config)), tables_(config_.tables.begin(), config_.tables.end()) {}

MysqlBinlogSource::~MysqlBinlogSource() { stopReader(); }

namespace {

// The server must log row images, or binlog capture sees no changes at all.
Status checkServer(Connection& conn, const std::string& source) {
  auto settings =
      conn.query("SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image");
  if (!settings) return settings.error();
  if (settings->size() != 1 || (*settings)[0].size() != 3) {
    return internalError("reading the server's binlog settings returned no row");
  }
  const ResultRow& row = (*settings)[0];
  const std::string where = conn.options().host + ":" + std::to_string(conn.options().port);
  if (row[0].value_or("0") != "1") {
    return configError("source '" + source + "': the binary log is off on " + where +
                       "; binlog capture needs log_bin (and binlog_format=ROW) in the server "
                       "configuration, or use `capture: trigger`");
  }
  if (row[1].value_or("") != "ROW") {
    return configError("source '" + source + "': binlog_format is " + row[1].value_or("?") +
                       " on " + where + "; binlog capture needs binlog_format=ROW");
  }
  if (row[2].value_or("") != "FULL") {
    spdlog::warn(
        "binlog_row_image is not FULL, so before images lack unchanged columns and "
        "mappings reading old.<col> see them as unavailable. source={} binlog_row_image={}",
        source, row[2].value_or("?"));
  }
  return Status::ok();
}

Result<BinlogPosition> currentEnd(Connection& conn) {
  auto status = conn.query("SHOW MASTER STATUS");
  // MySQL 8.4 removed SHOW MASTER STATUS.
  if (!status) status = conn.query("SHOW BINARY LOG STATUS");
  if (!status) return status.error();
  if (status->empty() || (*status)[0].size() < 2 || !(*status)[0][0] || !(*status)[0][1]) {
    return configError(
        "the server reports no binary log position (is log_bin on, and does the "
        "user have REPLICATION CLIENT / BINLOG MONITOR?)");
  }
  auto position = BinlogPosition::parse(*(*status)[0][0] + ":" + *(*status)[0][1]);
  if (!position) return internalError("unexpected SHOW MASTER STATUS output");
  return *position;
}

}  // namespace

Status MysqlBinlogSource::start(const std::string& checkpoint) {
  stopReader();
  std::optional<BinlogPosition> from;
  if (!checkpoint.empty()) {
    from = BinlogPosition::parse(checkpoint);
    if (!from) {
      return sourceLostError("source '" + config_.name + "': stored checkpoint '" + checkpoint +
                             "' is not a binlog position (file:offset); was the source switched "
                             "from another capture mode? Remove its checkpoint to start anew");
    }
  }
  auto conn = Connection::connect(config_.connection);
  if (!conn) return conn.error().withContext("source '" + config_.name + "'");
  SMSBRIDGE_RETURN_IF_ERROR(checkServer(**conn, config_.name));
  for (const auto& table : config_.tables) {
    auto rows = (*conn)->query(
        "SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = ?), (SELECT COUNT(*) FROM information_schema.KEY_COLUMN_USAGE WHERE "
        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY')",
        std::vector<Param>{table, table});
    if (!rows) return rows.error();
    if (rows->empty() || (*rows)[0][0].value_or("0") == "0") {
      return configError("source '" + config_.name + "': table '" + table +
                         "' does not exist in database '" + config_.connection.database +
                         "' (check `tables:` and the mappings' `table:`)");
    }
    // The primary key is what tells one row's changes from another's (dedup keys, lookups).
    if ((*rows)[0][1].value_or("0") == "0") {
      return configError("source '" + config_.name + "': table '" + table + "' in database '" +
                         config_.connection.database +
                         "' has no primary key; binlog capture needs one to tell rows apart "
                         "(add a PRIMARY KEY or leave the table out of `tables:`)");
    }
  }
  bool announce = false;
  if (!from) {
    auto end = currentEnd(**conn);
    if (!end) return end.error().withContext("source '" + config_.name + "'");
    from = *end;
    announce = true;
  }
  {
    std::lock_guard lock(mu_);
    queue_.clear();
    queued_events_ = 0;
    error_.reset();
    // Stored at once, so a restart before the first change resumes here, not at a later end.
    if (announce) queue_.push_back(ChangeBatch{{}, from->toString()});
  }
  schema_cache_.clear();
  schema_conn_.reset();
  stopping_ = false;
  spdlog::info("Capturing changes. source={} mode=binlog position={} server_id={}", config_.name,
               from->toString(), config_.server_id);
  reader_ = std::thread([this, position = *from] { readLoop(position); });
  return Status::ok();
}

Result<ChangeBatch> MysqlBinlogSource::poll(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [&] { return !queue_.empty() || error_.has_value(); });
  ChangeBatch out;
  while (!queue_.empty()) {
    ChangeBatch& next = queue_.front();
    if (!out.position.empty() &&
        out.events.size() + next.events.size() > static_cast<std::size_t>(config_.batch_size)) {
      break;
    }
    queued_events_ -= next.events.size();
    std::move(next.events.begin(), next.events.end(), std::back_inserter(out.events));
    out.position = std::move(next.position);
    queue_.pop_front();
  }
  if (out.position.empty() && error_) return *error_;
  lock.unlock();
  cv_.notify_all();  // room in the queue
  return out;
}

Status MysqlBinlogSource::acknowledge(const std::string& position) {
  spdlog::debug("Binlog position stored. source={} position={}", config_.name, position);
  return Status::ok();
}

bool MysqlBinlogSource::enqueue(ChangeBatch batch) {
  std::unique_lock lock(mu_);
  // Small transactions may go past the cap until a whole batch of events waits: otherwise a
  // busy shop's single-row commits would reach the store 256 at a time, one commit (two
  // flushes on a durable server) per 256 jobs, and batch_size would mean nothing.
  cv_.wait(lock, [&] {
    return stopping_ || queue_.size() < config_.queue_transactions ||
           queued_events_ < static_cast<std::size_t>(config_.batch_size);
  });
  if (stopping_) return false;
  queued_events_ += batch.events.size();
  // Consecutive transactions that touch no captured table only move the position: keep one.
  if (batch.events.empty() && !queue_.empty() && queue_.back().events.empty()) {
    queue_.back().position = std::move(batch.position);
  } else {
    queue_.push_back(std::move(batch));
  }
  lock.unlock();
  cv_.notify_all();
  return true;
}

void MysqlBinlogSource::fail(Status status) {
  spdlog::error("Binlog capture stopped. source={} error=\"{}\"", config_.name, status.toString());
  {
    std::lock_guard lock(mu_);
    error_ = std::move(status);
  }
  cv_.notify_all();
}

bool MysqlBinlogSource::waitForStop(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [&] { return stopping_.load(); });
}

void MysqlBinlogSource::stopReader() {
  if (!reader_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // mariadb_rpl_fetch() blocks in recv(); shutting the socket down makes it return.
    if (live_mysql_ != nullptr) {
      const auto fd = mysql_get_socket(live_mysql_);
      if (fd >= 0) ::shutdown(static_cast<int>(fd), SHUT_RDWR);
    }
  }
  cv_.notify_all();
  reader_.join();
}

void MysqlBinlogSource::readLoop(BinlogPosition from) {
  BinlogPosition resume = std::move(from);
  std::chrono::milliseconds backoff{0};
  while (!stopping_) {
    if (backoff.count() > 0 && waitForStop(backoff)) return;
    const BinlogPosition before = resume;
    Status s = streamOnce(resume);
    if (stopping_) return;
    if (s.category() != ErrorCategory::kTransient) {
      fail(s);
      return;
    }
    // Progress means the connection worked: start the backoff over.
    backoff =
        resume == before && backoff.count() > 0 ? std::min(backoff * 2, kMaxBackoff) : kMinBackoff;
    spdlog::warn(
        "Binlog connection lost; reconnecting. source={} position={} in_ms={} error=\"{}\"",
        config_.name, resume.toString(), backoff.count(), s.toString());
  }
}

Result<TableSchema> MysqlBinlogSource::tableSchema(const std::string& table) {
  if (auto it = schema_cache_.find(table); it != schema_cache_.end()) return it->second;
  if (schema_conn_ && schema_conn_->isBroken()) schema_conn_.reset();
  if (!schema_conn_) {
    auto conn = Connection::connect(config_.connection);
    if (!conn) return conn.error().withContext("source '" + config_.name + "'");
    schema_conn_ = std::move(*conn);
  }
  const Param params[] = {table};
  auto columns = schema_conn_->query(
      "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE FROM information_schema.COLUMNS WHERE "
      "TABLE_SCHEMA = "
      "DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
      params);
  if (!columns) return columns.error();
  TableSchema schema;
  for (const auto& row : *columns) {
    ColumnSchema column;
    column.name = row[0].value_or("");
    const std::string type = row[1].value_or("");
    column.is_unsigned = type.ends_with("unsigned") || type.ends_with("unsigned zerofill");
    column.data_type = row[2].value_or("");
    if (type.starts_with("enum(") || type.starts_with("set(")) {
      column.members = parseColumnMembers(type);
    }
    schema.columns.push_back(std::move(column));
  }
  if (schema.columns.empty()) {
    return configError("source '" + config_.name + "': table '" + table +
                       "' is in the binlog but no longer in information_schema (dropped?)");
  }
  auto pk = schema_conn_->query(
      "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = "
      "DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
      params);
  if (!pk) return pk.error();
  for (const auto& row : *pk) schema.primary_key.push_back(row[0].value_or(""));
  schema_cache_[table] = schema;
  return schema;
}

Status MysqlBinlogSource::streamOnce(BinlogPosition& resume) {
  std::unique_ptr<MYSQL, MysqlCloser> mysql(mysql_init(nullptr));
  if (!mysql) return internalError("mysql_init failed (out of memory)");
  const ConnectionOptions& o = config_.connection;
  auto seconds = [](std::chrono::milliseconds ms) {
    return static_cast<unsigned int>(std::max<std::int64_t>(1, (ms.count() + 999) / 1000));
  };
  const unsigned int connect_timeout = seconds(o.connect_timeout);
  // The server sends a heartbeat when idle; three missed ones mean the link is dead.
  const unsigned int read_timeout = seconds(config_.heartbeat_interval * 3);
  const unsigned int write_timeout = seconds(o.write_timeout);
  mysql_optionsv(mysql.get(), MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(mysql.get(), MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_optionsv(mysql.get(), MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
  mysql_optionsv(mysql.get(), MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (mysql_real_connect(mysql.get(), o.host.c_str(), o.user.c_str(), o.password.c_str(),
                         o.database.c_str(), o.port, nullptr, 0) == nullptr) {
    return dumpError(mysql.get(), config_, "connecting for the binlog", resume);
  }
  const std::string heartbeat_ns = std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(config_.heartbeat_interval).count());
  // Checksums as the server writes them (mariadb_rpl verifies them); GTID events from MariaDB.
  const std::string session[] = {
      "SET @master_binlog_checksum = @@global.binlog_checksum",
      "SET @master_heartbeat_period = " + heartbeat_ns,
      "SET @mariadb_slave_capability = 4",
  };
  for (const std::string& sql : session) {
    if (mysql_real_query(mysql.get(), sql.data(), sql.size()) != 0) {
      return dumpError(mysql.get(), config_, "preparing the binlog session", resume);
    }
  }
  std::unique_ptr<MARIADB_RPL, RplCloser> rpl(mariadb_rpl_init(mysql.get()));
  if (!rpl) return internalError("mariadb_rpl_init failed");
  const unsigned int verify = 1;
  if (mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_FILENAME, resume.file.c_str(),
                           resume.file.size()) != 0 ||
      mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_START,
                           static_cast<unsigned long>(resume.offset)) != 0 ||
      mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_SERVER_ID, config_.server_id) != 0 ||
      mariadb_rpl_optionsv(rpl.get(), MARIADB_RPL_VERIFY_CHECKSUM, verify) != 0) {
    return internalError("setting mariadb_rpl options failed: " +
                         std::string(mariadb_rpl_error(rpl.get())));
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::ok();
    live_mysql_ = mysql.get();
  }
  struct Unpublish {
    MysqlBinlogSource* self;
    ~Unpublish() {
      std::lock_guard lock(self->mu_);
      self->live_mysql_ = nullptr;
    }
  } unpublish{this};
  if (mariadb_rpl_open(rpl.get()) != 0) {
    return dumpError(mysql.get(), config_, "starting the binlog dump", resume);
  }
  spdlog::debug("Binlog dump started. source={} position={}", config_.name, resume.toString());

  TransactionAssembler assembler(
      config_, tables_, resume, [this](const std::string& table) { return tableSchema(table); },
      [this] { schema_cache_.clear(); },
      [&](ChangeBatch batch) { return enqueue(std::move(batch)); },
      [&](const BinlogPosition& position) { resume = position; });
  while (!stopping_) {
    std::unique_ptr<MARIADB_RPL_EVENT, EventFree> event(mariadb_rpl_fetch(rpl.get(), nullptr));
    if (!event) {
      if (stopping_) return Status::ok();
      if (mariadb_rpl_errno(rpl.get()) != 0 && mysql_errno(mysql.get()) == 0) {
        // Checksum mismatches and malformed packets: read again from the last boundary.
        return transientError(fmt::format("source '{}': reading the binlog at {}: {}", config_.name,
                                          resume.toString(), mariadb_rpl_error(rpl.get())));
      }
      return dumpError(mysql.get(), config_, "reading the binlog", resume);
    }
    auto handled = assembler.handle(*event, rpl->use_checksum != 0);
    if (!handled) return handled.error();
    if (!*handled) return Status::ok();
  }
  return Status::ok();
}

}  // namespace smsbridge::mysql
