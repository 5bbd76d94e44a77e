// Runs every tests/mappings/*.yaml: a config with mappings, and cases of a change event with the
// job (or no job) it must produce. See tests/mappings/README.md for the format.

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "app/bridge_config.h"
#include "config/preset.h"
#include "core/clock.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> mappingFiles() {
  std::vector<std::string> files;
  for (const auto& entry :
       fs::directory_iterator(fs::path(SMSBRIDGE_SOURCE_DIR) / "tests" / "mappings")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// YAML scalars typed the way a database would hand them over: quoted → text, plain numbers →
// numbers, true/false → bool, null/~ → null, `!unsent ''` → unavailable, anything else → text.
Value toValue(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return Value();
  // `!unsent ''`: a value the source did not send (PostgreSQL's unchanged TOAST).
  if (node.Tag() == "!unsent") return Value(UnavailableValue{});
  std::string text = node.Scalar();
  if (node.Tag() == "!") return Value(text);
  if (text == "true" || text == "false") return Value(text == "true");
  char* end = nullptr;
  long long i = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0') return Value(static_cast<std::int64_t>(i));
  double d = std::strtod(text.c_str(), &end);
  if (!text.empty() && *end == '\0') return Value(d);
  return Value(text);
}

std::optional<Row> toRow(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  Row row;
  for (const auto& kv : node) row.set(kv.first.Scalar(), toValue(kv.second));
  return row;
}

// A case's `lookups:` (lookup name → its first row, or null for none), answered by the SQL of
// the lookup with that name. It records the parameters each lookup was given.
class CannedLookups final : public LookupRunner {
 public:
  CannedLookups(const MappingEngine& mappings, const YAML::Node& rows) {
    for (const Mapping& m : mappings.mappings()) {
      for (const LookupSpec& l : m.lookups()) names_[l.sql] = l.name;
    }
    if (rows.IsMap()) {
      for (const auto& kv : rows) rows_[kv.first.Scalar()] = toRow(kv.second);
    }
  }

  Result<std::optional<Row>> firstRow(const std::string&, const std::string& sql,
                                      const Row& params) override {
    const std::string& name = names_[sql];
    params_[name] = params;
    auto it = rows_.find(name);
    return it == rows_.end() ? std::optional<Row>() : it->second;
  }

  std::map<std::string, Row> params_;

 private:
  std::map<std::string, std::string> names_;
  std::map<std::string, std::optional<Row>> rows_;
};

// Checks the jobs one case produced against its `expect`.
// Checks the keys `expect` names against one job.
void expectJob(const YAML::Node& expect, const SmsJob& job) {
  auto check = [&](const char* key, const std::string& actual) {
    if (expect[key]) {
      EXPECT_EQ(actual, expect[key].Scalar()) << key << " of the job from " << job.mapping;
    }
  };
  check("mapping", job.mapping);
  check("status", std::string(statusName(job.status)));
  check("recipient", job.recipient);
  check("recipient_raw", job.recipient_raw);
  check("body", job.body);
  check("segments", std::to_string(job.segments));
  check("encoding", std::string(encodingName(job.encoding)));
  check("lane", std::string(laneName(job.lane)));
  check("route", job.route);
  check("sender", job.sender);
  check("dedup_key", job.dedup_key);
  check("not_before", formatTimestamp(job.not_before));
  check("expires_at", job.expires_at ? formatTimestamp(*job.expires_at) : "never");
  if (expect["reason"]) {
    EXPECT_EQ(job.status_reason.rfind(expect["reason"].Scalar(), 0), 0u)
        << "status_reason '" << job.status_reason << "' does not start with '"
        << expect["reason"].Scalar() << "'";
  }
}

// `expect` is `none`, one job's keys (checked against the first job; `jobs` says how many the
// event makes, default 1), or a list with the keys of every job in order.
void expectJobs(const YAML::Node& c, const std::vector<SmsJob>& jobs) {
  const YAML::Node& expect = c["expect"];
  if (expect.IsScalar() && expect.Scalar() == "none") {
    EXPECT_TRUE(jobs.empty()) << "expected no job, got one from " << jobs.front().mapping;
    return;
  }
  if (expect.IsSequence()) {
    ASSERT_EQ(jobs.size(), expect.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) expectJob(expect[i], jobs[i]);
    return;
  }
  ASSERT_TRUE(expect.IsMap()) << "`expect` is a mapping, a list of them, or `none`";
  std::size_t want = expect["jobs"] ? expect["jobs"].as<std::size_t>() : 1;
  ASSERT_EQ(jobs.size(), want);
  expectJob(expect, jobs.front());
}

class MappingsAsData : public ::testing::TestWithParam<std::string> {};

TEST_P(MappingsAsData, EveryCaseProducesTheExpectedJob) {
  YAML::Node file = YAML::LoadFile(GetParam());
  YAML::Node config = YAML::Clone(file["config"]);
  ASSERT_TRUE(config.IsMap()) << "a mappings test needs a `config:` mapping";
  if (!config["sources"]) config["sources"]["shop"] = YAML::Load("{type: sqlite, path: shop.db}");
  if (!config["providers"]) config["providers"]["sandbox"] = YAML::Load("{type: sandbox}");
  if (!config["routes"]) config["routes"]["default"] = YAML::Load("[sandbox]");

  testing::TempDir dir;
  std::string path = dir.file("smsbridge.yaml");
  std::ofstream(path) << YAML::Dump(config);
  config::Diagnostics diagnostics;
  config::LoadOptions options;
  options.read_secret_files = false;
  auto cfg = loadBridgeConfig(path, options, diagnostics);
  ASSERT_TRUE(cfg.has_value()) << diagnostics.toString();
  std::string source = cfg->sources.front().name;

  ManualClock clock;
  if (file["now"]) {
    auto now = parseTimestamp(file["now"].Scalar());
    ASSERT_TRUE(now.has_value()) << "`now` must be like 2026-11-20T10:00:00Z";
    clock.set(*now);
  }
  int index = 0;
  ASSERT_TRUE(file["cases"].IsSequence()) << "a mappings test needs `cases:`";
  for (const auto& c : file["cases"]) {
    ++index;
    SCOPED_TRACE(c["name"] ? c["name"].Scalar() : "case " + std::to_string(index));
    std::vector<SmsJob> jobs;
    if (c["schedule"]) {
      // A schedule's case: one row its query returned, turned into a job at the file's `now`.
      const Schedule* schedule = nullptr;
      for (const Schedule& s : cfg->schedules) {
        if (s.name() == c["schedule"].Scalar()) schedule = &s;
      }
      ASSERT_NE(schedule, nullptr) << "no schedule named " << c["schedule"].Scalar();
      Row row = toRow(c["row"]).value_or(Row{});
      auto key = schedule->rowKey(row);
      ASSERT_TRUE(key) << key.error().toString();
      jobs.push_back(schedule->jobFor(row, *key, clock.now(), clock.now()));
      expectJobs(c, jobs);
      continue;
    }
    const YAML::Node& e = c["event"];
    ChangeEvent event;
    event.source = e["source"] ? e["source"].Scalar() : source;
    event.table = e["table"].Scalar();
    auto op = parseOp(e["op"] ? e["op"].Scalar() : "update");
    ASSERT_TRUE(op.has_value()) << "unknown op";
    event.op = *op;
    event.pk = e["pk"] ? e["pk"].Scalar() : "1";
    event.position = std::to_string(index);
    event.before = toRow(e["before"]);
    event.after = toRow(e["after"]);

    std::vector<ChangeEvent> events = {event};
    CannedLookups lookups(*cfg->mappings, c["lookups"] ? c["lookups"] : YAML::Node());
    auto mapped = cfg->mappings->map(events, clock.now(), lookups);
    ASSERT_TRUE(mapped) << mapped.error().toString();
    jobs = std::move(*mapped);
    if (c["lookup_params"]) {
      for (const auto& kv : c["lookup_params"]) {
        EXPECT_EQ(lookups.params_[kv.first.Scalar()], toRow(kv.second).value_or(Row{}))
            << "parameters of lookup " << kv.first.Scalar();
      }
    }
    expectJobs(c, jobs);
  }
}

// Every mapping and schedule a shipped preset defines is exercised by a case of its own file,
// tests/mappings/preset_<name>.yaml (or preset_<name>_<variant>.yaml), that expects a job from
// it: a preset mapping added without a test fails here.
TEST(MappingsAsDataCoverage, EveryPresetMappingAndScheduleHasACase) {
  for (const config::Preset& preset : config::builtinPresets()) {
    SCOPED_TRACE(preset.name);
    std::set<std::string> covered;
    bool has_file = false;
    for (const std::string& path : mappingFiles()) {
      const std::string stem = fs::path(path).stem().string();
      const std::string own = "preset_" + preset.name;
      if (stem != own && stem.rfind(own + "_", 0) != 0) continue;
      has_file = true;
      for (const auto& c : YAML::LoadFile(path)["cases"]) {
        if (c["schedule"]) covered.insert(c["schedule"].Scalar());
        const YAML::Node& expect = c["expect"];
        if (expect.IsMap() && expect["mapping"]) covered.insert(expect["mapping"].Scalar());
        if (expect.IsSequence()) {
          for (const auto& job : expect) {
            if (job["mapping"]) covered.insert(job["mapping"].Scalar());
          }
        }
      }
    }
    EXPECT_TRUE(has_file) << "no tests/mappings/preset_" << preset.name << ".yaml";
    std::vector<std::string> parts = preset.mappings;
    parts.insert(parts.end(), preset.schedules.begin(), preset.schedules.end());
    for (const std::string& part : parts) {
      EXPECT_TRUE(covered.count(part)) << part << " has no case that expects a job from it";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Files, MappingsAsData, ::testing::ValuesIn(mappingFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace smsbridge
