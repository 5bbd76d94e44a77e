#pragma once

// The rows both fuzz targets evaluate against: what capture hands a mapping, in every shape
// that has bitten expression languages before (numbers as text, null, values the source did not
// send, no before-image), plus one text column `x` whose value comes from the fuzzer input.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/expression.h"
#include "core/value.h"

namespace smsbridge::fuzz {

// Unprefixed paths read `after`, old.<col> reads `before`, like the mapping engine's context.
class FuzzRow final : public EvalContext {
 public:
  FuzzRow(Row after, Row before) : after_(std::move(after)), before_(std::move(before)) {}

  const Value* resolve(std::span<const std::string> path) const override {
    if (path.size() == 2 && path[0] == "old") return before_.find(path[1]);
    if (path.size() == 1) return after_.find(path[0]);
    return nullptr;
  }
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));
  }

 private:
  Row after_;
  Row before_;
};

// Splits the input at the first NUL: the program text before it, the value of `x` after it.
inline std::pair<std::string_view, std::string> splitInput(const std::uint8_t* data,
                                                           std::size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = all.find('\0');
  if (nul == std::string_view::npos) return {all, "fuzz"};
  return {all.substr(0, nul), std::string(all.substr(nul + 1))};
}

inline std::vector<FuzzRow> fuzzRows(const std::string& x) {
  std::vector<FuzzRow> rows;
  rows.emplace_back(Row{{"x", x},
                        {"status", "shipped"},
                        {"stock", "3"},
                        {"total", 129.9},
                        {"id", 17},
                        {"big", std::numeric_limits<std::int64_t>::max()},
                        {"neg", -0.0},
                        {"flag", true},
                        {"note", Value()},
                        {"toast", UnavailableValue{}},
                        {"phone", "+48 600 700 800"},
                        {"created_at", "2026-11-20T10:15:00.123+02:00"}},
                    Row{{"x", "old " + x},
                        {"status", "processing"},
                        {"stock", 7},
                        {"total", "129.90"},
                        {"id", 17},
                        {"flag", "f"},
                        {"note", "was"},
                        {"toast", UnavailableValue{}}});
  // No before-image, and a row where every column is something awkward.
  rows.emplace_back(Row{{"x", x}, {"status", Value()}, {"stock", "abc"}, {"total", "1e308"}},
                    Row{});
  rows.emplace_back(Row{{"x", Value()},
                        {"status", ""},
                        {"stock", 1e300},
                        {"total", std::numeric_limits<std::int64_t>::min()},
                        {"created_at", x}},
                    Row{{"x", x}, {"stock", x}, {"status", x}});
  return rows;
}

}  // namespace smsbridge::fuzz
