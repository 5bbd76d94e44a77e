#pragma once

// `smsbridge doctor`: what each connector checks on the live database, as values. A connector
// gathers facts (server settings, grants, table definitions) and turns each into a DoctorCheck;
// the app only prints them, so tests assert on the checks themselves.

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace smsbridge {

class MappingEngine;

enum class CheckLevel { kOk, kWarning, kFail };
std::string_view checkLevelName(CheckLevel level);  // "ok" | "warning" | "FAIL"

struct DoctorCheck {
  std::string name;  // short and stable: "wal_level", "grants", "table orders"
  CheckLevel level = CheckLevel::kOk;
  std::string found;  // what the server has, in words
  std::string fix;    // for a non-ok check: the exact statement or setting that fixes it
};

DoctorCheck okCheck(std::string name, std::string found);
DoctorCheck warningCheck(std::string name, std::string found, std::string fix);
DoctorCheck failCheck(std::string name, std::string found, std::string fix);

// What the mappings of one source need from one captured table.
struct TableNeeds {
  std::string table;              // as configured: "orders" or "shop.orders"
  std::set<std::string> columns;  // columns the mappings read, old. or not
  // Columns read through old.<col>, changed() or crossed_*() by mappings that fire on update
  // or delete: logical capture needs them in the replica identity.
  std::set<std::string> old_columns;
  // Where each column is read, as config key paths ("mappings.order_shipped.text"), so a
  // missing column's check names the mapping and key to correct.
  std::map<std::string, std::set<std::string>> readers = {};
};

// One entry per table in `tables`, in that order, filled from the mappings of `source`. Only
// plain fields ("status") and before-image fields ("old.status") name columns; other dotted
// paths (lookups) are not the table's.
std::vector<TableNeeds> tableNeeds(const MappingEngine& mappings, const std::string& source,
                                   const std::vector<std::string>& tables);

// What doctor asks a connector to check for one source.
struct DoctorRequest {
  std::string source;   // the source's name
  std::string capture;  // logical | binlog | trigger | poll
  std::string prefix = "smsbridge_";
  std::vector<TableNeeds> tables;
  // The checkpoint stored for this source, when the store has one (empty: none yet).
  std::string checkpoint;
  // How long ago the store saved that checkpoint, when the store keeps the time.
  std::optional<std::chrono::seconds> checkpoint_age = std::nullopt;
  bool holds_store = false;  // the store's tables live in this source's database
};

// The check every connector runs per table: `columns` is what the table has, or nothing when
// it does not exist. A column the mappings name but the table lacks is a FAIL naming the
// mapping keys that read it: it is most often a typo, and every job from that mapping would be
// rejected at run time.
DoctorCheck tableColumnsCheck(const TableNeeds& needs,
                              const std::optional<std::set<std::string>>& columns);

// "a, b, c"
std::string joinNames(const std::vector<std::string>& names, std::string_view separator = ", ");

}  // namespace smsbridge
