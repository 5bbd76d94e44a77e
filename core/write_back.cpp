#include "core/write_back.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace smsbridge {
namespace {

// Times as each database reads them into its timestamp column: MySQL's DATETIME takes neither
// the 'T' nor the zone suffix (the values are UTC, like the store's).
std::string sourceTime(TimePoint t, SqlDialect dialect) {
  std::string text = formatTimestamp(t);
  if (dialect == SqlDialect::kMysql) {
    std::replace(text.begin(), text.end(), 'T', ' ');
    if (!text.empty() && text.back() == 'Z') text.pop_back();
  }
  return text;
}

Value textOrNull(const std::string& text) {
  if (text.empty()) return NullValue{};
  return text;
}

}  // namespace

const std::vector<std::string>& writeBackStatusNames() {
  static const std::vector<std::string> names = {"sent",    "delivered", "undelivered", "failed",
                                                 "expired", "rejected",  "suppressed"};
  return names;
}

const std::vector<std::string>& writeBackFieldNames() {
  static const std::vector<std::string> names = {
      "job_id",       "status",    "status_reason", "provider", "provider_message_id",
      "entity_table", "entity_id", "mapping",       "source",   "recipient",
      "lane",         "segments",  "price",         "currency", "changed_at"};
  return names;
}

bool WriteBackAction::runsOn(JobStatus status) const {
  if (!on.empty()) return on.count(status) > 0;
  const auto& names = writeBackStatusNames();
  return std::find(names.begin(), names.end(), statusName(status)) != names.end();
}

std::vector<std::string> writeBackSetupSql(SqlDialect dialect, const std::string& prefix,
                                           const std::string& mirror_table, bool mirror) {
  const std::string done = quoteIdentifier(prefix + "write_back_done", dialect);
  std::vector<std::string> sql;
  switch (dialect) {
    case SqlDialect::kSqlite:
      sql.push_back(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (job_id INTEGER NOT NULL, status TEXT NOT NULL, "
          "action_index INTEGER NOT NULL, done_at TEXT NOT NULL, PRIMARY KEY (job_id, status, "
          "action_index))",
          done));
      break;
    case SqlDialect::kPostgres:
      sql.push_back(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (job_id bigint NOT NULL, status text NOT NULL, "
          "action_index integer NOT NULL, done_at timestamptz NOT NULL, PRIMARY KEY (job_id, "
          "status, action_index))",
          done));
      break;
    case SqlDialect::kMysql:
      sql.push_back(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (job_id BIGINT NOT NULL, status VARCHAR(16) NOT NULL, "
          "action_index INT NOT NULL, done_at DATETIME(3) NOT NULL, PRIMARY KEY (job_id, status, "
          "action_index)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
          done));
      break;
  }
  if (!mirror) return sql;
  const std::string t = quoteIdentifier(mirror_table, dialect);
  const std::string idx = quoteIdentifier(mirror_table + "_entity", dialect);
  switch (dialect) {
    case SqlDialect::kSqlite:
      sql.push_back(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (job_id INTEGER PRIMARY KEY, mapping TEXT NOT NULL, "
          "entity_table TEXT, entity_id TEXT, recipient TEXT, status TEXT NOT NULL, "
          "status_reason TEXT, provider TEXT, provider_message_id TEXT, updated_at TEXT NOT "
          "NULL)",
          t));
      sql.push_back(
          fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (entity_table, entity_id)", idx, t));
      break;
    case SqlDialect::kPostgres:
      sql.push_back(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (job_id bigint PRIMARY KEY, mapping text NOT NULL, "
          "entity_table text, entity_id text, recipient text, status text NOT NULL, "
          "status_reason text, provider text, provider_message_id text, updated_at timestamptz "
          "NOT NULL)",
          t));
      sql.push_back(
          fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (entity_table, entity_id)", idx, t));
      break;
    case SqlDialect::kMysql:
      sql.push_back(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (job_id BIGINT NOT NULL PRIMARY KEY, mapping "
          "VARCHAR(191) NOT NULL, entity_table VARCHAR(191), entity_id VARCHAR(191), recipient "
          "VARCHAR(191), status VARCHAR(16) NOT NULL, status_reason TEXT, provider VARCHAR(64), "
          "provider_message_id VARCHAR(191), updated_at DATETIME(3) NOT NULL, KEY {} "
          "(entity_table, entity_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
          "COLLATE=utf8mb4_bin",
          t, idx));
      break;
  }
  return sql;
}

Row writeBackParams(const LoggedStatusChange& change, SqlDialect dialect) {
  const SmsJob& job = change.job;
  Row row;
  row.set("job_id", job.id);
  row.set("status", std::string(statusName(change.status)));
  row.set("status_reason", textOrNull(job.status_reason));
  row.set("provider", textOrNull(job.provider));
  row.set("provider_message_id", textOrNull(job.provider_message_id));
  row.set("entity_table", job.entity_table);
  row.set("entity_id", job.entity_id);
  row.set("mapping", job.mapping);
  row.set("source", job.source);
  row.set("recipient", textOrNull(job.recipient));
  row.set("lane", std::string(laneName(job.lane)));
  row.set("segments", job.segments);
  row.set("price", job.price ? Value(*job.price) : Value(NullValue{}));
  row.set("currency", textOrNull(job.currency));
  row.set("changed_at", sourceTime(change.changed_at, dialect));
  return row;
}

WriteBack::WriteBack(WriteBackConfig config, JobStore& store, Clock& clock)
    : config_(std::move(config)), store_(store), clock_(clock) {}

std::string WriteBack::table(std::string_view name, SqlDialect dialect) const {
  return quoteIdentifier(config_.prefix + std::string(name), dialect);
}

Result<SqlSession*> WriteBack::sessionFor(const std::string& name, const WriteBackSource& source) {
  auto it = sessions_.find(name);
  if (it != sessions_.end()) return it->second.get();
  if (!source.open_sql) {
    return configError("source '" + name + "' cannot run write-back SQL (no SQL session)");
  }
  auto session = source.open_sql();
  if (!session) return session.error();
  SqlSession* raw = session->get();
  sessions_[name] = std::move(*session);
  return raw;
}

Result<int> WriteBack::runOnce() {
  auto changes = store_.pendingStatusChanges(config_.batch_size, clock_.now());
  if (!changes) return changes.error();
  std::vector<StatusChangeResult> results;
  results.reserve(changes->size());
  std::set<std::string> unreachable;  // sources that failed to connect in this round
  for (const LoggedStatusChange& change : *changes) results.push_back(handle(change, unreachable));
  if (!results.empty())
    SMSBRIDGE_RETURN_IF_ERROR(store_.finishStatusChanges(results, clock_.now()));
  return static_cast<int>(changes->size());
}

void WriteBack::run(const std::function<bool(std::chrono::milliseconds)>& wait) {
  while (true) {
    auto taken = runOnce();
    if (!taken) {
      spdlog::warn("Write-back could not read or update the store; retrying. in_ms={} error=\"{}\"",
                   config_.poll_interval.count(), taken.error().toString());
    }
    // A full batch means more may be waiting: go on at once (but still notice a stop).
    const bool more = taken && *taken >= config_.batch_size;
    if (wait(more ? std::chrono::milliseconds(0) : config_.poll_interval)) return;
  }
}

StatusChangeResult WriteBack::handle(const LoggedStatusChange& change,
                                     std::set<std::string>& unreachable) {
  StatusChangeResult result;
  result.change_id = change.id;
  const std::string& source_name = change.job.source;
  auto source_it = config_.sources.find(source_name);
  auto actions_it = config_.actions.find(change.job.mapping);
  if (source_it == config_.sources.end()) return result;  // no write-back there (any more)
  const WriteBackSource& source = source_it->second;
  std::vector<std::size_t> due;  // the actions this status runs
  if (actions_it != config_.actions.end()) {
    for (std::size_t i = 0; i < actions_it->second.size(); ++i) {
      if (actions_it->second[i].runsOn(change.status)) due.push_back(i);
    }
  }
  if (due.empty() && !source.mirror) return result;

  auto fail = [&](const Status& error) {
    const int attempts = change.attempts + 1;
    result.error = error.toString();
    if (error.category() == ErrorCategory::kTransient) {
      sessions_.erase(source_name);  // reconnect next time
    }
    if (error.category() != ErrorCategory::kTransient && attempts >= config_.max_attempts) {
      result.state = StatusChangeResult::State::kFailed;
      spdlog::error(
          "Write-back gave up on a status change. job_id={} status={} mapping={} attempts={} "
          "error=\"{}\"",
          change.job.id, statusName(change.status), change.job.mapping, attempts, result.error);
      return result;
    }
    std::chrono::milliseconds delay =
        config_.retry_base * (std::int64_t{1} << std::min(attempts - 1, 20));
    delay = std::min<std::chrono::milliseconds>(delay, config_.retry_max);
    result.state = StatusChangeResult::State::kRetry;
    result.next_try_at = clock_.now() + delay;
    spdlog::warn(
        "Write-back failed; retrying. job_id={} status={} mapping={} attempts={} in_ms={} "
        "error=\"{}\"",
        change.job.id, statusName(change.status), change.job.mapping, attempts, delay.count(),
        result.error);
    return result;
  };

  if (change.job.id == 0) {
    result.state = StatusChangeResult::State::kFailed;
    result.error = "the job of this status change no longer exists";
    return result;
  }
  if (unreachable.count(source_name)) {
    return fail(transientError("source '" + source_name + "' is unreachable"));
  }
  auto session = sessionFor(source_name, source);
  if (!session) {
    if (session.error().category() == ErrorCategory::kTransient) unreachable.insert(source_name);
    return fail(session.error());
  }
  for (std::size_t i : due) {
    Status s = runAction(**session, source, change, i, actions_it->second[i]);
    if (!s.isOk()) return fail(s.withContext("write_back[" + std::to_string(i) + "]"));
  }
  if (source.mirror) {
    Status s = mirror(**session, source, change);
    if (!s.isOk()) return fail(s.withContext(config_.mirror_table));
  }
  return result;
}

Status WriteBack::runAction(SqlSession& session, const WriteBackSource& source,
                            const LoggedStatusChange& change, std::size_t index,
                            const WriteBackAction& action) {
  const Row marker{{"job_id", change.job.id},
                   {"status", std::string(statusName(change.status))},
                   {"action_index", static_cast<std::int64_t>(index)},
                   {"done_at", sourceTime(clock_.now(), source.dialect)}};
  const SqlSession::Statement statements[] = {
      {"INSERT INTO " + table("write_back_done", source.dialect) +
           " (job_id, status, action_index, done_at) VALUES (:job_id, :status, :action_index, "
           ":done_at)",
       marker},
      {action.sql, writeBackParams(change, source.dialect)},
  };
  auto done = session.executeAll(statements);
  if (done) return Status::ok();
  // The marker is written first: when it exists, this action committed before (the bridge
  // stopped before the store recorded it), and running it again would do it twice.
  const Row key{{"job_id", change.job.id},
                {"status", std::string(statusName(change.status))},
                {"action_index", static_cast<std::int64_t>(index)}};
  auto found = session.query("SELECT 1 FROM " + table("write_back_done", source.dialect) +
                                 " WHERE job_id = :job_id AND status = :status AND "
                                 "action_index = :action_index",
                             key);
  if (found && !found->empty()) {
    spdlog::info(
        "Write-back action had already run; not running it again. job_id={} status={} "
        "action={}",
        change.job.id, statusName(change.status), index);
    return Status::ok();
  }
  return done.error();
}

Status WriteBack::mirror(SqlSession& session, const WriteBackSource& source,
                         const LoggedStatusChange& change) {
  // The job as it is now, not as it was at this change: the table converges on the latest
  // status even when changes are handled late. The updated_at guard keeps a slower bridge
  // instance sharing the store from writing an older state over a newer one.
  const SmsJob& job = change.job;
  const Row params{{"job_id", job.id},
                   {"mapping", job.mapping},
                   {"entity_table", job.entity_table},
                   {"entity_id", job.entity_id},
                   {"recipient", textOrNull(job.recipient)},
                   {"status", std::string(statusName(job.status))},
                   {"status_reason", textOrNull(job.status_reason)},
                   {"provider", textOrNull(job.provider)},
                   {"provider_message_id", textOrNull(job.provider_message_id)},
                   {"updated_at", sourceTime(job.updated_at, source.dialect)}};
  const std::string t = quoteIdentifier(config_.mirror_table, source.dialect);
  std::string sql = "INSERT INTO " + t +
                    " (job_id, mapping, entity_table, entity_id, recipient, status, "
                    "status_reason, provider, provider_message_id, updated_at) VALUES (:job_id, "
                    ":mapping, :entity_table, :entity_id, :recipient, :status, :status_reason, "
                    ":provider, :provider_message_id, :updated_at) ";
  if (source.dialect == SqlDialect::kMysql) {
    // MySQL assigns left to right, so updated_at, which the others compare with, comes last.
    auto keep_newer = [](std::string_view col) {
      return fmt::format("{0} = IF(VALUES(updated_at) >= updated_at, VALUES({0}), {0})", col);
    };
    sql += "ON DUPLICATE KEY UPDATE ";
    for (const char* col :
         {"status", "status_reason", "provider", "provider_message_id", "recipient"}) {
      sql += keep_newer(col) + ", ";
    }
    sql += "updated_at = GREATEST(updated_at, VALUES(updated_at))";
  } else {
    sql +=
        "ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, status_reason = "
        "excluded.status_reason, provider = excluded.provider, provider_message_id = "
        "excluded.provider_message_id, recipient = excluded.recipient, updated_at = "
        "excluded.updated_at WHERE " +
        t + ".updated_at <= excluded.updated_at";
  }
  auto r = session.execute(sql, params);
  return r.status();
}

}  // namespace smsbridge
