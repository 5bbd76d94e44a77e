#pragma once

// The whole configuration of one bridge: the root schema assembled from every component's
// schema, and the typed result of loading a file. Loading validates everything and compiles
// every mapping, and reports all problems at once; nothing is started.

#include <chrono>
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
#include "core/schedule_runner.h"
#include "core/server_config.h"
#include "core/write_back.h"
#include "providers/registry.h"
#include "providers/webhooks.h"

namespace smsbridge {

struct StoreSettings {
  std::string source;  // the source whose database holds the store
  std::string prefix = "smsbridge_";
};

struct OptOutSettings {
  // Lanes whose jobs to opted-out recipients are suppressed (JobStore::setOptOutLanes).
  std::vector<Lane> lanes = {Lane::kMarketing};
};

// The `server:` section: the HTTP server for webhooks, /healthz, /readyz and /metrics.
struct ServerSettings {
  ServerConfig http;  // listen address, TLS files, limits
  // The base URL clients reach the server at ("https://sms.example.com/bridge"), for webhook
  // signatures computed over the public URL behind a reverse proxy; empty: not configured.
  std::string public_url;
  // A delivery report for a message id no job has yet is parked this long (its send result may
  // still be on the way), then dropped and counted as unknown.
  std::chrono::milliseconds park_reports_for{std::chrono::minutes(10)};
};

struct NamedProvider {
  std::string name;
  std::string type;
  ProviderFactory create;
  WebhookSecrets webhook_secrets = {};  // empty for providers without webhooks
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
  OptOutSettings optouts;
  std::vector<NamedProvider> providers;
  // HTTP providers with `status_poll.enabled` whose API can answer status queries.
  std::vector<HttpProviderSpec> status_polls;
  std::map<std::string, Route> routes;
  DispatcherConfig dispatcher;
  std::shared_ptr<MappingEngine> mappings;
  std::vector<PresetSetup> preset_setup;
  // Per-mapping `write_back:` actions and the sources they (and the status mirror) write to;
  // empty when nothing is written back.
  WriteBackConfig write_back;
  // The mappings whose status changes the store logs for write-back (JobStore::
  // setWriteBackMappings): those with actions, and every mapping of a mirrored source.
  std::vector<std::string> write_back_mappings;
  std::vector<Schedule> schedules;
  InboundSettings inbound;
  // Absent without a `server:` section: no port is opened, so several bridges can run on one
  // host (tests do) without fighting over it.
  std::optional<ServerSettings> server;

  const SourceFactory* findSource(const std::string& name) const;
  // Tables a source captures: its `tables:` list, else what its mappings read.
  std::vector<std::string> tablesOf(const SourceFactory& source) const;
  Result<std::unique_ptr<JobStore>> createStore() const;
  // The providers whose webhooks the server serves (providers/webhooks.h).
  std::vector<WebhookProvider> webhookProviders() const;
};

const config::Schema& bridgeSchema();

// Loads, validates and compiles `path`. On any problem returns nothing and fills `diagnostics`
// with every problem found, each with file:line:col and key path.
std::optional<BridgeConfig> loadBridgeConfig(const std::string& path,
                                             const config::LoadOptions& options,
                                             config::Diagnostics& diagnostics);

}  // namespace smsbridge
