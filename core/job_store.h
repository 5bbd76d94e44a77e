#pragma once

// The durable heart of the bridge: jobs, attempts, checkpoints. Everything the bridge must not
// lose lives here (DESIGN.md §1, §2, §7). Implementations: connectors/<db>/*_store.
//
// Threading: a JobStore is shared by the capture threads, the dispatcher and the delivery
// report path; every method is thread-safe and blocking (it talks to a database). Errors are
// kTransient when retrying later may help (locked, connection lost) and kConfig/kInternal when
// it will not.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/shadow.h"
#include "core/sms_job.h"

namespace smsbridge {

// A source position, committed with the jobs it produced. Opaque text per connector.
struct Checkpoint {
  std::string source;
  std::string position;
  // Poll sources: shadow rows that belong to this position (core/shadow.h). They are written
  // in the same transaction, so a batch's jobs, watermark and shadow are durable together.
  std::vector<ShadowEntry> shadow = {};
};

struct EnqueueResult {
  int inserted = 0;
  int duplicates = 0;  // jobs whose dedup_key already existed: a replayed change
};

// One provider attempt, as written to smsbridge_attempts.
struct AttemptRecord {
  std::int64_t job_id = 0;
  std::string provider;
  std::string outcome;  // accepted | retry_later | fail_over | rejected | duplicate | expired
  int http_status = 0;
  std::string error_code;
  std::string error_message;
  TimePoint started_at{};
  TimePoint finished_at{};
};

// What a dispatch round decided for one leased job, applied in one transaction.
struct JobOutcome {
  std::int64_t job_id = 0;
  JobStatus status = JobStatus::kSent;  // sent | queued (retry) | failed | rejected | expired
  std::string status_reason;
  std::string provider;
  std::string provider_message_id;
  std::optional<double> price;
  std::string currency;
  TimePoint not_before{};  // for a retry: when to try again
  std::vector<AttemptRecord> attempts;
};

// A delivery report after normalisation by the provider adapter (or the sandbox).
struct DeliveryReport {
  std::string provider = {};
  std::string provider_message_id = {};  // verbatim, as the provider sent it
  // Our job id when the report echoes it (SMSAPI idx, MessageFlow externalId); 0 when not.
  std::int64_t job_id = 0;
  JobStatus status = JobStatus::kDelivered;  // sent | delivered | undelivered | expired | failed
  std::string provider_status = {};  // the provider's own status, verbatim ("DELIVRD", "403")
  std::string reason = {};
  TimePoint reported_at{};
};

enum class ReportEffect {
  kApplied,     // the job moved forward
  kNoOp,        // replay or late report: the job is already at or past that status
  kUnknownJob,  // no job has that provider message id, and the store did not park it (the
                // report names nothing to correlate by, or the store does not park)
  kParked,      // no job has that id yet: kept, and applied when a send result records it
};

// An SMS a customer sent to one of our numbers (smsbridge_inbound).
struct InboundSms {
  std::string provider;
  std::string provider_message_id;
  std::string sender;     // E.164 when it parses, else verbatim
  std::string recipient;  // our number or short code, verbatim
  std::string body;
  TimePoint received_at{};
};

// One logged status change of a job whose mapping has write-back (DESIGN.md §1): the write-back
// worker (core/write_back.h) runs the mapping's actions for it and mirrors the job, then marks
// it finished. Logged in the same transaction as the change itself, so none is ever lost.
struct LoggedStatusChange {
  std::int64_t id = 0;  // <prefix>status_changes.id, increasing in the order changes happened
  JobStatus status = JobStatus::kQueued;  // the status the job moved to
  TimePoint changed_at{};
  int attempts = 0;  // earlier tries of this change that failed
  SmsJob job;        // the job as it is now (its status may have moved on since)
};

// What the worker made of one change.
struct StatusChangeResult {
  enum class State {
    kDone,    // every action ran (or had run already) and the mirror is up to date
    kRetry,   // try again at next_try_at
    kFailed,  // given up: last_error says why; later changes of the job go ahead
  };
  std::int64_t change_id = 0;
  State state = State::kDone;
  std::string error = {};  // kRetry / kFailed: why, with the job id
  TimePoint next_try_at{};
};

// A job the status poller asks its provider about (JobStore::claimStatusPolls).
struct StatusPollCandidate {
  std::int64_t job_id = 0;
  std::string provider;
  std::string provider_message_id;
  std::string recipient;  // E.164
  TimePoint sent_at{};
};

// Which jobs claimStatusPolls() hands out: `sent` by `provider` (no final status yet), with
// sent_at in [sent_from, sent_until], whose next poll is due, oldest first.
struct StatusPollQuery {
  std::string provider;
  TimePoint sent_until{};  // now - status_poll.after
  TimePoint sent_from{};   // now - status_poll.max_age: older jobs are no longer asked about
  int limit = 0;
  // The shortest wait before the same job is asked about again (nextStatusPoll()).
  std::chrono::milliseconds min_interval{60'000};
};

// When a job polled at `now` is asked about again: once its age since sent_at has doubled, but
// not sooner than `min_interval`. A message the handset never confirms is then polled a handful
// of times a day, not once a minute for days.
TimePoint nextStatusPoll(TimePoint sent_at, TimePoint now, std::chrono::milliseconds min_interval);

// The verdict of JobStore::checkSchema(), worded alike for every backend. `version` is empty
// when the store tables do not exist; `where` names the database for the operator ("'shop.db'",
// "PostgreSQL at db1:5432/shop").
Status storeSchemaStatus(std::optional<int> version, int expected, std::string_view prefix,
                         std::string_view where);

class JobStore : public ShadowStore {
 public:
  virtual ~JobStore() = default;

  // Creates or migrates the smsbridge_* tables. Idempotent. `setup` calls it; `run` checks.
  virtual Status migrate() = 0;
  // The statements migrate() would run, for `setup --dry-run`.
  virtual std::vector<std::string> migrationSql() const = 0;
  // Ok when the schema is at the version this build expects; a kConfig error telling the
  // operator to run `smsbridge setup` otherwise.
  virtual Status checkSchema() = 0;

  // Inserts the jobs and saves the checkpoint (with its shadow rows) in ONE transaction. Jobs whose
  // dedup_key exists are skipped and counted. Either everything is durable on return, or nothing
  // is.
  virtual Result<EnqueueResult> enqueue(std::span<const SmsJob> jobs,
                                        const Checkpoint& checkpoint) = 0;
  virtual Result<std::optional<std::string>> loadCheckpoint(const std::string& source) = 0;
  // When the checkpoint of `source` was last saved: `doctor` compares that age with how long
  // the source server keeps what the position points into (binlogs). Nothing when there is no
  // checkpoint, or (the default) when the store does not keep the time.
  virtual Result<std::optional<TimePoint>> checkpointSavedAt(const std::string& source);

  // Leases up to `limit` due jobs of one lane (status queued or scheduled, not_before <= now),
  // oldest first, moving them to `sending` with lease_owner/lease_until.
  virtual Result<std::vector<SmsJob>> claimDue(Lane lane, int limit, const std::string& owner,
                                               std::chrono::milliseconds lease, TimePoint now) = 0;
  // Leases up to `limit` due jobs of several lanes in strict priority: jobs of a lane are taken
  // only once every due job of the lanes before it in `lanes` is taken. Returned lane by lane in
  // that order, oldest first within a lane. The dispatcher claims this way every round, so a
  // backend that does it in one statement saves a transaction per lane. This default calls
  // claimDue() lane by lane; when a later lane fails, the jobs already leased are returned (they
  // must not sit leased unsent) and the error is logged.
  virtual Result<std::vector<SmsJob>> claimDueByPriority(std::span<const Lane> lanes, int limit,
                                                         const std::string& owner,
                                                         std::chrono::milliseconds lease,
                                                         TimePoint now);

  // Applies a dispatch decision to a job this owner leased, with its attempts, atomically.
  // A job whose lease was lost is left alone (kTransient error).
  virtual Status recordOutcome(const JobOutcome& outcome, const std::string& owner,
                               TimePoint now) = 0;

  // Several outcomes at once, in one transaction where the backend can, so a busy dispatcher
  // pays one durable commit per round instead of one per SMS. Returns one Status per outcome,
  // in order. This default records them one by one.
  virtual std::vector<Status> recordOutcomes(std::span<const JobOutcome> outcomes,
                                             const std::string& owner, TimePoint now);

  // Moves `sending` jobs whose lease expired (their dispatcher died) back to `queued`.
  // Returns how many. This is the in-doubt policy `resend`.
  virtual Result<int> requeueExpiredLeases(TimePoint now) = 0;
  // The in-doubt policy `hold`: `sending` jobs of these routes whose lease expired become
  // `failed` with an in_doubt reason instead of being sent a second time. Returns how many.
  virtual Result<int> holdExpiredLeases(TimePoint now, std::span<const std::string> routes) = 0;

  // Forward-only and idempotent: a replayed or late report changes nothing.
  virtual Result<ReportEffect> applyDeliveryReport(const DeliveryReport& report, TimePoint now) = 0;
  // Several reports (a webhook batch) in one transaction where the backend can; one effect per
  // report, in order. This default applies them one by one.
  virtual Result<std::vector<ReportEffect>> applyDeliveryReports(
      std::span<const DeliveryReport> reports, TimePoint now);
  // Parked reports (kParked) are applied when a send result records their id. This first
  // applies any whose job has become known anyway (a report that raced its send result), then
  // deletes and returns those parked before `parked_before`: their ids are unknown for good,
  // and the caller counts and logs them. The default has nothing parked.
  virtual Result<std::vector<DeliveryReport>> dropParkedReports(TimePoint parked_before);

  // Inbound SMS and opt-outs (smsbridge_inbound, smsbridge_optouts). `recipient` is E.164.
  // The defaults report that this store does not support them.
  virtual Status recordInbound(const InboundSms& sms);
  virtual Status setOptOut(const std::string& recipient, bool opted_out, const std::string& reason,
                           TimePoint now);
  virtual Result<bool> isOptedOut(const std::string& recipient);
  // Lanes whose jobs to opted-out recipients are `suppressed` (reason `opted_out`), at enqueue
  // and again at claim time for opt-outs that arrived later. Stores that keep opt-outs start
  // with marketing only; the default ignores it.
  virtual void setOptOutLanes(std::vector<Lane> lanes);

  // Write-back (<prefix>status_changes). Status changes are logged only for jobs of these
  // mappings, so a bridge without write-back pays nothing; `run` sets it once before the first
  // job is captured. Logged: a job's first status (enqueue) and every later move except to
  // `sending` and a retry back to `queued`. The default ignores it (nothing is logged).
  virtual void setWriteBackMappings(std::vector<std::string> mappings);
  // Up to `limit` unfinished changes due at `now` (next_try_at <= now), oldest first, each with
  // its job; a change waits while an earlier unfinished change of the same job exists, so each
  // job's actions run in the order its statuses changed.
  virtual Result<std::vector<LoggedStatusChange>> pendingStatusChanges(int limit, TimePoint now);
  // Records what the worker made of each change, in one transaction.
  virtual Status finishStatusChanges(std::span<const StatusChangeResult> results, TimePoint now);
  // Status polling (core/status_poller.h), for deployments without a public webhook URL. Hands
  // out up to `limit` candidates of StatusPollQuery and, in the same transaction, records that
  // they are being polled now (<prefix>status_polls), so the next poll of each is due only at
  // nextStatusPoll() and several bridge instances never ask about the same job at once. A poll
  // that then fails is simply repeated at that time. The default: nothing to poll.
  virtual Result<std::vector<StatusPollCandidate>> claimStatusPolls(const StatusPollQuery& query,
                                                                    TimePoint now);

  // Number of jobs per status, for progress lines and summaries.
  virtual Result<std::vector<std::pair<JobStatus, int>>> countByStatus() = 0;

  // Number of jobs per status and lane, for /metrics: one GROUP BY over the messages table.
  // The default reports that this store cannot count them.
  struct StatusLaneCount {
    JobStatus status = JobStatus::kQueued;
    Lane lane = Lane::kTransactional;
    std::int64_t count = 0;
  };
  virtual Result<std::vector<StatusLaneCount>> countByStatusAndLane();
};

}  // namespace smsbridge
