#include "connectors/postgres/pg_store.h"

#include <set>

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "connectors/store_rules.h"
#include "core/clock.h"
#include "core/sql_ident.h"

namespace smsbridge::postgres {
namespace {

// Times go in as the text formatTimestamp writes (cast to timestamptz) and come out as epoch
// microseconds, so no time-zone setting of the server or session can shift them.
constexpr char kMessageColumns[] =
    "id, dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, sender, "
    "body, encoding, segments, lane, route, status, status_reason, attempts, provider, "
    "provider_message_id, price, currency, "
    "(extract(epoch FROM not_before) * 1000000)::bigint, "
    "(extract(epoch FROM expires_at) * 1000000)::bigint, lease_owner, "
    "(extract(epoch FROM lease_until) * 1000000)::bigint, "
    "(extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint, "
    "(extract(epoch FROM sent_at) * 1000000)::bigint, "
    "(extract(epoch FROM final_at) * 1000000)::bigint";

std::string optTime(const std::optional<TimePoint>& t) {
  return t ? formatTimestamp(*t) : std::string();
}

std::optional<TimePoint> timeOf(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::microseconds(f.as<long long>())));
}

std::string text(const pqxx::field& f) { return f.is_null() ? std::string() : f.c_str(); }

// A PostgreSQL array literal of text ('{"a","b\\"c"}'), built for one parameter: every
// element is quoted and escaped, so no value is ever spliced into SQL and any text survives.
class TextArray {
 public:
  void add(std::string_view value) {
    literal_ += literal_.empty() ? '{' : ',';
    literal_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') literal_ += '\\';
      literal_ += c;
    }
    literal_ += '"';
  }
  std::string str() const { return literal_.empty() ? "{}" : literal_ + "}"; }

 private:
  std::string literal_;
};

SmsJob readJob(const pqxx::row& r) {
  SmsJob job;
  job.id = r[0].as<long long>();
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
  job.segments = r[11].as<int>();
  job.lane = parseLane(text(r[12])).value_or(Lane::kTransactional);
  job.route = text(r[13]);
  job.status = parseStatus(text(r[14])).value_or(JobStatus::kFailed);
  job.status_reason = text(r[15]);
  job.attempts = r[16].as<int>();
  job.provider = text(r[17]);
  job.provider_message_id = text(r[18]);
  if (!r[19].is_null()) job.price = r[19].as<double>();
  job.currency = text(r[20]);
  job.not_before = timeOf(r[21]).value_or(TimePoint{});
  job.expires_at = timeOf(r[22]);
  job.lease_owner = text(r[23]);
  job.lease_until = timeOf(r[24]);
  job.created_at = timeOf(r[25]).value_or(TimePoint{});
  job.updated_at = timeOf(r[26]).value_or(TimePoint{});
  job.sent_at = timeOf(r[27]);
  job.final_at = timeOf(r[28]);
  return job;
}

}  // namespace

Result<std::unique_ptr<PostgresStore>> PostgresStore::create(
    const std::string& dsn, const std::string& prefix, std::chrono::milliseconds connect_timeout) {
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(prefix + "messages", "table prefix"));
  if (prefix.find('.') != std::string::npos) {
    return configError("table prefix '" + prefix + "' must not contain '.'");
  }
  auto conn = PgConnection::open(dsn, connect_timeout);
  if (!conn) return conn.error();
  return std::unique_ptr<PostgresStore>(
      new PostgresStore(std::move(*conn), prefix, dsn, connect_timeout));
}

std::string PostgresStore::table(std::string_view name) const {
  return quoteIdentifier(prefix_ + std::string(name), SqlDialect::kPostgres);
}

std::vector<std::string> PostgresStore::migrationSql() const {
  auto idx = [&](std::string_view name) { return table(name); };
  return {
      fmt::format("CREATE TABLE IF NOT EXISTS {} (component text PRIMARY KEY, version integer "
                  "NOT NULL, migrated_at timestamptz NOT NULL)",
                  table("schema")),
      fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (\n"
          "  id bigserial PRIMARY KEY,\n"
          "  dedup_key text NOT NULL UNIQUE,\n"
          "  source text NOT NULL,\n  mapping text NOT NULL,\n"
          "  entity_table text,\n  entity_id text,\n"
          "  recipient_raw text,\n  recipient text,\n  sender text,\n  body text NOT NULL,\n"
          "  encoding text NOT NULL,\n  segments integer NOT NULL,\n  lane text NOT NULL,\n"
          "  route text,\n  status text NOT NULL,\n  status_reason text,\n"
          "  attempts integer NOT NULL DEFAULT 0,\n  provider text,\n"
          "  provider_message_id text,\n  price double precision,\n  currency text,\n"
          "  not_before timestamptz NOT NULL,\n  expires_at timestamptz,\n  lease_owner text,\n"
          "  lease_until timestamptz,\n  created_at timestamptz NOT NULL,\n"
          "  updated_at timestamptz NOT NULL,\n  sent_at timestamptz,\n  final_at timestamptz,\n"
          "  provider_message_id_norm text)",
          table("messages")),
      // Schema 1 stores lack the column; reports are correlated by it (store_rules.h).
      fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS provider_message_id_norm text",
                  table("messages")),
      fmt::format("UPDATE {} SET provider_message_id_norm = lower(btrim(provider_message_id)) "
                  "WHERE provider_message_id_norm IS NULL AND provider_message_id IS NOT NULL",
                  table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (status, lane, not_before)",
                  idx("messages_due"), table("messages")),
      // What claimDue walks: only due-able rows, in its ORDER BY. Without it PostgreSQL sorted
      // every queued row on each claim (a seq scan and an on-disk sort, ~28 ms per claim with
      // 100k queued), which made claiming the limit of a large backlog.
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (lane, not_before, id) WHERE status IN "
                  "('queued', 'scheduled')",
                  idx("messages_claim"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (provider, provider_message_id)",
                  idx("messages_provider_id"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (provider, provider_message_id_norm)",
                  idx("messages_provider_norm"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (recipient)", idx("messages_recipient"),
                  table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (entity_table, entity_id)",
                  idx("messages_entity"), table("messages")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id bigserial PRIMARY KEY,\n"
                  "  message_id bigint NOT NULL REFERENCES {}(id),\n"
                  "  provider text NOT NULL,\n  outcome text NOT NULL,\n  http_status integer,\n"
                  "  error_code text,\n  error_message text,\n"
                  "  started_at timestamptz NOT NULL,\n  finished_at timestamptz NOT NULL)",
                  table("attempts"), table("messages")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (message_id)", idx("attempts_message"),
                  table("attempts")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (source text PRIMARY KEY, position text NOT "
                  "NULL, updated_at timestamptz NOT NULL)",
                  table("checkpoints")),
      // When each `sent` job was last asked about by the status poller (claimStatusPolls).
      fmt::format("CREATE TABLE IF NOT EXISTS {} (message_id bigint PRIMARY KEY, polls integer "
                  "NOT NULL, polled_at timestamptz NOT NULL, next_poll_at timestamptz NOT NULL)",
                  table("status_polls")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (source text NOT NULL, tbl text NOT NULL, pk "
                  "text NOT NULL, state text NOT NULL, updated_at timestamptz NOT NULL, PRIMARY "
                  "KEY (source, tbl, pk))",
                  table("shadow")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (recipient text PRIMARY KEY, reason text, "
                  "source text, created_at timestamptz NOT NULL)",
                  table("optouts")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id bigserial PRIMARY KEY,\n  provider text NOT NULL,\n"
                  "  provider_message_id text,\n  sender text NOT NULL,\n  recipient text,\n"
                  "  body text NOT NULL,\n  received_at timestamptz NOT NULL)",
                  table("inbound")),
      // Write-back's durable queue: one row per status change of a job whose mapping has
      // write-back, written in the transaction that changed the status.
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id bigserial PRIMARY KEY,\n"
                  "  job_id bigint NOT NULL REFERENCES {}(id),\n"
                  "  status text NOT NULL,\n  changed_at timestamptz NOT NULL,\n"
                  "  done_at timestamptz,\n  result text,\n"
                  "  attempts integer NOT NULL DEFAULT 0,\n  last_error text,\n"
                  "  next_try_at timestamptz NOT NULL)",
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
                  "  id bigserial PRIMARY KEY,\n  provider text NOT NULL,\n"
                  "  provider_message_id text NOT NULL,\n"
                  "  provider_message_id_norm text NOT NULL,\n  job_id bigint NOT NULL,\n"
                  "  status text NOT NULL,\n  provider_status text,\n  reason text,\n"
                  "  reported_at timestamptz NOT NULL,\n  parked_at timestamptz NOT NULL,\n"
                  "  UNIQUE (provider, provider_message_id_norm, job_id, status))",
                  table("reports_parked")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (provider, job_id)",
                  idx("reports_parked_job"), table("reports_parked")),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (parked_at)", idx("reports_parked_at"),
                  table("reports_parked")),
      fmt::format("INSERT INTO {} (component, version, migrated_at) VALUES ('store', {}, now()) "
                  "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
                  "migrated_at = excluded.migrated_at",
                  table("schema"), kSchemaVersion),
  };
}

Status PostgresStore::migrate() {
  std::lock_guard lock(mu_);
  return conn_->transact([&](pqxx::work& txn) -> Status {
    // Two instances running `setup` at once would race on CREATE ... IF NOT EXISTS (it is not
    // atomic against a concurrent creator); a transaction-scoped advisory lock orders them.
    txn.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))", prefix_ + "schema");
    for (const auto& sql : migrationSql()) txn.exec(sql);
    return Status::ok();
  });
}

Status PostgresStore::checkSchema() {
  std::lock_guard lock(mu_);
  bool exists = false;
  int version = 0;
  SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
    auto r = txn.exec_params("SELECT to_regclass($1) IS NOT NULL", table("schema"));
    exists = r[0][0].as<bool>();
    if (!exists) return Status::ok();
    auto v = txn.exec("SELECT version FROM " + table("schema") + " WHERE component = 'store'");
    version = v.empty() ? 0 : v[0][0].as<int>();
    return Status::ok();
  }));
  return storeSchemaStatus(exists ? std::optional<int>(version) : std::nullopt, kSchemaVersion,
                           prefix_, conn_->server());
}

Result<EnqueueResult> PostgresStore::enqueue(std::span<const SmsJob> jobs,
                                             const Checkpoint& checkpoint) {
  // Every job travels as one element of a column array, so a batch of any size is one
  // statement: jobs, checkpoint and (poll sources) shadow rows cost O(1) round trips instead
  // of one per job, which was the measured ceiling of logical capture.
  TextArray dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, sender,
      body, encoding, segments, lane, route, job_status, status_reason, not_before, expires_at,
      created_at, final_at;
  for (const SmsJob& job : jobs) {
    std::string created = formatTimestamp(job.created_at);
    dedup_key.add(job.dedup_key);
    source.add(job.source);
    mapping.add(job.mapping);
    entity_table.add(job.entity_table);
    entity_id.add(job.entity_id);
    recipient_raw.add(job.recipient_raw);
    recipient.add(job.recipient);
    sender.add(job.sender);
    body.add(job.body);
    encoding.add(encodingName(job.encoding));
    segments.add(std::to_string(job.segments));
    lane.add(laneName(job.lane));
    route.add(job.route);
    job_status.add(statusName(job.status));
    status_reason.add(job.status_reason);
    not_before.add(formatTimestamp(job.not_before));
    expires_at.add(optTime(job.expires_at));
    final_at.add(isFinal(job.status) ? created : std::string());
    created_at.add(std::move(created));
  }
  // WITH ORDINALITY + ORDER BY keeps ids in batch order; DO NOTHING also absorbs two jobs of
  // one batch with the same key (the first wins). The checkpoint CTE runs although nothing
  // reads it: data-modifying CTEs always run, in the same statement and snapshot.
  const std::string sql =
      "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
      "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
      "$12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], "
      "$18::text[], $19::text[]) WITH ORDINALITY AS j(dedup_key, source, mapping, "
      "entity_table, entity_id, recipient_raw, recipient, sender, body, encoding, segments, "
      "lane, route, status, status_reason, not_before, expires_at, created_at, final_at, ord)), "
      // Jobs of opt-out lanes to opted-out recipients are stored as suppressed, in this same
      // statement, so an opt-out that is on record never lets one through.
      "checked AS (SELECT input.*, (lane = ANY($22::text[]) AND recipient <> '' AND status IN "
      "('queued', 'scheduled') AND EXISTS (SELECT 1 FROM " +
      table("optouts") +
      " o WHERE o.recipient = input.recipient)) AS opted FROM input), "
      "inserted AS (INSERT INTO " +
      table("messages") +
      " (dedup_key, source, mapping, entity_table, entity_id, recipient_raw, recipient, "
      "sender, body, encoding, segments, lane, route, status, status_reason, not_before, "
      "expires_at, created_at, updated_at, final_at) SELECT dedup_key, source, mapping, "
      "entity_table, entity_id, recipient_raw, recipient, sender, body, encoding, "
      "segments::integer, lane, route, CASE WHEN opted THEN 'suppressed' ELSE status END, "
      "CASE WHEN opted THEN 'opted_out' ELSE status_reason END, not_before::timestamptz, "
      "NULLIF(expires_at, '')::timestamptz, created_at::timestamptz, created_at::timestamptz, "
      "CASE WHEN opted THEN created_at::timestamptz ELSE NULLIF(final_at, '')::timestamptz END "
      "FROM checked ORDER BY ord "
      "ON CONFLICT (dedup_key) DO NOTHING RETURNING id, status, mapping, created_at), "
      // Write-back: the first status of each new job of a write-back mapping (suppressed for
      // an opt-out included), in this same statement (the array is empty without write-back).
      "logged AS (INSERT INTO " +
      table("status_changes") +
      " (job_id, status, changed_at, next_try_at) SELECT id, status, created_at, created_at "
      "FROM inserted WHERE mapping = ANY($23::text[]) ORDER BY id), "
      "saved AS (INSERT INTO " +
      table("checkpoints") +
      " (source, position, updated_at) SELECT $20, $21, now() WHERE $21 <> '' "
      "ON CONFLICT (source) DO UPDATE SET position = excluded.position, "
      "updated_at = excluded.updated_at) "
      "SELECT count(*) FROM inserted";
  TextArray optout_lanes;
  {
    std::lock_guard settings(settings_mu_);
    for (Lane lane : optout_lanes_) optout_lanes.add(laneName(lane));
  }
  std::lock_guard lock(mu_);
  EnqueueResult result;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    result = EnqueueResult{};  // a retried body must not count twice
    // Prepared once per connection (libpqxx re-registers it after a reconnect): the statement
    // is planned once, not per batch.
    txn.conn().prepare("smsbridge_enqueue", sql);
    auto r = txn.exec_prepared(
        "smsbridge_enqueue", dedup_key.str(), source.str(), mapping.str(), entity_table.str(),
        entity_id.str(), recipient_raw.str(), recipient.str(), sender.str(), body.str(),
        encoding.str(), segments.str(), lane.str(), route.str(), job_status.str(),
        status_reason.str(), not_before.str(), expires_at.str(), created_at.str(), final_at.str(),
        checkpoint.source, checkpoint.position, optout_lanes.str(), write_back_mappings_);
    result.inserted = r[0][0].as<int>();
    result.duplicates = static_cast<int>(jobs.size()) - result.inserted;
    if (!checkpoint.shadow.empty()) saveShadow(txn, checkpoint);
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return result;
}

void PostgresStore::saveShadow(pqxx::work& txn, const Checkpoint& checkpoint) {
  TextArray tbl, pk, state;
  for (const ShadowEntry& entry : checkpoint.shadow) {
    tbl.add(entry.table);
    pk.add(entry.pk);
    state.add(entry.state);
  }
  // One upsert may touch a row only once: when a page names a row twice, the last entry wins,
  // as it did when the entries were written one by one.
  txn.exec_params("INSERT INTO " + table("shadow") +
                      " (source, tbl, pk, state, updated_at) SELECT DISTINCT ON (tbl, pk) $1, "
                      "tbl, pk, state, now() FROM unnest($2::text[], $3::text[], $4::text[]) "
                      "WITH ORDINALITY AS s(tbl, pk, state, ord) ORDER BY tbl, pk, ord DESC "
                      "ON CONFLICT (source, tbl, pk) DO UPDATE SET state = excluded.state, "
                      "updated_at = excluded.updated_at",
                  checkpoint.source, tbl.str(), pk.str(), state.str());
}

Result<std::map<std::string, std::string>> PostgresStore::loadShadow(
    const std::string& source, const std::string& table_name, std::span<const std::string> pks) {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> states;
  if (pks.empty()) return states;
  // The keys travel as one JSON array parameter: one round trip per page of polled rows, and
  // no key text is ever spliced into the statement.
  const std::string keys = nlohmann::json(std::vector<std::string>(pks.begin(), pks.end())).dump();
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    states.clear();
    auto r = txn.exec_params("SELECT pk, state FROM " + table("shadow") +
                                 " WHERE source = $1 AND tbl = $2 AND pk IN "
                                 "(SELECT jsonb_array_elements_text($3::jsonb))",
                             source, table_name, keys);
    for (const auto& row : r) states.emplace(row[0].c_str(), row[1].c_str());
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return states;
}

Result<std::optional<std::string>> PostgresStore::loadCheckpoint(const std::string& source) {
  std::lock_guard lock(mu_);
  std::optional<std::string> position;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    auto r = txn.exec_params("SELECT position FROM " + table("checkpoints") + " WHERE source = $1",
                             source);
    if (!r.empty()) position = r[0][0].c_str();
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return position;
}

Result<std::vector<SmsJob>> PostgresStore::claimDue(Lane lane, int limit, const std::string& owner,
                                                    std::chrono::milliseconds lease,
                                                    TimePoint now) {
  return claimDueByPriority(std::span(&lane, 1), limit, owner, lease, now);
}

Result<std::vector<SmsJob>> PostgresStore::claimDueByPriority(std::span<const Lane> lanes,
                                                              int limit, const std::string& owner,
                                                              std::chrono::milliseconds lease,
                                                              TimePoint now) {
  std::vector<SmsJob> jobs;
  if (lanes.empty() || limit <= 0) return jobs;
  std::vector<Lane> optout_lanes;
  {
    std::lock_guard settings(settings_mu_);
    optout_lanes = optout_lanes_;
  }
  std::lock_guard lock(claim_mu_);
  if (!claim_conn_) {
    auto conn = PgConnection::open(dsn_, connect_timeout_);
    if (!conn) return conn.error();
    claim_conn_ = std::move(*conn);
  }
  const std::string now_text = formatTimestamp(now);
  int suppressed = 0;
  Status status = claim_conn_->autocommit([&](pqxx::nontransaction& txn) -> Status {
    jobs.clear();
    suppressed = 0;
    // One branch per lane, in priority order, under one LIMIT: the executor runs UNION ALL
    // branches in order and stops pulling rows once the limit is reached, so a lane is read
    // (and its rows locked) only when the lanes above had fewer due jobs than the limit. That
    // is the strict priority of claiming lane by lane, in one statement and one commit.
    // SKIP LOCKED: rows another instance is claiming right now are passed over instead of
    // waited for, and never returned twice.
    std::string due;
    for (Lane lane : lanes) {
      // Jobs of opt-out lanes whose recipient opted out after they were enqueued end here as
      // `suppressed` instead of being leased: the claim is the last moment before a send.
      const std::string opted =
          optOutApplies(lane, optout_lanes)
              ? "EXISTS (SELECT 1 FROM " + table("optouts") + " o WHERE o.recipient = q.recipient)"
              : std::string("false");
      if (!due.empty()) due += " UNION ALL ";
      due += "SELECT q.id AS claim_id, " + opted + " AS opted FROM (SELECT id, recipient FROM " +
             table("messages") + " WHERE status IN ('queued', 'scheduled') AND lane = " +
             txn.quote(std::string(laneName(lane))) +
             " AND not_before <= $3::timestamptz ORDER BY not_before, id LIMIT $4 FOR UPDATE "
             "SKIP LOCKED) q";
    }
    auto r = txn.exec_params(
        "UPDATE " + table("messages") +
            " AS m SET status = CASE WHEN c.opted THEN 'suppressed' ELSE 'sending' END, "
            "status_reason = CASE WHEN c.opted THEN 'opted_out' ELSE m.status_reason END, "
            "lease_owner = CASE WHEN c.opted THEN NULL ELSE $1 END, "
            "lease_until = CASE WHEN c.opted THEN NULL ELSE $2::timestamptz END, "
            "updated_at = $3::timestamptz, "
            "final_at = CASE WHEN c.opted THEN $3::timestamptz ELSE m.final_at END "
            "FROM (" +
            due + " LIMIT $4) c WHERE m.id = c.claim_id RETURNING " + std::string(kMessageColumns),
        owner, formatTimestamp(now + lease), now_text, limit);
    for (const auto& row : r) {
      SmsJob job = readJob(row);
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
    spdlog::info("Jobs to opted-out recipients suppressed instead of sent. count={}", suppressed);
  }
  // RETURNING has no order; the dispatcher expects lane by lane, oldest first.
  auto rank = [&](Lane lane) {
    return std::find(lanes.begin(), lanes.end(), lane) - lanes.begin();
  };
  std::sort(jobs.begin(), jobs.end(), [&](const SmsJob& a, const SmsJob& b) {
    if (a.lane != b.lane) return rank(a.lane) < rank(b.lane);
    return a.not_before != b.not_before ? a.not_before < b.not_before : a.id < b.id;
  });
  return jobs;
}

Status PostgresStore::recordOutcome(const JobOutcome& outcome, const std::string& owner,
                                    TimePoint now) {
  return recordOutcomes(std::span(&outcome, 1), owner, now).front();
}

std::vector<Status> PostgresStore::recordOutcomes(std::span<const JobOutcome> outcomes,
                                                  const std::string& owner, TimePoint now) {
  // One commit for the whole round: the dispatcher records a batch of outcomes at a time, and
  // a commit per outcome made the commit, not the provider, the limit of a busy bridge.
  std::vector<Status> statuses(outcomes.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (!canTransition(JobStatus::kSending, outcomes[i].status)) {
      statuses[i] = internalError("dispatcher asked for sending -> " +
                                  std::string(statusName(outcomes[i].status)));
    }
  }
  std::lock_guard lock(mu_);
  std::string now_text = formatTimestamp(now);
  std::vector<const JobOutcome*> valid;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (statuses[i].isOk()) valid.push_back(&outcomes[i]);
  }
  AppliedOutcomes result;
  // One statement committed on its own: a round costs one round trip, not five (BEGIN, the
  // attempts, the update, the parked reports, COMMIT), and every one of them held the send
  // slots of the outcomes waiting to be recorded.
  Status status = conn_->autocommit([&](pqxx::nontransaction& txn) -> Status {
    result = applyOutcomes(txn, valid, owner, now_text);
    return Status::ok();
  });
  const std::set<std::int64_t>& applied = result.applied;
  if (status.isOk() && !result.parked.empty()) {
    // Reports that arrived before these send results wait parked; they apply now, in a
    // transaction of their own. Should it fail they stay parked, and dropParkedReports()
    // applies them later: the send results above are recorded either way.
    std::vector<const JobOutcome*> sent;
    for (const JobOutcome* o : valid) {
      if (result.parked.count(o->job_id)) sent.push_back(o);
    }
    Status released = conn_->transact([&](pqxx::work& txn) -> Status {
      releaseParkedReports(txn, sent, now_text);
      return Status::ok();
    });
    if (!released.isOk()) {
      spdlog::warn("Could not apply parked delivery reports yet; they stay parked. error=\"{}\"",
                   released.toString());
    }
  }
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (!statuses[i].isOk()) continue;
    if (!status.isOk()) {
      statuses[i] = status;
    } else if (!applied.count(outcomes[i].job_id)) {
      statuses[i] =
          transientError("job " + std::to_string(outcomes[i].job_id) + " was no longer leased by " +
                         owner + "; its outcome was not applied");
    }
  }
  return statuses;
}

PostgresStore::AppliedOutcomes PostgresStore::applyOutcomes(
    pqxx::transaction_base& txn, std::span<const JobOutcome* const> outcomes,
    const std::string& owner, const std::string& now_text) {
  // The whole round in ONE statement, every value a literal escaped by libpq: a statement per
  // attempt and per outcome cost a round trip each, and those were most of a round's time even
  // against a server on loopback. Data-modifying CTEs all run, in one snapshot, atomically.
  AppliedOutcomes result;
  if (outcomes.empty()) return result;
  auto q = [&](const std::string& value) { return txn.quote(value); };
  std::string attempts, updates;
  for (const JobOutcome* o : outcomes) {
    const std::string id = std::to_string(o->job_id) + "::bigint";
    // Attempts are recorded even when the lease was lost: they are the audit trail of what
    // was actually sent to a provider.
    for (const AttemptRecord& a : o->attempts) {
      attempts += attempts.empty() ? "(" : ",(";
      attempts += id + "," + q(a.provider) + "," + q(a.outcome) + "," +
                  std::to_string(a.http_status) + "," + q(a.error_code) + "," + q(a.error_message) +
                  "," + q(formatTimestamp(a.started_at)) + "::timestamptz," +
                  q(formatTimestamp(a.finished_at)) + "::timestamptz)";
    }
    const bool sent = o->status == JobStatus::kSent;
    updates += updates.empty() ? "(" : ",(";
    updates += id + "," + q(std::string(statusName(o->status))) + "," + q(o->status_reason) + "," +
               q(o->provider) + "," + q(o->provider_message_id) + "," +
               q(o->price ? fmt::format("{:.17g}", *o->price) : std::string()) + "," +
               q(o->currency) + "," + std::to_string(o->attempts.size()) + "," +
               q(o->status == JobStatus::kQueued ? formatTimestamp(o->not_before) : "") + "," +
               q(sent ? now_text : "") + "," + q(isFinal(o->status) ? now_text : "") + "," +
               q(normaliseProviderMessageId(o->provider_message_id)) + ")";
  }
  std::string sql =
      "WITH o(id, status, status_reason, provider, provider_message_id, price, "
      "currency, attempts, not_before, sent_at, final_at, norm) AS (VALUES " +
      updates + "), ";
  if (!attempts.empty()) {
    sql += "a AS (INSERT INTO " + table("attempts") +
           " (message_id, provider, outcome, http_status, error_code, error_message, "
           "started_at, finished_at) VALUES " +
           attempts + "), ";
  }
  sql +=
      "u AS (UPDATE " + table("messages") +
      " AS m SET status = o.status, status_reason = o.status_reason, "
      "provider = COALESCE(NULLIF(o.provider, ''), m.provider), "
      "provider_message_id = COALESCE(NULLIF(o.provider_message_id, ''), m.provider_message_id), "
      "price = COALESCE(NULLIF(o.price, '')::double precision, m.price), "
      "currency = COALESCE(NULLIF(o.currency, ''), m.currency), "
      "attempts = m.attempts + o.attempts, "
      "not_before = COALESCE(NULLIF(o.not_before, '')::timestamptz, m.not_before), "
      "lease_owner = NULL, lease_until = NULL, updated_at = " +
      q(now_text) +
      "::timestamptz, sent_at = COALESCE(NULLIF(o.sent_at, '')::timestamptz, m.sent_at), "
      "final_at = NULLIF(o.final_at, '')::timestamptz, provider_message_id_norm = "
      "COALESCE(NULLIF(o.norm, ''), m.provider_message_id_norm) FROM o WHERE m.id = o.id AND "
      "m.status = 'sending' AND m.lease_owner = " +
      q(owner) + " RETURNING m.id, m.status, m.mapping, m.provider, o.norm)";
  if (write_back_mappings_ != "{}") {
    // Write-back: every applied outcome but a retry back to `queued` (the dispatcher's
    // business, not a status anyone acts on) is logged, in this same statement.
    sql += ", l AS (INSERT INTO " + table("status_changes") +
           " (job_id, status, changed_at, next_try_at) SELECT id, status, " + q(now_text) +
           "::timestamptz, " + q(now_text) +
           "::timestamptz FROM u WHERE status <> 'queued' AND mapping = ANY(" +
           q(write_back_mappings_) + "::text[]) ORDER BY id)";
  }
  // Which sent jobs have reports parked for them: applied afterwards (recordOutcomes).
  sql += " SELECT u.id, u.status = 'sent' AND EXISTS (SELECT 1 FROM " + table("reports_parked") +
         " p WHERE p.provider = u.provider AND (p.provider_message_id_norm = NULLIF(u.norm, '') "
         "OR p.job_id = u.id)) FROM u";
  auto r = txn.exec(sql);
  for (const auto& row : r) {
    auto id = row[0].as<std::int64_t>();
    result.applied.insert(id);
    if (row[1].as<bool>()) result.parked.insert(id);
  }
  return result;
}

Result<int> PostgresStore::requeueExpiredLeases(TimePoint now) {
  std::lock_guard lock(mu_);
  int count = 0;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    std::string now_text = formatTimestamp(now);
    auto r = txn.exec_params("UPDATE " + table("messages") +
                                 " SET status = 'queued', status_reason = 'in_doubt: lease "
                                 "expired, resending', lease_owner = NULL, lease_until = NULL, "
                                 "updated_at = $1::timestamptz "
                                 "WHERE status = 'sending' AND lease_until < $1::timestamptz",
                             now_text);
    count = static_cast<int>(r.affected_rows());
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return count;
}

Result<int> PostgresStore::holdExpiredLeases(TimePoint now, std::span<const std::string> routes) {
  std::lock_guard lock(mu_);
  int count = 0;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    std::string now_text = formatTimestamp(now);
    std::vector<std::int64_t> held;
    for (const std::string& route : routes) {
      auto r = txn.exec_params(
          "UPDATE " + table("messages") +
              " SET status = 'failed', status_reason = 'in_doubt: lease expired while sending; the "
              "provider may have sent it, so it is held (route in_doubt: hold)', "
              "lease_owner = NULL, lease_until = NULL, "
              "updated_at = $1::timestamptz, final_at = $1::timestamptz "
              "WHERE status = 'sending' AND lease_until < $1::timestamptz "
              "AND route = $2 RETURNING id",
          now_text, route);
      count += static_cast<int>(r.affected_rows());
      for (const auto& row : r) held.push_back(row[0].as<std::int64_t>());
    }
    logStatusChanges(txn, held, now_text);
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return count;
}

Result<ReportEffect> PostgresStore::applyDeliveryReport(const DeliveryReport& report,
                                                        TimePoint now) {
  auto effects = applyDeliveryReports(std::span(&report, 1), now);
  if (!effects) return effects.error();
  return effects->front();
}

Result<std::vector<ReportEffect>> PostgresStore::applyDeliveryReports(
    std::span<const DeliveryReport> reports, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<ReportEffect> effects;
  if (reports.empty()) return effects;
  const std::string now_text = formatTimestamp(now);
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    effects = applyReports(txn, reports, now_text, /*park=*/true);
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return effects;
}

std::vector<ReportEffect> PostgresStore::applyReports(pqxx::work& txn,
                                                      std::span<const DeliveryReport> reports,
                                                      const std::string& now_text, bool park) {
  // A batch costs at most three statements, whatever its size: find and lock the jobs, write
  // their changes, park the rest. Rows are locked in id order, so two batches naming the same
  // jobs wait for each other instead of deadlocking.
  TextArray provider, id, norm, job_id;
  for (const DeliveryReport& report : reports) {
    provider.add(report.provider);
    id.add(report.provider_message_id);
    norm.add(normaliseProviderMessageId(report.provider_message_id));
    job_id.add(std::to_string(report.job_id));
  }
  auto r = txn.exec_params(
      "WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH "
      "ORDINALITY AS i(provider, pmid, norm, job_id, ord)), "
      "r AS (SELECT i.ord, j.id FROM i CROSS JOIN LATERAL (SELECT m.id FROM " +
          table("messages") +
          " m WHERE m.provider = i.provider AND (m.provider_message_id_norm = NULLIF(i.norm, "
          "'') OR m.id = NULLIF(i.job_id, 0)) ORDER BY m.provider_message_id = i.pmid DESC "
          "NULLS LAST, m.provider_message_id_norm = i.norm DESC NULLS LAST, m.id LIMIT 1) j), "
          "locked AS (SELECT id, status FROM " +
          table("messages") +
          " WHERE id IN (SELECT id FROM r) ORDER BY id FOR UPDATE) "
          "SELECT r.ord, l.id, l.status FROM r JOIN locked l ON l.id = r.id",
      provider.str(), id.str(), norm.str(), job_id.str());
  std::vector<std::optional<MatchedJob>> matches(reports.size());
  for (const auto& row : r) {
    auto ord = row[0].as<std::size_t>();
    auto current = parseStatus(row[2].c_str());
    if (ord >= 1 && ord <= reports.size() && current) {
      matches[ord - 1] = MatchedJob{row[1].as<std::int64_t>(), *current};
    }
  }
  ReportPlan plan = planReports(reports, matches);
  writeStatusChanges(txn, plan.changes, now_text);
  if (park) {
    TextArray p_provider, p_id, p_norm, p_job, p_status, p_provider_status, p_reason, p_reported;
    bool any = false;
    for (std::size_t i = 0; i < reports.size(); ++i) {
      if (plan.effects[i] != ReportEffect::kParked) continue;
      const DeliveryReport& report = reports[i];
      any = true;
      p_provider.add(report.provider);
      p_id.add(report.provider_message_id);
      p_norm.add(normaliseProviderMessageId(report.provider_message_id));
      p_job.add(std::to_string(report.job_id));
      p_status.add(statusName(report.status));
      p_provider_status.add(report.provider_status);
      p_reason.add(report.reason);
      p_reported.add(formatTimestamp(report.reported_at));
    }
    if (any) {
      txn.exec_params("INSERT INTO " + table("reports_parked") +
                          " (provider, provider_message_id, provider_message_id_norm, job_id, "
                          "status, provider_status, reason, reported_at, parked_at) SELECT p.*, "
                          "$9::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], "
                          "$4::bigint[], $5::text[], $6::text[], $7::text[], "
                          "$8::timestamptz[]) AS p ON CONFLICT (provider, "
                          "provider_message_id_norm, job_id, status) DO NOTHING",
                      p_provider.str(), p_id.str(), p_norm.str(), p_job.str(), p_status.str(),
                      p_provider_status.str(), p_reason.str(), p_reported.str(), now_text);
    }
  }
  return plan.effects;
}

void PostgresStore::writeStatusChanges(pqxx::work& txn, std::span<const StatusChange> changes,
                                       const std::string& now_text) {
  if (changes.empty()) return;
  TextArray id, from, to, reason, final_at;
  for (const StatusChange& change : changes) {
    id.add(std::to_string(change.job_id));
    from.add(statusName(change.from));
    to.add(statusName(change.to));
    reason.add(change.reason);
    final_at.add(isFinal(change.to) ? now_text : std::string());
  }
  auto r =
      txn.exec_params("UPDATE " + table("messages") +
                          " AS m SET status = c.to_status, status_reason = "
                          "COALESCE(NULLIF(c.reason, ''), m.status_reason), updated_at = "
                          "$6::timestamptz, final_at = NULLIF(c.final_at, '')::timestamptz FROM "
                          "unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS "
                          "c(id, from_status, to_status, reason, final_at) WHERE m.id = c.id AND "
                          "m.status = c.from_status RETURNING m.id",
                      id.str(), from.str(), to.str(), reason.str(), final_at.str(), now_text);
  // Every report that moves a job, batched, parked or released, passes here: one place to log.
  std::vector<std::int64_t> changed;
  for (const auto& row : r) changed.push_back(row[0].as<std::int64_t>());
  logStatusChanges(txn, changed, now_text);
}

namespace {

// Columns of <prefix>reports_parked as readParked() reads them.
constexpr char kParkedColumns[] =
    "p.id, p.provider, p.provider_message_id, p.job_id, p.status, p.provider_status, p.reason, "
    "(extract(epoch FROM p.reported_at) * 1000000)::bigint";

DeliveryReport readParked(const pqxx::row& r) {
  DeliveryReport report;
  report.provider = text(r[1]);
  report.provider_message_id = text(r[2]);
  report.job_id = r[3].as<std::int64_t>();
  report.status = parseStatus(text(r[4])).value_or(JobStatus::kFailed);
  report.provider_status = text(r[5]);
  report.reason = text(r[6]);
  report.reported_at = timeOf(r[7]).value_or(TimePoint{});
  return report;
}

}  // namespace

void PostgresStore::releaseParkedReports(pqxx::work& txn, std::span<const JobOutcome* const> sent,
                                         const std::string& now_text) {
  if (sent.empty()) return;
  TextArray job_id, provider, norm;
  for (const JobOutcome* o : sent) {
    job_id.add(std::to_string(o->job_id));
    provider.add(o->provider);
    norm.add(normaliseProviderMessageId(o->provider_message_id));
  }
  // One statement per round whether or not anything is parked: the parked rows of every job
  // just recorded as sent are deleted and come back to be applied here.
  auto r = txn.exec_params("DELETE FROM " + table("reports_parked") +
                               " AS p USING unnest($1::bigint[], $2::text[], $3::text[]) AS "
                               "o(job_id, provider, norm) WHERE p.provider = o.provider AND "
                               "(p.provider_message_id_norm = NULLIF(o.norm, '') OR p.job_id = "
                               "o.job_id) RETURNING " +
                               std::string(kParkedColumns) + ", o.job_id",
                           job_id.str(), provider.str(), norm.str());
  if (r.empty()) return;
  struct Parked {
    std::int64_t row_id;
    std::int64_t job_id;
    DeliveryReport report;
  };
  std::vector<Parked> parked;
  for (const auto& row : r) {
    parked.push_back({row[0].as<std::int64_t>(), row[8].as<std::int64_t>(), readParked(row)});
  }
  // In arrival order, as they would have been applied one by one.
  std::sort(parked.begin(), parked.end(),
            [](const Parked& a, const Parked& b) { return a.row_id < b.row_id; });
  std::vector<DeliveryReport> reports;
  std::vector<std::optional<MatchedJob>> matches;
  for (const Parked& p : parked) {
    reports.push_back(p.report);
    matches.push_back(MatchedJob{p.job_id, JobStatus::kSent});
  }
  writeStatusChanges(txn, planReports(reports, matches).changes, now_text);
}

Result<std::vector<DeliveryReport>> PostgresStore::dropParkedReports(TimePoint parked_before) {
  std::lock_guard lock(mu_);
  std::vector<DeliveryReport> dropped;
  const std::string now_text = formatTimestamp(std::chrono::system_clock::now());
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    dropped.clear();
    auto r = txn.exec_params("SELECT " + std::string(kParkedColumns) +
                                 ", p.parked_at < $1::timestamptz FROM " + table("reports_parked") +
                                 " AS p ORDER BY p.id FOR UPDATE",
                             formatTimestamp(parked_before));
    if (r.empty()) return Status::ok();
    std::vector<DeliveryReport> reports;
    for (const auto& row : r) reports.push_back(readParked(row));
    // Reports whose job got its send result meanwhile (one that raced the record) apply now.
    std::vector<ReportEffect> effects = applyReports(txn, reports, now_text, /*park=*/false);
    TextArray ids;
    bool any = false;
    for (std::size_t i = 0; i < reports.size(); ++i) {
      const bool parked = effects[i] == ReportEffect::kParked;
      const bool old = r[static_cast<int>(i)][8].as<bool>();
      if (parked && !old) continue;
      if (parked) dropped.push_back(reports[i]);
      ids.add(r[static_cast<int>(i)][0].c_str());
      any = true;
    }
    if (any) {
      txn.exec_params("DELETE FROM " + table("reports_parked") + " WHERE id = ANY($1::bigint[])",
                      ids.str());
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return dropped;
}

Status PostgresStore::recordInbound(const InboundSms& sms) {
  std::lock_guard lock(mu_);
  return conn_->transact([&](pqxx::work& txn) -> Status {
    txn.exec_params("INSERT INTO " + table("inbound") +
                        " (provider, provider_message_id, sender, recipient, body, received_at) "
                        "VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6::timestamptz) "
                        "ON CONFLICT DO NOTHING",
                    sms.provider, sms.provider_message_id, sms.sender, sms.recipient, sms.body,
                    formatTimestamp(sms.received_at));
    return Status::ok();
  });
}

Status PostgresStore::setOptOut(const std::string& recipient, bool opted_out,
                                const std::string& reason, TimePoint now) {
  std::lock_guard lock(mu_);
  return conn_->transact([&](pqxx::work& txn) -> Status {
    if (!opted_out) {
      txn.exec_params("DELETE FROM " + table("optouts") + " WHERE recipient = $1", recipient);
      return Status::ok();
    }
    txn.exec_params("INSERT INTO " + table("optouts") +
                        " (recipient, reason, created_at) VALUES ($1, $2, $3::timestamptz) "
                        "ON CONFLICT (recipient) DO UPDATE SET reason = excluded.reason, "
                        "created_at = excluded.created_at",
                    recipient, reason, formatTimestamp(now));
    return Status::ok();
  });
}

Result<bool> PostgresStore::isOptedOut(const std::string& recipient) {
  std::lock_guard lock(mu_);
  bool found = false;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    found =
        !txn.exec_params("SELECT 1 FROM " + table("optouts") + " WHERE recipient = $1", recipient)
             .empty();
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return found;
}

void PostgresStore::setOptOutLanes(std::vector<Lane> lanes) {
  std::lock_guard lock(settings_mu_);
  optout_lanes_ = std::move(lanes);
}

Result<std::vector<StatusPollCandidate>> PostgresStore::claimStatusPolls(
    const StatusPollQuery& query, TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<StatusPollCandidate> candidates;
  const std::string now_text = formatTimestamp(now);
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    candidates.clear();
    // SKIP LOCKED: a job another instance is claiming right now is left to it.
    auto r = txn.exec_params(
        "SELECT m.id, m.provider, m.provider_message_id, m.recipient, "
        "(extract(epoch FROM m.sent_at) * 1000000)::bigint FROM " +
            table("messages") + " m LEFT JOIN " + table("status_polls") +
            " p ON p.message_id = m.id WHERE m.status = 'sent' AND m.provider = $1 AND "
            "m.provider_message_id <> '' AND m.sent_at <= $2::timestamptz AND "
            "m.sent_at >= $3::timestamptz AND (p.next_poll_at IS NULL OR "
            "p.next_poll_at <= $4::timestamptz) ORDER BY m.sent_at, m.id LIMIT $5 "
            "FOR UPDATE OF m SKIP LOCKED",
        query.provider, formatTimestamp(query.sent_until), formatTimestamp(query.sent_from),
        now_text, query.limit);
    for (const auto& row : r) {
      StatusPollCandidate candidate;
      candidate.job_id = row[0].as<std::int64_t>();
      candidate.provider = text(row[1]);
      candidate.provider_message_id = text(row[2]);
      candidate.recipient = text(row[3]);
      candidate.sent_at = timeOf(row[4]).value_or(TimePoint{});
      txn.exec_params("INSERT INTO " + table("status_polls") +
                          " (message_id, polls, polled_at, next_poll_at) VALUES ($1, 1, "
                          "$2::timestamptz, $3::timestamptz) ON CONFLICT (message_id) DO UPDATE "
                          "SET polls = " +
                          table("status_polls") +
                          ".polls + 1, polled_at = excluded.polled_at, "
                          "next_poll_at = excluded.next_poll_at",
                      candidate.job_id, now_text,
                      formatTimestamp(nextStatusPoll(candidate.sent_at, now, query.min_interval)));
      candidates.push_back(std::move(candidate));
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return candidates;
}

Result<std::vector<std::pair<JobStatus, int>>> PostgresStore::countByStatus() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<JobStatus, int>> counts;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    counts.clear();
    auto r = txn.exec("SELECT status, count(*) FROM " + table("messages") +
                      " GROUP BY status ORDER BY status");
    for (const auto& row : r) {
      if (auto s = parseStatus(row[0].c_str())) counts.emplace_back(*s, row[1].as<int>());
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return counts;
}

// ---- Write-back: the status change log ---------------------------------------------------

void PostgresStore::setWriteBackMappings(std::vector<std::string> mappings) {
  TextArray array;
  for (const std::string& m : mappings) array.add(m);
  std::lock_guard lock(mu_);
  write_back_mappings_ = array.str();
}

void PostgresStore::logStatusChanges(pqxx::work& txn, const std::vector<std::int64_t>& job_ids,
                                     const std::string& now_text) {
  if (write_back_mappings_ == "{}" || job_ids.empty()) return;
  TextArray ids;
  for (std::int64_t id : job_ids) ids.add(std::to_string(id));
  txn.exec_params("INSERT INTO " + table("status_changes") +
                      " (job_id, status, changed_at, next_try_at) SELECT id, status, "
                      "$2::timestamptz, $2::timestamptz FROM " +
                      table("messages") +
                      " WHERE id = ANY($1::bigint[]) AND mapping = ANY($3::text[]) ORDER BY id",
                  ids.str(), now_text, write_back_mappings_);
}

Result<std::vector<LoggedStatusChange>> PostgresStore::pendingStatusChanges(int limit,
                                                                            TimePoint now) {
  std::lock_guard lock(mu_);
  std::vector<LoggedStatusChange> changes;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    changes.clear();
    auto r = txn.exec_params(
        "SELECT c.id, c.job_id, c.status, (extract(epoch FROM c.changed_at) * 1000000)::bigint, "
        "c.attempts FROM " +
            table("status_changes") +
            " AS c WHERE c.done_at IS NULL AND c.next_try_at <= $1::timestamptz AND NOT EXISTS "
            "(SELECT 1 FROM " +
            table("status_changes") +
            " AS e WHERE e.job_id = c.job_id AND e.id < c.id AND e.done_at IS NULL) "
            "ORDER BY c.id LIMIT $2",
        formatTimestamp(now), limit);
    TextArray ids;
    for (const auto& row : r) {
      LoggedStatusChange change;
      change.id = row[0].as<std::int64_t>();
      change.job.id = row[1].as<std::int64_t>();
      change.status = parseStatus(text(row[2])).value_or(JobStatus::kFailed);
      change.changed_at = timeOf(row[3]).value_or(TimePoint{});
      change.attempts = row[4].as<int>();
      ids.add(std::to_string(change.job.id));
      changes.push_back(std::move(change));
    }
    if (changes.empty()) return Status::ok();
    auto jobs = txn.exec_params("SELECT " + std::string(kMessageColumns) + " FROM " +
                                    table("messages") + " WHERE id = ANY($1::bigint[])",
                                ids.str());
    std::map<std::int64_t, SmsJob> by_id;
    for (const auto& row : jobs) {
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

Status PostgresStore::finishStatusChanges(std::span<const StatusChangeResult> results,
                                          TimePoint now) {
  std::lock_guard lock(mu_);
  const std::string now_text = formatTimestamp(now);
  return conn_->transact([&](pqxx::work& txn) -> Status {
    for (const StatusChangeResult& r : results) {
      const bool retry = r.state == StatusChangeResult::State::kRetry;
      const std::string result =
          retry ? "" : (r.state == StatusChangeResult::State::kDone ? "done" : "failed");
      txn.exec_params("UPDATE " + table("status_changes") +
                          " SET attempts = attempts + 1, done_at = NULLIF($1, '')::timestamptz, "
                          "result = NULLIF($2, ''), last_error = NULLIF($3, ''), next_try_at = "
                          "COALESCE(NULLIF($4, '')::timestamptz, next_try_at) WHERE id = $5 AND "
                          "done_at IS NULL",
                      retry ? std::string() : now_text, result, r.error,
                      retry ? formatTimestamp(r.next_try_at) : std::string(), r.change_id);
    }
    return Status::ok();
  });
}

Result<std::vector<JobStore::StatusLaneCount>> PostgresStore::countByStatusAndLane() {
  std::lock_guard lock(mu_);
  std::vector<StatusLaneCount> counts;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    counts.clear();
    auto r = txn.exec("SELECT status, lane, count(*) FROM " + table("messages") +
                      " GROUP BY status, lane ORDER BY status, lane");
    for (const auto& row : r) {
      auto s = parseStatus(row[0].c_str());
      auto lane = parseLane(row[1].c_str());
      if (s && lane) counts.push_back({*s, *lane, row[2].as<std::int64_t>()});
    }
    return Status::ok();
  });
  if (!status.isOk()) return status;
  return counts;
}

}  // namespace smsbridge::postgres
