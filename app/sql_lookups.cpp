#include "app/sql_lookups.h"

namespace smsbridge {

Result<std::optional<Row>> SqlLookupRunner::firstRow(const std::string& source,
                                                     const std::string& sql, const Row& params) {
  auto it = sessions_.find(source);
  if (it == sessions_.end()) {
    const SourceFactory* factory = nullptr;
    for (const SourceFactory& f : sources_) {
      if (f.name == source) factory = &f;
    }
    if (!factory) return configError("no source named '" + source + "'");
    if (!factory->open_sql) {
      return configError("source '" + source + "' (" + factory->type +
                         ") cannot run lookup queries yet");
    }
    auto session = factory->open_sql();
    if (!session) return session.error();
    it = sessions_.emplace(source, std::move(*session)).first;
  }
  std::optional<Row> first;
  Status status = it->second->forEachRow(sql, params, [&](const Row& row) {
    first = row;
    return false;  // one row is all a lookup reads
  });
  if (!status.isOk()) {
    if (status.category() == ErrorCategory::kTransient) sessions_.erase(it);
    return status;
  }
  return first;
}

Status checkLookupSources(const BridgeConfig& config) {
  for (const Mapping& mapping : config.mappings->mappings()) {
    for (const LookupSpec& lookup : mapping.lookups()) {
      const std::string& name = lookup.source.empty() ? mapping.source() : lookup.source;
      const SourceFactory* source = config.findSource(name);
      if (source && !source->open_sql) {
        return configError("mapping '" + mapping.name() + "', lookup '" + lookup.name +
                           "': source '" + name + "' (" + source->type +
                           ") cannot run lookup queries yet");
      }
    }
  }
  return Status::ok();
}

}  // namespace smsbridge
