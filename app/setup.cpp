#include <cstdio>

#include "app/bridge_config.h"
#include "app/commands.h"

namespace smsbridge {
namespace {

// Setup runs with whatever rights the DSN's user has; these are what a dedicated bridge user
// needs at least. Printed, never executed: granting is the administrator's decision.
void printGrants(const SourceFactory& factory, const std::vector<std::string>& tables,
                 const BridgeConfig& cfg) {
  if (!factory.grants) return;
  std::printf(
      "-- least-privilege grants for source '%s' (%s capture); smsbridge does not run "
      "these, an administrator does:\n",
      factory.name.c_str(), factory.capture.c_str());
  for (const auto& line :
       factory.grants(tables, cfg.store.prefix, cfg.store.source == factory.name))
    std::printf("%s\n", line.c_str());
  std::printf("\n");
}

// The marker table of write-back actions, and the status mirror, in the source they write to.
Status setupWriteBack(const std::string& name, const WriteBackSource& source,
                      const BridgeConfig& cfg, bool dry_run) {
  const auto sql = writeBackSetupSql(source.dialect, cfg.store.prefix, cfg.write_back.mirror_table,
                                     source.mirror);
  if (dry_run) {
    std::printf("-- write-back tables in source '%s'\n", name.c_str());
    for (const auto& statement : sql) std::printf("%s;\n\n", statement.c_str());
    return Status::ok();
  }
  if (!source.open_sql) {
    return configError("source '" + name +
                       "' has write-back, but this build cannot run SQL on its database type yet");
  }
  auto session = source.open_sql();
  if (!session) return session.error().withContext("source '" + name + "'");
  for (const auto& statement : sql) {
    auto done = (*session)->execute(statement, {});
    if (!done) return done.error().withContext("source '" + name + "': creating write-back tables");
  }
  std::printf(
      "source '%s': write-back tables are ready%s\n", name.c_str(),
      source.mirror ? (" (statuses mirrored in " + cfg.write_back.mirror_table + ")").c_str() : "");
  return Status::ok();
}

}  // namespace

int setupCommand(const SetupOptions& options) {
  (void)setupLogging("warn", LogFormat::kText);  // this command reports on stdout itself
  config::Diagnostics diagnostics;
  config::LoadOptions load;
  load.read_databases = true;  // presets with `auto` parameters look at the database
  auto cfg = loadBridgeConfig(options.config, load, diagnostics);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", diagnostics.toString().c_str());
    return 1;
  }
  auto fail = [](const Status& status) {
    std::fprintf(stderr, "smsbridge setup: %s\n", status.toString().c_str());
    return 1;
  };

  auto store = cfg->createStore();
  if (!store) return fail(store.error());
  if (options.dry_run) {
    std::printf("-- store: %s*\n", cfg->store.prefix.c_str());
    for (const auto& sql : (*store)->migrationSql()) std::printf("%s;\n\n", sql.c_str());
  } else {
    if (Status s = (*store)->migrate(); !s.isOk()) return fail(s);
    std::printf("store: %s* tables are ready in source '%s'\n", cfg->store.prefix.c_str(),
                cfg->store.source.c_str());
  }

  // Tables presets need (the outbox) exist before capture is installed on them.
  for (const PresetSetup& preset : cfg->preset_setup) {
    const SourceFactory* factory = cfg->findSource(preset.source);
    if (options.dry_run) {
      std::printf("-- preset '%s' in source '%s'\n", preset.preset.c_str(), preset.source.c_str());
      for (const auto& sql : preset.statements) std::printf("%s;\n\n", sql.c_str());
      continue;
    }
    if (factory == nullptr || !factory->open_sql) {
      return fail(configError("source '" + preset.source + "' cannot run the SQL preset '" +
                              preset.preset +
                              "' needs yet; run it yourself (smsbridge setup --dry-run prints "
                              "it), then setup again"));
    }
    auto session = factory->open_sql();
    if (!session) return fail(session.error());
    for (const auto& sql : preset.statements) {
      if (auto done = (*session)->execute(sql, Row{}); !done) return fail(done.error());
    }
    std::printf("preset '%s': tables are ready in source '%s'\n", preset.preset.c_str(),
                preset.source.c_str());
  }

  for (const SourceFactory& factory : cfg->sources) {
    auto tables = cfg->tablesOf(factory);
    auto source = factory.create_source(tables, cfg->store.prefix);
    if (!source) return fail(source.error());
    std::vector<std::string> before_image_tables;
    for (const Mapping& mapping : cfg->mappings->mappings()) {
      if (mapping.source() == factory.name && mapping.readsBeforeImage())
        before_image_tables.push_back(mapping.table());
    }
    (*source)->setBeforeImageTables(std::move(before_image_tables), options.set_replica_identity);
    if (options.dry_run) {
      auto sql = (*source)->setupSql();
      if (!sql) return fail(sql.error());
      std::printf("-- source '%s' (%s, capture: %s)\n", factory.name.c_str(),
                  factory.description.c_str(), factory.capture.c_str());
      for (const auto& statement : *sql) std::printf("%s;\n\n", statement.c_str());
      printGrants(factory, tables, *cfg);
    } else {
      if (Status s = (*source)->setup(); !s.isOk()) return fail(s);
      std::string list;
      for (const auto& t : tables) list += (list.empty() ? "" : ", ") + t;
      if (list.empty()) {
        // Only read by schedules (or holding the store): `run` does not capture it either.
        std::printf("source '%s': no tables to capture\n", factory.name.c_str());
      } else {
        std::printf("source '%s': %s capture installed on %s\n", factory.name.c_str(),
                    factory.capture.c_str(), list.c_str());
      }
      printGrants(factory, tables, *cfg);
    }
  }
  for (const auto& [name, source] : cfg->write_back.sources) {
    if (Status s = setupWriteBack(name, source, *cfg, options.dry_run); !s.isOk()) return fail(s);
  }
  if (!options.dry_run)
    std::printf("setup complete; start the bridge with: smsbridge run -c %s\n",
                options.config.c_str());
  return 0;
}

}  // namespace smsbridge
