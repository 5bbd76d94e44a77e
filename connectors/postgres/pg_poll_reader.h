#pragma once

// The PostgreSQL query part of `poll` capture (connectors/poll_capture.h). Needs only SELECT on
// the captured tables: the shadow and checkpoint live in the store.
//
// Each page is one short READ COMMITTED transaction, i.e. one snapshot; nothing is held open
// between pages, so the bridge never pins the shop's vacuum horizon. Rows come as
// row_to_json(), so numbers and booleans arrive typed, as in trigger mode.
//
// Marks: microseconds since 1970 for timestamptz, timestamp (read as UTC) and date columns; the
// value itself for integer `version` columns. The watermark could be made exact with the
// snapshot functions cdc.md B3/B4 describes (xmin of in-progress transactions, which needs
// pg_read_all_stats); with plain SELECT rights the overlap window is what protects late commits.

#include <map>
#include <memory>
#include <string>

#include "connectors/poll_capture.h"
#include "connectors/postgres/pg_connection.h"

namespace smsbridge::postgres {

class PgPollReader final : public poll::Reader {
 public:
  PgPollReader(std::string dsn, std::chrono::milliseconds connect_timeout)
      : dsn_(std::move(dsn)), connect_timeout_(connect_timeout) {}

  Status connect() override;
  Result<std::vector<std::string>> primaryKey(const poll::TableSpec& table) override;
  Result<std::vector<poll::PolledRow>> page(const poll::PageQuery& query) override;

 private:
  std::string dsn_;
  std::chrono::milliseconds connect_timeout_;
  std::unique_ptr<PgConnection> conn_;
  std::map<std::string, std::string> change_types_;  // table → type of its change column
};

}  // namespace smsbridge::postgres
