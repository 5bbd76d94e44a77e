#pragma once

// Column values as every connector hands them over, and rows as ordered column lists.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace smsbridge {

struct NullValue {
  bool operator==(const NullValue&) const = default;
};
// A column whose value the source did not send (PostgreSQL unchanged TOAST). It is neither
// null nor empty: an expression that reads it cannot be evaluated.
struct UnavailableValue {
  bool operator==(const UnavailableValue&) const = default;
};

class Value {
 public:
  using Storage =
      std::variant<NullValue, bool, std::int64_t, double, std::string, UnavailableValue>;

  Value() = default;
  Value(NullValue) {}                                 // NOLINT
  Value(UnavailableValue v) : v_(v) {}                // NOLINT
  Value(bool v) : v_(v) {}                            // NOLINT
  Value(std::int64_t v) : v_(v) {}                    // NOLINT
  Value(int v) : v_(static_cast<std::int64_t>(v)) {}  // NOLINT
  Value(double v) : v_(v) {}                          // NOLINT
  Value(std::string v) : v_(std::move(v)) {}          // NOLINT
  Value(const char* v) : v_(std::string(v)) {}        // NOLINT

  bool isNull() const { return std::holds_alternative<NullValue>(v_); }
  bool isUnavailable() const { return std::holds_alternative<UnavailableValue>(v_); }
  bool isBool() const { return std::holds_alternative<bool>(v_); }
  bool isInt() const { return std::holds_alternative<std::int64_t>(v_); }
  bool isDouble() const { return std::holds_alternative<double>(v_); }
  bool isNumber() const { return isInt() || isDouble(); }
  bool isString() const { return std::holds_alternative<std::string>(v_); }

  bool asBool() const { return std::get<bool>(v_); }
  std::int64_t asInt() const { return std::get<std::int64_t>(v_); }
  double asDouble() const { return isInt() ? static_cast<double>(asInt()) : std::get<double>(v_); }
  const std::string& asString() const { return std::get<std::string>(v_); }

  // The number this value holds, or a string that reads fully as a number ("12", "4.50").
  // Databases often hand numbers over as text; comparisons use this.
  std::optional<double> toNumber() const;

  // How the value reads in an SMS or a key: null is "", doubles drop a trailing ".0".
  std::string toText() const;

  // "null", "'text'", "12": for diagnostics and debug output.
  std::string toDebugString() const;

  const Storage& storage() const { return v_; }
  bool operator==(const Value& other) const = default;

 private:
  Storage v_;
};

// An ordered list of named columns. Rows are small (tens of columns), so lookup is linear.
class Row {
 public:
  Row() = default;
  Row(std::initializer_list<std::pair<std::string, Value>> columns) : columns_(columns) {}

  const Value* find(std::string_view column) const;
  void set(std::string column, Value value);
  bool empty() const { return columns_.empty(); }
  std::size_t size() const { return columns_.size(); }

  const std::vector<std::pair<std::string, Value>>& columns() const { return columns_; }
  auto begin() const { return columns_.begin(); }
  auto end() const { return columns_.end(); }
  bool operator==(const Row& other) const = default;

 private:
  std::vector<std::pair<std::string, Value>> columns_;
};

}  // namespace smsbridge
