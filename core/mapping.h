#pragma once

// Mappings turn change events into SMS jobs (DESIGN.md §4): match table and operation,
// evaluate `when`, render the text and the recipient, normalise the phone number, and derive
// the dedup key, lane and route. Everything is compiled at config load; applying a mapping
// never throws, and a row it cannot use becomes a job with a precise reason, never a crash or
// an empty SMS.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/expression.h"
#include "core/phone.h"
#include "core/quiet_hours.h"
#include "core/sms_job.h"
#include "core/template.h"

namespace smsbridge {

// Timing rules of one lane (config `lanes.<lane>`).
struct LaneSettings {
  // How long a job stays sendable once due; zero: forever. An OTP is useless after minutes.
  std::chrono::milliseconds expires_in{0};
  // Jobs that would become due inside the window are deferred to its end, or suppressed.
  std::optional<QuietHours> quiet_hours;
  bool drop_in_quiet_hours = false;
};

struct MappingDefaults {
  std::string region;  // ISO-3166 alpha-2, used when neither the record nor the mapping has one
  std::string sender;
  PhoneTypePolicy phone_types = PhoneTypePolicy::kMobile;
  std::map<Lane, LaneSettings> lanes;
};

// A named query whose first row a mapping's templates read as `<name>.<column>` (config
// `lookup:`). `:param`s bind from the changed row, never spliced into the SQL.
struct LookupSpec {
  std::string name;
  std::string sql;
  std::string source;     // empty: the mapping's own source
  bool optional = false;  // no row: its columns read as null instead of suppressing the job
};

// Runs lookup queries for mappings. The capture thread provides one backed by a SqlSession per
// source (SourceFactory::open_sql); tests provide canned rows. Called from the thread that
// maps, one call at a time; blocks on the database.
class LookupRunner {
 public:
  virtual ~LookupRunner() = default;
  // The first row `sql` returns on `source` with `params` bound, or nullopt when it returns
  // none. Errors: kTransient (the database is unreachable: retry the whole batch later),
  // kConfig (the statement is wrong: the operator must fix the config), kRejected (a value of
  // this row does not fit the statement: that one job is rejected).
  virtual Result<std::optional<Row>> firstRow(const std::string& source, const std::string& sql,
                                              const Row& params) = 0;
};

// A mapping as written in the config, before compilation.
struct MappingSpec {
  std::string name;
  std::string source;
  std::string table;
  std::vector<std::string> on;  // insert | update | delete
  std::string when;             // empty: every matching change
  std::string to;               // template
  std::string region;           // template; empty: the default region
  std::string text;             // template
  std::string sender;           // empty: the default sender
  std::string lane = "transactional";
  std::string route = "default";
  std::string dedup;        // template; empty: the default key (see Mapping::apply)
  std::string phone_types;  // empty: the default policy
  bool normalize = false;   // transliterate to GSM-7 look-alikes before counting segments
  int max_segments = 0;     // 0: no limit
  bool truncate = false;    // over max_segments: cut with an ellipsis instead of rejecting
  std::chrono::milliseconds delay{0};                   // due this long after the change
  std::optional<std::chrono::milliseconds> expires_in;  // overrides the lane's
  std::vector<LookupSpec> lookups;
};

class Mapping {
 public:
  // `key` names the spec field ("when", "text"...), `offset` the byte inside its value.
  using ReportFn =
      std::function<void(std::string_view key, std::size_t offset, std::string message)>;

  // Returns nothing when any part failed to compile; every problem went to `report`.
  static std::optional<Mapping> compile(const MappingSpec& spec, const MappingDefaults& defaults,
                                        const ReportFn& report);

  const std::string& name() const { return spec_.name; }
  const std::string& source() const { return spec_.source; }
  const std::string& table() const { return spec_.table; }

  bool matches(const ChangeEvent& event) const;

  // The operations the mapping fires on, and the dotted fields its `when` and templates may
  // read ("status", "old.status"), each once. For `smsbridge doctor`: which columns must
  // exist and which need a before-image.
  const std::set<Op>& ops() const { return ops_; }
  std::vector<std::string> referencedFields() const;
  // The same per config key that reads them ({"text", "first_name"}, {"lookup.billing",
  // "id"}), so doctor can name where a missing column is used.
  std::vector<std::pair<std::string, std::string>> referencedFieldsByKey() const;
  // True when `when`, the templates or the dedup key read the row before the change (old.col,
  // changed(), crossed_below/above()). Capture modes that send the before image only when
  // asked (PostgreSQL REPLICA IDENTITY FULL) use this to tell setup which tables need it.
  bool readsBeforeImage() const;

  // Nothing when `when` is false. Otherwise a job: `queued`, or `suppressed`/`rejected` with
  // status_reason saying why (missing phone, a field the row does not have...).
  // Its dedup key is "<mapping>|<rendered dedup>", or by default
  // "<mapping>|<source>|<table>|<pk>|<field>='<value>'|..." over the fields `when` reads
  // (old.status='processing'), so the same transition of a row makes one job however often it
  // is captured, and a replay (same row, same values) always lands on the same key. Values too
  // long for a readable key are replaced by a digest of them.
  //
  // `change.position` (in templates and `when`) is the source position of the change: its
  // binlog transaction, trigger-table row or poll round. A dedup key with it makes each
  // captured change its own job (a stock alert that re-arms and fires again through the same
  // values), while a replay of that change lands on the same key.
  //
  // Lookups run through `lookups`, one query each: first those `when` reads (so `when` may
  // test `billing.country`), the rest only once `when` is true. A lookup without a row
  // suppresses the job with reason `lookup_empty: <name>` unless it is optional. An error is
  // returned only when the change must be mapped again later (kTransient) or the config is
  // wrong (kConfig); never a job built with missing data.
  Result<std::optional<SmsJob>> apply(const ChangeEvent& event, TimePoint now,
                                      LookupRunner& lookups) const;
  // For mappings without lookups; a mapping with lookups rejects the job here.
  std::optional<SmsJob> apply(const ChangeEvent& event, TimePoint now) const;

  bool hasLookups() const { return !spec_.lookups.empty(); }
  const std::vector<LookupSpec>& lookups() const { return spec_.lookups; }

 private:
  // Per lookup: not run yet, or run with its first row or none.
  using LookupRows = std::vector<std::optional<std::optional<Row>>>;

  bool compileLookups(const ReportFn& report);
  Result<std::optional<SmsJob>> build(const ChangeEvent& event, TimePoint now,
                                      LookupRunner* lookups) const;
  // Runs the lookups in `indices` that have not run yet. An error means the job cannot be
  // built now; `problem` set means it ends as a job with that status and reason.
  Status runLookups(const ChangeEvent& event, const std::vector<std::size_t>& indices,
                    LookupRunner* runner, LookupRows& rows,
                    std::optional<std::pair<JobStatus, std::string>>& problem) const;

  // Sets not_before, expires_at and scheduled/suppressed from the delay and the lane's rules.
  void schedule(SmsJob& job, TimePoint now) const;
  // The key of a mapping without `dedup`: source, table, pk, mapping and the values `when` reads.
  std::string defaultDedupKey(const ChangeEvent& event, const EvalContext& context) const;

  Mapping(MappingSpec spec, MappingDefaults defaults)
      : spec_(std::move(spec)), defaults_(std::move(defaults)) {}

  MappingSpec spec_;
  MappingDefaults defaults_;
  std::set<Op> ops_;
  std::optional<Expression> when_;
  std::optional<Template> to_;
  std::optional<Template> region_;
  std::optional<Template> text_;
  std::optional<Template> dedup_;
  // The fields `when` reads ("status", "old.status"), as dotted names and as resolvable paths.
  std::vector<std::pair<std::string, std::vector<std::string>>> when_fields_;
  Lane lane_ = Lane::kTransactional;
  PhoneTypePolicy phone_types_ = PhoneTypePolicy::kMobile;
  // Indices into spec_.lookups: those `when` reads, and the rest.
  std::vector<std::size_t> when_lookups_;
  std::vector<std::size_t> other_lookups_;
  std::vector<std::vector<std::string>> lookup_params_;  // the `:name`s of each lookup
};

// All mappings of a configuration.
class MappingEngine {
 public:
  explicit MappingEngine(std::vector<Mapping> mappings) : mappings_(std::move(mappings)) {}

  // Jobs for every mapping that fires on each event, in event order. Lookups run through
  // `lookups` with a cache for this call: a batch with fifty changes of one order queries its
  // address once. An error (kTransient, kConfig) means no job of the batch may be stored: the
  // caller keeps the batch and maps it again later, or stops.
  Result<std::vector<SmsJob>> map(std::span<const ChangeEvent> events, TimePoint now,
                                  LookupRunner& lookups) const;
  // For configurations without lookups (a mapping with lookups rejects its jobs here).
  std::vector<SmsJob> map(std::span<const ChangeEvent> events, TimePoint now) const;

  // Tables the mappings of `source` read, for sources that capture only what is mapped.
  std::vector<std::string> tablesOf(const std::string& source) const;
  const std::vector<Mapping>& mappings() const { return mappings_; }

 private:
  std::vector<Mapping> mappings_;
};

}  // namespace smsbridge
