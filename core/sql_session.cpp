#include "core/sql_session.h"

#include <algorithm>

namespace smsbridge {

std::vector<std::string> sqlParameterNames(std::string_view sql) {
  std::vector<std::string> names;
  auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {  // skip quoted text; a doubled quote stays inside
      for (++i; i < sql.size(); ++i) {
        if (sql[i] != c) continue;
        if (i + 1 < sql.size() && sql[i + 1] == c) {
          ++i;
          continue;
        }
        break;
      }
      continue;
    }
    if (c != ':') continue;
    if (i + 1 < sql.size() && sql[i + 1] == ':') {  // PostgreSQL cast `::type`
      ++i;
      continue;
    }
    if (i > 0 && is_name_char(sql[i - 1])) continue;  // not a parameter: `a:b`
    std::size_t j = i + 1;
    while (j < sql.size() && is_name_char(sql[j])) ++j;
    if (j == i + 1 || (sql[i + 1] >= '0' && sql[i + 1] <= '9')) continue;
    std::string name(sql.substr(i + 1, j - i - 1));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    i = j - 1;
  }
  return names;
}

Result<std::vector<Row>> SqlSession::query(std::string_view sql, const Row& params) {
  std::vector<Row> rows;
  Status s = forEachRow(sql, params, [&](const Row& row) {
    rows.push_back(row);
    return true;
  });
  if (!s.isOk()) return s;
  return rows;
}

Result<std::vector<std::int64_t>> SqlSession::executeAll(
    std::span<const Statement> /*statements*/) {
  return internalError("this database's SQL session cannot run statements in one transaction yet");
}

}  // namespace smsbridge
