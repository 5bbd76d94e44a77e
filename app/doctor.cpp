// `smsbridge doctor`: connects to the store and to every source, runs the checks each
// connector implements for its capture mode, and prints one line per check with the fix for
// every one that is not ok. The checks themselves live in the connectors; this only prints.

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "app/bridge_config.h"
#include "app/commands.h"
#include "connectors/doctor.h"

namespace smsbridge {
namespace {

struct Tally {
  int ok = 0;
  int warnings = 0;
  int failures = 0;
};

// Connectors write "<config>" where a command needs the config file; here it is known.
std::string withConfig(std::string text, const std::string& config) {
  const std::string placeholder = "<config>";
  for (auto at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + config.size())) {
    text.replace(at, placeholder.size(), config);
  }
  return text;
}

void print(const DoctorCheck& check, const std::string& config, Tally& tally) {
  std::printf("  %-8s %s: %s\n", std::string(checkLevelName(check.level)).c_str(),
              check.name.c_str(), check.found.c_str());
  if (check.level != CheckLevel::kOk && !check.fix.empty())
    std::printf("           fix: %s\n", withConfig(check.fix, config).c_str());
  switch (check.level) {
    case CheckLevel::kOk:
      ++tally.ok;
      break;
    case CheckLevel::kWarning:
      ++tally.warnings;
      break;
    case CheckLevel::kFail:
      ++tally.failures;
      break;
  }
}

// Whether `source` answers at all: its doctor with nothing to check fails only when it cannot
// connect or open the database.
bool reachable(const SourceFactory& source) {
  if (!source.doctor) return true;
  DoctorRequest probe;
  probe.source = source.name;
  for (const DoctorCheck& check : source.doctor(probe)) {
    if (check.level == CheckLevel::kFail) return false;
  }
  return true;
}

// A source's stored position, and how long ago it was saved when the store knows.
struct StoredCheckpoint {
  std::string position;
  std::optional<std::chrono::seconds> age;
};

// The store's schema, and the checkpoint of each source when the store can be read.
std::map<std::string, StoredCheckpoint> checkStore(const BridgeConfig& cfg,
                                                   const std::string& config, Tally& tally) {
  std::map<std::string, StoredCheckpoint> checkpoints;
  std::printf("store (%s* tables in source '%s')\n", cfg.store.prefix.c_str(),
              cfg.store.source.c_str());
  // Opening a SQLite store creates its file; doctor must change nothing, so a store whose
  // database is not there is reported, not opened. The source's own checks say why.
  const SourceFactory* home = cfg.findSource(cfg.store.source);
  if (home && !reachable(*home)) {
    print(failCheck("store", "not checked: its source '" + cfg.store.source + "' is unreachable",
                    "fix that source first (see below)"),
          config, tally);
    return checkpoints;
  }
  auto store = cfg.createStore();
  if (!store) {
    print(failCheck("store", store.error().message(), "fix the store source's connection settings"),
          config, tally);
    return checkpoints;
  }
  if (Status schema = (*store)->checkSchema(); !schema.isOk()) {
    print(failCheck("store schema", schema.message(), "smsbridge setup -c <config>"), config,
          tally);
    return checkpoints;
  }
  print(okCheck("store schema", "up to date"), config, tally);
  for (const SourceFactory& source : cfg.sources) {
    auto checkpoint = (*store)->loadCheckpoint(source.name);
    if (!checkpoint || !*checkpoint) continue;
    checkpoints[source.name].position = **checkpoint;
    auto saved_at = (*store)->checkpointSavedAt(source.name);
    if (saved_at && *saved_at) {
      checkpoints[source.name].age = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now() - **saved_at);
    }
  }
  return checkpoints;
}

}  // namespace

int doctorCommand(const DoctorOptions& options) {
  (void)setupLogging("warn", LogFormat::kText);  // this command reports on stdout itself
  config::Diagnostics diagnostics;
  config::LoadOptions load;
  load.read_databases = true;  // presets with `auto` parameters look at the database
  auto cfg = loadBridgeConfig(options.config, load, diagnostics);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", diagnostics.toString().c_str());
    std::fprintf(stderr,
                 "smsbridge doctor: the config has problems; fix them first (see "
                 "`smsbridge check`)\n");
    return 1;
  }
  Tally tally;
  auto checkpoints = checkStore(*cfg, options.config, tally);
  for (const SourceFactory& source : cfg->sources) {
    std::printf("source '%s' (%s, capture: %s)\n", source.name.c_str(), source.description.c_str(),
                source.capture.c_str());
    if (!source.doctor) {
      print(warningCheck("doctor", "no checks for " + source.type + " sources yet",
                         "check the database by hand"),
            options.config, tally);
      continue;
    }
    DoctorRequest request;
    request.source = source.name;
    request.capture = source.capture;
    request.prefix = cfg->store.prefix;
    request.tables = tableNeeds(*cfg->mappings, source.name, cfg->tablesOf(source));
    request.checkpoint = checkpoints[source.name].position;
    request.checkpoint_age = checkpoints[source.name].age;
    request.holds_store = source.name == cfg->store.source;
    for (const DoctorCheck& check : source.doctor(request)) print(check, options.config, tally);
  }
  std::printf("doctor: %d ok, %d warning%s, %d FAIL\n", tally.ok, tally.warnings,
              tally.warnings == 1 ? "" : "s", tally.failures);
  return tally.failures == 0 ? 0 : 1;
}

}  // namespace smsbridge
