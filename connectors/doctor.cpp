#include "connectors/doctor.h"

#include <algorithm>

#include "core/mapping.h"

namespace smsbridge {

std::string_view checkLevelName(CheckLevel level) {
  switch (level) {
    case CheckLevel::kOk:
      return "ok";
    case CheckLevel::kWarning:
      return "warning";
    case CheckLevel::kFail:
      return "FAIL";
  }
  return "FAIL";
}

DoctorCheck okCheck(std::string name, std::string found) {
  return {std::move(name), CheckLevel::kOk, std::move(found), ""};
}

DoctorCheck warningCheck(std::string name, std::string found, std::string fix) {
  return {std::move(name), CheckLevel::kWarning, std::move(found), std::move(fix)};
}

DoctorCheck failCheck(std::string name, std::string found, std::string fix) {
  return {std::move(name), CheckLevel::kFail, std::move(found), std::move(fix)};
}

std::vector<TableNeeds> tableNeeds(const MappingEngine& mappings, const std::string& source,
                                   const std::vector<std::string>& tables) {
  std::vector<TableNeeds> needs;
  for (const std::string& table : tables) {
    TableNeeds t;
    t.table = table;
    for (const Mapping& m : mappings.mappings()) {
      if (m.source() != source || m.table() != table) continue;
      // On insert there is no before-image to ask for, whatever the expression reads.
      const bool has_before = m.ops().contains(Op::kUpdate) || m.ops().contains(Op::kDelete);
      for (const auto& [key, field] : m.referencedFieldsByKey()) {
        const std::string reader = "mappings." + m.name() + "." + key;
        auto dot = field.find('.');
        if (dot == std::string::npos) {
          t.columns.insert(field);
          t.readers[field].insert(reader);
        } else if (field.find('.', dot + 1) == std::string::npos) {
          const std::string row = field.substr(0, dot);
          std::string column = field.substr(dot + 1);
          if (row == "old" && has_before) t.old_columns.insert(column);
          if (row == "old" || row == "new") {
            t.readers[column].insert(reader);
            t.columns.insert(std::move(column));
          }
        }
      }
    }
    needs.push_back(std::move(t));
  }
  return needs;
}

std::string joinNames(const std::vector<std::string>& names, std::string_view separator) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += separator;
    out += n;
  }
  return out;
}

DoctorCheck tableColumnsCheck(const TableNeeds& needs,
                              const std::optional<std::set<std::string>>& columns) {
  std::string name = "table " + needs.table;
  if (!columns) {
    return failCheck(name, "table does not exist (or this user cannot see it)",
                     "fix the table name in the mappings / `tables:`, or grant access to it");
  }
  std::vector<std::string> missing;
  std::set_difference(needs.columns.begin(), needs.columns.end(), columns->begin(), columns->end(),
                      std::back_inserter(missing));
  if (!missing.empty()) {
    std::vector<std::string> described;
    for (const std::string& column : missing) {
      auto it = needs.readers.find(column);
      std::vector<std::string> where;
      if (it != needs.readers.end()) where.assign(it->second.begin(), it->second.end());
      described.push_back(column + (where.empty() ? "" : " (read by " + joinNames(where) + ")"));
    }
    return failCheck(name,
                     "mappings read column(s) the table does not have: " + joinNames(described),
                     "correct the column name(s) in the mappings");
  }
  return okCheck(name, "exists; has the " + std::to_string(needs.columns.size()) +
                           " column(s) the mappings read");
}

}  // namespace smsbridge
