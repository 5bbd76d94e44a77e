#pragma once

// JobStore on SQLite: WAL, synchronous=FULL, every operation one short IMMEDIATE transaction.
// By default it lives in the source database file itself, so the statuses are written back
// where the shop's staff can query them.

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "connectors/sqlite/sqlite_db.h"
#include "connectors/store_rules.h"
#include "core/job_store.h"

namespace smsbridge::sqlite {

class SqliteStore final : public JobStore {
 public:
  // `prefix` is the validated table prefix ("smsbridge_").
  static Result<std::unique_ptr<SqliteStore>> create(const std::string& path,
                                                     const std::string& prefix,
                                                     std::chrono::milliseconds busy_timeout);

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
  SqliteStore(std::unique_ptr<Database> db, std::string prefix)
      : db_(std::move(db)), prefix_(std::move(prefix)) {}
  std::string table(std::string_view name) const;
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back on any error.
  template <typename F>
  Status inTransaction(F&& body);
  // Inside a transaction: writes one outcome's attempts and status. `lease_lost` tells whether
  // the job was still ours to update.
  Status saveShadow(const Checkpoint& checkpoint);
  Status applyOutcome(const JobOutcome& outcome, const std::string& owner,
                      const std::string& now_text, bool& lease_lost);
  // A statement of migrationSql() and, for ALTER TABLE ADD COLUMN (which SQLite cannot make
  // idempotent), the column whose existence means it already ran.
  struct MigrationStep {
    MigrationStep(std::string statement, std::string in_table = {}, std::string new_column = {})
        : sql(std::move(statement)), table(std::move(in_table)), column(std::move(new_column)) {}
    std::string sql;
    std::string table;
    std::string column;
  };
  std::vector<MigrationStep> migrationSteps() const;
  Result<bool> hasColumn(const std::string& table_name, const std::string& column);
  // Inside a transaction. The job `report` names, preferring a verbatim id match.
  Result<std::optional<MatchedJob>> findReportedJob(const DeliveryReport& report);
  // Inside a transaction: matches, plans and writes the status changes; parks kParked reports
  // when `park`.
  Result<std::vector<ReportEffect>> applyReports(std::span<const DeliveryReport> reports,
                                                 const std::string& now_text, bool park);
  Status writeStatusChanges(std::span<const StatusChange> changes, const std::string& now_text);
  Status parkReport(const DeliveryReport& report, const std::string& now_text);
  // Inside a transaction, after `outcome` recorded a send result: applies and deletes the
  // reports parked for its provider message id or job id.
  Status releaseParkedReports(const JobOutcome& outcome, const std::string& now_text);

  // Inside a transaction: logs the current status of each of these jobs whose mapping has
  // write-back, as a change at `now_text`.
  Status logStatusChanges(std::span<const std::int64_t> job_ids, const std::string& now_text);
  bool logsMapping(const std::string& mapping) const;

  std::mutex mu_;  // one connection, one transaction at a time
  std::unique_ptr<Database> db_;
  std::string prefix_;
  std::vector<std::string> write_back_mappings_;  // sorted; guarded by mu_
  std::string write_back_mappings_json_ = "[]";   // the same, for json_each()
  std::vector<Lane> optout_lanes_ = {Lane::kMarketing};
};

}  // namespace smsbridge::sqlite
