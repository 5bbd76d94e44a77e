#pragma once

// Write-back: delivery statuses reach the source database (DESIGN.md §1). Per mapping,
// `write_back:` actions (parameterised SQL with the job's fields bound) run once per status
// change; when the store lives in another database, a status table in the source mirrors every
// job of that source's mappings.
//
// The store logs each status change of such a job in the transaction that made it
// (JobStore::pendingStatusChanges). WriteBack takes them, and runs each action in ONE source
// transaction together with a marker row (<prefix>write_back_done, primary key job id +
// status + action index): when the bridge dies after that commit and before the store heard
// of it, the retried action fails on the marker's key, the marker is found, and the action is
// not run again. So each action runs exactly once in the source, whatever crashes.
//
// Threading: one WriteBack runs on its own thread (`run`), apart from the dispatcher, so a slow
// or broken source database never holds up sending. It opens one SqlSession per source and
// uses the JobStore, which is thread-safe. Failed changes are retried with backoff; a change
// that keeps failing for another reason than an unreachable database (an action with a wrong
// column, say) is given up after `max_attempts` with its error kept in the store.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/job_store.h"
#include "core/sql_ident.h"
#include "core/sql_session.h"

namespace smsbridge {

// The statuses an action may run on (`on:`), and the fields its SQL may bind.
const std::vector<std::string>& writeBackStatusNames();
const std::vector<std::string>& writeBackFieldNames();

struct WriteBackAction {
  std::set<JobStatus> on;  // empty: every status in writeBackStatusNames()
  std::string sql;
  bool runsOn(JobStatus status) const;
};

// Where a source's write-back goes.
struct WriteBackSource {
  SqlDialect dialect = SqlDialect::kSqlite;
  // Whether to keep the status table (the store lives in another database).
  bool mirror = false;
  std::function<Result<std::unique_ptr<SqlSession>>()> open_sql;
};

struct WriteBackConfig {
  std::string prefix = "smsbridge_";  // of the marker table
  std::string mirror_table = "smsbridge_message_status";
  std::map<std::string, std::vector<WriteBackAction>> actions;  // by mapping name
  std::map<std::string, WriteBackSource> sources;               // by source name
  int batch_size = 100;
  int max_attempts = 10;
  std::chrono::milliseconds retry_base{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(500)};
};

// The tables `smsbridge setup` creates in a source: the marker table, and the status table when
// `mirror`. Idempotent (IF NOT EXISTS).
std::vector<std::string> writeBackSetupSql(SqlDialect dialect, const std::string& prefix,
                                           const std::string& mirror_table, bool mirror);

// The values an action's `:name` parameters bind, for one change.
Row writeBackParams(const LoggedStatusChange& change, SqlDialect dialect);

class WriteBack {
 public:
  WriteBack(WriteBackConfig config, JobStore& store, Clock& clock);

  // One round: takes up to batch_size due changes, handles each and records the results.
  // Returns how many changes it took. Blocks on the store and the source databases; errors
  // are the store's (the changes stay pending).
  Result<int> runOnce();

  // Rounds until `wait(d)` returns true (stop requested); `wait` sleeps up to d between idle
  // rounds and after store errors.
  void run(const std::function<bool(std::chrono::milliseconds)>& wait);

 private:
  StatusChangeResult handle(const LoggedStatusChange& change, std::set<std::string>& unreachable);
  Status runAction(SqlSession& session, const WriteBackSource& source,
                   const LoggedStatusChange& change, std::size_t index,
                   const WriteBackAction& action);
  Status mirror(SqlSession& session, const WriteBackSource& source,
                const LoggedStatusChange& change);
  Result<SqlSession*> sessionFor(const std::string& name, const WriteBackSource& source);
  std::string table(std::string_view name, SqlDialect dialect) const;

  WriteBackConfig config_;
  JobStore& store_;
  Clock& clock_;
  std::map<std::string, std::unique_ptr<SqlSession>> sessions_;  // by source name
};

}  // namespace smsbridge
