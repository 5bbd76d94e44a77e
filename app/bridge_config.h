#pragma once

// The whole configuration of one bridge: the root schema assembled from every component's
// schema, and the typed result of loading a file. Loading validates everything and compiles
// every mapping, and reports all problems at once; nothing is started.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/document.h"
#include "config/schema.h"
#include "connectors/registry.h"
#include "core/dispatcher.h"
#include "core/log.h"
#include "core/mapping.h"
#include "providers/registry.h"

namespace smsbridge {

struct StoreSettings {
  std::string source;  // the source whose database holds the store
  std::string prefix = "smsbridge_";
};

struct NamedProvider {
  std::string name;
  std::string type;
  ProviderFactory create;
};

// Tables a preset needs in a source's database (the outbox), which `smsbridge setup` creates.
struct PresetSetup {
  std::string preset;
  std::string source;
  std::vector<std::string> statements;  // for that source's database type
};

struct BridgeConfig {
  std::string file;
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;
  MappingDefaults defaults;
  std::vector<SourceFactory> sources;
  StoreSettings store;
  std::vector<NamedProvider> providers;
  std::map<std::string, Route> routes;
  DispatcherConfig dispatcher;
  std::shared_ptr<MappingEngine> mappings;
  std::vector<PresetSetup> preset_setup;

  const SourceFactory* findSource(const std::string& name) const;
  // Tables a source captures: its `tables:` list, else what its mappings read.
  std::vector<std::string> tablesOf(const SourceFactory& source) const;
  Result<std::unique_ptr<JobStore>> createStore() const;
};

const config::Schema& bridgeSchema();

// Loads, validates and compiles `path`. On any problem returns nothing and fills `diagnostics`
// with every problem found, each with file:line:col and key path.
std::optional<BridgeConfig> loadBridgeConfig(const std::string& path,
                                             const config::LoadOptions& options,
                                             config::Diagnostics& diagnostics);

}  // namespace smsbridge
