#include "core/mapping.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/sms_text.h"
#include "core/sql_session.h"

namespace smsbridge {
namespace {

// Fields of one change event: unprefixed names read the current row, `old.<col>` the before
// image, `<lookup>.<col>` a lookup's row. A table that has a column named "old" is still
// reachable as `new.old`.
// `change.position` reads the captured change's own position (unless a lookup is named
// `change`): see Mapping::apply.
const std::string kChange = "change";

class EventContext final : public EvalContext {
 public:
  EventContext(const ChangeEvent& event, TimePoint now,
               const std::vector<LookupSpec>* lookups = nullptr,
               const std::vector<std::optional<std::optional<Row>>>* lookup_rows = nullptr)
      : event_(event),
        now_(now),
        lookups_(lookups),
        lookup_rows_(lookup_rows),
        position_(event.position) {}

  std::chrono::system_clock::time_point now() const override { return now_; }

  const Value* resolve(std::span<const std::string> path) const override {
    if (path.size() == 2 && path[0] == "old") {
      return event_.before ? event_.before->find(path[1]) : nullptr;
    }
    if (path.size() == 2 && path[0] == "new") {
      return event_.after ? event_.after->find(path[1]) : nullptr;
    }
    if (path.size() == 2 && path[0] == kChange && !hasLookup(kChange)) {
      return path[1] == "position" ? &position_ : nullptr;
    }
    if (path.size() == 2) return resolveLookup(path[0], path[1]);
    if (path.size() != 1) return nullptr;
    const Row* row = event_.current();
    return row ? row->find(path[0]) : nullptr;
  }

 private:
  // A lookup that ran and found no row (it is optional, or the job would have ended) reads as
  // null in every column, so `| default(...)` and `is null` work on it.
  const Value* resolveLookup(const std::string& name, const std::string& column) const {
    static const Value kNull;
    if (!lookups_ || !lookup_rows_) return nullptr;
    for (std::size_t i = 0; i < lookups_->size(); ++i) {
      if ((*lookups_)[i].name != name) continue;
      const auto& result = (*lookup_rows_)[i];
      if (!result) return nullptr;  // not run: a bug caught by the "does not exist" rejection
      return *result ? (*result)->find(column) : &kNull;
    }
    return nullptr;
  }

  bool hasLookup(const std::string& name) const {
    if (!lookups_) return false;
    return std::any_of(lookups_->begin(), lookups_->end(),
                       [&](const LookupSpec& l) { return l.name == name; });
  }

  const ChangeEvent& event_;
  TimePoint now_;
  const std::vector<LookupSpec>* lookups_;
  const std::vector<std::optional<std::optional<Row>>>* lookup_rows_;
  Value position_;
};

bool isIdentifier(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Lookups only read: the first word of the SQL, after blanks and comments, is SELECT or WITH.
bool startsWithQuery(std::string_view sql) {
  std::size_t i = 0;
  while (i < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '(') {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      i = std::min(sql.find('\n', i), sql.size());
    } else if (sql.substr(i, 2) == "/*") {
      i = std::min(sql.find("*/", i), sql.size()) + 2;
    } else {
      break;
    }
  }
  if (i >= sql.size()) return false;
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) {
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i++])));
  }
  return word == "select" || word == "with";
}

// The part of a dotted field before its first dot, or "" for a plain column.
std::string fieldHead(const std::string& field) {
  auto dot = field.find('.');
  return dot == std::string::npos ? std::string() : field.substr(0, dot);
}

// Caches lookup results for one MappingEngine::map call, keyed by source, SQL and bound
// values, so a batch that changes one order fifty times queries its address once. Only rows
// are kept: an error ends the batch or rejects that one job anyway.
class BatchLookupCache final : public LookupRunner {
 public:
  explicit BatchLookupCache(LookupRunner& runner) : runner_(runner) {}

  Result<std::optional<Row>> firstRow(const std::string& source, const std::string& sql,
                                      const Row& params) override {
    std::string key = source + '\0' + sql;
    for (const auto& [name, value] : params) key += '\0' + name + '=' + value.toDebugString();
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    auto row = runner_.firstRow(source, sql, params);
    if (row) cache_.emplace(std::move(key), *row);
    return row;
  }

 private:
  LookupRunner& runner_;
  std::map<std::string, std::optional<Row>> cache_;
};

// Longest readable list of `when` values in a default dedup key; longer ones become a digest so
// the key stays within what every store indexes (MySQL: 191 characters).
constexpr std::size_t kMaxReadableDedupValues = 96;

// FNV-1a 64: stable across builds and restarts, unlike std::hash, so a replayed change after an
// upgrade still finds its key.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// One `when` value as the default dedup key spells it. Values are quoted (so '|' and '=' inside
// them cannot run into the next field) and read as text, so 5 and '5' give the same key when a
// capture mode hands a number over as text.
void appendKeyValue(std::string& key, const Value* value) {
  if (value == nullptr) {
    key += "absent";
  } else if (value->isUnavailable()) {
    key += "unsent";
  } else if (value->isNull()) {
    key += "null";
  } else {
    key += '\'';
    for (char c : value->toText()) {
      key += c;
      if (c == '\'') key += '\'';
    }
    key += '\'';
  }
}

template <typename T>
std::optional<T> compileField(std::string_view key, const std::string& text,
                              const Mapping::ReportFn& report, bool& ok) {
  auto compiled = T::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&compiled)) {
    for (auto& d : *diagnostics) report(key, d.offset, d.message);
    ok = false;
    return std::nullopt;
  }
  return std::get<T>(std::move(compiled));
}

}  // namespace

std::optional<Mapping> Mapping::compile(const MappingSpec& spec, const MappingDefaults& defaults,
                                        const ReportFn& report) {
  Mapping m(spec, defaults);
  bool ok = true;
  for (const auto& name : spec.on) {
    if (auto op = parseOp(name)) {
      m.ops_.insert(*op);
    } else {
      report("on", 0, "unknown operation '" + name + "'; use insert, update or delete");
      ok = false;
    }
  }
  if (m.ops_.empty() && spec.on.empty()) {
    m.ops_ = {Op::kInsert, Op::kUpdate};
  }
  if (!spec.when.empty()) m.when_ = compileField<Expression>("when", spec.when, report, ok);
  if (m.when_) {
    for (std::string& field : m.when_->referencedFields()) {
      std::vector<std::string> path;
      for (std::size_t begin = 0, dot = 0; dot != std::string::npos; begin = dot + 1) {
        dot = field.find('.', begin);
        path.push_back(field.substr(begin, dot == std::string::npos ? dot : dot - begin));
      }
      m.when_fields_.emplace_back(std::move(field), std::move(path));
    }
  }
  m.to_ = compileField<Template>("to", spec.to, report, ok);
  m.text_ = compileField<Template>("text", spec.text, report, ok);
  if (!spec.region.empty()) m.region_ = compileField<Template>("region", spec.region, report, ok);
  if (!spec.dedup.empty()) m.dedup_ = compileField<Template>("dedup", spec.dedup, report, ok);
  if (!m.compileLookups(report)) ok = false;
  if (auto lane = parseLane(spec.lane)) {
    m.lane_ = *lane;
  } else {
    report("lane", 0, "unknown lane '" + spec.lane + "'; use otp, transactional or marketing");
    ok = false;
  }
  m.phone_types_ = defaults.phone_types;
  if (!spec.phone_types.empty()) {
    if (auto policy = parsePhoneTypePolicy(spec.phone_types)) {
      m.phone_types_ = *policy;
    } else {
      report("phone_types", 0,
             "unknown phone type policy '" + spec.phone_types +
                 "'; use any, mobile or "
                 "mobile_or_unknown");
      ok = false;
    }
  }
  const std::string& sender = spec.sender.empty() ? defaults.sender : spec.sender;
  if (!sender.empty()) {
    if (Status s = validateSenderId(sender); !s.isOk()) {
      report("sender", 0, (spec.sender.empty() ? "defaults.sender: " : "") + s.message());
      ok = false;
    }
  }
  if (spec.max_segments < 0) {
    report("max_segments", 0, "must be 0 (no limit) or more");
    ok = false;
  }
  if (m.text_ && m.text_->isConstant() && spec.text.empty()) {
    report("text", 0, "the SMS text is empty");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return m;
}

bool Mapping::matches(const ChangeEvent& event) const {
  return event.source == spec_.source && event.table == spec_.table && ops_.count(event.op) > 0;
}

bool Mapping::readsBeforeImage() const {
  auto reads_old = [](const std::vector<std::string>& fields) {
    return std::any_of(fields.begin(), fields.end(),
                       [](const std::string& f) { return f.rfind("old.", 0) == 0; });
  };
  if (when_ && reads_old(when_->referencedFields())) return true;
  for (const std::optional<Template>* t : {&to_, &region_, &text_, &dedup_}) {
    if (*t && reads_old((*t)->referencedFields())) return true;
  }
  return false;
}

bool Mapping::compileLookups(const ReportFn& report) {
  bool ok = true;
  std::set<std::string> names;
  for (const LookupSpec& lookup : spec_.lookups) {
    const std::string key = "lookup." + lookup.name;
    names.insert(lookup.name);
    if (!isIdentifier(lookup.name) || lookup.name == "old" || lookup.name == "new") {
      report(key, 0,
             "lookup name '" + lookup.name +
                 "' must be letters, digits and '_' (not old or new): templates read it as "
                 "<name>.<column>");
      ok = false;
    }
    if (!startsWithQuery(lookup.sql)) {
      report(key, 0, "a lookup is a query: its SQL must start with SELECT or WITH");
      ok = false;
    }
    lookup_params_.push_back(sqlParameterNames(lookup.sql));
  }
  // A dotted field is old.<col>, new.<col> or <lookup>.<col>; anything else is a typo that
  // would reject every job at run time.
  auto check = [&](std::string_view key, const std::vector<std::string>& fields) {
    for (const std::string& field : fields) {
      const std::string head = fieldHead(field);
      if (head.empty() || head == "old" || head == "new" || names.count(head)) continue;
      if (head == kChange && field == "change.position") continue;
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      report(key, 0,
             "'" + field + "' reads lookup '" + head + "', which this mapping does not define" +
                 (known.empty() ? std::string(" (it has no `lookup:`)")
                                : " (its lookups: " + known + ")"));
      ok = false;
    }
  };
  if (when_) check("when", when_->referencedFields());
  const std::pair<const char*, const std::optional<Template>*> templates[] = {
      {"to", &to_}, {"region", &region_}, {"text", &text_}, {"dedup", &dedup_}};
  for (const auto& [key, t] : templates) {
    if (*t) check(key, (*t)->referencedFields());
  }
  std::set<std::string> when_reads;
  if (when_) {
    for (const std::string& field : when_->referencedFields()) when_reads.insert(fieldHead(field));
  }
  for (std::size_t i = 0; i < spec_.lookups.size(); ++i) {
    (when_reads.count(spec_.lookups[i].name) ? when_lookups_ : other_lookups_).push_back(i);
  }
  return ok;
}

Status Mapping::runLookups(const ChangeEvent& event, const std::vector<std::size_t>& indices,
                           LookupRunner* runner, LookupRows& rows,
                           std::optional<std::pair<JobStatus, std::string>>& problem) const {
  const Row* current = event.current();
  for (std::size_t i : indices) {
    if (rows[i]) continue;
    const LookupSpec& lookup = spec_.lookups[i];
    const std::string what = "lookup " + lookup.name + ": ";
    if (!runner) {
      problem = {JobStatus::kRejected, what + "this caller gives the mapping no database access"};
      return Status::ok();
    }
    Row params;
    for (const std::string& name : lookup_params_[i]) {
      const Value* value = current ? current->find(name) : nullptr;
      if (!value || value->isUnavailable()) {
        problem = {JobStatus::kRejected,
                   what + ":" + name + " has no value: the row " +
                       (value ? "was sent without column '" : "has no column '") + name + "'"};
        return Status::ok();
      }
      params.set(name, *value);
    }
    auto row =
        runner->firstRow(lookup.source.empty() ? spec_.source : lookup.source, lookup.sql, params);
    if (!row) {
      if (row.error().category() == ErrorCategory::kRejected) {
        problem = {JobStatus::kRejected, what + row.error().message()};
        return Status::ok();
      }
      return row.error().withContext("mapping '" + spec_.name + "', lookup '" + lookup.name + "'");
    }
    if (!*row && !lookup.optional) {
      problem = {JobStatus::kSuppressed, "lookup_empty: " + lookup.name + " found no row"};
      return Status::ok();
    }
    rows[i] = std::move(*row);
  }
  return Status::ok();
}

std::optional<SmsJob> Mapping::apply(const ChangeEvent& event, TimePoint now) const {
  // Without a runner no lookup can run, so nothing here fails: it rejects the job instead.
  return *build(event, now, nullptr);
}

Result<std::optional<SmsJob>> Mapping::apply(const ChangeEvent& event, TimePoint now,
                                             LookupRunner& lookups) const {
  return build(event, now, &lookups);
}

Result<std::optional<SmsJob>> Mapping::build(const ChangeEvent& event, TimePoint now,
                                             LookupRunner* lookups) const {
  LookupRows lookup_rows(spec_.lookups.size());
  EventContext context(event, now, &spec_.lookups, &lookup_rows);
  SmsJob job;
  job.source = event.source;
  job.mapping = spec_.name;
  job.entity_table = event.table;
  job.entity_id = event.pk;
  job.lane = lane_;
  job.route = spec_.route;
  job.sender = spec_.sender.empty() ? defaults_.sender : spec_.sender;
  job.created_at = now;
  job.not_before = now;
  job.status = JobStatus::kQueued;
  if (!dedup_) job.dedup_key = defaultDedupKey(event, context);

  // A job that ends before `dedup` renders (a failed lookup or when) still needs a key of its
  // own: an empty one would collide with every other such job under the UNIQUE index.
  auto keyEarlyEnd = [&]() {
    if (job.dedup_key.empty()) job.dedup_key = defaultDedupKey(event, context);
  };
  auto reject = [&](std::string reason) {
    keyEarlyEnd();
    job.status = JobStatus::kRejected;
    job.status_reason = std::move(reason);
    spdlog::warn("Mapping rejected a change. mapping={} table={} pk={} reason=\"{}\"", spec_.name,
                 event.table, event.pk, job.status_reason);
    return std::optional<SmsJob>(job);
  };
  // Runs lookups; a job ends here when one found nothing or could not run for this row.
  std::optional<std::pair<JobStatus, std::string>> problem;
  auto lookup = [&](const std::vector<std::size_t>& indices) -> Status {
    if (indices.empty()) return Status::ok();
    return runLookups(event, indices, lookups, lookup_rows, problem);
  };
  auto ended = [&]() {
    if (problem->first == JobStatus::kRejected) return reject(std::move(problem->second));
    keyEarlyEnd();
    job.status = problem->first;
    job.status_reason = std::move(problem->second);
    spdlog::info("Lookup found no row; job suppressed. mapping={} table={} pk={} reason=\"{}\"",
                 spec_.name, event.table, event.pk, job.status_reason);
    return std::optional<SmsJob>(job);
  };

  SMSBRIDGE_RETURN_IF_ERROR(lookup(when_lookups_));
  if (problem) return ended();
  if (when_) {
    auto fires = when_->evaluateCondition(context);
    if (!fires) return reject("when: " + fires.error().message());
    if (!*fires) return std::optional<SmsJob>();
  }
  SMSBRIDGE_RETURN_IF_ERROR(lookup(other_lookups_));
  if (problem) return ended();
  if (dedup_) {
    auto key = dedup_->render(context);
    if (!key) return reject("dedup: " + key.error().message());
    job.dedup_key = spec_.name + "|" + *key;
  }
  auto body = text_->render(context);
  if (!body) return reject("text: " + body.error().message());
  job.body = spec_.normalize ? transliterateToGsm7(*body) : std::move(*body);
  if (job.body.empty()) return reject("text: rendered an empty SMS");
  SmsTextInfo info = analyzeSmsText(job.body);
  if (spec_.max_segments > 0 && info.segments > spec_.max_segments) {
    auto fitted = fitToSegments(job.body, spec_.max_segments, spec_.truncate);
    if (!fitted) return reject("text: " + fitted.error().message());
    job.body = std::move(fitted->text);
    info = fitted->info;
  }
  job.encoding = info.encoding;
  job.segments = info.segments;

  auto raw = to_->render(context);
  if (!raw) return reject("to: " + raw.error().message());
  std::string region = defaults_.region;
  if (region_) {
    auto rendered = region_->render(context);
    if (!rendered) return reject("region: " + rendered.error().message());
    if (!rendered->empty()) region = std::move(*rendered);
  }
  PhoneResult phone = normalizePhone(*raw, region, phone_types_);
  job.recipient_raw = phone.raw;
  if (!phone.ok()) {
    job.status = JobStatus::kSuppressed;
    job.status_reason = std::string(phoneProblemName(*phone.problem)) +
                        (phone.detail.empty() ? "" : ": " + phone.detail);
    spdlog::info("No usable phone number; job suppressed. mapping={} table={} pk={} reason={}",
                 spec_.name, event.table, event.pk, phoneProblemName(*phone.problem));
    return std::optional<SmsJob>(std::move(job));
  }
  job.recipient = phone.e164;
  schedule(job, now);
  return std::optional<SmsJob>(std::move(job));
}

std::string Mapping::defaultDedupKey(const ChangeEvent& event, const EvalContext& context) const {
  std::string key = fmt::format("{}|{}|{}|{}", spec_.name, event.source, event.table, event.pk);
  std::string values;
  for (const auto& [name, path] : when_fields_) {
    values += '|';
    values += name;
    values += '=';
    appendKeyValue(values, context.resolve(path));
  }
  if (values.size() > kMaxReadableDedupValues) {
    values = fmt::format("|when#{:016x}", fnv1a(values));
  }
  return key + values;
}

void Mapping::schedule(SmsJob& job, TimePoint now) const {
  static const LaneSettings kNoRules;
  auto it = defaults_.lanes.find(lane_);
  const LaneSettings& lane = it == defaults_.lanes.end() ? kNoRules : it->second;
  TimePoint due = now + spec_.delay;
  if (lane.quiet_hours && lane.quiet_hours->contains(due)) {
    if (lane.drop_in_quiet_hours) {
      job.status = JobStatus::kSuppressed;
      job.status_reason = "quiet_hours: due inside " + lane.quiet_hours->describe();
      return;
    }
    due = lane.quiet_hours->endOf(due);
  }
  job.not_before = due;
  if (due > now) job.status = JobStatus::kScheduled;
  // Validity counts from when the job becomes due, so a deferred job is not born expired.
  auto expires_in = spec_.expires_in.value_or(lane.expires_in);
  if (expires_in.count() > 0) job.expires_at = due + expires_in;
}

Result<std::vector<SmsJob>> MappingEngine::map(std::span<const ChangeEvent> events, TimePoint now,
                                               LookupRunner& lookups) const {
  BatchLookupCache cache(lookups);
  std::vector<SmsJob> jobs;
  for (const ChangeEvent& event : events) {
    for (const Mapping& mapping : mappings_) {
      if (!mapping.matches(event)) continue;
      auto job = mapping.apply(event, now, cache);
      if (!job) return job.error();
      if (*job) jobs.push_back(std::move(**job));
    }
  }
  return jobs;
}

std::vector<SmsJob> MappingEngine::map(std::span<const ChangeEvent> events, TimePoint now) const {
  std::vector<SmsJob> jobs;
  for (const ChangeEvent& event : events) {
    for (const Mapping& mapping : mappings_) {
      if (!mapping.matches(event)) continue;
      if (auto job = mapping.apply(event, now)) jobs.push_back(std::move(*job));
    }
  }
  return jobs;
}

std::vector<std::string> Mapping::referencedFields() const {
  std::vector<std::string> fields;
  auto add = [&fields](std::vector<std::string> more) {
    for (std::string& f : more) {
      if (std::find(fields.begin(), fields.end(), f) == fields.end())
        fields.push_back(std::move(f));
    }
  };
  if (when_) add(when_->referencedFields());
  for (const auto* t : {&to_, &region_, &text_, &dedup_}) {
    if (*t) add((*t)->referencedFields());
  }
  // Lookup parameters bind from the changed row, so they are its columns too.
  for (const auto& params : lookup_params_) add(params);
  return fields;
}

std::vector<std::pair<std::string, std::string>> Mapping::referencedFieldsByKey() const {
  std::vector<std::pair<std::string, std::string>> fields;
  if (when_) {
    for (auto& f : when_->referencedFields()) fields.emplace_back("when", std::move(f));
  }
  const std::pair<const char*, const std::optional<Template>*> templates[] = {
      {"to", &to_}, {"region", &region_}, {"text", &text_}, {"dedup", &dedup_}};
  for (const auto& [key, t] : templates) {
    if (!*t) continue;
    for (auto& f : (*t)->referencedFields()) fields.emplace_back(key, std::move(f));
  }
  for (std::size_t i = 0; i < lookup_params_.size(); ++i) {
    for (const auto& p : lookup_params_[i]) {
      fields.emplace_back("lookup." + spec_.lookups[i].name, p);
    }
  }
  return fields;
}

std::vector<std::string> MappingEngine::tablesOf(const std::string& source) const {
  std::vector<std::string> tables;
  for (const Mapping& m : mappings_) {
    if (m.source() == source &&
        std::find(tables.begin(), tables.end(), m.table()) == tables.end()) {
      tables.push_back(m.table());
    }
  }
  return tables;
}

}  // namespace smsbridge
