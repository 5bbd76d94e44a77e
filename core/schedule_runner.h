#pragma once

// `schedules:` (DESIGN.md §4): on a cron or interval trigger, run a parameterised query over a
// source and turn each row into a job with the same code a mapping uses (core/mapping.h), so
// `to`, `text`, `lane`, `dedup`... behave exactly alike. Booking reminders, "no login for 30
// days", abandoned carts, Friday campaigns.
//
// Durability: each schedule keeps its state as a checkpoint named `schedule:<name>` in the
// store (ScheduleState). A run's jobs are enqueued batch by batch, each batch in one
// transaction with the run's progress, so a crash mid-run leaves committed batches plus a
// "running" state; the next start finishes that run. Rows are streamed (SqlSession::forEachRow):
// at most one batch of jobs is held in memory, whatever the size of the campaign.
//
// Dedup: by default a job's key is the schedule name, the run's scheduled time and the row key
// (the `key` column, or the first column), so re-running the same scheduled time — after a
// crash, or by a second bridge instance — makes no second SMS.
//
// Threading: one ScheduleRunner runs every schedule from one thread (`smsbridge run` gives it
// its own). It blocks on the source and the store; `wait_until` is its only sleep, so stopping
// it is as prompt as that function returns false.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/cron.h"
#include "core/job_store.h"
#include "core/mapping.h"
#include "core/sql_session.h"
#include "core/time_zone.h"

namespace smsbridge {

// What to do with scheduled times that passed while the bridge was not running.
enum class Misfire {
  kSkip,     // run none of them; wait for the next scheduled time
  kRunOnce,  // one catch-up run, at the latest missed time, for all of them
};

// A schedule as written in the config, before compilation.
struct ScheduleSpec {
  std::string name;
  std::string source;
  std::string cron;                    // five fields; empty when `every` is set
  std::chrono::milliseconds every{0};  // interval trigger; zero when `cron` is set
  std::string time_zone = "UTC";       // the zone `cron` reads its wall clock in
  std::string query;                   // SQL with `:name` parameters
  std::vector<std::pair<std::string, std::string>> params;  // constant `params:` values
  std::string key;  // column that names a row; empty: the first column
  MappingSpec job;  // job-building fields; table, on and when are unused
  Misfire misfire = Misfire::kSkip;
  int batch_size = 500;  // most jobs enqueued per transaction
  double pace = 0;       // most jobs enqueued per second; 0: no limit
};

// The parameters every schedule query may use besides its own `params:`.
// `:now`: the run's scheduled time, UTC, as 'YYYY-MM-DD HH:MM:SS' (comparable as text with
// SQLite's datetime() and accepted as a timestamp by PostgreSQL and MySQL); `:now_epoch`: the
// same in Unix seconds; `:last_run` / `:last_run_epoch`: the scheduled time of the previous
// completed run (for the first run: when the schedule was first seen).
const std::vector<std::string>& builtInScheduleParameters();

class Schedule {
 public:
  // `key` names the spec field ("cron", "query", "text"...), `offset` the byte inside it.
  using ReportFn = Mapping::ReportFn;

  // Nothing when any part is wrong; every problem went to `report`. Pure: the query is only
  // checked for parameters without a value.
  static std::optional<Schedule> compile(const ScheduleSpec& spec, const MappingDefaults& defaults,
                                         const ReportFn& report);

  const std::string& name() const { return spec_.name; }
  const ScheduleSpec& spec() const { return spec_; }
  // "schedule:<name>": the checkpoint name of this schedule's state.
  std::string checkpointName() const { return "schedule:" + spec_.name; }

  // The first scheduled time strictly after `after`; nothing when the trigger never fires.
  // Intervals are aligned to the Unix epoch (`every: 15m` fires at :00, :15, :30, :45 UTC), so
  // restarts do not shift them.
  std::optional<TimePoint> next(TimePoint after) const;

  // The key of a row (the `key` column, or the first), or a kConfig error naming the column.
  Result<std::string> rowKey(const Row& row) const;

  // The job for one row of the run scheduled at `scheduled`; built by Mapping::apply.
  SmsJob jobFor(const Row& row, const std::string& key, TimePoint scheduled, TimePoint now) const;

  // The query's parameters for a run at `scheduled` after a run at `last_run`.
  Row parameters(TimePoint scheduled, TimePoint last_run) const;

  // How the trigger reads in logs: "cron '0 10 * * FRI' Europe/Warsaw" or "every 900s".
  std::string describeTrigger() const;

 private:
  Schedule(ScheduleSpec spec, Mapping job, std::optional<CronSchedule> cron,
           std::optional<TimeZone> tz)
      : spec_(std::move(spec)), job_(std::move(job)), cron_(std::move(cron)), tz_(std::move(tz)) {}

  ScheduleSpec spec_;
  Mapping job_;
  std::optional<CronSchedule> cron_;
  std::optional<TimeZone> tz_;
};

// A schedule's durable state, kept as its checkpoint position:
// "done=<time>" or "done=<time> running=<time> rows=<n>".
struct ScheduleState {
  TimePoint last_done{};                  // scheduled time of the last completed (or skipped) run
  std::optional<TimePoint> running = {};  // a run that started and has not completed
  std::int64_t rows_done = 0;             // rows of `running` whose jobs are committed

  std::string format() const;
  static std::optional<ScheduleState> parse(std::string_view position);
  bool operator==(const ScheduleState&) const = default;
};

// The figures of one run, for the summary line and for tests.
struct ScheduleRunStats {
  std::int64_t rows = 0;
  std::int64_t inserted = 0;
  std::int64_t duplicates = 0;  // rows whose job existed already: a resumed or repeated run
  std::int64_t batches = 0;
  std::int64_t largest_batch = 0;  // most jobs held in memory at once
};

struct ScheduleRunnerOptions {
  // A scheduled time this late is still run under `misfire: skip`: a bridge restarted within
  // it, or a run that waited behind a long one, is on time, not a misfire.
  std::chrono::milliseconds misfire_grace{std::chrono::minutes(1)};
  // After a failed run (source or store unavailable, bad SQL), try again this much later.
  std::chrono::milliseconds retry_delay{std::chrono::seconds(30)};
  // Most rows between two "Schedule running." progress lines.
  std::int64_t progress_every = 10'000;
};

class ScheduleRunner {
 public:
  // Opens a SQL session on a source by name (SourceFactory::open_sql).
  using OpenSql = std::function<Result<std::unique_ptr<SqlSession>>(const std::string& source)>;
  // Sleeps until the clock reads `until`; false when the runner must stop instead. Called
  // between batches too, with `until` at or before now, to ask whether to stop.
  using WaitUntil = std::function<bool(TimePoint until)>;

  ScheduleRunner(std::vector<Schedule> schedules, JobStore& store, OpenSql open_sql,
                 const Clock& clock, WaitUntil wait_until, ScheduleRunnerOptions options = {});

  // Runs until `wait_until` returns false. Failures are logged and retried; none stops it.
  void run();

  // One round at clock.now(): loads or creates each schedule's state, finishes interrupted
  // runs, runs or skips what is due. Returns when the next round is due, or nothing when
  // `wait_until` asked to stop during the round.
  std::optional<TimePoint> runDue();

  // Figures of the last run that completed, per schedule index; for tests.
  const ScheduleRunStats& lastRun(std::size_t schedule) const { return slots_[schedule].last_run; }

 private:
  struct Slot {
    const Schedule* schedule = nullptr;
    std::optional<ScheduleState> state;
    std::unique_ptr<SqlSession> session;
    TimePoint retry_at{};
    ScheduleRunStats last_run;
  };
  enum class RunEnd { kCompleted, kFailed, kStopped };

  // Loads the state, or starts one at `now` when the schedule is new. False on a store error.
  bool ensureState(Slot& slot, TimePoint now);
  // Decides what is due and runs it; returns false when asked to stop.
  bool step(Slot& slot, TimePoint now);
  RunEnd runOnce(Slot& slot, TimePoint scheduled);
  Status save(Slot& slot, std::span<const SmsJob> jobs, const ScheduleState& state);

  std::vector<Schedule> schedules_;
  std::vector<Slot> slots_;
  JobStore& store_;
  OpenSql open_sql_;
  const Clock& clock_;
  WaitUntil wait_until_;
  ScheduleRunnerOptions options_;
};

}  // namespace smsbridge
