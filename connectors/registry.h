#pragma once

// The table of source connectors: which `type:` values a source may have, each with its config
// schema and the code that turns a validated config section into factories. An explicit table,
// no static self-registration (static libraries drop it).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/schema.h"
#include "config/section.h"
#include "connectors/doctor.h"
#include "core/connector.h"
#include "core/job_store.h"
#include "core/sql_session.h"

namespace smsbridge {

// A configured source, ready to build its capture and, when the store lives in it, its store.
struct SourceFactory {
  std::string name;
  std::string type;
  std::string capture;
  std::vector<std::string> tables;  // from `tables:`; empty: what the mappings read
  std::chrono::milliseconds poll_interval{500};
  std::string description;  // "SQLite database shop.db", for logs and setup output
  std::function<Result<std::unique_ptr<Source>>(const std::vector<std::string>& tables,
                                                const std::string& prefix)>
      create_source;
  // Empty when this kind of database cannot hold the store yet.
  std::function<Result<std::unique_ptr<JobStore>>(const std::string& prefix)> create_store;
  // `smsbridge doctor`: connects and runs every check `request.capture` needs. Blocks on the
  // database; never throws: a connection failure is a FAIL check.
  std::function<std::vector<DoctorCheck>(const DoctorRequest& request)> doctor;
  // The least-privilege statements (GRANT ..., with "--" comment lines) a dedicated database
  // user needs for this source's capture on `tables`; `setup` prints them. Pure. Empty for
  // databases without users (SQLite).
  std::function<std::vector<std::string>(const std::vector<std::string>& tables,
                                         const std::string& prefix, bool holds_store)>
      grants;
  // Opens a connection for lookups, schedules, write-back actions and `test-mapping
  // --from-db` (core/sql_session.h). Blocks while connecting.
  std::function<Result<std::unique_ptr<SqlSession>>()> open_sql;
};

struct ConnectorEntry {
  std::string_view type;
  const config::Schema* schema;
  // Reads a validated `sources.<name>` section; problems go to `diagnostics`.
  std::function<std::optional<SourceFactory>(
      const std::string& name, const config::Section& section, config::Diagnostics& diagnostics)>
      parse;
};

// Starts `factory` from the keys every source type has (capture, tables, poll_interval,
// batch_size) and checks them; `captures` are the modes this type implements. Returns false
// after adding diagnostics when something is wrong.
bool readCommonSourceKeys(SourceFactory& factory, const std::string& name, std::string_view type,
                          std::initializer_list<std::string_view> captures,
                          const config::Section& section, config::Diagnostics& diagnostics);

// SourceFactory::create_source for a source class with `static Result<std::unique_ptr<T>>
// create(Config)`, whose Config has `tables` and `prefix`: both are filled in per call.
template <typename SourceT, typename Config>
auto createSourceWith(Config config) {
  return
      [config = std::move(config)](const std::vector<std::string>& tables,
                                   const std::string& prefix) -> Result<std::unique_ptr<Source>> {
        Config c = config;
        c.tables = tables;
        c.prefix = prefix;
        auto source = SourceT::create(std::move(c));
        if (!source) return source.error();
        return std::unique_ptr<Source>(std::move(*source));
      };
}

const std::vector<ConnectorEntry>& connectorRegistry();
const ConnectorEntry* findConnector(std::string_view type);

}  // namespace smsbridge
