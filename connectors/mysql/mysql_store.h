#pragma once

// JobStore on MySQL 8 / MariaDB (InnoDB, utf8mb4), usually in the source database itself so
// support staff can query the statuses where the shop's data lives (DESIGN.md §1, §7).
//
// Threading: thread-safe; one connection behind a mutex, every operation one short
// transaction. Several bridge instances may share the store: claimDue() uses
// FOR UPDATE SKIP LOCKED where the server has it (MariaDB >= 10.6, MySQL >= 8.0); on older
// servers it falls back to plain FOR UPDATE, which is correct but serialises dispatchers, and
// says so in the log.
//
// Errors: as core/job_store.h. A lost connection is kTransient and the next call reconnects.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/mysql/mysql_connection.h"
#include "core/job_store.h"

namespace smsbridge::mysql {

class MysqlStore final : public JobStore {
 public:
  // `prefix` is the table prefix ("smsbridge_"); connects once to fail fast on a bad DSN.
  static Result<std::unique_ptr<MysqlStore>> create(const ConnectionOptions& options,
                                                    const std::string& prefix);

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
  Result<int> requeueExpiredLeases(TimePoint now) override;
  Result<int> holdExpiredLeases(TimePoint now, std::span<const std::string> routes) override;
  Result<ReportEffect> applyDeliveryReport(const DeliveryReport& report, TimePoint now) override;
  Result<std::vector<std::pair<JobStatus, int>>> countByStatus() override;
  Result<std::vector<StatusPollCandidate>> claimStatusPolls(const StatusPollQuery& query,
                                                            TimePoint now) override;

  static constexpr int kSchemaVersion = 2;

 private:
  MysqlStore(ConnectionOptions options, std::string prefix)
      : options_(std::move(options)), prefix_(std::move(prefix)) {}
  std::string table(std::string_view name) const;
  // The live connection, connecting anew after a loss. Called with mu_ held.
  Result<Connection*> connection();
  // Runs `body(conn)` inside START TRANSACTION ... COMMIT, rolling back on any error.
  template <typename F>
  Status inTransaction(F&& body);

  std::mutex mu_;  // one connection, one transaction at a time
  ConnectionOptions options_;
  std::string prefix_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace smsbridge::mysql
