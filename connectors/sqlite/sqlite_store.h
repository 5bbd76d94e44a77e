#pragma once

// JobStore on SQLite: WAL, synchronous=FULL, every operation one short IMMEDIATE transaction.
// By default it lives in the source database file itself, so the statuses are written back
// where the shop's staff can query them.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/sqlite/sqlite_db.h"
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
  Result<std::vector<std::pair<JobStatus, int>>> countByStatus() override;
  Result<std::vector<StatusPollCandidate>> claimStatusPolls(const StatusPollQuery& query,
                                                            TimePoint now) override;

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

  std::mutex mu_;  // one connection, one transaction at a time
  std::unique_ptr<Database> db_;
  std::string prefix_;
};

}  // namespace smsbridge::sqlite
