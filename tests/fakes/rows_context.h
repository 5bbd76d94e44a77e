#pragma once

// An EvalContext over plain rows, for expression and template tests: {x} reads the after row,
// {"old", x} the before row (absent: no before-image) and {"lookup", x} a lookup row, as a
// mapping's context does. now() is the system clock unless `clock` is set.

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/expression.h"
#include "core/value.h"

namespace smsbridge::testing {

class RowsContext : public EvalContext {
 public:
  Row after;
  std::optional<Row> before;
  Row lookup;
  std::optional<std::chrono::system_clock::time_point> clock;

  const Value* resolve(std::span<const std::string> path) const override {
    if (path.size() == 1) return after.find(path[0]);
    if (path.size() == 2 && path[0] == "old") return before ? before->find(path[1]) : nullptr;
    if (path.size() == 2 && path[0] == "lookup") return lookup.find(path[1]);
    return nullptr;
  }

  std::chrono::system_clock::time_point now() const override {
    return clock ? *clock : EvalContext::now();
  }
};

// "offset: message" lines, for failure output.
inline std::string describe(const std::vector<ExprDiagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += std::to_string(d.offset) + ": " + d.message + "\n";
  return out;
}

}  // namespace smsbridge::testing
