#include "connectors/registry.h"

#include <algorithm>

#include "connectors/mysql/mysql_connector.h"
#include "connectors/postgres/pg_connector.h"
#include "connectors/sqlite/sqlite_connector.h"

namespace smsbridge {

bool readCommonSourceKeys(SourceFactory& factory, const std::string& name, std::string_view type,
                          std::initializer_list<std::string_view> captures,
                          const config::Section& section, config::Diagnostics& diagnostics) {
  factory.name = name;
  factory.type = std::string(type);
  factory.capture = section.str("capture");
  factory.tables = section.strings("tables");
  factory.poll_interval = section.duration("poll_interval");
  bool ok = true;
  if (std::find(captures.begin(), captures.end(), factory.capture) == captures.end()) {
    std::string available;
    for (std::string_view c : captures)
      available += (available.empty() ? "" : ", ") + std::string(c);
    diagnostics.add(section.at("capture", "capture mode '" + factory.capture +
                                              "' does not exist for " + factory.type +
                                              " sources; use one of: " + available));
    ok = false;
  }
  if (section.integer("batch_size") < 1) {
    diagnostics.add(section.at("batch_size", "must be at least 1"));
    ok = false;
  }
  return ok;
}

const std::vector<ConnectorEntry>& connectorRegistry() {
  static const std::vector<ConnectorEntry> entries = {
      {"sqlite", &sqlite::sourceSchema(), &sqlite::parseSource},
      {"postgres", &postgres::sourceSchema(), &postgres::parseSource},
      {"mysql", &mysql::sourceSchema(), &mysql::parseSource},
  };
  return entries;
}

const ConnectorEntry* findConnector(std::string_view type) {
  for (const auto& entry : connectorRegistry()) {
    if (entry.type == type) return &entry;
  }
  return nullptr;
}

}  // namespace smsbridge
