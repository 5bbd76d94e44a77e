#include "config/schema.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace smsbridge::config {

const Field* Schema::find(std::string_view key) const {
  for (const Field& field : fields) {
    if (field.key == key) return &field;
  }
  return nullptr;
}

const Schema* Schema::variant(std::string_view value) const {
  for (const auto& [name, schema] : variants) {
    if (name == value) return schema;
  }
  return nullptr;
}

std::string Schema::defaultVariant() const {
  if (variant_key.empty()) return "";
  const Field* field = find(variant_key);
  return field != nullptr ? field->default_text : "";
}

namespace {

Field make(std::string key, FieldType type, std::string default_text, std::string description) {
  Field field;
  field.key = std::move(key);
  field.type = type;
  field.default_text = std::move(default_text);
  field.description = std::move(description);
  return field;
}

// "[a, b]": the flow form a user would write, so docs show it and Section can parse it back.
std::string flowList(const std::vector<std::string>& values) {
  std::string out = "[";
  for (const std::string& value : values) {
    if (out.size() > 1) out += ", ";
    out += value;
  }
  return out + "]";
}

}  // namespace

Field str(std::string key, std::string description) {
  return make(std::move(key), FieldType::kString, "", std::move(description));
}
Field str(std::string key, std::string default_value, std::string description) {
  return make(std::move(key), FieldType::kString, std::move(default_value), std::move(description));
}
Field integer(std::string key, std::string description) {
  return make(std::move(key), FieldType::kInt, "", std::move(description));
}
Field integer(std::string key, std::int64_t default_value, std::string description) {
  return make(std::move(key), FieldType::kInt, std::to_string(default_value),
              std::move(description));
}
Field number(std::string key, std::string description) {
  return make(std::move(key), FieldType::kNumber, "", std::move(description));
}
Field number(std::string key, double default_value, std::string description) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, default_value);
  std::string text = ec == std::errc() ? std::string(buffer, end) : std::to_string(default_value);
  return make(std::move(key), FieldType::kNumber, std::move(text), std::move(description));
}
Field boolean(std::string key, std::string description) {
  return make(std::move(key), FieldType::kBool, "", std::move(description));
}
Field boolean(std::string key, bool default_value, std::string description) {
  return make(std::move(key), FieldType::kBool, default_value ? "true" : "false",
              std::move(description));
}
Field duration(std::string key, std::string description) {
  return make(std::move(key), FieldType::kDuration, "", std::move(description));
}
Field duration(std::string key, std::string default_text, std::string description) {
  return make(std::move(key), FieldType::kDuration, std::move(default_text),
              std::move(description));
}
Field oneOf(std::string key, std::vector<std::string> values, std::string description) {
  Field field = make(std::move(key), FieldType::kEnum, "", std::move(description));
  field.enum_values = std::move(values);
  return field;
}
Field oneOf(std::string key, std::vector<std::string> values, std::string default_value,
            std::string description) {
  Field field =
      make(std::move(key), FieldType::kEnum, std::move(default_value), std::move(description));
  field.enum_values = std::move(values);
  return field;
}
Field stringList(std::string key, std::string description) {
  return make(std::move(key), FieldType::kStringList, "", std::move(description));
}
Field stringList(std::string key, std::vector<std::string> default_values,
                 std::string description) {
  return make(std::move(key), FieldType::kStringList, flowList(default_values),
              std::move(description));
}
Field subsetOf(std::string key, std::vector<std::string> values,
               std::vector<std::string> default_values, std::string description) {
  Field field = stringList(std::move(key), std::move(default_values), std::move(description));
  if (field.default_text == "[]") field.default_text.clear();
  field.enum_values = std::move(values);
  return field;
}
Field object(std::string key, const Schema& schema, std::string description) {
  Field field = make(std::move(key), FieldType::kObject, "", std::move(description));
  field.schema = &schema;
  return field;
}
Field mapOf(std::string key, const Schema& element, std::string description,
            std::string placeholder) {
  Field field = make(std::move(key), FieldType::kMapOf, "", std::move(description));
  field.schema = &element;
  field.element_type = FieldType::kObject;
  field.placeholder = std::move(placeholder);
  return field;
}
Field mapOf(std::string key, FieldType element_type, std::string description,
            std::string placeholder) {
  Field field = make(std::move(key), FieldType::kMapOf, "", std::move(description));
  field.element_type = element_type;
  field.placeholder = std::move(placeholder);
  return field;
}
Field listOf(std::string key, const Schema& element, std::string description) {
  Field field = make(std::move(key), FieldType::kListOf, "", std::move(description));
  field.schema = &element;
  field.element_type = FieldType::kObject;
  return field;
}
Field listOf(std::string key, FieldType element_type, std::string description) {
  Field field = make(std::move(key), FieldType::kListOf, "", std::move(description));
  field.element_type = element_type;
  return field;
}
Field secret(std::string key, std::string description) {
  Field field = make(std::move(key), FieldType::kString, "", std::move(description));
  field.secret = true;
  return field;
}
Field required(Field field) {
  field.required = true;
  return field;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total_ms = 0;
  std::size_t i = 0;
  bool bare = true;
  while (i < text.size()) {
    std::int64_t amount = 0;
    std::size_t digits_start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      int digit = text[i] - '0';
      if (amount > (kMax - digit) / 10) return std::nullopt;
      amount = amount * 10 + digit;
      ++i;
    }
    if (i == digits_start) return std::nullopt;
    std::size_t unit_start = i;
    while (i < text.size() && (text[i] < '0' || text[i] > '9')) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t unit_ms = 0;
    if (unit.empty()) {
      // A bare number means seconds, and only as the whole value ("90", not "1m30").
      if (!bare || i != text.size()) return std::nullopt;
      unit_ms = 1000;
    } else if (unit == "ms") {
      unit_ms = 1;
    } else if (unit == "s") {
      unit_ms = 1000;
    } else if (unit == "m") {
      unit_ms = 60 * 1000;
    } else if (unit == "h") {
      unit_ms = 60 * 60 * 1000;
    } else if (unit == "d") {
      unit_ms = 24 * 60 * 60 * 1000;
    } else {
      return std::nullopt;
    }
    bare = false;
    if (amount > (kMax - total_ms) / unit_ms) return std::nullopt;
    total_ms += amount * unit_ms;
  }
  return std::chrono::milliseconds(total_ms);
}

std::optional<std::int64_t> parseInteger(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  }
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) return std::nullopt;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> parseBool(std::string_view text) {
  std::string lower;
  for (char c : text) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

std::string_view fieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "string";
    case FieldType::kInt:
      return "integer";
    case FieldType::kNumber:
      return "number";
    case FieldType::kBool:
      return "boolean";
    case FieldType::kDuration:
      return "duration";
    case FieldType::kEnum:
      return "enum";
    case FieldType::kStringList:
      return "list of strings";
    case FieldType::kObject:
      return "mapping";
    case FieldType::kMapOf:
      return "map";
    case FieldType::kListOf:
      return "list";
  }
  return "value";
}

}  // namespace smsbridge::config
