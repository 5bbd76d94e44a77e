#pragma once

// The MySQL / MariaDB query part of `poll` capture (connectors/poll_capture.h). Needs only
// SELECT on the captured tables.
//
// The session runs READ COMMITTED in autocommit, so every page is one statement reading the
// latest committed rows; a REPEATABLE READ transaction (the server default) would freeze the
// view and hide late commits for as long as it stays open (cdc.md B4.3).
//
// Marks: microseconds since 1970 of the column's nominal value for DATETIME / TIMESTAMP (read
// in the session time zone, the same one the bound is computed in); the value itself for
// integer `version` columns. Values arrive as text, as everything from this connection does.

#include <map>
#include <memory>
#include <string>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/poll_capture.h"

namespace smsbridge::mysql {

class MysqlPollReader final : public poll::Reader {
 public:
  explicit MysqlPollReader(ConnectionOptions options) : options_(std::move(options)) {}

  Status connect() override;
  Result<std::vector<std::string>> primaryKey(const poll::TableSpec& table) override;
  Result<std::vector<poll::PolledRow>> page(const poll::PageQuery& query) override;

 private:
  ConnectionOptions options_;
  std::unique_ptr<Connection> conn_;
  std::map<std::string, std::vector<std::string>> columns_;  // table → columns in order
};

}  // namespace smsbridge::mysql
