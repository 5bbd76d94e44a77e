#include "core/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace smsbridge {

std::optional<double> Value::toNumber() const {
  if (isInt()) return static_cast<double>(asInt());
  if (isDouble()) return std::get<double>(v_);
  if (isBool()) return asBool() ? 1.0 : 0.0;
  if (!isString()) return std::nullopt;
  const std::string& s = asString();
  if (s.empty()) return std::nullopt;
  double out = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return out;
}

std::string Value::toText() const {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, NullValue> || std::is_same_v<T, UnavailableValue>) {
          return "";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
            return std::to_string(static_cast<std::int64_t>(v));
          }
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.15g", v);
          return buf;
        } else {
          return v;
        }
      },
      v_);
}

std::string Value::toDebugString() const {
  if (isNull()) return "null";
  if (isUnavailable()) return "<unavailable>";
  if (isString()) return "'" + asString() + "'";
  return toText();
}

const Value* Row::find(std::string_view column) const {
  for (const auto& [name, value] : columns_) {
    if (name == column) return &value;
  }
  return nullptr;
}

void Row::set(std::string column, Value value) {
  for (auto& [name, existing] : columns_) {
    if (name == column) {
      existing = std::move(value);
      return;
    }
  }
  columns_.emplace_back(std::move(column), std::move(value));
}

}  // namespace smsbridge
