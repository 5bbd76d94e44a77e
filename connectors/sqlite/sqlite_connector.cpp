#include "connectors/sqlite/sqlite_connector.h"

#include "connectors/sqlite/sqlite_store.h"
#include "connectors/sqlite/sqlite_trigger_source.h"

namespace smsbridge::sqlite {

const config::Schema& sourceSchema() {
  using namespace config;
  static const Schema schema{
      "sqlite source",
      "A SQLite database file (an embedded shop, a booking app, the quickstart demo).",
      {
          required(str("path",
                       "Database file. Relative paths are resolved against the "
                       "config file's directory. The file must exist.")),
          duration("busy_timeout", "5s",
                   "How long to wait for the shop's own write transactions to release the "
                   "database before an operation fails and is retried."),
          integer("batch_size", 500, "Most captured changes read and enqueued per transaction."),
          duration("retain_processed", "1d",
                   "How long processed rows stay in <prefix>changes for inspection before "
                   "they are purged."),
      },
      "",
      {}};
  return schema;
}

std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics) {
  SourceFactory factory;
  if (!readCommonSourceKeys(factory, name, "sqlite", {"trigger"}, section, diagnostics)) {
    return std::nullopt;
  }
  TriggerSourceConfig config;
  config.name = name;
  config.path = section.resolvePath("path");
  config.batch_size = static_cast<int>(section.integer("batch_size"));
  config.busy_timeout = section.duration("busy_timeout");
  config.retain_processed = section.duration("retain_processed");
  factory.description = "SQLite database " + config.path;
  factory.create_source = [config](const std::vector<std::string>& tables,
                                   const std::string& prefix) -> Result<std::unique_ptr<Source>> {
    TriggerSourceConfig c = config;
    c.tables = tables;
    c.prefix = prefix;
    auto source = SqliteTriggerSource::create(std::move(c));
    if (!source) return source.error();
    return std::unique_ptr<Source>(std::move(*source));
  };
  factory.create_store = [config](const std::string& prefix) -> Result<std::unique_ptr<JobStore>> {
    auto store = SqliteStore::create(config.path, prefix, config.busy_timeout);
    if (!store) return store.error();
    return std::unique_ptr<JobStore>(std::move(*store));
  };
  return factory;
}

}  // namespace smsbridge::sqlite
