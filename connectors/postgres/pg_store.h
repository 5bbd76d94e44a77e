#pragma once

// JobStore on PostgreSQL: the same tables as every backend (DESIGN.md §7), each operation one
// short read-committed transaction. Claiming uses FOR UPDATE SKIP LOCKED, so several bridge
// instances may share one store without ever leasing the same job twice.
//
// Threading: thread-safe; a mutex serialises calls over one connection (the store's work is
// a few short statements per batch, so one connection is not the bottleneck). Claims have a
// second connection of their own, opened at the first claim: the dispatcher claims beside its
// outcome commits, and a claim must not wait for a commit or hold one up. Errors follow
// PgConnection: kTransient (retry later; a lost connection is reopened at the next call),
// kConfig (missing tables or privileges: the message says what to run or grant).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "connectors/postgres/pg_connection.h"
#include "connectors/store_rules.h"
#include "core/job_store.h"

namespace smsbridge::postgres {

class PostgresStore final : public JobStore {
 public:
  // `prefix` is the validated table prefix ("smsbridge_"); the tables live in the connection's
  // current schema (search_path).
  static Result<std::unique_ptr<PostgresStore>> create(const std::string& dsn,
                                                       const std::string& prefix,
                                                       std::chrono::milliseconds connect_timeout);

  Status migrate() override;
  std::vector<std::string> migrationSql() const override;
  Status checkSchema() override;
  Result<EnqueueResult> enqueue(std::span<const SmsJob> jobs,
                                const Checkpoint& checkpoint) override;
  Result<std::optional<std::string>> loadCheckpoint(const std::string& source) override;
  Result<std::map<std::string, std::string>> loadShadow(const std::string& source,
                                                        const std::string& table,
                                                        std::span<const std::string> pks) override;
  Result<std::vector<SmsJob>> claimDue(Lane lane, int limit, const std::string& owner,
                                       std::chrono::milliseconds lease, TimePoint now) override;
  // Every lane in one statement: one round trip, one commit.
  Result<std::vector<SmsJob>> claimDueByPriority(std::span<const Lane> lanes, int limit,
                                                 const std::string& owner,
                                                 std::chrono::milliseconds lease,
                                                 TimePoint now) override;
  Status recordOutcome(const JobOutcome& outcome, const std::string& owner, TimePoint now) override;
  std::vector<Status> recordOutcomes(std::span<const JobOutcome> outcomes, const std::string& owner,
                                     TimePoint now) override;
  Result<int> requeueExpiredLeases(TimePoint now) override;
  Result<int> holdExpiredLeases(TimePoint now, std::span<const std::string> routes) override;
  Result<ReportEffect> applyDeliveryReport(const DeliveryReport& report, TimePoint now) override;
  Result<std::vector<ReportEffect>> applyDeliveryReports(std::span<const DeliveryReport> reports,
                                                         TimePoint now) override;
  Result<std::vector<DeliveryReport>> dropParkedReports(TimePoint parked_before) override;
  Status recordInbound(const InboundSms& sms) override;
  Status setOptOut(const std::string& recipient, bool opted_out, const std::string& reason,
                   TimePoint now) override;
  Result<bool> isOptedOut(const std::string& recipient) override;
  void setOptOutLanes(std::vector<Lane> lanes) override;
  Result<std::vector<std::pair<JobStatus, int>>> countByStatus() override;
  Result<std::vector<StatusPollCandidate>> claimStatusPolls(const StatusPollQuery& query,
                                                            TimePoint now) override;

  Result<std::vector<StatusLaneCount>> countByStatusAndLane() override;

  // Write-back (core/job_store.h).
  void setWriteBackMappings(std::vector<std::string> mappings) override;
  Result<std::vector<LoggedStatusChange>> pendingStatusChanges(int limit, TimePoint now) override;
  Status finishStatusChanges(std::span<const StatusChangeResult> results, TimePoint now) override;

  // 2: provider_message_id_norm, <prefix>reports_parked, unique inbound provider ids.
  static constexpr int kSchemaVersion = 2;

 private:
  PostgresStore(std::unique_ptr<PgConnection> conn, std::string prefix, std::string dsn,
                std::chrono::milliseconds connect_timeout)
      : conn_(std::move(conn)),
        prefix_(std::move(prefix)),
        dsn_(std::move(dsn)),
        connect_timeout_(connect_timeout) {}
  std::string table(std::string_view name) const;
  // Upserts a poll source's shadow rows with one statement, inside the enqueue transaction.
  void saveShadow(pqxx::work& txn, const Checkpoint& checkpoint);
  struct AppliedOutcomes {
    std::set<std::int64_t> applied;  // jobs `owner` still leased: their outcomes were applied
    std::set<std::int64_t> parked;   // of those, sent jobs with reports parked for them
  };
  // Applies the outcomes, their attempts and their write-back log in ONE statement, atomic by
  // itself, so it can run outside an explicit transaction.
  AppliedOutcomes applyOutcomes(pqxx::transaction_base& txn,
                                std::span<const JobOutcome* const> outcomes,
                                const std::string& owner, const std::string& now_text);
  // Inside `txn`: matches and locks the jobs the reports name, writes their changes and, when
  // `park`, parks the kParked reports. One effect per report.
  std::vector<ReportEffect> applyReports(pqxx::work& txn, std::span<const DeliveryReport> reports,
                                         const std::string& now_text, bool park);
  void writeStatusChanges(pqxx::work& txn, std::span<const StatusChange> changes,
                          const std::string& now_text);
  // Inside `txn`, after these outcomes recorded send results: applies and deletes the reports
  // parked for their provider message ids or job ids.
  void releaseParkedReports(pqxx::work& txn, std::span<const JobOutcome* const> sent,
                            const std::string& now_text);

  // Inside `txn`: logs the current status of each of these jobs whose mapping has write-back,
  // as a change at `now_text`.
  void logStatusChanges(pqxx::work& txn, const std::vector<std::int64_t>& job_ids,
                        const std::string& now_text);

  std::mutex mu_;  // one connection, one transaction at a time
  std::unique_ptr<PgConnection> conn_;
  std::string prefix_;
  std::string dsn_;
  std::chrono::milliseconds connect_timeout_;
  // Mappings whose status changes are logged, as a text[] literal; guarded by mu_.
  std::string write_back_mappings_ = "{}";
  std::mutex claim_mu_;                       // claims: their own connection, one at a time
  std::unique_ptr<PgConnection> claim_conn_;  // null until the first claim
  std::mutex settings_mu_;                    // optout_lanes_: read by claims and enqueues
  std::vector<Lane> optout_lanes_ = {Lane::kMarketing};
};

}  // namespace smsbridge::postgres
