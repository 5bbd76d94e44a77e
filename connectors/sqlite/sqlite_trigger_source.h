#pragma once

// `trigger` capture on SQLite: AFTER INSERT/UPDATE/DELETE triggers on each captured table write
// the before and after images as JSON into <prefix>changes; the source reads that table in id
// order and marks rows processed once their jobs are durable (consume-and-mark).
//
// SQLite has one writer at a time and assigns ids inside the writing transaction, so change
// ids become visible in commit order: reading `id > checkpoint` cannot skip a late commit
// here, unlike PostgreSQL and MySQL (cdc.md B2).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "connectors/sqlite/sqlite_db.h"
#include "core/connector.h"

namespace smsbridge::sqlite {

struct TriggerSourceConfig {
  std::string name;                   // source name from the config
  std::string path;                   // database file, absolute
  std::vector<std::string> tables;    // captured tables
  std::string prefix = "smsbridge_";  // the bridge's own tables
  int batch_size = 500;
  std::chrono::milliseconds busy_timeout{5000};
  std::chrono::milliseconds retain_processed{std::chrono::hours(24)};
};

class SqliteTriggerSource final : public Source {
 public:
  static Result<std::unique_ptr<SqliteTriggerSource>> create(TriggerSourceConfig config);

  const std::string& name() const override { return config_.name; }
  Status setup() override;
  Result<std::vector<std::string>> setupSql() override;
  Status start(const std::string& checkpoint) override;
  Result<ChangeBatch> poll(std::chrono::milliseconds wait) override;
  Status acknowledge(const std::string& position) override;

 private:
  explicit SqliteTriggerSource(TriggerSourceConfig config) : config_(std::move(config)) {}
  Status connect();
  std::string changesTable() const;
  Result<std::vector<std::string>> triggerSql(const std::string& table);

  TriggerSourceConfig config_;
  std::unique_ptr<Database> db_;
  std::int64_t last_id_ = 0;
  int acks_since_purge_ = 0;
};

}  // namespace smsbridge::sqlite
