#include "connectors/sqlite/sqlite_store.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/sql_ident.h"

namespace smsbridge::sqlite {
namespace {

constexpr char kMessageColumns[] =
    "id, dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, sender, "
    "body, encoding, segments, lane, route, status, status_reason, attempts, provider, "
    "provider_message_id, price, currency, not_before, expires_at, lease_owner, lease_until, "
    "created_at, updated_at, sent_at, final_at";

std::optional<std::string> optTime(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return formatTimestamp(*t);
}

TimePoint timeOr(const std::optional<std::string>& text) {
  if (!text) return {};
  return parseTimestamp(*text).value_or(TimePoint{});
}

std::optional<TimePoint> optTimeOf(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return parseTimestamp(*text);
}

SmsJob readJob(const Statement& st) {
  SmsJob job;
  job.id = st.columnInt(0);
  job.dedup_key = st.columnText(1);
  job.source = st.columnText(2);
  job.mapping = st.columnText(3);
  job.entity_table = st.columnText(4);
  job.entity_id = st.columnText(5);
  job.recipient_raw = st.columnText(6);
  job.recipient = st.columnText(7);
  job.sender = st.columnText(8);
  job.body = st.columnText(9);
  job.encoding = st.columnText(10) == "ucs2" ? Encoding::kUcs2 : Encoding::kGsm7;
  job.segments = static_cast<int>(st.columnInt(11));
  job.lane = parseLane(st.columnText(12)).value_or(Lane::kTransactional);
  job.route = st.columnText(13);
  job.status = parseStatus(st.columnText(14)).value_or(JobStatus::kFailed);
  job.status_reason = st.columnText(15);
  job.attempts = static_cast<int>(st.columnInt(16));
  job.provider = st.columnText(17);
  job.provider_message_id = st.columnText(18);
  if (!st.columnIsNull(19)) job.price = st.columnDouble(19);
  job.currency = st.columnText(20);
  job.not_before = timeOr(st.columnOptText(21));
  job.expires_at = optTimeOf(st.columnOptText(22));
  job.lease_owner = st.columnText(23);
  job.lease_until = optTimeOf(st.columnOptText(24));
  job.created_at = timeOr(st.columnOptText(25));
  job.updated_at = timeOr(st.columnOptText(26));
  job.sent_at = optTimeOf(st.columnOptText(27));
  job.final_at = optTimeOf(st.columnOptText(28));
  return job;
}

constexpr char kParkedColumns[] =
    "id, provider, provider_message_id, job_id, status, provider_status, reason, reported_at, "
    "parked_at";

DeliveryReport readParked(const Statement& st) {
  DeliveryReport report;
  report.provider = st.columnText(1);
  report.provider_message_id = st.columnText(2);
  report.job_id = st.columnInt(3);
  report.status = parseStatus(st.columnText(4)).value_or(JobStatus::kFailed);
  report.provider_status = st.columnText(5);
  report.reason = st.columnText(6);
  report.reported_at = timeOr(st.columnOptText(7));
  return report;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::create(const std::string& path,
                                                         const std::string& prefix,
                                                         std::chrono::milliseconds busy_timeout) {
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(prefix + "messages", "table prefix"));
  auto db = Database::open(path, Database::OpenMode::kCreateIfMissing, busy_timeout);
  if (!db) return db.error();
  // WAL lets the shop read while the bridge writes; FULL makes every commit survive power loss,
  // which the checkpoint-with-jobs guarantee depends on (performance.md §3.2).
  auto wal = (*db)->prepare("PRAGMA journal_mode=WAL");
  if (!wal) return wal.error();
  auto mode = wal->step();
  if (!mode) return mode.error();
  if (*mode && wal->columnText(0) != "wal") {
    return configError("SQLite database '" + path + "' cannot switch to WAL journal mode (got '" +
                       wal->columnText(0) + "'); is it on a network filesystem?");
  }
  SMSBRIDGE_RETURN_IF_ERROR((*db)->exec("PRAGMA synchronous=FULL"));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*db), prefix));
}

std::string SqliteStore::table(std::string_view name) const {
  return quoteIdentifier(prefix_ + std::string(name), SqlDialect::kSqlite);
}

template <typename F>
Status SqliteStore::inTransaction(F&& body) {
  SMSBRIDGE_RETURN_IF_ERROR(db_->beginWrite());
  Status status = body();
  if (status.isOk()) status = db_->commit();
  if (!status.isOk()) db_->rollback();
  return status;
}

std::vector<std::string> SqliteStore::migrationSql() const {
  std::vector<std::string> sql;
  for (MigrationStep& step : migrationSteps()) sql.push_back(std::move(step.sql));
  return sql;
}

std::vector<SqliteStore::MigrationStep> SqliteStore::migrationSteps() const {
  const std::string p = prefix_;
  auto idx = [&](std::string_view name) {
    return quoteIdentifier(p + std::string(name), SqlDialect::kSqlite);
  };
  return {
      fmt::format("CREATE TABLE IF NOT EXISTS {} (component TEXT PRIMARY KEY, version INTEGER "
                  "NOT NULL, migrated_at TEXT NOT NULL)",
                  table("schema")),
      fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (\n"
          "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
          "  dedup_key TEXT NOT NULL UNIQUE,\n"
          "  source TEXT NOT NULL,\n  mapping TEXT NOT NULL,\n"
          "  entity_table TEXT,\n  entity_id TEXT,\n"
          "  recipient_raw TEXT,\n  recipient TEXT,\n  sender TEXT,\n  body TEXT NOT NULL,\n"
          "  encoding TEXT NOT NULL,\n  segments INTEGER NOT NULL,\n  lane TEXT NOT NULL,\n"
          "  route TEXT,\n  status TEXT NOT NULL,\n  status_reason TEXT,\n"
          "  attempts INTEGER NOT NULL DEFAULT 0,\n  provider TEXT,\n"
          "  provider_message_id TEXT,\n  price REAL,\n  currency TEXT,\n"
          "  not_before TEXT NOT NULL,\n  expires_at TEXT,\n  lease_owner TEXT,\n"
          "  lease_until TEXT,\n  created_at TEXT NOT NULL,\n  updated_at TEXT NOT NULL,\n"
          "  sent_at TEXT,\n  final_at TEXT,\n  provider_message_id_norm TEXT)",
          table("messages")),
      // Schema 1 stores lack the column; reports are correlated by it (store_rules.h).
      {fmt::format("ALTER TABLE {} ADD COLUMN provider_message_id_norm TEXT", table("messages")),
       p + "messages", "provider_message_id_norm"},
      fmt::format("UPDATE {} SET provider_message_id_norm = lower(trim(provider_message_id)) "
                  "WHERE provider_message_id_norm IS NULL AND provider_message_id IS NOT NULL",
                  table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (status, lane, not_before)",
                  idx("messages_due"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (provider, provider_message_id)",
                  idx("messages_provider_id"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (provider, provider_message_id_norm)",
                  idx("messages_provider_norm"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (recipient)", idx("messages_recipient"),
                  table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (entity_table, entity_id)",
                  idx("messages_entity"), table("messages")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
                  "  message_id INTEGER NOT NULL REFERENCES {}(id),\n"
                  "  provider TEXT NOT NULL,\n  outcome TEXT NOT NULL,\n  http_status INTEGER,\n"
                  "  error_code TEXT,\n  error_message TEXT,\n"
                  "  started_at TEXT NOT NULL,\n  finished_at TEXT NOT NULL)",
                  table("attempts"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (message_id)", idx("attempts_message"),
                  table("attempts")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (source TEXT PRIMARY KEY, position TEXT NOT "
                  "NULL, updated_at TEXT NOT NULL)",
                  table("checkpoints")),
      // When each `sent` job was last asked about by the status poller (claimStatusPolls).
      fmt::format("CREATE TABLE IF NOT EXISTS {} (message_id INTEGER PRIMARY KEY, polls INTEGER "
                  "NOT NULL, polled_at TEXT NOT NULL, next_poll_at TEXT NOT NULL)",
                  table("status_polls")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (source TEXT NOT NULL, tbl TEXT NOT NULL, pk "
                  "TEXT NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY "
                  "(source, tbl, pk))",
                  table("shadow")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (recipient TEXT PRIMARY KEY, reason TEXT, "
                  "source TEXT, created_at TEXT NOT NULL)",
                  table("optouts")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  provider TEXT NOT NULL,\n"
                  "  provider_message_id TEXT,\n  sender TEXT NOT NULL,\n  recipient TEXT,\n"
                  "  body TEXT NOT NULL,\n  received_at TEXT NOT NULL)",
                  table("inbound")),
      // Write-back's durable queue: one row per status change of a job whose mapping has
      // write-back, written in the transaction that changed the status.
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
                  "  job_id INTEGER NOT NULL REFERENCES {}(id),\n"
                  "  status TEXT NOT NULL,\n  changed_at TEXT NOT NULL,\n"
                  "  done_at TEXT,\n  result TEXT,\n  attempts INTEGER NOT NULL DEFAULT 0,\n"
                  "  last_error TEXT,\n  next_try_at TEXT NOT NULL)",
                  table("status_changes"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (next_try_at, id) WHERE done_at IS NULL",
                  idx("status_changes_pending"), table("status_changes")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (job_id, id)", idx("status_changes_job"),
                  table("status_changes")),
      // A webhook retry delivers the same inbound SMS again.
      fmt::format("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (provider, provider_message_id)",
                  idx("inbound_provider_id"), table("inbound")),
      // Reports that arrived before their send result was recorded (store_rules.h). One row per
      // report: a replayed report hits the unique key instead of piling up.
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  provider TEXT NOT NULL,\n"
                  "  provider_message_id TEXT NOT NULL,\n"
                  "  provider_message_id_norm TEXT NOT NULL,\n  job_id INTEGER NOT NULL,\n"
                  "  status TEXT NOT NULL,\n  provider_status TEXT,\n  reason TEXT,\n"
                  "  reported_at TEXT NOT NULL,\n  parked_at TEXT NOT NULL,\n"
                  "  UNIQUE (provider, provider_message_id_norm, job_id, status))",
                  table("reports_parked")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (provider, job_id)",
                  idx("reports_parked_job"), table("reports_parked")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (parked_at)", idx("reports_parked_at"),
                  table("reports_parked")),
      fmt::format("INSERT INTO {} (component, version, migrated_at) VALUES ('store', {}, "
                  "strftime('%Y-%m-%dT%H:%M:%fZ','now')) ON CONFLICT(component) DO UPDATE SET "
                  "version = excluded.version, migrated_at = excluded.migrated_at",
                  table("schema"), kSchemaVersion),
  };
}

Status SqliteStore::migrate() {
  std::lock_guard lock(mu_);
  return inTransaction([&]() -> Status {
    for (const MigrationStep& step : migrationSteps()) {
      if (!step.column.empty()) {
        auto done = hasColumn(step.table, step.column);
        if (!done) return done.error();
        if (*done) continue;
      }
      SMSBRIDGE_RETURN_IF_ERROR(db_->exec(step.sql));
    }
    return Status::ok();
  });
}

Result<bool> SqliteStore::hasColumn(const std::string& table_name, const std::string& column) {
  auto st = db_->prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
  if (!st) return st.error();
  st->bind(1, table_name).bind(2, column);
  return st->step();
}

Status SqliteStore::checkSchema() {
  std::lock_guard lock(mu_);
  auto exists = db_->prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  if (!exists) return exists.error();
  exists->bind(1, prefix_ + "schema");
  auto found = exists->step();
  if (!found) return found.error();
  const std::string where = "'" + db_->path() + "'";
  if (!*found) return storeSchemaStatus(std::nullopt, kSchemaVersion, prefix_, where);
  auto st = db_->prepare("SELECT version FROM " + table("schema") + " WHERE component = 'store'");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  int version = *row ? static_cast<int>(st->columnInt(0)) : 0;
  return storeSchemaStatus(version, kSchemaVersion, prefix_, where);
}

Result<EnqueueResult> SqliteStore::enqueue(std::span<const SmsJob> jobs,
                                           const Checkpoint& checkpoint) {
  std::lock_guard lock(mu_);
  EnqueueResult result;
  Status status = inTransaction([&]() -> Status {
    if (!jobs.empty()) {
      auto insert = db_->cached(
          "INSERT INTO " + table("messages") +
          " (dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, "
          "sender, body, encoding, segments, lane, route, status, status_reason, not_before, "
          "expires_at, created_at, updated_at, final_at) VALUES "
          "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(dedup_key) DO NOTHING");
      if (!insert) return insert.error();
      auto opted_out = db_->cached("SELECT 1 FROM " + table("optouts") + " WHERE recipient = ?");
      if (!opted_out) return opted_out.error();
      for (const SmsJob& job : jobs) {
        std::string created = formatTimestamp(job.created_at);
        JobStatus status = job.status;
        std::string reason = job.status_reason;
        if (optOutApplies(job, optout_lanes_)) {
          opted_out->reset();
          opted_out->bind(1, job.recipient);
          auto found = opted_out->step();
          if (!found) return found.error();
          if (*found) {
            status = JobStatus::kSuppressed;
            reason = kOptedOutReason;
          }
        }
        insert->reset();
        insert->bind(1, job.dedup_key)
            .bind(2, job.source)
            .bind(3, job.mapping)
            .bind(4, job.entity_table)
            .bind(5, job.entity_id)
            .bind(6, job.recipient_raw)
            .bind(7, job.recipient)
            .bind(8, job.sender)
            .bind(9, job.body)
            .bind(10, encodingName(job.encoding))
            .bind(11, job.segments)
            .bind(12, laneName(job.lane))
            .bind(13, job.route)
            .bind(14, statusName(status))
            .bind(15, reason)
            .bind(16, formatTimestamp(job.not_before))
            .bind(17, optTime(job.expires_at))
            .bind(18, created)
            .bind(19, created)
            .bind(20, isFinal(status) ? std::optional<std::string>(created) : std::nullopt);
        SMSBRIDGE_RETURN_IF_ERROR(insert->run());
        if (db_->changes() > 0) {
          ++result.inserted;
          if (logsMapping(job.mapping)) {
            const std::int64_t id = db_->lastInsertRowId();
            SMSBRIDGE_RETURN_IF_ERROR(logStatusChanges(std::span(&id, 1), created));
          }
        } else {
          ++result.duplicates;
        }
      }
    }
    if (!checkpoint.position.empty()) {
      auto save = db_->cached(
          "INSERT INTO " + table("checkpoints") +
          " (source, position, updated_at) VALUES (?,?,strftime('%Y-%m-%dT%H:%M:%fZ','now')) "
          "ON CONFLICT(source) DO UPDATE SET position = excluded.position, "
          "updated_at = excluded.updated_at");
      if (!save) return save.error();
      save->bind(1, checkpoint.source).bind(2, checkpoint.position);
      SMSBRIDGE_RETURN_IF_ERROR(save->run());
    }
    return saveShadow(checkpoint);
  });
  if (!status.isOk()) return status;
  return result;
}

Status SqliteStore::saveShadow(const Checkpoint& checkpoint) {
  if (checkpoint.shadow.empty()) return Status::ok();
  auto upsert = db_->cached(
      "INSERT INTO " + table("shadow") +
      " (source, tbl, pk, state, updated_at) VALUES (?,?,?,?,strftime('%Y-%m-%dT%H:%M:%fZ','now')) "
      "ON CONFLICT(source, tbl, pk) DO UPDATE SET state = excluded.state, "
      "updated_at = excluded.updated_at");
  if (!upsert) return upsert.error();
  for (const ShadowEntry& entry : checkpoint.shadow) {
    upsert->reset();
    upsert->bind(1, checkpoint.source).bind(2, entry.table).bind(3, entry.pk).bind(4, entry.state);
    SMSBRIDGE_RETURN_IF_ERROR(upsert->run());
  }
  return Status::ok();
}

Result<std::map<std::string, std::string>> SqliteStore::loadShadow(
    const std::string& source, const std::string& table_name, std::span<const std::string> pks) {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> states;
  auto st = db_->cached("SELECT state FROM " + table("shadow") +
                        " WHERE source = ? AND tbl = ? AND pk = ?");
  if (!st) return st.error();
  for (const std::string& pk : pks) {
    st->reset();
    st->bind(1, source).bind(2, table_name).bind(3, pk);
    auto row = st->step();
    if (!row) return row.error();
    if (*row) states.emplace(pk, st->columnText(0));
  }
  return states;
}

Result<std::optional<std::string>> SqliteStore::loadCheckpoint(const std::string& source) {
  std::lock_guard lock(mu_);
  auto st = db_->cached("SELECT position FROM " + table("checkpoints") + " WHERE source = ?");
  if (!st) return st.error();
  st->bind(1, source);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->columnText(0));
}

Result<std::vector<SmsJob>> SqliteStore::claimDue(Lane lane, int limit, const std::string& owner,
                                                  std::chrono::milliseconds lease, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<SmsJob> jobs;
  std::string now_text = formatTimestamp(now);
  // Most polls find nothing: look first without taking the write lock, so an idle bridge never
  // makes the shop's own writers wait.
  auto due = db_->cached("SELECT EXISTS (SELECT 1 FROM " + table("messages") +
                         " WHERE status IN ('queued', 'scheduled') AND lane = ? AND "
                         "not_before <= ?)");
  if (!due) return due.error();
  due->bind(1, laneName(lane)).bind(2, now_text);
  auto any = due->step();
  if (!any) return any.error();
  if (due->columnInt(0) == 0) return jobs;
  due = Statement(nullptr, nullptr);  // end the read before BEGIN IMMEDIATE
  // Jobs of opt-out lanes whose recipient opted out after they were enqueued end here as
  // `suppressed` instead of being leased: the claim is the last moment before a send.
  const std::string opted_out =
      optOutApplies(lane, optout_lanes_)
          ? "recipient IN (SELECT recipient FROM " + table("optouts") + ")"
          : std::string("0");
  int suppressed = 0;
  Status status = inTransaction([&]() -> Status {
    jobs.clear();
    suppressed = 0;
    auto st = db_->cached(
        "UPDATE " + table("messages") + " SET status = CASE WHEN " + opted_out +
        " THEN 'suppressed' ELSE 'sending' END, status_reason = CASE WHEN " + opted_out +
        " THEN '" + kOptedOutReason + "' ELSE status_reason END, lease_owner = CASE WHEN " +
        opted_out + " THEN NULL ELSE ?1 END, lease_until = CASE WHEN " + opted_out +
        " THEN NULL ELSE ?2 END, updated_at = ?3, final_at = CASE WHEN " + opted_out +
        " THEN ?3 ELSE final_at END WHERE id IN (SELECT id FROM " + table("messages") +
        " WHERE status IN ('queued', 'scheduled') AND lane = ?4 AND not_before <= ?3 "
        "ORDER BY not_before, id LIMIT ?5) RETURNING " +
        std::string(kMessageColumns));
    if (!st) return st.error();
    st->bind(1, owner)
        .bind(2, formatTimestamp(now + lease))
        .bind(3, now_text)
        .bind(4, laneName(lane))
        .bind(5, limit);
    while (true) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      SmsJob job = readJob(*st);
      if (job.status == JobStatus::kSuppressed) {
        ++suppressed;
      } else {
        jobs.push_back(std::move(job));
      }
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  if (suppressed > 0) {
    spdlog::info("Jobs to opted-out recipients suppressed instead of sent. lane={} count={}",
                 laneName(lane), suppressed);
  }
  std::sort(jobs.begin(), jobs.end(), [](const SmsJob& a, const SmsJob& b) {
    return a.not_before != b.not_before ? a.not_before < b.not_before : a.id < b.id;
  });
  return jobs;
}

Status SqliteStore::recordOutcome(const JobOutcome& outcome, const std::string& owner,
                                  TimePoint now) {
  return recordOutcomes(std::span(&outcome, 1), owner, now).front();
}

std::vector<Status> SqliteStore::recordOutcomes(std::span<const JobOutcome> outcomes,
                                                const std::string& owner, TimePoint now) {
  std::vector<Status> statuses(outcomes.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (!canTransition(JobStatus::kSending, outcomes[i].status)) {
      statuses[i] = internalError("dispatcher asked for sending -> " +
                                  std::string(statusName(outcomes[i].status)));
    }
  }
  std::lock_guard lock(mu_);
  std::string now_text = formatTimestamp(now);
  std::vector<bool> lease_lost(outcomes.size(), false);
  Status status = inTransaction([&]() -> Status {
    // A report is parked only when it arrived before its job's send result was recorded, so
    // the table is nearly always empty: one look per batch spares a lookup per job sent.
    auto parked = db_->cached("SELECT EXISTS (SELECT 1 FROM " + table("reports_parked") + ")");
    if (!parked) return parked.error();
    auto parked_row = parked->step();
    if (!parked_row) return parked_row.error();
    const bool any_parked = *parked_row && parked->columnInt(0) != 0;
    parked = Statement(nullptr, nullptr);  // back to the cache before the loop may need it
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      if (!statuses[i].isOk()) continue;
      bool lost = false;
      SMSBRIDGE_RETURN_IF_ERROR(applyOutcome(outcomes[i], owner, now_text, lost));
      lease_lost[i] = lost;
      // A retry back to `queued` is the dispatcher's business, not a status anyone acts on.
      if (!lost && outcomes[i].status != JobStatus::kQueued) {
        SMSBRIDGE_RETURN_IF_ERROR(logStatusChanges(std::span(&outcomes[i].job_id, 1), now_text));
      }
      if (any_parked && !lost && outcomes[i].status == JobStatus::kSent) {
        SMSBRIDGE_RETURN_IF_ERROR(releaseParkedReports(outcomes[i], now_text));
      }
    }
    return Status::ok();
  });
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (!statuses[i].isOk()) continue;
    if (!status.isOk()) {
      statuses[i] = status;
    } else if (lease_lost[i]) {
      statuses[i] =
          transientError("job " + std::to_string(outcomes[i].job_id) + " was no longer leased by " +
                         owner + "; its outcome was not applied");
    }
  }
  return statuses;
}

Status SqliteStore::applyOutcome(const JobOutcome& outcome, const std::string& owner,
                                 const std::string& now_text, bool& lease_lost) {
  auto attempt = db_->cached(
      "INSERT INTO " + table("attempts") +
      " (message_id, provider, outcome, http_status, error_code, error_message, started_at, "
      "finished_at) VALUES (?,?,?,?,?,?,?,?)");
  if (!attempt) return attempt.error();
  for (const AttemptRecord& a : outcome.attempts) {
    attempt->reset();
    attempt->bind(1, outcome.job_id)
        .bind(2, a.provider)
        .bind(3, a.outcome)
        .bind(4, a.http_status)
        .bind(5, a.error_code)
        .bind(6, a.error_message)
        .bind(7, formatTimestamp(a.started_at))
        .bind(8, formatTimestamp(a.finished_at));
    SMSBRIDGE_RETURN_IF_ERROR(attempt->run());
  }
  bool sent = outcome.status == JobStatus::kSent;
  auto update = db_->cached(
      "UPDATE " + table("messages") +
      " SET status = ?, status_reason = ?, provider = COALESCE(NULLIF(?, ''), provider), "
      "provider_message_id = COALESCE(NULLIF(?, ''), provider_message_id), "
      "price = COALESCE(?, price), currency = COALESCE(NULLIF(?, ''), currency), "
      "attempts = attempts + ?, not_before = COALESCE(?, not_before), lease_owner = NULL, "
      "lease_until = NULL, updated_at = ?, sent_at = COALESCE(?, sent_at), final_at = ?, "
      "provider_message_id_norm = COALESCE(NULLIF(?, ''), provider_message_id_norm) "
      "WHERE id = ? AND status = 'sending' AND lease_owner = ?");
  if (!update) return update.error();
  update->bind(1, statusName(outcome.status))
      .bind(2, outcome.status_reason)
      .bind(3, outcome.provider)
      .bind(4, outcome.provider_message_id);
  if (outcome.price) {
    update->bind(5, *outcome.price);
  } else {
    update->bindNull(5);
  }
  update->bind(6, outcome.currency)
      .bind(7, static_cast<std::int64_t>(outcome.attempts.size()))
      .bind(8, outcome.status == JobStatus::kQueued
                   ? std::optional<std::string>(formatTimestamp(outcome.not_before))
                   : std::nullopt)
      .bind(9, now_text)
      .bind(10, sent ? std::optional<std::string>(now_text) : std::nullopt)
      .bind(11, isFinal(outcome.status) ? std::optional<std::string>(now_text) : std::nullopt)
      .bind(12, normaliseProviderMessageId(outcome.provider_message_id))
      .bind(13, outcome.job_id)
      .bind(14, owner);
  SMSBRIDGE_RETURN_IF_ERROR(update->run());
  lease_lost = db_->changes() == 0;
  return Status::ok();
}

Result<int> SqliteStore::requeueExpiredLeases(TimePoint now) {
  std::lock_guard lock(mu_);
  int count = 0;
  Status status = inTransaction([&]() -> Status {
    auto st = db_->cached("UPDATE " + table("messages") +
                          " SET status = 'queued', status_reason = 'in_doubt: lease expired, "
                          "resending', lease_owner = NULL, lease_until = NULL, updated_at = ? "
                          "WHERE status = 'sending' AND lease_until < ?");
    if (!st) return st.error();
    std::string now_text = formatTimestamp(now);
    st->bind(1, now_text).bind(2, now_text);
    SMSBRIDGE_RETURN_IF_ERROR(st->run());
    count = db_->changes();
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return count;
}

Result<int> SqliteStore::holdExpiredLeases(TimePoint now, std::span<const std::string> routes) {
  std::lock_guard lock(mu_);
  int count = 0;
  Status status = inTransaction([&]() -> Status {
    for (const std::string& route : routes) {
      auto st = db_->cached(
          "UPDATE " + table("messages") +
          " SET status = 'failed', status_reason = 'in_doubt: lease expired while sending; the "
          "provider may have sent it, so it is held (route in_doubt: hold)', "
          "lease_owner = NULL, lease_until = NULL, updated_at = ?, final_at = ? "
          "WHERE status = 'sending' AND lease_until < ? AND route = ? RETURNING id");
      if (!st) return st.error();
      std::string now_text = formatTimestamp(now);
      st->bind(1, now_text).bind(2, now_text).bind(3, now_text).bind(4, route);
      std::vector<std::int64_t> held;
      while (true) {
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) break;
        held.push_back(st->columnInt(0));
      }
      st = Statement(nullptr, nullptr);
      count += static_cast<int>(held.size());
      SMSBRIDGE_RETURN_IF_ERROR(logStatusChanges(held, now_text));
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return count;
}

Result<ReportEffect> SqliteStore::applyDeliveryReport(const DeliveryReport& report, TimePoint now) {
  auto effects = applyDeliveryReports(std::span(&report, 1), now);
  if (!effects) return effects.error();
  return effects->front();
}

Result<std::vector<ReportEffect>> SqliteStore::applyDeliveryReports(
    std::span<const DeliveryReport> reports, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<ReportEffect> effects;
  const std::string now_text = formatTimestamp(now);
  Status status = inTransaction([&]() -> Status {
    auto applied = applyReports(reports, now_text, /*park=*/true);
    if (!applied) return applied.error();
    effects = std::move(*applied);
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return effects;
}

Result<std::optional<MatchedJob>> SqliteStore::findReportedJob(const DeliveryReport& report) {
  const std::string norm = normaliseProviderMessageId(report.provider_message_id);
  auto find = db_->cached("SELECT id, status FROM " + table("messages") +
                          " WHERE provider = ?1 AND (provider_message_id_norm = ?2 OR id = ?3) "
                          "ORDER BY provider_message_id = ?4 DESC, "
                          "provider_message_id_norm = ?2 DESC, id LIMIT 1");
  if (!find) return find.error();
  find->bind(1, report.provider)
      .bind(2, norm.empty() ? std::nullopt : std::optional<std::string>(norm))
      .bind(4, report.provider_message_id);
  if (report.job_id != 0) {
    find->bind(3, report.job_id);
  } else {
    find->bindNull(3);
  }
  auto row = find->step();
  if (!row) return row.error();
  if (!*row) return std::optional<MatchedJob>();
  auto current = parseStatus(find->columnText(1));
  if (!current) return internalError("job " + find->columnText(0) + " has an unknown status");
  return std::optional<MatchedJob>(MatchedJob{find->columnInt(0), *current});
}

Result<std::vector<ReportEffect>> SqliteStore::applyReports(std::span<const DeliveryReport> reports,
                                                            const std::string& now_text,
                                                            bool park) {
  std::vector<std::optional<MatchedJob>> matches;
  matches.reserve(reports.size());
  for (const DeliveryReport& report : reports) {
    std::optional<MatchedJob> match;
    if (isCorrelatable(report)) {
      auto found = findReportedJob(report);
      if (!found) return found.error();
      match = *found;
    }
    matches.push_back(match);
  }
  ReportPlan plan = planReports(reports, matches);
  SMSBRIDGE_RETURN_IF_ERROR(writeStatusChanges(plan.changes, now_text));
  if (park) {
    for (std::size_t i = 0; i < reports.size(); ++i) {
      if (plan.effects[i] == ReportEffect::kParked) {
        SMSBRIDGE_RETURN_IF_ERROR(parkReport(reports[i], now_text));
      }
    }
  }
  return plan.effects;
}

Status SqliteStore::writeStatusChanges(std::span<const StatusChange> changes,
                                       const std::string& now_text) {
  if (changes.empty()) return Status::ok();
  auto update =
      db_->cached("UPDATE " + table("messages") +
                  " SET status = ?, status_reason = COALESCE(NULLIF(?, ''), status_reason), "
                  "updated_at = ?, final_at = ? WHERE id = ? AND status = ?");
  if (!update) return update.error();
  for (const StatusChange& change : changes) {
    update->reset();
    update->bind(1, statusName(change.to))
        .bind(2, change.reason)
        .bind(3, now_text)
        .bind(4, isFinal(change.to) ? std::optional<std::string>(now_text) : std::nullopt)
        .bind(5, change.job_id)
        .bind(6, statusName(change.from));
    SMSBRIDGE_RETURN_IF_ERROR(update->run());
    // Every report that moves a job, batched, parked or released, passes here: one place to log.
    if (db_->changes() > 0) {
      SMSBRIDGE_RETURN_IF_ERROR(logStatusChanges(std::span(&change.job_id, 1), now_text));
    }
  }
  return Status::ok();
}

Status SqliteStore::parkReport(const DeliveryReport& report, const std::string& now_text) {
  auto insert =
      db_->cached("INSERT INTO " + table("reports_parked") +
                  " (provider, provider_message_id, provider_message_id_norm, job_id, status, "
                  "provider_status, reason, reported_at, parked_at) VALUES (?,?,?,?,?,?,?,?,?) "
                  "ON CONFLICT (provider, provider_message_id_norm, job_id, status) DO NOTHING");
  if (!insert) return insert.error();
  insert->bind(1, report.provider)
      .bind(2, report.provider_message_id)
      .bind(3, normaliseProviderMessageId(report.provider_message_id))
      .bind(4, report.job_id)
      .bind(5, statusName(report.status))
      .bind(6, report.provider_status)
      .bind(7, report.reason)
      .bind(8, formatTimestamp(report.reported_at))
      .bind(9, now_text);
  return insert->run();
}

Status SqliteStore::releaseParkedReports(const JobOutcome& outcome, const std::string& now_text) {
  const std::string norm = normaliseProviderMessageId(outcome.provider_message_id);
  auto find =
      db_->cached("SELECT " + std::string(kParkedColumns) + " FROM " + table("reports_parked") +
                  " WHERE provider = ?1 AND (provider_message_id_norm = ?2 OR "
                  "job_id = ?3) ORDER BY id");
  if (!find) return find.error();
  find->bind(1, outcome.provider)
      .bind(2, norm.empty() ? std::nullopt : std::optional<std::string>(norm))
      .bind(3, outcome.job_id);
  std::vector<DeliveryReport> reports;
  std::vector<std::int64_t> ids;
  while (true) {
    auto row = find->step();
    if (!row) return row.error();
    if (!*row) break;
    ids.push_back(find->columnInt(0));
    reports.push_back(readParked(*find));
  }
  if (reports.empty()) return Status::ok();
  // The job was just recorded as sent: every parked report applies to it, in arrival order.
  std::vector<std::optional<MatchedJob>> matches(reports.size(),
                                                 MatchedJob{outcome.job_id, JobStatus::kSent});
  ReportPlan plan = planReports(reports, matches);
  SMSBRIDGE_RETURN_IF_ERROR(writeStatusChanges(plan.changes, now_text));
  auto remove = db_->cached("DELETE FROM " + table("reports_parked") + " WHERE id = ?");
  if (!remove) return remove.error();
  for (std::int64_t id : ids) {
    remove->reset();
    remove->bind(1, id);
    SMSBRIDGE_RETURN_IF_ERROR(remove->run());
  }
  return Status::ok();
}

Result<std::vector<DeliveryReport>> SqliteStore::dropParkedReports(TimePoint parked_before) {
  std::lock_guard lock(mu_);
  std::vector<DeliveryReport> dropped;
  const std::string now_text = formatTimestamp(std::chrono::system_clock::now());
  const std::string before_text = formatTimestamp(parked_before);
  Status status = inTransaction([&]() -> Status {
    dropped.clear();
    auto all = db_->cached("SELECT " + std::string(kParkedColumns) + " FROM " +
                           table("reports_parked") + " ORDER BY id");
    if (!all) return all.error();
    std::vector<DeliveryReport> reports;
    std::vector<std::int64_t> ids;
    std::vector<bool> old;
    while (true) {
      auto row = all->step();
      if (!row) return row.error();
      if (!*row) break;
      ids.push_back(all->columnInt(0));
      reports.push_back(readParked(*all));
      old.push_back(all->columnText(8) < before_text);
    }
    all = Statement(nullptr, nullptr);
    // Reports whose job got its send result meanwhile (one that raced the record) apply now.
    auto effects = applyReports(reports, now_text, /*park=*/false);
    if (!effects) return effects.error();
    auto remove = db_->cached("DELETE FROM " + table("reports_parked") + " WHERE id = ?");
    if (!remove) return remove.error();
    for (std::size_t i = 0; i < reports.size(); ++i) {
      const bool parked = (*effects)[i] == ReportEffect::kParked;
      if (parked && !old[i]) continue;
      if (parked) dropped.push_back(reports[i]);
      remove->reset();
      remove->bind(1, ids[i]);
      SMSBRIDGE_RETURN_IF_ERROR(remove->run());
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return dropped;
}

Status SqliteStore::recordInbound(const InboundSms& sms) {
  std::lock_guard lock(mu_);
  return inTransaction([&]() -> Status {
    auto insert = db_->cached("INSERT INTO " + table("inbound") +
                              " (provider, provider_message_id, sender, recipient, body, "
                              "received_at) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING");
    if (!insert) return insert.error();
    insert->bind(1, sms.provider)
        .bind(2, sms.provider_message_id.empty()
                     ? std::nullopt
                     : std::optional<std::string>(sms.provider_message_id))
        .bind(3, sms.sender)
        .bind(4, sms.recipient)
        .bind(5, sms.body)
        .bind(6, formatTimestamp(sms.received_at));
    return insert->run();
  });
}

Status SqliteStore::setOptOut(const std::string& recipient, bool opted_out,
                              const std::string& reason, TimePoint now) {
  std::lock_guard lock(mu_);
  return inTransaction([&]() -> Status {
    if (!opted_out) {
      auto remove = db_->cached("DELETE FROM " + table("optouts") + " WHERE recipient = ?");
      if (!remove) return remove.error();
      remove->bind(1, recipient);
      return remove->run();
    }
    auto upsert = db_->cached("INSERT INTO " + table("optouts") +
                              " (recipient, reason, created_at) VALUES (?,?,?) "
                              "ON CONFLICT (recipient) DO UPDATE SET reason = excluded.reason, "
                              "created_at = excluded.created_at");
    if (!upsert) return upsert.error();
    upsert->bind(1, recipient).bind(2, reason).bind(3, formatTimestamp(now));
    return upsert->run();
  });
}

Result<bool> SqliteStore::isOptedOut(const std::string& recipient) {
  std::lock_guard lock(mu_);
  auto st = db_->cached("SELECT 1 FROM " + table("optouts") + " WHERE recipient = ?");
  if (!st) return st.error();
  st->bind(1, recipient);
  return st->step();
}

void SqliteStore::setOptOutLanes(std::vector<Lane> lanes) {
  std::lock_guard lock(mu_);
  optout_lanes_ = std::move(lanes);
}

Result<std::vector<StatusPollCandidate>> SqliteStore::claimStatusPolls(const StatusPollQuery& query,
                                                                       TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<StatusPollCandidate> candidates;
  const std::string now_text = formatTimestamp(now);
  Status status = inTransaction([&]() -> Status {
    // Timestamps are fixed-width UTC text, so they compare as strings.
    auto find = db_->cached(
        "SELECT m.id, m.provider, m.provider_message_id, m.recipient, m.sent_at FROM " +
        table("messages") + " m LEFT JOIN " + table("status_polls") +
        " p ON p.message_id = m.id WHERE m.status = 'sent' AND m.provider = ? AND "
        "m.provider_message_id IS NOT NULL AND m.provider_message_id <> '' AND "
        "m.sent_at <= ? AND m.sent_at >= ? AND (p.next_poll_at IS NULL OR p.next_poll_at <= ?) "
        "ORDER BY m.sent_at, m.id LIMIT ?");
    if (!find) return find.error();
    find->bind(1, query.provider)
        .bind(2, formatTimestamp(query.sent_until))
        .bind(3, formatTimestamp(query.sent_from))
        .bind(4, now_text)
        .bind(5, query.limit);
    while (true) {
      auto row = find->step();
      if (!row) return row.error();
      if (!*row) break;
      StatusPollCandidate candidate;
      candidate.job_id = find->columnInt(0);
      candidate.provider = find->columnText(1);
      candidate.provider_message_id = find->columnText(2);
      candidate.recipient = find->columnText(3);
      candidate.sent_at = timeOr(find->columnOptText(4));
      candidates.push_back(std::move(candidate));
    }
    find = Statement(nullptr, nullptr);
    auto mark = db_->cached("INSERT INTO " + table("status_polls") +
                            " (message_id, polls, polled_at, next_poll_at) VALUES (?, 1, ?, ?) "
                            "ON CONFLICT(message_id) DO UPDATE SET polls = polls + 1, "
                            "polled_at = excluded.polled_at, next_poll_at = excluded.next_poll_at");
    if (!mark) return mark.error();
    for (const StatusPollCandidate& candidate : candidates) {
      mark->reset();
      mark->bind(1, candidate.job_id)
          .bind(2, now_text)
          .bind(3, formatTimestamp(nextStatusPoll(candidate.sent_at, now, query.min_interval)));
      SMSBRIDGE_RETURN_IF_ERROR(mark->run());
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return candidates;
}

Result<std::vector<std::pair<JobStatus, int>>> SqliteStore::countByStatus() {
  std::lock_guard lock(mu_);
  auto st = db_->cached("SELECT status, count(*) FROM " + table("messages") +
                        " GROUP BY status ORDER BY status");
  if (!st) return st.error();
  std::vector<std::pair<JobStatus, int>> counts;
  while (true) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    if (auto s = parseStatus(st->columnText(0))) {
      counts.emplace_back(*s, static_cast<int>(st->columnInt(1)));
    }
  }
  return counts;
}

// ---- Write-back: the status change log ---------------------------------------------------

void SqliteStore::setWriteBackMappings(std::vector<std::string> mappings) {
  std::sort(mappings.begin(), mappings.end());
  mappings.erase(std::unique(mappings.begin(), mappings.end()), mappings.end());
  std::lock_guard lock(mu_);
  write_back_mappings_json_ = nlohmann::json(mappings).dump();
  write_back_mappings_ = std::move(mappings);
}

bool SqliteStore::logsMapping(const std::string& mapping) const {
  return std::binary_search(write_back_mappings_.begin(), write_back_mappings_.end(), mapping);
}

Status SqliteStore::logStatusChanges(std::span<const std::int64_t> job_ids,
                                     const std::string& now_text) {
  if (write_back_mappings_.empty() || job_ids.empty()) return Status::ok();
  auto log = db_->cached("INSERT INTO " + table("status_changes") +
                         " (job_id, status, changed_at, attempts, next_try_at) SELECT id, "
                         "status, ?, 0, ? FROM " +
                         table("messages") +
                         " WHERE id = ? AND mapping IN (SELECT value FROM json_each(?))");
  if (!log) return log.error();
  for (std::int64_t id : job_ids) {
    log->reset();
    log->bind(1, now_text).bind(2, now_text).bind(3, id).bind(4, write_back_mappings_json_);
    SMSBRIDGE_RETURN_IF_ERROR(log->run());
  }
  return Status::ok();
}

Result<std::vector<LoggedStatusChange>> SqliteStore::pendingStatusChanges(int limit,
                                                                          TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<LoggedStatusChange> changes;
  Status status = inTransaction([&]() -> Status {
    changes.clear();
    auto st = db_->cached(
        "SELECT c.id, c.job_id, c.status, c.changed_at, c.attempts FROM " +
        table("status_changes") +
        " AS c WHERE c.done_at IS NULL AND c.next_try_at <= ? AND NOT EXISTS (SELECT 1 FROM " +
        table("status_changes") +
        " AS e WHERE e.job_id = c.job_id AND e.id < c.id AND e.done_at IS NULL) "
        "ORDER BY c.id LIMIT ?");
    if (!st) return st.error();
    st->bind(1, formatTimestamp(now)).bind(2, limit);
    std::vector<std::int64_t> job_ids;
    while (true) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      LoggedStatusChange change;
      change.id = st->columnInt(0);
      change.job.id = st->columnInt(1);
      change.status = parseStatus(st->columnText(2)).value_or(JobStatus::kFailed);
      change.changed_at = timeOr(st->columnOptText(3));
      change.attempts = static_cast<int>(st->columnInt(4));
      changes.push_back(std::move(change));
    }
    auto job = db_->cached("SELECT " + std::string(kMessageColumns) + " FROM " + table("messages") +
                           " WHERE id = ?");
    if (!job) return job.error();
    for (LoggedStatusChange& change : changes) {
      job->reset();
      job->bind(1, change.job.id);
      auto row = job->step();
      if (!row) return row.error();
      if (*row) change.job = readJob(*job);
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return changes;
}

Status SqliteStore::finishStatusChanges(std::span<const StatusChangeResult> results,
                                        TimePoint now) {
  std::lock_guard lock(mu_);
  const std::string now_text = formatTimestamp(now);
  return inTransaction([&]() -> Status {
    auto st =
        db_->cached("UPDATE " + table("status_changes") +
                    " SET attempts = attempts + 1, done_at = ?, result = ?, last_error = ?, "
                    "next_try_at = COALESCE(?, next_try_at) WHERE id = ? AND done_at IS NULL");
    if (!st) return st.error();
    for (const StatusChangeResult& r : results) {
      const bool retry = r.state == StatusChangeResult::State::kRetry;
      st->reset();
      st->bind(1, retry ? std::nullopt : std::optional<std::string>(now_text))
          .bind(2, retry ? std::nullopt
                         : std::optional<std::string>(
                               r.state == StatusChangeResult::State::kDone ? "done" : "failed"))
          .bind(3, r.error.empty() ? std::nullopt : std::optional<std::string>(r.error))
          .bind(4,
                retry ? std::optional<std::string>(formatTimestamp(r.next_try_at)) : std::nullopt)
          .bind(5, r.change_id);
      SMSBRIDGE_RETURN_IF_ERROR(st->run());
    }
    return Status::ok();
  });
}

Result<std::vector<JobStore::StatusLaneCount>> SqliteStore::countByStatusAndLane() {
  std::lock_guard lock(mu_);
  auto st = db_->cached("SELECT status, lane, count(*) FROM " + table("messages") +
                        " GROUP BY status, lane ORDER BY status, lane");
  if (!st) return st.error();
  std::vector<StatusLaneCount> counts;
  while (true) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto status = parseStatus(st->columnText(0));
    auto lane = parseLane(st->columnText(1));
    if (status && lane) counts.push_back({*status, *lane, st->columnInt(2)});
  }
  return counts;
}

}  // namespace smsbridge::sqlite
