#include "core/sql_ident.h"

namespace smsbridge {
namespace {

bool isIdentifierPart(std::string_view part) {
  if (part.empty() || part.size() > 63) return false;
  if (part.front() >= '0' && part.front() <= '9') return false;
  for (char c : part) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '$';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool isValidIdentifier(std::string_view name) {
  std::size_t dot = name.find('.');
  if (dot == std::string_view::npos) return isIdentifierPart(name);
  return isIdentifierPart(name.substr(0, dot)) && isIdentifierPart(name.substr(dot + 1));
}

Status validateIdentifier(std::string_view name, std::string_view what) {
  if (isValidIdentifier(name)) return Status::ok();
  return configError(std::string(what) + " '" + std::string(name) +
                     "' is not a valid SQL name (use letters, digits, '_' or '$', at most 63 "
                     "characters, optionally schema.name)");
}

std::string quoteIdentifier(std::string_view name, SqlDialect dialect) {
  char q = dialect == SqlDialect::kMysql ? '`' : '"';
  std::string out;
  out += q;
  for (char c : name) {
    if (c == '.') {
      out += q;
      out += '.';
      out += q;
    } else {
      out += c;
    }
  }
  out += q;
  return out;
}

std::string quoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

bool isBridgeOwnedTable(std::string_view table, std::string_view prefix) {
  std::size_t dot = table.rfind('.');
  std::string_view base = dot == std::string_view::npos ? table : table.substr(dot + 1);
  if (base.substr(0, prefix.size()) != prefix) return false;
  return base.substr(prefix.size()) != "outbox";
}

}  // namespace smsbridge
