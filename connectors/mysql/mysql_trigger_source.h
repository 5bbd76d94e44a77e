#pragma once

// `trigger` capture on MySQL / MariaDB: AFTER INSERT/UPDATE/DELETE triggers on each captured
// table write the before and after images as JSON into <prefix>changes; the source reads the
// rows not yet processed and marks exactly those rows processed once their jobs are durable
// (consume-and-mark, cdc.md B3/C3).
//
// Why not `id > checkpoint`: InnoDB hands out AUTO_INCREMENT ids when a row is inserted, not
// when its transaction commits, so a long transaction can commit change 5 after change 6 was
// read and acknowledged. Reading `processed_at IS NULL` picks such a late row up on a later
// poll. Changes of one row still arrive in order: the row lock makes a second writer wait for
// the first one's commit, so its change gets the higher id and is visible only after.
//
// Not captured: changes made by ON DELETE/UPDATE CASCADE or SET NULL foreign keys (MySQL and
// MariaDB do not fire triggers for them); cascadeWarnings() names the affected tables.
//
// Threading: one capture thread calls everything (core/connector.h). Errors: a missing trigger
// or table, or a table without a primary key, is kConfig; a lost connection is kTransient and
// the next call reconnects.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "core/connector.h"

namespace smsbridge::mysql {

struct TriggerSourceConfig {
  std::string name;                   // source name from the config
  ConnectionOptions connection;       // the shop database
  std::vector<std::string> tables;    // captured tables, in the DSN's database
  std::string prefix = "smsbridge_";  // the bridge's own tables
  int batch_size = 500;
  std::chrono::milliseconds retain_processed{std::chrono::hours(24)};
};

class MysqlTriggerSource final : public Source {
 public:
  // Validates names only; connects on first use.
  static Result<std::unique_ptr<MysqlTriggerSource>> create(TriggerSourceConfig config);

  const std::string& name() const override { return config_.name; }
  Status setup() override;
  Result<std::vector<std::string>> setupSql() override;
  Status start(const std::string& checkpoint) override;
  Result<ChangeBatch> poll(std::chrono::milliseconds wait) override;
  Status acknowledge(const std::string& position) override;

  // One sentence per captured table whose rows a foreign key changes by cascade (ON DELETE /
  // ON UPDATE CASCADE or SET NULL): those changes fire no trigger, so mappings on that table
  // miss them. Empty when there is nothing to warn about. For `smsbridge doctor`.
  Result<std::vector<std::string>> cascadeWarnings();

 private:
  explicit MysqlTriggerSource(TriggerSourceConfig config) : config_(std::move(config)) {}
  Result<Connection*> connection();
  std::string changesTable() const;
  Result<std::vector<std::string>> triggerSql(Connection& conn, const std::string& table);

  TriggerSourceConfig config_;
  std::unique_ptr<Connection> conn_;
  // The ids of the batch poll() handed out last, marked processed by acknowledge().
  std::vector<std::int64_t> delivered_ids_;
  std::string delivered_position_;
  int acks_since_purge_ = 0;
};

}  // namespace smsbridge::mysql
