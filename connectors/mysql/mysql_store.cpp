#include "connectors/mysql/mysql_store.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connectors/store_rules.h"
#include "core/sql_ident.h"

namespace smsbridge::mysql {
namespace {

constexpr char kMessageColumns[] =
    "id, dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, sender, "
    "body, encoding, segments, lane, route, status, status_reason, attempts, provider, "
    "provider_message_id, price, currency, not_before, expires_at, lease_owner, lease_until, "
    "created_at, updated_at, sent_at, final_at";

// Exact, case- and accent-sensitive comparison: dedup keys and provider ids must match byte for
// byte, and utf8mb4 with 191-character keys fits InnoDB's index limit on every supported server.
// Most jobs per INSERT of enqueue(): a capture batch's jobs go in a few statements, not in a
// prepare and an execute round trip each (which were ~90% of a 250-job enqueue); 100 rows of
// 20 placeholders stay far below the 65,535 a statement may have.
constexpr std::size_t kInsertRows = 100;

constexpr char kTableOptions[] = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

std::string text(const Cell& cell) { return cell.value_or(""); }

std::int64_t integer(const Cell& cell) {
  std::int64_t v = 0;
  if (cell) std::from_chars(cell->data(), cell->data() + cell->size(), v);
  return v;
}

Param optTime(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return toSqlTime(*t);
}

SmsJob readJob(const ResultRow& r) {
  SmsJob job;
  job.id = integer(r[0]);
  job.dedup_key = text(r[1]);
  job.source = text(r[2]);
  job.mapping = text(r[3]);
  job.entity_table = text(r[4]);
  job.entity_id = text(r[5]);
  job.recipient_raw = text(r[6]);
  job.recipient = text(r[7]);
  job.sender = text(r[8]);
  job.body = text(r[9]);
  job.encoding = text(r[10]) == "ucs2" ? Encoding::kUcs2 : Encoding::kGsm7;
  job.segments = static_cast<int>(integer(r[11]));
  job.lane = parseLane(text(r[12])).value_or(Lane::kTransactional);
  job.route = text(r[13]);
  job.status = parseStatus(text(r[14])).value_or(JobStatus::kFailed);
  job.status_reason = text(r[15]);
  job.attempts = static_cast<int>(integer(r[16]));
  job.provider = text(r[17]);
  job.provider_message_id = text(r[18]);
  if (r[19]) job.price = std::strtod(r[19]->c_str(), nullptr);
  job.currency = text(r[20]);
  job.not_before = fromSqlTime(r[21]).value_or(TimePoint{});
  job.expires_at = fromSqlTime(r[22]);
  job.lease_owner = text(r[23]);
  job.lease_until = fromSqlTime(r[24]);
  job.created_at = fromSqlTime(r[25]).value_or(TimePoint{});
  job.updated_at = fromSqlTime(r[26]).value_or(TimePoint{});
  job.sent_at = fromSqlTime(r[27]);
  job.final_at = fromSqlTime(r[28]);
  return job;
}

// Columns of <prefix>reports_parked as readParked() reads them.
constexpr char kParkedColumns[] =
    "id, provider, provider_message_id, job_id, status, provider_status, reason, reported_at";

DeliveryReport readParked(const ResultRow& r) {
  DeliveryReport report;
  report.provider = text(r[1]);
  report.provider_message_id = text(r[2]);
  report.job_id = integer(r[3]);
  report.status = parseStatus(text(r[4])).value_or(JobStatus::kFailed);
  report.provider_status = text(r[5]);
  report.reason = text(r[6]);
  report.reported_at = fromSqlTime(r[7]).value_or(TimePoint{});
  return report;
}

// "?, ?, ?" for an IN list of `n` bound ids.
std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

}  // namespace

ClaimLocking claimLockingFor(bool mariadb, unsigned long version) {
  // MariaDB 10.6.0 and MySQL 8.0.1 added SKIP LOCKED.
  const bool skip_locked = mariadb ? version >= 100600 : version >= 80001;
  return skip_locked ? ClaimLocking::kSkipLocked : ClaimLocking::kSingleDispatcher;
}

std::string claimDueSql(std::string_view messages_table, ClaimLocking locking) {
  return "SELECT id FROM " + std::string(messages_table) +
         " WHERE status IN ('queued', 'scheduled') AND lane = ? AND not_before <= ? ORDER BY "
         "not_before, id LIMIT ? FOR UPDATE" +
         (locking == ClaimLocking::kSkipLocked ? " SKIP LOCKED" : "");
}

std::string dispatcherLockName(std::string_view database, std::string_view prefix) {
  // FNV-1a: names may be long, and every instance must derive the same lock name.
  std::uint64_t hash = 14695981039346656037ull;
  for (char ch : std::string(database) + "." + std::string(prefix)) {
    hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  }
  return fmt::format("smsbridge_dispatcher_{:016x}", hash);
}

Result<std::unique_ptr<MysqlStore>> MysqlStore::create(const ConnectionOptions& options,
                                                       const std::string& prefix) {
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(prefix + "checkpoints", "table prefix"));
  std::unique_ptr<MysqlStore> store(new MysqlStore(options, prefix));
  auto conn = store->connection();
  if (!conn) return conn.error();
  store->claim_locking_ = claimLockingFor((*conn)->isMariaDb(), (*conn)->serverVersion());
  if (store->claim_locking_ == ClaimLocking::kSingleDispatcher) {
    spdlog::warn(
        "The store's server has no FOR UPDATE SKIP LOCKED (MariaDB 10.6 or MySQL 8.0.1 needed): "
        "one bridge instance at a time dispatches from this store, and others sharing it stand "
        "by. server={} version={} lock={}",
        options.describe(), (*conn)->serverVersion(), dispatcherLockName(options.database, prefix));
  }
  return store;
}

std::string MysqlStore::table(std::string_view name) const {
  return quoteIdentifier(prefix_ + std::string(name), SqlDialect::kMysql);
}

Result<Connection*> MysqlStore::connection() {
  if (conn_ && conn_->isBroken()) {
    conn_.reset();
    lock_holder_ = nullptr;  // the server released its locks with it
  }
  if (!conn_) {
    auto conn = Connection::connect(options_);
    if (!conn) return conn.error().withContext("store");
    conn_ = std::move(*conn);
  }
  return conn_.get();
}

template <typename F>
Status MysqlStore::inTransaction(F&& body) {
  auto conn = connection();
  if (!conn) return conn.error();
  Connection& c = **conn;
  SMSBRIDGE_RETURN_IF_ERROR(c.begin());
  Status status = body(c);
  if (status.isOk()) status = c.commit();
  if (!status.isOk()) c.rollback();
  return status;
}

std::vector<std::string> MysqlStore::migrationSql() const {
  std::vector<std::string> sql;
  for (MigrationStep& step : migrationSteps()) sql.push_back(std::move(step.sql));
  return sql;
}

std::vector<MysqlStore::MigrationStep> MysqlStore::migrationSteps() const {
  return {
      fmt::format("CREATE TABLE IF NOT EXISTS {} (component VARCHAR(64) NOT NULL PRIMARY KEY, "
                  "version INT NOT NULL, migrated_at DATETIME(3) NOT NULL) {}",
                  table("schema"), kTableOptions),
      fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (\n"
          "  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
          "  dedup_key VARCHAR(191) NOT NULL,\n"
          "  source VARCHAR(191) NOT NULL,\n  mapping VARCHAR(191) NOT NULL,\n"
          "  entity_table VARCHAR(191),\n  entity_id VARCHAR(191),\n"
          "  recipient_raw VARCHAR(191),\n  recipient VARCHAR(191),\n  sender VARCHAR(191),\n"
          "  body TEXT NOT NULL,\n  encoding VARCHAR(8) NOT NULL,\n  segments INT NOT NULL,\n"
          "  lane VARCHAR(16) NOT NULL,\n  route VARCHAR(191),\n  status VARCHAR(16) NOT NULL,\n"
          "  status_reason TEXT,\n  attempts INT NOT NULL DEFAULT 0,\n"
          "  provider VARCHAR(64),\n  provider_message_id VARCHAR(191),\n  price DOUBLE,\n"
          "  currency VARCHAR(16),\n  not_before DATETIME(3) NOT NULL,\n"
          "  expires_at DATETIME(3),\n  lease_owner VARCHAR(191),\n  lease_until DATETIME(3),\n"
          "  created_at DATETIME(3) NOT NULL,\n  updated_at DATETIME(3) NOT NULL,\n"
          "  sent_at DATETIME(3),\n  final_at DATETIME(3),\n"
          "  provider_message_id_norm VARCHAR(191),\n"
          "  UNIQUE KEY messages_dedup (dedup_key),\n"
          "  KEY messages_due (status, lane, not_before),\n"
          "  KEY messages_provider_id (provider, provider_message_id),\n"
          "  KEY messages_provider_norm (provider, provider_message_id_norm),\n"
          "  KEY messages_recipient (recipient),\n"
          "  KEY messages_entity (entity_table, entity_id)\n) {}",
          table("messages"), kTableOptions),
      // Schema 1 stores lack the column; reports are correlated by it (store_rules.h). MySQL
      // has no ADD COLUMN IF NOT EXISTS, so migrate() skips this when the column exists.
      {fmt::format("ALTER TABLE {} ADD COLUMN provider_message_id_norm VARCHAR(191), "
                   "ADD KEY messages_provider_norm (provider, provider_message_id_norm)",
                   table("messages")),
       prefix_ + "messages", "provider_message_id_norm", ""},
      fmt::format("UPDATE {} SET provider_message_id_norm = LOWER(TRIM(provider_message_id)) "
                  "WHERE provider_message_id_norm IS NULL AND provider_message_id IS NOT NULL",
                  table("messages")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
                  "  message_id BIGINT NOT NULL,\n"
                  "  provider VARCHAR(64) NOT NULL,\n  outcome VARCHAR(32) NOT NULL,\n"
                  "  http_status INT,\n  error_code VARCHAR(191),\n  error_message TEXT,\n"
                  "  started_at DATETIME(3) NOT NULL,\n  finished_at DATETIME(3) NOT NULL,\n"
                  "  KEY attempts_message (message_id),\n"
                  "  FOREIGN KEY (message_id) REFERENCES {} (id)\n) {}",
                  table("attempts"), table("messages"), kTableOptions),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (source VARCHAR(191) NOT NULL PRIMARY KEY, "
                  "position TEXT NOT NULL, updated_at DATETIME(3) NOT NULL) {}",
                  table("checkpoints"), kTableOptions),
      // When each `sent` job was last asked about by the status poller (claimStatusPolls).
      fmt::format("CREATE TABLE IF NOT EXISTS {} (message_id BIGINT NOT NULL PRIMARY KEY, polls "
                  "INT NOT NULL, polled_at DATETIME(3) NOT NULL, next_poll_at DATETIME(3) NOT "
                  "NULL) {}",
                  table("status_polls"), kTableOptions),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (source VARCHAR(191) NOT NULL, tbl VARCHAR(191) "
                  "NOT NULL, pk VARCHAR(191) NOT NULL, state LONGTEXT NOT NULL, updated_at "
                  "DATETIME(3) NOT NULL, PRIMARY KEY (source, tbl, pk)) {}",
                  table("shadow"), kTableOptions),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (recipient VARCHAR(191) NOT NULL PRIMARY KEY, "
                  "reason TEXT, source VARCHAR(191), created_at DATETIME(3) NOT NULL) {}",
                  table("optouts"), kTableOptions),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
                  "  provider VARCHAR(64) NOT NULL,\n  provider_message_id VARCHAR(191),\n"
                  "  sender VARCHAR(191) NOT NULL,\n  recipient VARCHAR(191),\n"
                  "  body TEXT NOT NULL,\n  received_at DATETIME(3) NOT NULL,\n"
                  "  UNIQUE KEY inbound_provider_id (provider, provider_message_id)\n) {}",
                  table("inbound"), kTableOptions),
      // Write-back's durable queue: one row per status change of a job whose mapping has
      // write-back, written in the transaction that changed the status.
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
                  "  job_id BIGINT NOT NULL,\n  status VARCHAR(16) NOT NULL,\n"
                  "  changed_at DATETIME(3) NOT NULL,\n  done_at DATETIME(3),\n"
                  "  result VARCHAR(16),\n  attempts INT NOT NULL DEFAULT 0,\n"
                  "  last_error TEXT,\n  next_try_at DATETIME(3) NOT NULL,\n"
                  "  KEY status_changes_pending (done_at, next_try_at, id),\n"
                  "  KEY status_changes_job (job_id, id),\n"
                  "  FOREIGN KEY (job_id) REFERENCES {} (id)\n) {}",
                  table("status_changes"), table("messages"), kTableOptions),
      // A webhook retry delivers the same inbound SMS again.
      {fmt::format("ALTER TABLE {} ADD UNIQUE KEY inbound_provider_id (provider, "
                   "provider_message_id)",
                   table("inbound")),
       prefix_ + "inbound", "", "inbound_provider_id"},
      // Reports that arrived before their send result was recorded (store_rules.h). One row per
      // report: a replayed report hits the unique key instead of piling up.
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
                  "  provider VARCHAR(64) NOT NULL,\n  provider_message_id VARCHAR(191) NOT NULL,\n"
                  "  provider_message_id_norm VARCHAR(191) NOT NULL,\n  job_id BIGINT NOT NULL,\n"
                  "  status VARCHAR(16) NOT NULL,\n  provider_status VARCHAR(191),\n"
                  "  reason TEXT,\n  reported_at DATETIME(3) NOT NULL,\n"
                  "  parked_at DATETIME(3) NOT NULL,\n"
                  "  UNIQUE KEY reports_parked_report (provider, provider_message_id_norm, job_id, "
                  "status),\n"
                  "  KEY reports_parked_job (provider, job_id),\n"
                  "  KEY reports_parked_at (parked_at)\n) {}",
                  table("reports_parked"), kTableOptions),
      fmt::format("INSERT INTO {} (component, version, migrated_at) VALUES ('store', {}, "
                  "UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE version = VALUES(version), "
                  "migrated_at = VALUES(migrated_at)",
                  table("schema"), kSchemaVersion),
  };
}

Status MysqlStore::migrate() {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  // DDL commits implicitly in MySQL, so there is no enclosing transaction; every statement is
  // idempotent instead (or skipped once done), and the version row is written last.
  for (const MigrationStep& step : migrationSteps()) {
    if (!step.column.empty() || !step.index.empty()) {
      const Param params[] = {step.table, step.column.empty() ? step.index : step.column};
      auto done = (*conn)->query(
          step.column.empty()
              ? "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
                "AND TABLE_NAME = ? AND INDEX_NAME = ?"
              : "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                "TABLE_NAME = ? AND COLUMN_NAME = ?",
          params);
      if (!done) return done.error().withContext("migrating the store");
      if (!done->empty()) continue;
    }
    SMSBRIDGE_RETURN_IF_ERROR((*conn)->exec(step.sql).withContext("migrating the store"));
  }
  return Status::ok();
}

Status MysqlStore::checkSchema() {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  const std::string where = "database '" + options_.database + "' on " + options_.host + ":" +
                            std::to_string(options_.port);
  const Param name[] = {prefix_ + "schema"};
  auto exists = (*conn)->query(
      "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
      name);
  if (!exists) return exists.error();
  if (exists->empty()) return storeSchemaStatus(std::nullopt, kSchemaVersion, prefix_, where);
  auto rows =
      (*conn)->query("SELECT version FROM " + table("schema") + " WHERE component = 'store'");
  if (!rows) return rows.error();
  int version = rows->empty() ? 0 : static_cast<int>(integer((*rows)[0][0]));
  return storeSchemaStatus(version, kSchemaVersion, prefix_, where);
}

Result<std::uint64_t> MysqlStore::insertJobs(Connection& c, std::span<const SmsJob> jobs,
                                             const std::set<std::string>& opted_out) {
  // `id = id` changes nothing, so a duplicate counts 0 affected rows and an insert 1 (also for
  // two jobs with one key in the same statement); unlike INSERT IGNORE it does not also
  // swallow truncation and other data errors.
  std::string sql =
      "INSERT INTO " + table("messages") +
      " (dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, "
      "sender, body, encoding, segments, lane, route, status, status_reason, not_before, "
      "expires_at, created_at, updated_at, final_at) VALUES ";
  std::vector<Param> params;
  params.reserve(jobs.size() * 20);
  for (const SmsJob& job : jobs) {
    if (&job != jobs.data()) sql += ", ";
    sql += "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    const std::string created = toSqlTime(job.created_at);
    JobStatus status = job.status;
    std::string reason = job.status_reason;
    if (optOutApplies(job, optout_lanes_) && opted_out.count(job.recipient)) {
      status = JobStatus::kSuppressed;
      reason = kOptedOutReason;
    }
    params.insert(params.end(), {job.dedup_key,
                                 job.source,
                                 job.mapping,
                                 job.entity_table,
                                 job.entity_id,
                                 job.recipient_raw,
                                 job.recipient,
                                 job.sender,
                                 job.body,
                                 std::string(encodingName(job.encoding)),
                                 std::int64_t{job.segments},
                                 std::string(laneName(job.lane)),
                                 job.route,
                                 std::string(statusName(status)),
                                 reason,
                                 toSqlTime(job.not_before),
                                 optTime(job.expires_at),
                                 created,
                                 created,
                                 isFinal(status) ? Param(created) : Param(nullptr)});
  }
  sql += " ON DUPLICATE KEY UPDATE id = id";
  return c.execute(sql, params);
}

Result<EnqueueResult> MysqlStore::enqueue(std::span<const SmsJob> jobs,
                                          const Checkpoint& checkpoint) {
  std::lock_guard lock(mu_);
  EnqueueResult result;
  Status status = inTransaction([&](Connection& c) -> Status {
    auto opted_out = optedOutRecipients(c, jobs);
    if (!opted_out) return opted_out.error();
    auto count = [&](std::size_t jobs_in_statement, std::uint64_t inserted) {
      result.inserted += static_cast<int>(inserted);
      result.duplicates += static_cast<int>(jobs_in_statement - inserted);
    };
    std::size_t begin = 0;
    while (begin < jobs.size()) {
      // A job of a write-back mapping goes alone: its first status is logged under its new id.
      if (logsMapping(jobs[begin].mapping)) {
        const SmsJob& job = jobs[begin++];
        auto inserted = insertJobs(c, std::span(&job, 1), *opted_out);
        if (!inserted) return inserted.error();
        count(1, *inserted);
        if (*inserted == 0) continue;
        const Param key[] = {job.dedup_key};
        auto id = c.query("SELECT id FROM " + table("messages") + " WHERE dedup_key = ?", key);
        if (!id) return id.error();
        const std::int64_t job_id = id->empty() ? 0 : integer((*id)[0][0]);
        SMSBRIDGE_RETURN_IF_ERROR(
            logStatusChanges(c, std::span(&job_id, 1), toSqlTime(job.created_at)));
        continue;
      }
      std::size_t end = begin + 1;
      while (end < jobs.size() && end - begin < kInsertRows && !logsMapping(jobs[end].mapping)) {
        ++end;
      }
      auto inserted = insertJobs(c, jobs.subspan(begin, end - begin), *opted_out);
      if (!inserted) return inserted.error();
      count(end - begin, *inserted);
      begin = end;
    }
    if (!checkpoint.position.empty()) {
      const Param params[] = {checkpoint.source, checkpoint.position};
      auto saved = c.execute("INSERT INTO " + table("checkpoints") +
                                 " (source, position, updated_at) VALUES (?, ?, "
                                 "UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE position = "
                                 "VALUES(position), updated_at = VALUES(updated_at)",
                             params);
      if (!saved) return saved.error();
    }
    for (const ShadowEntry& entry : checkpoint.shadow) {
      const Param params[] = {checkpoint.source, entry.table, entry.pk, entry.state};
      auto saved = c.execute("INSERT INTO " + table("shadow") +
                                 " (source, tbl, pk, state, updated_at) VALUES (?, ?, ?, ?, "
                                 "UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE state = "
                                 "VALUES(state), updated_at = VALUES(updated_at)",
                             params);
      if (!saved) return saved.error();
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return result;
}

Result<std::map<std::string, std::string>> MysqlStore::loadShadow(
    const std::string& source, const std::string& table_name, std::span<const std::string> pks) {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> states;
  if (pks.empty()) return states;
  auto conn = connection();
  if (!conn) return conn.error();
  std::vector<Param> params = {source, table_name};
  std::string placeholders;
  for (const std::string& pk : pks) {
    placeholders += placeholders.empty() ? "?" : ",?";
    params.emplace_back(pk);
  }
  auto rows = (*conn)->query("SELECT pk, state FROM " + table("shadow") +
                                 " WHERE source = ? AND tbl = ? AND pk IN (" + placeholders + ")",
                             params);
  if (!rows) return rows.error();
  for (const ResultRow& row : *rows) states.emplace(text(row[0]), text(row[1]));
  return states;
}

Result<std::optional<std::string>> MysqlStore::loadCheckpoint(const std::string& source) {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  const Param params[] = {source};
  auto rows =
      (*conn)->query("SELECT position FROM " + table("checkpoints") + " WHERE source = ?", params);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(text((*rows)[0][0]));
}

Result<std::optional<TimePoint>> MysqlStore::checkpointSavedAt(const std::string& source) {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  const Param params[] = {source};
  auto rows = (*conn)->query("SELECT updated_at FROM " + table("checkpoints") + " WHERE source = ?",
                             params);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<TimePoint>();
  return fromSqlTime((*rows)[0][0]);
}

Result<bool> MysqlStore::mayClaim(Connection& c) {
  if (claim_locking_ == ClaimLocking::kSkipLocked || lock_holder_ == &c) return true;
  lock_holder_ = nullptr;  // a lock taken on an earlier connection died with it
  const std::string name = dispatcherLockName(options_.database, prefix_);
  const Param params[] = {name};
  auto got = c.query("SELECT GET_LOCK(?, 0)", params);
  if (!got) return got.error();
  if (got->empty() || text((*got)[0][0]) != "1") {
    if (!standby_logged_) {
      spdlog::warn(
          "Another bridge instance dispatches from this store; this one stands by until it "
          "stops (the server has no SKIP LOCKED). lock={}",
          name);
      standby_logged_ = true;
    }
    return false;
  }
  lock_holder_ = &c;
  spdlog::info("This bridge instance is the store's single dispatcher. lock={}", name);
  standby_logged_ = false;
  return true;
}

Result<std::vector<SmsJob>> MysqlStore::claimDue(Lane lane, int limit, const std::string& owner,
                                                 std::chrono::milliseconds lease, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<SmsJob> jobs;
  const std::string now_text = toSqlTime(now);
  int suppressed = 0;
  auto conn = connection();
  if (!conn) return conn.error();
  auto may_claim = mayClaim(**conn);
  if (!may_claim) return may_claim.error();
  if (!*may_claim) return jobs;
  Status status = inTransaction([&](Connection& c) -> Status {
    jobs.clear();
    suppressed = 0;
    const Param select_params[] = {std::string(laneName(lane)), now_text, std::int64_t{limit}};
    auto ids = c.query(claimDueSql(table("messages"), claim_locking_), select_params);
    if (!ids) return ids.error();
    if (ids->empty()) return Status::ok();
    const std::string in_ids = " WHERE id IN (" + placeholders(ids->size()) + ")";
    if (optOutApplies(lane, optout_lanes_)) {
      // Jobs whose recipient opted out after they were enqueued end here as `suppressed`
      // instead of being leased: the claim is the last moment before a send.
      std::vector<Param> params = {now_text, now_text};
      for (const auto& row : *ids) params.emplace_back(integer(row[0]));
      auto dropped = c.execute(
          "UPDATE " + table("messages") + " SET status = 'suppressed', status_reason = '" +
              kOptedOutReason + "', updated_at = ?, final_at = ?" + in_ids +
              " AND recipient IN (SELECT recipient FROM " + table("optouts") + ")",
          params);
      if (!dropped) return dropped.error();
      suppressed = static_cast<int>(*dropped);
    }
    std::vector<Param> params = {owner, toSqlTime(now + lease), now_text};
    for (const auto& row : *ids) params.emplace_back(integer(row[0]));
    auto updated = c.execute("UPDATE " + table("messages") +
                                 " SET status = 'sending', lease_owner = ?, lease_until = ?, "
                                 "updated_at = ?" +
                                 in_ids + " AND status IN ('queued', 'scheduled')",
                             params);
    if (!updated) return updated.error();
    params.erase(params.begin(), params.begin() + 3);
    auto rows = c.query("SELECT " + std::string(kMessageColumns) + " FROM " + table("messages") +
                            in_ids + " AND status = 'sending' ORDER BY not_before, id",
                        params);
    if (!rows) return rows.error();
    for (const auto& row : *rows) jobs.push_back(readJob(row));
    return Status::ok();
  });
  if (!status.isOk()) return status;
  if (suppressed > 0) {
    spdlog::info("Jobs to opted-out recipients suppressed instead of sent. lane={} count={}",
                 laneName(lane), suppressed);
  }
  return jobs;
}

Status MysqlStore::recordOutcome(const JobOutcome& outcome, const std::string& owner,
                                 TimePoint now) {
  if (!canTransition(JobStatus::kSending, outcome.status)) {
    return internalError("dispatcher asked for sending -> " +
                         std::string(statusName(outcome.status)));
  }
  std::lock_guard lock(mu_);
  const std::string now_text = toSqlTime(now);
  bool lease_lost = false;
  Status status = inTransaction([&](Connection& c) -> Status {
    // The lease is checked (and the row locked) before the attempts are written, so a lost
    // lease leaves no attempt rows behind either.
    const Param lock_params[] = {outcome.job_id, owner};
    auto leased = c.query("SELECT id FROM " + table("messages") +
                              " WHERE id = ? AND status = 'sending' AND lease_owner = ? "
                              "FOR UPDATE",
                          lock_params);
    if (!leased) return leased.error();
    if (leased->empty()) {
      lease_lost = true;
      return Status::ok();
    }
    for (const AttemptRecord& a : outcome.attempts) {
      const Param params[] = {outcome.job_id,
                              a.provider,
                              a.outcome,
                              std::int64_t{a.http_status},
                              a.error_code,
                              a.error_message,
                              toSqlTime(a.started_at),
                              toSqlTime(a.finished_at)};
      auto inserted =
          c.execute("INSERT INTO " + table("attempts") +
                        " (message_id, provider, outcome, http_status, error_code, error_message, "
                        "started_at, finished_at) VALUES (?,?,?,?,?,?,?,?)",
                    params);
      if (!inserted) return inserted.error();
    }
    const bool sent = outcome.status == JobStatus::kSent;
    const Param params[] = {std::string(statusName(outcome.status)),
                            outcome.status_reason,
                            outcome.provider,
                            outcome.provider_message_id,
                            outcome.price ? Param(*outcome.price) : Param(nullptr),
                            outcome.currency,
                            static_cast<std::int64_t>(outcome.attempts.size()),
                            outcome.status == JobStatus::kQueued
                                ? Param(toSqlTime(outcome.not_before))
                                : Param(nullptr),
                            now_text,
                            sent ? Param(now_text) : Param(nullptr),
                            isFinal(outcome.status) ? Param(now_text) : Param(nullptr),
                            normaliseProviderMessageId(outcome.provider_message_id),
                            outcome.job_id,
                            owner};
    auto updated = c.execute(
        "UPDATE " + table("messages") +
            " SET status = ?, status_reason = ?, provider = COALESCE(NULLIF(?, ''), provider), "
            "provider_message_id = COALESCE(NULLIF(?, ''), provider_message_id), "
            "price = COALESCE(?, price), currency = COALESCE(NULLIF(?, ''), currency), "
            "attempts = attempts + ?, not_before = COALESCE(?, not_before), lease_owner = NULL, "
            "lease_until = NULL, updated_at = ?, sent_at = COALESCE(?, sent_at), final_at = ?, "
            "provider_message_id_norm = COALESCE(NULLIF(?, ''), provider_message_id_norm) "
            "WHERE id = ? AND status = 'sending' AND lease_owner = ?",
        params);
    if (!updated) return updated.error();
    // A retry back to `queued` is the dispatcher's business, not a status anyone acts on.
    // Logged before the parked reports apply, so write-back sees `sent` before what the reports
    // say came after it.
    if (outcome.status != JobStatus::kQueued) {
      SMSBRIDGE_RETURN_IF_ERROR(logStatusChanges(c, std::span(&outcome.job_id, 1), now_text));
    }
    if (sent) return releaseParkedReports(c, outcome, now_text);
    return Status::ok();
  });
  if (!status.isOk()) return status;
  if (lease_lost) {
    return transientError("job " + std::to_string(outcome.job_id) + " was no longer leased by " +
                          owner + "; its outcome was not applied");
  }
  return Status::ok();
}

Result<int> MysqlStore::requeueExpiredLeases(TimePoint now) {
  std::lock_guard lock(mu_);
  int count = 0;
  Status status = inTransaction([&](Connection& c) -> Status {
    const std::string now_text = toSqlTime(now);
    const Param params[] = {now_text, now_text};
    auto updated = c.execute("UPDATE " + table("messages") +
                                 " SET status = 'queued', status_reason = 'in_doubt: lease "
                                 "expired, resending', lease_owner = NULL, lease_until = NULL, "
                                 "updated_at = ? WHERE status = 'sending' AND lease_until < ?",
                             params);
    if (!updated) return updated.error();
    count = static_cast<int>(*updated);
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return count;
}

Result<int> MysqlStore::holdExpiredLeases(TimePoint now, std::span<const std::string> routes) {
  std::lock_guard lock(mu_);
  int count = 0;
  Status status = inTransaction([&](Connection& c) -> Status {
    const std::string now_text = toSqlTime(now);
    for (const std::string& route : routes) {
      // With write-back, the held jobs are locked and named first, so their change is logged.
      std::vector<std::int64_t> held;
      if (!write_back_mappings_.empty()) {
        const Param find_params[] = {now_text, route};
        auto ids = c.query("SELECT id FROM " + table("messages") +
                               " WHERE status = 'sending' AND lease_until < ? AND route = ? "
                               "FOR UPDATE",
                           find_params);
        if (!ids) return ids.error();
        for (const auto& row : *ids) held.push_back(integer(row[0]));
      }
      const Param params[] = {now_text, now_text, now_text, route};
      auto updated = c.execute(
          "UPDATE " + table("messages") +
              " SET status = 'failed', status_reason = 'in_doubt: lease expired while sending; the "
              "provider may have sent it, so it is held (route in_doubt: hold)', "
              "lease_owner = NULL, lease_until = NULL, updated_at = ?, "
              "final_at = ? WHERE status = 'sending' AND lease_until < ? "
              "AND route = ?",
          params);
      if (!updated) return updated.error();
      count += static_cast<int>(*updated);
      SMSBRIDGE_RETURN_IF_ERROR(logStatusChanges(c, held, now_text));
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return count;
}

Result<ReportEffect> MysqlStore::applyDeliveryReport(const DeliveryReport& report, TimePoint now) {
  auto effects = applyDeliveryReports(std::span(&report, 1), now);
  if (!effects) return effects.error();
  return effects->front();
}

Result<std::vector<ReportEffect>> MysqlStore::applyDeliveryReports(
    std::span<const DeliveryReport> reports, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<ReportEffect> effects;
  const std::string now_text = toSqlTime(now);
  Status status = inTransaction([&](Connection& c) -> Status {
    auto applied = applyReports(c, reports, now_text, /*park=*/true);
    if (!applied) return applied.error();
    effects = std::move(*applied);
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return effects;
}

Result<std::vector<ReportEffect>> MysqlStore::applyReports(Connection& c,
                                                           std::span<const DeliveryReport> reports,
                                                           const std::string& now_text, bool park) {
  std::vector<std::optional<MatchedJob>> matches(reports.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const DeliveryReport& report = reports[i];
    if (!isCorrelatable(report)) continue;
    const std::string norm = normaliseProviderMessageId(report.provider_message_id);
    // FOR UPDATE: two reports for one message (a webhook retry racing the original) are
    // decided one after the other, each against the status the other left.
    const Param params[] = {report.provider, norm.empty() ? Param(nullptr) : Param(norm),
                            report.job_id != 0 ? Param(report.job_id) : Param(nullptr),
                            report.provider_message_id, norm};
    auto found = c.query("SELECT id, status FROM " + table("messages") +
                             " WHERE provider = ? AND (provider_message_id_norm = ? OR id = ?) "
                             "ORDER BY provider_message_id = ? DESC, "
                             "provider_message_id_norm = ? DESC, id LIMIT 1 FOR UPDATE",
                         params);
    if (!found) return found.error();
    if (found->empty()) continue;
    auto current = parseStatus(text((*found)[0][1]));
    if (!current) return internalError("job " + text((*found)[0][0]) + " has an unknown status");
    matches[i] = MatchedJob{integer((*found)[0][0]), *current};
  }
  ReportPlan plan = planReports(reports, matches);
  SMSBRIDGE_RETURN_IF_ERROR(writeStatusChanges(c, plan.changes, now_text));
  if (park) {
    for (std::size_t i = 0; i < reports.size(); ++i) {
      if (plan.effects[i] != ReportEffect::kParked) continue;
      const DeliveryReport& report = reports[i];
      const Param params[] = {report.provider,
                              report.provider_message_id,
                              normaliseProviderMessageId(report.provider_message_id),
                              report.job_id,
                              std::string(statusName(report.status)),
                              report.provider_status,
                              report.reason,
                              toSqlTime(report.reported_at),
                              now_text};
      auto parked = c.execute("INSERT INTO " + table("reports_parked") +
                                  " (provider, provider_message_id, provider_message_id_norm, "
                                  "job_id, status, provider_status, reason, reported_at, "
                                  "parked_at) VALUES (?,?,?,?,?,?,?,?,?) "
                                  "ON DUPLICATE KEY UPDATE id = id",
                              params);
      if (!parked) return parked.error();
    }
  }
  return plan.effects;
}

Status MysqlStore::writeStatusChanges(Connection& c, std::span<const StatusChange> changes,
                                      const std::string& now_text) {
  for (const StatusChange& change : changes) {
    const Param params[] = {std::string(statusName(change.to)),
                            change.reason,
                            now_text,
                            isFinal(change.to) ? Param(now_text) : Param(nullptr),
                            change.job_id,
                            std::string(statusName(change.from))};
    auto updated =
        c.execute("UPDATE " + table("messages") +
                      " SET status = ?, status_reason = COALESCE(NULLIF(?, ''), status_reason), "
                      "updated_at = ?, final_at = ? WHERE id = ? AND status = ?",
                  params);
    if (!updated) return updated.error();
    // Every report that moves a job, batched, parked or released, passes here: one place to log.
    if (*updated > 0) {
      SMSBRIDGE_RETURN_IF_ERROR(logStatusChanges(c, std::span(&change.job_id, 1), now_text));
    }
  }
  return Status::ok();
}

Status MysqlStore::releaseParkedReports(Connection& c, const JobOutcome& outcome,
                                        const std::string& now_text) {
  const std::string norm = normaliseProviderMessageId(outcome.provider_message_id);
  const Param params[] = {outcome.provider, norm.empty() ? Param(nullptr) : Param(norm),
                          outcome.job_id};
  auto rows = c.query("SELECT " + std::string(kParkedColumns) + " FROM " + table("reports_parked") +
                          " WHERE provider = ? AND (provider_message_id_norm = ? OR job_id = ?) "
                          "ORDER BY id FOR UPDATE",
                      params);
  if (!rows) return rows.error();
  if (rows->empty()) return Status::ok();
  std::vector<DeliveryReport> reports;
  std::vector<Param> ids;
  for (const ResultRow& row : *rows) {
    reports.push_back(readParked(row));
    ids.emplace_back(integer(row[0]));
  }
  // The job was just recorded as sent: every parked report applies to it, in arrival order.
  std::vector<std::optional<MatchedJob>> matches(reports.size(),
                                                 MatchedJob{outcome.job_id, JobStatus::kSent});
  SMSBRIDGE_RETURN_IF_ERROR(writeStatusChanges(c, planReports(reports, matches).changes, now_text));
  auto deleted = c.execute(
      "DELETE FROM " + table("reports_parked") + " WHERE id IN (" + placeholders(ids.size()) + ")",
      ids);
  if (!deleted) return deleted.error();
  return Status::ok();
}

Result<std::vector<DeliveryReport>> MysqlStore::dropParkedReports(TimePoint parked_before) {
  std::lock_guard lock(mu_);
  std::vector<DeliveryReport> dropped;
  const std::string now_text = toSqlTime(std::chrono::system_clock::now());
  Status status = inTransaction([&](Connection& c) -> Status {
    dropped.clear();
    const Param params[] = {toSqlTime(parked_before)};
    auto rows = c.query("SELECT " + std::string(kParkedColumns) + ", parked_at < ? FROM " +
                            table("reports_parked") + " ORDER BY id FOR UPDATE",
                        params);
    if (!rows) return rows.error();
    if (rows->empty()) return Status::ok();
    std::vector<DeliveryReport> reports;
    for (const ResultRow& row : *rows) reports.push_back(readParked(row));
    // Reports whose job got its send result meanwhile (one that raced the record) apply now.
    auto effects = applyReports(c, reports, now_text, /*park=*/false);
    if (!effects) return effects.error();
    std::vector<Param> ids;
    for (std::size_t i = 0; i < reports.size(); ++i) {
      const bool parked = (*effects)[i] == ReportEffect::kParked;
      const bool old = integer((*rows)[i][8]) != 0;
      if (parked && !old) continue;
      if (parked) dropped.push_back(reports[i]);
      ids.emplace_back(integer((*rows)[i][0]));
    }
    if (ids.empty()) return Status::ok();
    auto deleted = c.execute("DELETE FROM " + table("reports_parked") + " WHERE id IN (" +
                                 placeholders(ids.size()) + ")",
                             ids);
    if (!deleted) return deleted.error();
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return dropped;
}

Result<std::set<std::string>> MysqlStore::optedOutRecipients(Connection& c,
                                                             std::span<const SmsJob> jobs) {
  std::set<std::string> opted_out;
  std::vector<Param> recipients;
  for (const SmsJob& job : jobs) {
    if (optOutApplies(job, optout_lanes_)) recipients.emplace_back(job.recipient);
  }
  if (recipients.empty()) return opted_out;
  auto rows = c.query("SELECT recipient FROM " + table("optouts") + " WHERE recipient IN (" +
                          placeholders(recipients.size()) + ")",
                      recipients);
  if (!rows) return rows.error();
  for (const ResultRow& row : *rows) opted_out.insert(text(row[0]));
  return opted_out;
}

Status MysqlStore::recordInbound(const InboundSms& sms) {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  const Param params[] = {
      sms.provider,
      sms.provider_message_id.empty() ? Param(nullptr) : Param(sms.provider_message_id),
      sms.sender,
      sms.recipient,
      sms.body,
      toSqlTime(sms.received_at)};
  auto inserted = (*conn)->execute("INSERT INTO " + table("inbound") +
                                       " (provider, provider_message_id, sender, recipient, body, "
                                       "received_at) VALUES (?,?,?,?,?,?) "
                                       "ON DUPLICATE KEY UPDATE id = id",
                                   params);
  if (!inserted) return inserted.error();
  return Status::ok();
}

Status MysqlStore::setOptOut(const std::string& recipient, bool opted_out,
                             const std::string& reason, TimePoint now) {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  if (!opted_out) {
    const Param params[] = {recipient};
    auto deleted =
        (*conn)->execute("DELETE FROM " + table("optouts") + " WHERE recipient = ?", params);
    if (!deleted) return deleted.error();
    return Status::ok();
  }
  const Param params[] = {recipient, reason, toSqlTime(now)};
  auto saved = (*conn)->execute("INSERT INTO " + table("optouts") +
                                    " (recipient, reason, created_at) VALUES (?, ?, ?) "
                                    "ON DUPLICATE KEY UPDATE reason = VALUES(reason), "
                                    "created_at = VALUES(created_at)",
                                params);
  if (!saved) return saved.error();
  return Status::ok();
}

Result<bool> MysqlStore::isOptedOut(const std::string& recipient) {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  const Param params[] = {recipient};
  auto rows = (*conn)->query("SELECT 1 FROM " + table("optouts") + " WHERE recipient = ?", params);
  if (!rows) return rows.error();
  return !rows->empty();
}

void MysqlStore::setOptOutLanes(std::vector<Lane> lanes) {
  std::lock_guard lock(mu_);
  optout_lanes_ = std::move(lanes);
}

Result<std::vector<StatusPollCandidate>> MysqlStore::claimStatusPolls(const StatusPollQuery& query,
                                                                      TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<StatusPollCandidate> candidates;
  const std::string now_text = toSqlTime(now);
  // The single dispatcher polls too: a standby would only wait on its row locks.
  auto conn = connection();
  if (!conn) return conn.error();
  auto may_claim = mayClaim(**conn);
  if (!may_claim) return may_claim.error();
  if (!*may_claim) return candidates;
  Status status = inTransaction([&](Connection& c) -> Status {
    candidates.clear();
    // SKIP LOCKED: a job another instance is claiming right now is left to it.
    const Param select_params[] = {query.provider, toSqlTime(query.sent_until),
                                   toSqlTime(query.sent_from), now_text, std::int64_t{query.limit}};
    auto rows = c.query(
        "SELECT m.id, m.provider, m.provider_message_id, m.recipient, m.sent_at FROM " +
            table("messages") + " m LEFT JOIN " + table("status_polls") +
            " p ON p.message_id = m.id WHERE m.status = 'sent' AND m.provider = ? AND "
            "m.provider_message_id <> '' AND m.sent_at <= ? AND m.sent_at >= ? AND "
            "(p.next_poll_at IS NULL OR p.next_poll_at <= ?) ORDER BY m.sent_at, m.id LIMIT ? "
            "FOR UPDATE" +
            (claim_locking_ == ClaimLocking::kSkipLocked ? " SKIP LOCKED" : ""),
        select_params);
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
      StatusPollCandidate candidate;
      candidate.job_id = integer(row[0]);
      candidate.provider = text(row[1]);
      candidate.provider_message_id = text(row[2]);
      candidate.recipient = text(row[3]);
      candidate.sent_at = fromSqlTime(row[4]).value_or(TimePoint{});
      const Param mark_params[] = {
          candidate.job_id, now_text,
          toSqlTime(nextStatusPoll(candidate.sent_at, now, query.min_interval))};
      auto marked = c.execute("INSERT INTO " + table("status_polls") +
                                  " (message_id, polls, polled_at, next_poll_at) VALUES (?, 1, ?, "
                                  "?) ON DUPLICATE KEY UPDATE polls = polls + 1, polled_at = "
                                  "VALUES(polled_at), next_poll_at = VALUES(next_poll_at)",
                              mark_params);
      if (!marked) return marked.error();
      candidates.push_back(std::move(candidate));
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return candidates;
}

Result<std::vector<std::pair<JobStatus, int>>> MysqlStore::countByStatus() {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  auto rows = (*conn)->query("SELECT status, COUNT(*) FROM " + table("messages") +
                             " GROUP BY status ORDER BY status");
  if (!rows) return rows.error();
  std::vector<std::pair<JobStatus, int>> counts;
  for (const auto& row : *rows) {
    if (auto s = parseStatus(text(row[0]))) {
      counts.emplace_back(*s, static_cast<int>(integer(row[1])));
    }
  }
  return counts;
}

// ---- Write-back: the status change log ---------------------------------------------------

void MysqlStore::setWriteBackMappings(std::vector<std::string> mappings) {
  std::sort(mappings.begin(), mappings.end());
  mappings.erase(std::unique(mappings.begin(), mappings.end()), mappings.end());
  std::lock_guard lock(mu_);
  write_back_mappings_ = std::move(mappings);
}

bool MysqlStore::logsMapping(const std::string& mapping) const {
  return std::binary_search(write_back_mappings_.begin(), write_back_mappings_.end(), mapping);
}

Status MysqlStore::logStatusChanges(Connection& c, std::span<const std::int64_t> job_ids,
                                    const std::string& now_text) {
  if (write_back_mappings_.empty() || job_ids.empty()) return Status::ok();
  std::vector<Param> params = {now_text, now_text};
  for (std::int64_t id : job_ids) params.emplace_back(id);
  for (const std::string& m : write_back_mappings_) params.emplace_back(m);
  auto inserted = c.execute("INSERT INTO " + table("status_changes") +
                                " (job_id, status, changed_at, next_try_at) SELECT id, status, "
                                "?, ? FROM " +
                                table("messages") + " WHERE id IN (" +
                                placeholders(job_ids.size()) + ") AND mapping IN (" +
                                placeholders(write_back_mappings_.size()) + ") ORDER BY id",
                            params);
  return inserted.status();
}

Result<std::vector<LoggedStatusChange>> MysqlStore::pendingStatusChanges(int limit, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<LoggedStatusChange> changes;
  Status status = inTransaction([&](Connection& c) -> Status {
    changes.clear();
    const Param params[] = {toSqlTime(now), std::int64_t{limit}};
    auto rows = c.query("SELECT c.id, c.job_id, c.status, c.changed_at, c.attempts FROM " +
                            table("status_changes") +
                            " AS c WHERE c.done_at IS NULL AND c.next_try_at <= ? AND NOT "
                            "EXISTS (SELECT 1 FROM " +
                            table("status_changes") +
                            " AS e WHERE e.job_id = c.job_id AND e.id < c.id AND e.done_at IS "
                            "NULL) ORDER BY c.id LIMIT ?",
                        params);
    if (!rows) return rows.error();
    std::vector<Param> ids;
    for (const ResultRow& row : *rows) {
      LoggedStatusChange change;
      change.id = integer(row[0]);
      change.job.id = integer(row[1]);
      change.status = parseStatus(text(row[2])).value_or(JobStatus::kFailed);
      change.changed_at = fromSqlTime(row[3]).value_or(TimePoint{});
      change.attempts = static_cast<int>(integer(row[4]));
      ids.emplace_back(change.job.id);
      changes.push_back(std::move(change));
    }
    if (changes.empty()) return Status::ok();
    auto jobs = c.query("SELECT " + std::string(kMessageColumns) + " FROM " + table("messages") +
                            " WHERE id IN (" + placeholders(ids.size()) + ")",
                        ids);
    if (!jobs) return jobs.error();
    std::map<std::int64_t, SmsJob> by_id;
    for (const ResultRow& row : *jobs) {
      SmsJob job = readJob(row);
      by_id.emplace(job.id, std::move(job));
    }
    for (LoggedStatusChange& change : changes) {
      auto it = by_id.find(change.job.id);
      if (it != by_id.end()) change.job = it->second;
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return changes;
}

Status MysqlStore::finishStatusChanges(std::span<const StatusChangeResult> results, TimePoint now) {
  std::lock_guard lock(mu_);
  const std::string now_text = toSqlTime(now);
  return inTransaction([&](Connection& c) -> Status {
    for (const StatusChangeResult& r : results) {
      const bool retry = r.state == StatusChangeResult::State::kRetry;
      const Param params[] = {
          retry ? Param(nullptr) : Param(now_text),
          retry
              ? Param(nullptr)
              : Param(std::string(r.state == StatusChangeResult::State::kDone ? "done" : "failed")),
          r.error.empty() ? Param(nullptr) : Param(r.error),
          retry ? Param(toSqlTime(r.next_try_at)) : Param(nullptr), r.change_id};
      auto updated = c.execute("UPDATE " + table("status_changes") +
                                   " SET attempts = attempts + 1, done_at = ?, result = ?, "
                                   "last_error = ?, next_try_at = COALESCE(?, next_try_at) "
                                   "WHERE id = ? AND done_at IS NULL",
                               params);
      if (!updated) return updated.error();
    }
    return Status::ok();
  });
}

Result<std::vector<JobStore::StatusLaneCount>> MysqlStore::countByStatusAndLane() {
  std::lock_guard lock(mu_);
  auto conn = connection();
  if (!conn) return conn.error();
  auto rows = (*conn)->query("SELECT status, lane, COUNT(*) FROM " + table("messages") +
                             " GROUP BY status, lane ORDER BY status, lane");
  if (!rows) return rows.error();
  std::vector<StatusLaneCount> counts;
  for (const auto& row : *rows) {
    auto s = parseStatus(text(row[0]));
    auto lane = parseLane(text(row[1]));
    if (s && lane) counts.push_back({*s, *lane, integer(row[1 + 1])});
  }
  return counts;
}

}  // namespace smsbridge::mysql
