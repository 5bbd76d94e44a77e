#pragma once

// The SQLite query part of `poll` capture (connectors/poll_capture.h). The file is opened
// read-only. Each page is one autocommit SELECT, so it reads one consistent snapshot and holds
// no lock between pages.
//
// Timestamp change columns must hold SQLite date-time text ('2026-11-22 10:15:00' or ISO 8601
// with 'T' and fractions), which julianday() reads; marks have millisecond resolution. A column
// holding Unix epoch numbers is a `version` column here (its overlap counts seconds).

#include <memory>
#include <string>

#include "connectors/poll_capture.h"
#include "connectors/sqlite/sqlite_db.h"

namespace smsbridge::sqlite {

class SqlitePollReader final : public poll::Reader {
 public:
  SqlitePollReader(std::string path, std::chrono::milliseconds busy_timeout)
      : path_(std::move(path)), busy_timeout_(busy_timeout) {}

  Status connect() override;
  Result<std::vector<std::string>> primaryKey(const poll::TableSpec& table) override;
  Result<std::vector<poll::PolledRow>> page(const poll::PageQuery& query) override;

 private:
  std::string path_;
  std::chrono::milliseconds busy_timeout_;
  std::unique_ptr<Database> db_;
};

}  // namespace smsbridge::sqlite
