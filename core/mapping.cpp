#include "core/mapping.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/sms_text.h"

namespace smsbridge {
namespace {

// Fields of one change event: unprefixed names read the current row, `old.<col>` the before
// image. A table that has a column named "old" is still reachable as `new.old`.
class EventContext final : public EvalContext {
 public:
  EventContext(const ChangeEvent& event, TimePoint now) : event_(event), now_(now) {}

  std::chrono::system_clock::time_point now() const override { return now_; }

  const Value* resolve(std::span<const std::string> path) const override {
    if (path.size() == 2 && path[0] == "old") {
      return event_.before ? event_.before->find(path[1]) : nullptr;
    }
    if (path.size() == 2 && path[0] == "new") {
      return event_.after ? event_.after->find(path[1]) : nullptr;
    }
    if (path.size() != 1) return nullptr;
    const Row* row = event_.current();
    return row ? row->find(path[0]) : nullptr;
  }

 private:
  const ChangeEvent& event_;
  TimePoint now_;
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

std::optional<SmsJob> Mapping::apply(const ChangeEvent& event, TimePoint now) const {
  EventContext context(event, now);
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

  auto reject = [&](std::string reason) {
    job.status = JobStatus::kRejected;
    job.status_reason = std::move(reason);
    spdlog::warn("Mapping rejected a change. mapping={} table={} pk={} reason=\"{}\"", spec_.name,
                 event.table, event.pk, job.status_reason);
    return job;
  };

  if (when_) {
    auto fires = when_->evaluateCondition(context);
    if (!fires) return reject("when: " + fires.error().message());
    if (!*fires) return std::nullopt;
  }
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
    return job;
  }
  job.recipient = phone.e164;
  schedule(job, now);
  return job;
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
