#pragma once

// JobStore on MySQL 8 / MariaDB (InnoDB, utf8mb4), usually in the source database itself so
// support staff can query the statuses where the shop's data lives (DESIGN.md §1, §7).
//
// Threading: thread-safe; one connection behind a mutex, every operation one short
// transaction. Several bridge instances may share the store: claimDue() uses
// FOR UPDATE SKIP LOCKED where the server has it (MariaDB >= 10.6, MySQL >= 8.0.1). Older
// servers fall back to a single dispatcher (ClaimLocking below) and say so in the log;
// `doctor` reports it too.
//
// Errors: as core/job_store.h. A lost connection is kTransient and the next call reconnects.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/store_rules.h"
#include "core/job_store.h"

namespace smsbridge::mysql {

// How claims lock the rows they take. With SKIP LOCKED several dispatchers claim side by side,
// each taking rows nobody holds. Without it a second dispatcher would wait on the first one's
// row locks at every claim, so instead one bridge instance at a time claims: it holds a named
// server lock (GET_LOCK) on its store connection, which the server releases when that
// connection ends, a crash included; the others stand by and take over.
enum class ClaimLocking { kSkipLocked, kSingleDispatcher };
// `version` as mysql_get_server_version(): 100600 for MariaDB 10.6.0, 80001 for MySQL 8.0.1.
ClaimLocking claimLockingFor(bool mariadb, unsigned long version);
// The SELECT that picks the ids claimDue() leases: due jobs of one lane (bound: lane, now,
// limit), oldest first, locked as `locking` says.
std::string claimDueSql(std::string_view messages_table, ClaimLocking locking);
// The GET_LOCK name of the single dispatcher of the store `prefix` in `database`: at most 64
// characters, the servers' limit, and the same in every bridge instance and version.
std::string dispatcherLockName(std::string_view database, std::string_view prefix);

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
  Result<std::optional<TimePoint>> checkpointSavedAt(const std::string& source) override;
  Result<std::map<std::string, std::string>> loadShadow(const std::string& source,
                                                        const std::string& table,
                                                        std::span<const std::string> pks) override;
  Result<std::vector<SmsJob>> claimDue(Lane lane, int limit, const std::string& owner,
                                       std::chrono::milliseconds lease, TimePoint now) override;
  Status recordOutcome(const JobOutcome& outcome, const std::string& owner, TimePoint now) override;
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

  // What create() chose for this server.
  ClaimLocking claimLocking() const { return claim_locking_; }
  // Tests force the fallback on a server that has SKIP LOCKED; call before the first claim.
  void forceClaimLocking(ClaimLocking locking) { claim_locking_ = locking; }

 private:
  MysqlStore(ConnectionOptions options, std::string prefix)
      : options_(std::move(options)), prefix_(std::move(prefix)) {}
  std::string table(std::string_view name) const;
  // The live connection, connecting anew after a loss. Called with mu_ held.
  Result<Connection*> connection();
  // kSingleDispatcher: whether this instance may claim now, taking the dispatcher lock on the
  // live connection when it is free. Called with mu_ held, outside a transaction.
  Result<bool> mayClaim(Connection& c);
  // Runs `body(conn)` inside START TRANSACTION ... COMMIT, rolling back on any error.
  template <typename F>
  Status inTransaction(F&& body);
  // A statement of migrationSql(); migrate() skips it when `table` already has `column` or
  // `index` (MySQL has no IF NOT EXISTS for either).
  struct MigrationStep {
    MigrationStep(std::string statement, std::string in_table = {}, std::string new_column = {},
                  std::string new_index = {})
        : sql(std::move(statement)),
          table(std::move(in_table)),
          column(std::move(new_column)),
          index(std::move(new_index)) {}
    std::string sql;
    std::string table;
    std::string column;
    std::string index;
  };
  std::vector<MigrationStep> migrationSteps() const;
  // Inside a transaction: matches and locks the jobs the reports name, writes their changes
  // and, when `park`, parks the kParked reports. One effect per report.
  Result<std::vector<ReportEffect>> applyReports(Connection& c,
                                                 std::span<const DeliveryReport> reports,
                                                 const std::string& now_text, bool park);
  Status writeStatusChanges(Connection& c, std::span<const StatusChange> changes,
                            const std::string& now_text);
  // Inside a transaction, after `outcome` recorded a send result: applies and deletes the
  // reports parked for its provider message id or job id.
  Status releaseParkedReports(Connection& c, const JobOutcome& outcome,
                              const std::string& now_text);
  // Inside a transaction: which recipients of jobs subject to opt-outs have opted out.
  Result<std::set<std::string>> optedOutRecipients(Connection& c, std::span<const SmsJob> jobs);
  // Inside a transaction: inserts `jobs` in one statement, those to `opted_out` recipients as
  // suppressed; returns how many were new (the others were duplicates).
  Result<std::uint64_t> insertJobs(Connection& c, std::span<const SmsJob> jobs,
                                   const std::set<std::string>& opted_out);

  // Inside a transaction on `c`: logs the current status of each of these jobs whose mapping
  // has write-back, as a change at `now_text`.
  Status logStatusChanges(Connection& c, std::span<const std::int64_t> job_ids,
                          const std::string& now_text);
  bool logsMapping(const std::string& mapping) const;

  std::mutex mu_;  // one connection, one transaction at a time
  ConnectionOptions options_;
  std::string prefix_;
  std::unique_ptr<Connection> conn_;
  ClaimLocking claim_locking_ = ClaimLocking::kSkipLocked;
  // kSingleDispatcher: the connection that holds the dispatcher lock (a lock dies with its
  // connection), and whether standing by was logged. Guarded by mu_.
  const Connection* lock_holder_ = nullptr;
  bool standby_logged_ = false;
  std::vector<std::string> write_back_mappings_;  // sorted; guarded by mu_
  std::vector<Lane> optout_lanes_ = {Lane::kMarketing};
};

}  // namespace smsbridge::mysql
