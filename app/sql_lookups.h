#pragma once

// Mapping lookups against the configured sources' databases: the LookupRunner the capture
// loop and `test-mapping` give the mapping engine.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/bridge_config.h"
#include "core/mapping.h"
#include "core/sql_session.h"

namespace smsbridge {

// One SqlSession per source, opened on first use (SourceFactory::open_sql) and dropped after a
// transient failure so the next batch connects anew. Not thread-safe: one per capture thread.
class SqlLookupRunner final : public LookupRunner {
 public:
  explicit SqlLookupRunner(const std::vector<SourceFactory>& sources) : sources_(sources) {}

  Result<std::optional<Row>> firstRow(const std::string& source, const std::string& sql,
                                      const Row& params) override;

 private:
  const std::vector<SourceFactory>& sources_;
  std::map<std::string, std::unique_ptr<SqlSession>> sessions_;
};

// kConfig naming the first mapping whose lookup runs on a source that cannot run SQL (a
// database type without SqlSession support yet): `run` refuses to start rather than stop at
// the first change.
Status checkLookupSources(const BridgeConfig& config);

}  // namespace smsbridge
