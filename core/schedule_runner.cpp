#include "core/schedule_runner.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace smsbridge {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// 'YYYY-MM-DD HH:MM:SS' in UTC: what SQLite's datetime() writes, and a timestamp literal
// PostgreSQL and MySQL accept.
std::string sqlTimestamp(TimePoint t) {
  std::string iso = formatTimestamp(t);  // 2026-11-22T10:15:00.123Z
  iso.resize(19);
  iso[10] = ' ';
  return iso;
}

std::int64_t epochSeconds(TimePoint t) {
  return duration_cast<seconds>(t.time_since_epoch()).count();
}

constexpr std::int64_t kMaxMissedCount = 100'000;

}  // namespace

const std::vector<std::string>& builtInScheduleParameters() {
  static const std::vector<std::string> names{"now", "now_epoch", "last_run", "last_run_epoch"};
  return names;
}

std::optional<Schedule> Schedule::compile(const ScheduleSpec& spec, const MappingDefaults& defaults,
                                          const ReportFn& report) {
  bool ok = true;
  std::optional<CronSchedule> cron;
  std::optional<TimeZone> tz;
  if (spec.cron.empty() == (spec.every.count() == 0)) {
    report(spec.cron.empty() ? "every" : "cron", 0,
           "set exactly one trigger: `cron` (e.g. \"0 10 * * FRI\") or `every` (e.g. 15m)");
    ok = false;
  }
  if (!spec.cron.empty()) {
    auto compiled = CronSchedule::compile(spec.cron);
    if (auto* problems = std::get_if<std::vector<CronDiagnostic>>(&compiled)) {
      for (const CronDiagnostic& d : *problems) report("cron", d.offset, d.message);
      ok = false;
    } else {
      cron = std::get<CronSchedule>(std::move(compiled));
    }
    auto zone = TimeZone::load(spec.time_zone);
    if (zone) {
      tz = std::move(*zone);
    } else {
      report("time_zone", 0, zone.error().message());
      ok = false;
    }
  } else if (spec.every.count() != 0 && spec.every < seconds(1)) {
    report("every", 0, "must be at least 1s");
    ok = false;
  }
  if (spec.batch_size < 1) {
    report("batch_size", 0, "must be at least 1");
    ok = false;
  }
  if (spec.pace < 0 || !std::isfinite(spec.pace)) {
    report("pace", 0, "must be 0 (no limit) or more");
    ok = false;
  }
  if (spec.query.empty()) {
    report("query", 0, "the query is empty");
    ok = false;
  }
  const auto& built_in = builtInScheduleParameters();
  for (const std::string& name : sqlParameterNames(spec.query)) {
    bool known = std::find(built_in.begin(), built_in.end(), name) != built_in.end() ||
                 std::any_of(spec.params.begin(), spec.params.end(),
                             [&](const auto& p) { return p.first == name; });
    if (known) continue;
    const std::size_t offset = spec.query.find(":" + name);
    report("query", offset == std::string::npos ? 0 : offset,
           "parameter ':" + name + "' has no value; add it under `params:` or use one of " +
               ":now, :now_epoch, :last_run, :last_run_epoch");
    ok = false;
  }
  MappingSpec job_spec = spec.job;
  job_spec.name = spec.name;
  job_spec.source = spec.source;
  auto job = Mapping::compile(job_spec, defaults, report);
  if (!ok || !job) return std::nullopt;
  return Schedule(spec, std::move(*job), std::move(cron), std::move(tz));
}

std::optional<TimePoint> Schedule::next(TimePoint after) const {
  if (cron_) return cron_->next(after, *tz_);
  const auto every = duration_cast<TimePoint::duration>(spec_.every);
  const auto since_epoch = after.time_since_epoch();
  auto periods = since_epoch / every;
  if (since_epoch.count() < 0 && since_epoch % every != TimePoint::duration::zero()) --periods;
  return TimePoint((periods + 1) * every);
}

std::string Schedule::describeTrigger() const {
  if (cron_) return "cron '" + cron_->describe() + "' " + tz_->name();
  return fmt::format("every {}s", duration_cast<seconds>(spec_.every).count());
}

Result<std::string> Schedule::rowKey(const Row& row) const {
  if (spec_.key.empty()) {
    if (row.empty()) return configError("the query returns no columns");
    return row.columns().front().second.toText();
  }
  const Value* value = row.find(spec_.key);
  if (!value) {
    return configError("the query returns no column '" + spec_.key + "' (schedule key)");
  }
  return value->toText();
}

Row Schedule::parameters(TimePoint scheduled, TimePoint last_run) const {
  Row params;
  for (const auto& [name, value] : spec_.params) params.set(name, Value(value));
  params.set("now", Value(sqlTimestamp(scheduled)));
  params.set("now_epoch", Value(epochSeconds(scheduled)));
  params.set("last_run", Value(sqlTimestamp(last_run)));
  params.set("last_run_epoch", Value(epochSeconds(last_run)));
  return params;
}

SmsJob Schedule::jobFor(const Row& row, const std::string& key, TimePoint scheduled,
                        TimePoint now) const {
  // A row of a run is one "change" to the mapping code: its position is the run's scheduled
  // time, so the default dedup key is schedule|source||row key|scheduled time.
  ChangeEvent event;
  event.source = spec_.source;
  event.op = Op::kInsert;
  event.pk = key;
  event.after = row;
  event.position = formatTimestamp(scheduled);
  event.commit_ts = scheduled;
  std::optional<SmsJob> job = job_.apply(event, now);
  // A mapping without `when` always makes a job; keep the row visible if that ever changes.
  if (!job) {
    SmsJob rejected;
    rejected.source = spec_.source;
    rejected.mapping = spec_.name;
    rejected.entity_id = key;
    rejected.dedup_key = spec_.name + "|" + event.position + "|" + key;
    rejected.status = JobStatus::kRejected;
    rejected.status_reason = "schedule: the row made no job";
    rejected.created_at = now;
    rejected.not_before = now;
    return rejected;
  }
  // The mapping's own default key (source, table, pk and the values `when` reads) would make
  // the row's second run — next Friday's reminder — a duplicate of the first: a schedule's
  // default key names the run, so each run sends once and a re-run of the same one does not.
  if (spec_.job.dedup.empty()) {
    job->dedup_key = spec_.name + "|" + spec_.source + "||" + key + "|" + event.position;
  }
  return std::move(*job);
}

std::string ScheduleState::format() const {
  std::string text = "done=" + formatTimestamp(last_done);
  if (running)
    text += " running=" + formatTimestamp(*running) + " rows=" + std::to_string(rows_done);
  return text;
}

std::optional<ScheduleState> ScheduleState::parse(std::string_view position) {
  ScheduleState state;
  bool has_done = false;
  while (!position.empty()) {
    const std::size_t end = std::min(position.find(' '), position.size());
    std::string_view field = position.substr(0, end);
    position.remove_prefix(std::min(end + 1, position.size()));
    const std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view name = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (name == "done" || name == "running") {
      auto t = parseTimestamp(value);
      if (!t) return std::nullopt;
      if (name == "done") {
        state.last_done = *t;
        has_done = true;
      } else {
        state.running = *t;
      }
    } else if (name == "rows") {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), state.rows_done);
      if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (!has_done) return std::nullopt;
  return state;
}

ScheduleRunner::ScheduleRunner(std::vector<Schedule> schedules, JobStore& store, OpenSql open_sql,
                               const Clock& clock, WaitUntil wait_until,
                               ScheduleRunnerOptions options)
    : schedules_(std::move(schedules)),
      store_(store),
      open_sql_(std::move(open_sql)),
      clock_(clock),
      wait_until_(std::move(wait_until)),
      options_(options) {
  slots_.resize(schedules_.size());
  for (std::size_t i = 0; i < schedules_.size(); ++i) slots_[i].schedule = &schedules_[i];
}

void ScheduleRunner::run() {
  while (true) {
    auto next = runDue();
    if (!next) return;
    if (!wait_until_(*next)) return;
  }
}

std::optional<TimePoint> ScheduleRunner::runDue() {
  // Wake at least hourly: cheap, and it bounds the effect of a wall clock that jumped.
  TimePoint wake = clock_.now() + std::chrono::hours(1);
  for (Slot& slot : slots_) {
    const TimePoint now = clock_.now();
    if (slot.retry_at <= now) {
      if (!ensureState(slot, now)) {
        slot.retry_at = now + options_.retry_delay;
      } else if (!step(slot, now)) {
        return std::nullopt;
      }
    }
    if (slot.retry_at > clock_.now()) {
      wake = std::min(wake, slot.retry_at);
    } else if (slot.state) {
      auto due = slot.schedule->next(slot.state->last_done);
      if (due) wake = std::min(wake, *due);
    }
  }
  return wake;
}

Status ScheduleRunner::save(Slot& slot, std::span<const SmsJob> jobs, const ScheduleState& state) {
  auto result = store_.enqueue(jobs, Checkpoint{slot.schedule->checkpointName(), state.format()});
  if (!result) return result.error();
  slot.state = state;
  return Status::ok();
}

bool ScheduleRunner::ensureState(Slot& slot, TimePoint now) {
  if (slot.state) return true;
  const Schedule& schedule = *slot.schedule;
  auto saved = store_.loadCheckpoint(schedule.checkpointName());
  if (!saved) {
    spdlog::warn("Cannot read a schedule's state; retrying. schedule={} error=\"{}\"",
                 schedule.name(), saved.error().toString());
    return false;
  }
  if (*saved) {
    if (auto state = ScheduleState::parse(**saved)) {
      slot.state = *state;
      return true;
    }
    spdlog::error(
        "A schedule's saved state is unreadable; starting it afresh. schedule={} "
        "state=\"{}\"",
        schedule.name(), **saved);
  }
  // The first sight of a schedule is durable too: a bridge stopped before its first run must
  // still know afterwards that a time was missed.
  if (Status s = save(slot, {}, ScheduleState{now}); !s.isOk()) {
    spdlog::warn("Cannot save a schedule's state; retrying. schedule={} error=\"{}\"",
                 schedule.name(), s.toString());
    return false;
  }
  auto next = schedule.next(now);
  spdlog::info("Schedule registered. schedule={} trigger=\"{}\" next={}", schedule.name(),
               schedule.describeTrigger(), next ? formatTimestamp(*next) : "never");
  return true;
}

bool ScheduleRunner::step(Slot& slot, TimePoint now) {
  const Schedule& schedule = *slot.schedule;
  const ScheduleState& state = *slot.state;
  if (state.running) {
    // Interrupted runs are finished whatever the misfire policy: part of their jobs are out.
    return runOnce(slot, *state.running) != RunEnd::kStopped;
  }
  auto due = schedule.next(state.last_done);
  if (!due || *due > now) return true;
  TimePoint latest = *due;
  std::int64_t missed = 1;
  while (missed < kMaxMissedCount) {
    auto later = schedule.next(latest);
    if (!later || *later > now) break;
    latest = *later;
    ++missed;
  }
  const bool late = now - latest > options_.misfire_grace;
  const bool skip = schedule.spec().misfire == Misfire::kSkip;
  if (skip && late) {
    if (Status s = save(slot, {}, ScheduleState{latest}); !s.isOk()) {
      spdlog::warn("Cannot save a schedule's state; retrying. schedule={} error=\"{}\"",
                   schedule.name(), s.toString());
      slot.retry_at = now + options_.retry_delay;
      return true;
    }
    auto next = schedule.next(latest);
    spdlog::warn(
        "Schedule missed its time while the bridge was not running; skipped (misfire: skip). "
        "schedule={} missed={} last_missed={} next={}",
        schedule.name(), missed, formatTimestamp(latest), next ? formatTimestamp(*next) : "never");
    return true;
  }
  if (missed > 1) {
    spdlog::warn(
        "Schedule missed {} times while the bridge was not running; running once for the "
        "latest. schedule={} misfire={} scheduled={}",
        missed - 1, schedule.name(), skip ? "skip" : "run_once", formatTimestamp(latest));
  }
  return runOnce(slot, latest) != RunEnd::kStopped;
}

ScheduleRunner::RunEnd ScheduleRunner::runOnce(Slot& slot, TimePoint scheduled) {
  const Schedule& schedule = *slot.schedule;
  const ScheduleSpec& spec = schedule.spec();
  const std::string when = formatTimestamp(scheduled);
  auto fail = [&](const Status& s, std::string_view doing) {
    spdlog::warn("Schedule run failed {}; retrying. schedule={} scheduled={} in_ms={} error=\"{}\"",
                 doing, schedule.name(), when, options_.retry_delay.count(), s.toString());
    // A fresh connection next time: the old one may be what failed.
    slot.session.reset();
    slot.retry_at = clock_.now() + options_.retry_delay;
    return RunEnd::kFailed;
  };

  if (!slot.session) {
    auto session = open_sql_(spec.source);
    if (!session) return fail(session.error(), "to connect to the source");
    slot.session = std::move(*session);
  }
  const bool resuming = slot.state->running == scheduled;
  ScheduleState progress{slot.state->last_done, scheduled, 0};
  if (resuming) {
    // Committed rows come round again and meet their own dedup keys: the run resumes without
    // sending twice, and a row the query now returns in another order is not lost.
    spdlog::info("Schedule resumes an interrupted run. schedule={} scheduled={} rows_committed={}",
                 schedule.name(), when, slot.state->rows_done);
  } else if (Status s = save(slot, {}, progress); !s.isOk()) {
    return fail(s, "to save its start");
  }

  // With a pace, a batch holds about one second of jobs, so they enter the queue evenly.
  const std::size_t batch_limit =
      spec.pace > 0 ? static_cast<std::size_t>(std::clamp(std::ceil(spec.pace), 1.0,
                                                          static_cast<double>(spec.batch_size)))
                    : static_cast<std::size_t>(spec.batch_size);
  ScheduleRunStats stats;
  std::vector<SmsJob> batch;
  batch.reserve(batch_limit);
  Status failure;
  bool stopped = false;
  const TimePoint started = clock_.now();
  std::int64_t next_progress = options_.progress_every;

  auto commit = [&](const ScheduleState& state) {
    auto result = store_.enqueue(batch, Checkpoint{schedule.checkpointName(), state.format()});
    if (!result) {
      failure = result.error();
      return false;
    }
    slot.state = state;
    stats.inserted += result->inserted;
    stats.duplicates += result->duplicates;
    stats.batches += 1;
    stats.largest_batch = std::max<std::int64_t>(stats.largest_batch, batch.size());
    batch.clear();
    return true;
  };
  auto flush = [&] {
    progress.rows_done = stats.rows;
    if (!commit(progress)) return false;
    if (stats.rows >= next_progress) {
      next_progress = stats.rows + options_.progress_every;
      spdlog::info("Schedule running. schedule={} scheduled={} rows={} jobs={} duplicates={}",
                   schedule.name(), when, stats.rows, stats.inserted, stats.duplicates);
    }
    // Between batches the runner either waits for its pace or only asks whether to stop, so a
    // shutdown never waits for the rest of a large run.
    TimePoint until = clock_.now();
    if (spec.pace > 0 && stats.inserted > 0) {
      until = std::max(until,
                       started + duration_cast<TimePoint::duration>(std::chrono::duration<double>(
                                     static_cast<double>(stats.inserted) / spec.pace)));
    }
    if (!wait_until_(until)) {
      stopped = true;
      return false;
    }
    return true;
  };

  const Row params = schedule.parameters(scheduled, slot.state->last_done);
  Status queried = slot.session->forEachRow(spec.query, params, [&](const Row& row) {
    auto key = schedule.rowKey(row);
    if (!key) {
      failure = key.error();
      return false;
    }
    ++stats.rows;
    batch.push_back(schedule.jobFor(row, *key, scheduled, clock_.now()));
    return batch.size() < batch_limit || flush();
  });
  if (stopped) {
    spdlog::info(
        "Schedule stopped mid-run; the next start finishes it. schedule={} scheduled={} "
        "rows_committed={}",
        schedule.name(), when, slot.state->rows_done);
    return RunEnd::kStopped;
  }
  if (failure.isOk()) failure = queried;
  if (!failure.isOk()) return fail(failure, "while reading rows");
  // The last rows and the run's completion commit together.
  if (!commit(ScheduleState{scheduled})) return fail(failure, "to save its end");
  slot.last_run = stats;
  const auto took = duration_cast<milliseconds>(clock_.now() - started);
  auto next = schedule.next(scheduled);
  // A frequent schedule that found nothing is normal operation: keep it out of the info log.
  spdlog::log(stats.rows > 0 ? spdlog::level::info : spdlog::level::debug,
              "Schedule run complete. schedule={} scheduled={} rows={} jobs={} duplicates={} "
              "batches={} took_ms={} next={}",
              schedule.name(), when, stats.rows, stats.inserted, stats.duplicates, stats.batches,
              took.count(), next ? formatTimestamp(*next) : "never");
  return RunEnd::kCompleted;
}

}  // namespace smsbridge
