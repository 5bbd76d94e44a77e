#include "core/sql_session.h"

#include <algorithm>

namespace smsbridge {
namespace {

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The end of the quoted text or comment that starts at `i`, or `i` when none starts there.
// A doubled quote stays inside the text.
std::size_t skipQuotedOrComment(std::string_view sql, std::size_t i) {
  const char c = sql[i];
  if (c == '\'' || c == '"' || c == '`') {
    for (++i; i < sql.size(); ++i) {
      if (sql[i] != c) continue;
      if (i + 1 < sql.size() && sql[i + 1] == c) {
        ++i;
        continue;
      }
      return i + 1;
    }
    return sql.size();
  }
  if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
    const std::size_t end = sql.find('\n', i);
    return end == std::string_view::npos ? sql.size() : end;
  }
  if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
    const std::size_t end = sql.find("*/", i + 2);
    return end == std::string_view::npos ? sql.size() : end + 2;
  }
  return i;
}

// Calls `on_parameter(name, begin, end)` for every `:name` in `sql`, in order.
template <typename F>
void scanParameters(std::string_view sql, F&& on_parameter) {
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (std::size_t skipped = skipQuotedOrComment(sql, i); skipped != i) {
      i = skipped - 1;
      continue;
    }
    if (sql[i] != ':') continue;
    if (i + 1 < sql.size() && sql[i + 1] == ':') {  // PostgreSQL cast `::type`
      ++i;
      continue;
    }
    if (i > 0 && isNameChar(sql[i - 1])) continue;  // not a parameter: `a:b`
    std::size_t j = i + 1;
    while (j < sql.size() && isNameChar(sql[j])) ++j;
    if (j == i + 1 || (sql[i + 1] >= '0' && sql[i + 1] <= '9')) continue;
    on_parameter(std::string(sql.substr(i + 1, j - i - 1)), i, j);
    i = j - 1;
  }
}

}  // namespace

std::vector<std::string> sqlParameterNames(std::string_view sql) {
  std::vector<std::string> names;
  scanParameters(sql, [&](std::string name, std::size_t, std::size_t) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  });
  return names;
}

std::string replaceSqlParameters(
    std::string_view sql, const std::function<std::string(const std::string&)>& placeholder) {
  std::string out;
  std::size_t copied = 0;
  scanParameters(sql, [&](const std::string& name, std::size_t begin, std::size_t end) {
    out.append(sql.substr(copied, begin - copied));
    out += placeholder(name);
    copied = end;
  });
  out.append(sql.substr(copied));
  return out;
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
