#include "connectors/mysql/mysql_store.h"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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

// "?, ?, ?" for an IN list of `n` bound ids.
std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

}  // namespace

Result<std::unique_ptr<MysqlStore>> MysqlStore::create(const ConnectionOptions& options,
                                                       const std::string& prefix) {
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(prefix + "checkpoints", "table prefix"));
  std::unique_ptr<MysqlStore> store(new MysqlStore(options, prefix));
  auto conn = store->connection();
  if (!conn) return conn.error();
  if (!(*conn)->supportsSkipLocked()) {
    spdlog::warn(
        "The store server has no FOR UPDATE SKIP LOCKED (MariaDB >= 10.6 or MySQL >= 8.0 "
        "needed); dispatchers sharing this store will wait for each other, so run only one. "
        "server={} version={}",
        options.describe(), (*conn)->serverVersion());
  }
  return store;
}

std::string MysqlStore::table(std::string_view name) const {
  return quoteIdentifier(prefix_ + std::string(name), SqlDialect::kMysql);
}

Result<Connection*> MysqlStore::connection() {
  if (conn_ && conn_->isBroken()) conn_.reset();
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
          "  UNIQUE KEY messages_dedup (dedup_key),\n"
          "  KEY messages_due (status, lane, not_before),\n"
          "  KEY messages_provider_id (provider, provider_message_id),\n"
          "  KEY messages_recipient (recipient),\n"
          "  KEY messages_entity (entity_table, entity_id)\n) {}",
          table("messages"), kTableOptions),
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
                  "  body TEXT NOT NULL,\n  received_at DATETIME(3) NOT NULL\n) {}",
                  table("inbound"), kTableOptions),
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
  // idempotent instead, and the version row is written last.
  for (const auto& sql : migrationSql()) {
    SMSBRIDGE_RETURN_IF_ERROR((*conn)->exec(sql).withContext("migrating the store"));
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

Result<EnqueueResult> MysqlStore::enqueue(std::span<const SmsJob> jobs,
                                          const Checkpoint& checkpoint) {
  std::lock_guard lock(mu_);
  EnqueueResult result;
  Status status = inTransaction([&](Connection& c) -> Status {
    // `id = id` changes nothing, so a duplicate reports 0 affected rows and an insert 1; unlike
    // INSERT IGNORE it does not also swallow truncation and other data errors.
    const std::string insert =
        "INSERT INTO " + table("messages") +
        " (dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, "
        "sender, body, encoding, segments, lane, route, status, status_reason, not_before, "
        "expires_at, created_at, updated_at, final_at) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON DUPLICATE KEY UPDATE id = id";
    for (const SmsJob& job : jobs) {
      const std::string created = toSqlTime(job.created_at);
      const Param params[] = {job.dedup_key,
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
                              std::string(statusName(job.status)),
                              job.status_reason,
                              toSqlTime(job.not_before),
                              optTime(job.expires_at),
                              created,
                              created,
                              isFinal(job.status) ? Param(created) : Param(nullptr)};
      auto affected = c.execute(insert, params);
      if (!affected) return affected.error();
      if (*affected > 0) {
        ++result.inserted;
      } else {
        ++result.duplicates;
      }
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

Result<std::vector<SmsJob>> MysqlStore::claimDue(Lane lane, int limit, const std::string& owner,
                                                 std::chrono::milliseconds lease, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<SmsJob> jobs;
  const std::string now_text = toSqlTime(now);
  Status status = inTransaction([&](Connection& c) -> Status {
    // SKIP LOCKED lets several dispatchers claim side by side: each takes rows nobody holds
    // instead of queueing behind the first claimer's locks.
    const Param select_params[] = {std::string(laneName(lane)), now_text, std::int64_t{limit}};
    auto ids = c.query("SELECT id FROM " + table("messages") +
                           " WHERE status IN ('queued', 'scheduled') AND lane = ? AND "
                           "not_before <= ? ORDER BY not_before, id LIMIT ? FOR UPDATE" +
                           (c.supportsSkipLocked() ? " SKIP LOCKED" : ""),
                       select_params);
    if (!ids) return ids.error();
    if (ids->empty()) return Status::ok();
    std::vector<Param> params = {owner, toSqlTime(now + lease), now_text};
    for (const auto& row : *ids) params.emplace_back(integer(row[0]));
    auto updated = c.execute("UPDATE " + table("messages") +
                                 " SET status = 'sending', lease_owner = ?, lease_until = ?, "
                                 "updated_at = ? WHERE id IN (" +
                                 placeholders(ids->size()) + ")",
                             params);
    if (!updated) return updated.error();
    params.erase(params.begin(), params.begin() + 3);
    auto rows =
        c.query("SELECT " + std::string(kMessageColumns) + " FROM " + table("messages") +
                    " WHERE id IN (" + placeholders(ids->size()) + ") ORDER BY not_before, id",
                params);
    if (!rows) return rows.error();
    for (const auto& row : *rows) jobs.push_back(readJob(row));
    return Status::ok();
  });
  if (!status.isOk()) return status;
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
                            outcome.job_id,
                            owner};
    auto updated = c.execute(
        "UPDATE " + table("messages") +
            " SET status = ?, status_reason = ?, provider = COALESCE(NULLIF(?, ''), provider), "
            "provider_message_id = COALESCE(NULLIF(?, ''), provider_message_id), "
            "price = COALESCE(?, price), currency = COALESCE(NULLIF(?, ''), currency), "
            "attempts = attempts + ?, not_before = COALESCE(?, not_before), lease_owner = NULL, "
            "lease_until = NULL, updated_at = ?, sent_at = COALESCE(?, sent_at), final_at = ? "
            "WHERE id = ? AND status = 'sending' AND lease_owner = ?",
        params);
    if (!updated) return updated.error();
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
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return count;
}

Result<ReportEffect> MysqlStore::applyDeliveryReport(const DeliveryReport& report, TimePoint now) {
  std::lock_guard lock(mu_);
  ReportEffect effect = ReportEffect::kUnknownJob;
  Status status = inTransaction([&](Connection& c) -> Status {
    const Param find_params[] = {report.provider, report.provider_message_id};
    auto found = c.query("SELECT id, status FROM " + table("messages") +
                             " WHERE provider = ? AND provider_message_id = ? LIMIT 1 FOR UPDATE",
                         find_params);
    if (!found) return found.error();
    if (found->empty()) return Status::ok();
    const std::int64_t id = integer((*found)[0][0]);
    const std::string current_text = text((*found)[0][1]);
    auto current = parseStatus(current_text);
    if (!current || !canTransition(*current, report.status)) {
      effect = ReportEffect::kNoOp;
      return Status::ok();
    }
    const std::string now_text = toSqlTime(now);
    const Param params[] = {std::string(statusName(report.status)),
                            report.reason,
                            now_text,
                            isFinal(report.status) ? Param(now_text) : Param(nullptr),
                            id,
                            current_text};
    auto updated =
        c.execute("UPDATE " + table("messages") +
                      " SET status = ?, status_reason = COALESCE(NULLIF(?, ''), status_reason), "
                      "updated_at = ?, final_at = ? WHERE id = ? AND status = ?",
                  params);
    if (!updated) return updated.error();
    effect = *updated > 0 ? ReportEffect::kApplied : ReportEffect::kNoOp;
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return effect;
}

Result<std::vector<StatusPollCandidate>> MysqlStore::claimStatusPolls(const StatusPollQuery& query,
                                                                      TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<StatusPollCandidate> candidates;
  const std::string now_text = toSqlTime(now);
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
            (c.supportsSkipLocked() ? " SKIP LOCKED" : ""),
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

}  // namespace smsbridge::mysql
