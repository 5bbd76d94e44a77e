#include "connectors/registry.h"

#include "connectors/mysql/mysql_connector.h"
#include "connectors/postgres/pg_connector.h"
#include "connectors/sqlite/sqlite_connector.h"

namespace smsbridge {

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
