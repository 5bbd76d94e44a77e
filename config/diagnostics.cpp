#include "config/diagnostics.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace smsbridge::config {

std::string Diagnostic::toString() const {
  std::string out = file;
  if (line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  if (!out.empty()) out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

void Diagnostics::add(Diagnostic diagnostic) { items_.push_back(std::move(diagnostic)); }

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

std::vector<Diagnostic> Diagnostics::sorted() const {
  std::vector<Diagnostic> out = items_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  std::vector<Diagnostic> unique;
  for (Diagnostic& d : out) {
    bool repeat = std::find(unique.begin(), unique.end(), d) != unique.end();
    if (!repeat) unique.push_back(std::move(d));
  }
  return unique;
}

std::string Diagnostics::toString() const {
  std::string out;
  for (const Diagnostic& d : sorted()) {
    if (!out.empty()) out += '\n';
    out += d.toString();
  }
  return out;
}

Status Diagnostics::toStatus() const {
  if (items_.empty()) return Status::ok();
  return configError(toString());
}

}  // namespace smsbridge::config
