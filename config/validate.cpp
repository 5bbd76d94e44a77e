#include "config/validate.h"

#include <algorithm>
#include <map>
#include <set>

#include "config/schema_walk.h"

namespace smsbridge::config {
namespace {

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxShownValue = 40;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("tabel").
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string joinList(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// How a wrong value reads in a message: 'abc', a mapping, a list, nothing.
std::string describe(const YAML::Node& node, bool secret) {
  if (isAbsent(node)) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (secret) return "a value that is not shown because it is secret";
  std::string value = node.Scalar();
  std::size_t cut = std::min(value.find('\n'), kMaxShownValue);
  if (cut < value.size()) value = value.substr(0, cut) + "...";
  return "'" + value + "'";
}

std::string withSuggestion(std::string text, std::string_view given,
                           const std::vector<std::string>& candidates) {
  std::string match = closestMatch(given, candidates);
  if (!match.empty()) text += " (did you mean '" + match + "'?)";
  return text;
}

std::string invalidValue(std::string_view value, const std::vector<std::string>& allowed) {
  return withSuggestion("invalid value '" + std::string(value) + "'", value, allowed) +
         "; allowed values: " + joinList(allowed);
}

std::vector<std::string> variantNames(const Schema& schema) {
  std::vector<std::string> names;
  for (const auto& [name, variant] : schema.variants) names.push_back(name);
  return names;
}

void collectVariantKeys(const Schema& schema, std::set<std::string>& keys, int depth) {
  if (depth > kMaxDepth) return;
  for (const Field& field : schema.fields) {
    keys.insert(field.key);
    if (field.secret) keys.insert(field.key + "_file");
  }
  if (!schema.variant_key.empty()) keys.insert(schema.variant_key);
  for (const auto& [name, variant] : schema.variants) {
    if (variant != nullptr) collectVariantKeys(*variant, keys, depth + 1);
  }
}

class Validator {
 public:
  Validator(const Document& document, Diagnostics& out) : document_(document), out_(out) {}

  void mapping(const YAML::Node& node, const Schema& schema, const std::string& path,
               const YAML::Mark& anchor, int depth);
  void value(const YAML::Node& node, const Field& field, FieldType type, const std::string& path,
             const YAML::Mark& key_mark, int depth);

 private:
  void report(const YAML::Mark& mark, const std::string& path, std::string message) {
    out_.add(document_.diagnosticAt(mark, path, std::move(message)));
  }
  void checkKeys(const YAML::Node& node, const std::string& path);
  void checkVariants(const YAML::Node& node, const Layers& resolved, const std::string& path,
                     const YAML::Mark& where);
  void checkFields(const YAML::Node& node, const Layers& resolved, const std::string& path,
                   const YAML::Mark& where);
  void checkEnum(const YAML::Node& scalar, const Field& field, const std::string& path);
  static std::vector<std::string> allowedKeys(const Layers& resolved);

  const Document& document_;
  Diagnostics& out_;
  // Mappings already checked against a schema, by (mark position, schema): aliases can make the
  // tree cyclic, and a recursive schema would otherwise walk the cycle again and again.
  std::set<std::pair<std::size_t, const Schema*>> visited_;
};

void Validator::mapping(const YAML::Node& node, const Schema& schema, const std::string& path,
                        const YAML::Mark& anchor, int depth) {
  if (depth > kMaxDepth) return;
  if (node.IsMap() && !node.Mark().is_null() &&
      !visited_.emplace(static_cast<std::size_t>(node.Mark().pos), &schema).second) {
    return;
  }
  if (!isAbsent(node) && !node.IsMap()) {
    if (const Field* shorthand = schema.find(schema.shorthand_key);
        shorthand != nullptr && (node.IsSequence() || node.IsScalar())) {
      value(node, *shorthand, shorthand->type, path, anchor, depth + 1);
      return;
    }
    report(node.Mark(), path, "expected a mapping, got " + describe(node, false));
    return;
  }
  // Missing keys are reported where the mapping starts, or at its key when it is empty.
  const YAML::Mark where = node.IsMap() && node.size() > 0 ? node.Mark() : anchor;

  checkKeys(node, path);

  const Layers resolved = resolveLayers(node, schema);
  checkVariants(node, resolved, path, where);

  std::set<std::string> variant_keys;
  for (const Layer& layer : resolved.layers) {
    if (!layer.schema->variant_key.empty()) variant_keys.insert(layer.schema->variant_key);
  }
  std::set<std::string> keys_of_any_variant;
  if (resolved.unresolved != nullptr) {
    collectVariantKeys(*resolved.unresolved, keys_of_any_variant, 0);
  }

  for (auto it = node.begin(); node.IsMap() && it != node.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    if (variant_keys.count(key) > 0) continue;
    const std::string child = joinPath(path, key);
    bool as_file = false;
    const Field* field = findField(resolved.layers, key, &as_file);
    if (field == nullptr) {
      // Without a known variant we cannot tell which variant's keys apply: only the variant
      // key is reported, not every key that belongs to some variant.
      if (keys_of_any_variant.count(key) > 0) continue;
      std::vector<std::string> allowed = allowedKeys(resolved);
      std::string message = withSuggestion("unknown key '" + key + "'", key, allowed);
      message +=
          allowed.empty() ? "; no keys are allowed here" : "; allowed keys: " + joinList(allowed);
      report(it->first.Mark(), child, std::move(message));
      continue;
    }
    if (isAbsent(it->second)) continue;  // reported by checkFields when required
    if (as_file) {
      if (!it->second.IsScalar()) {
        report(it->second.Mark(), child,
               "expected the path of a file holding " + field->key + ", got " +
                   describe(it->second, false));
      }
      continue;
    }
    value(it->second, *field, field->type, child, it->first.Mark(), depth);
  }

  checkFields(node, resolved, path, where);
}

// Every key is a name, and given once: yaml-cpp keeps both copies of a repeated key, and which
// one a reader sees is an accident.
void Validator::checkKeys(const YAML::Node& node, const std::string& path) {
  std::map<std::string, int> first_line;
  for (auto it = node.begin(); node.IsMap() && it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      report(it->first.Mark(), path, "expected a key name, got " + describe(it->first, false));
      continue;
    }
    const std::string& key = it->first.Scalar();
    Diagnostic here = document_.diagnosticAt(it->first.Mark(), "", "");
    auto [seen, inserted] = first_line.emplace(key, here.line);
    if (!inserted) {
      report(it->first.Mark(), joinPath(path, key),
             "duplicate key '" + key + "'; first given on line " + std::to_string(seen->second));
    }
  }
}

void Validator::checkVariants(const YAML::Node& node, const Layers& resolved,
                              const std::string& path, const YAML::Mark& where) {
  std::vector<const Schema*> selecting;
  for (const Layer& layer : resolved.layers) {
    if (!layer.schema->variant_key.empty()) selecting.push_back(layer.schema);
  }
  for (const Schema* schema : selecting) {
    const std::string& key = schema->variant_key;
    const std::vector<std::string> names = variantNames(*schema);
    const std::string child = joinPath(path, key);
    auto entry = findEntry(node, key);
    if (!entry || isAbsent(entry->value)) {
      if (!schema->defaultVariant().empty()) continue;
      std::string problem = entry ? "required key has no value" : "required key is missing";
      report(entry ? entry->key.Mark() : where, child,
             problem + "; allowed values: " + joinList(names));
    } else if (!entry->value.IsScalar()) {
      report(entry->value.Mark(), child,
             "expected one of " + joinList(names) + ", got " + describe(entry->value, false));
    } else if (schema->variant(entry->value.Scalar()) == nullptr) {
      report(entry->value.Mark(), child, invalidValue(entry->value.Scalar(), names));
    }
  }
}

void Validator::checkFields(const YAML::Node& node, const Layers& resolved, const std::string& path,
                            const YAML::Mark& where) {
  for (const Layer& layer : resolved.layers) {
    for (const Field& field : layer.schema->fields) {
      if (field.key == layer.schema->variant_key) continue;
      const std::string child = joinPath(path, field.key);
      auto plain = findEntry(node, field.key);
      std::optional<Entry> file;
      if (field.secret) file = findEntry(node, field.key + "_file");
      const bool plain_given = plain && !isAbsent(plain->value);
      const bool file_given = file && !isAbsent(file->value);
      if (plain_given && file_given) {
        report(file->key.Mark(), child + "_file",
               "give either '" + field.key + "' or '" + field.key + "_file', not both");
      }
      if (!field.required || plain_given || file_given) continue;
      if (plain) {
        report(plain->key.Mark(), child, "required key has no value");
      } else if (file) {
        report(file->key.Mark(), child + "_file", "required key has no value");
      } else if (field.secret) {
        report(where, child,
               "required key is missing; give '" + field.key + "' (e.g. ${ENV_VAR}) or '" +
                   field.key + "_file'");
      } else {
        report(where, child, "required key is missing");
      }
    }
  }
}

void Validator::checkEnum(const YAML::Node& scalar, const Field& field, const std::string& path) {
  if (field.enum_values.empty()) return;
  const std::string& text = scalar.Scalar();
  if (std::find(field.enum_values.begin(), field.enum_values.end(), text) ==
      field.enum_values.end()) {
    report(scalar.Mark(), path, invalidValue(text, field.enum_values));
  }
}

void Validator::value(const YAML::Node& node, const Field& field, FieldType type,
                      const std::string& path, const YAML::Mark& key_mark, int depth) {
  if (depth > kMaxDepth) return;
  const YAML::Mark mark =
      node.IsDefined() && !node.Mark().is_null() && !node.IsNull() ? node.Mark() : key_mark;
  const std::string got = describe(node, field.secret);
  auto scalarChecked = [&](auto parse, const std::string& expected) {
    if (!node.IsScalar() || !parse(node.Scalar())) {
      report(mark, path, "expected " + expected + ", got " + got);
    }
  };
  switch (type) {
    case FieldType::kString:
      if (!node.IsScalar()) report(mark, path, "expected a string, got " + got);
      break;
    case FieldType::kInt:
      scalarChecked([](const std::string& s) { return parseInteger(s).has_value(); }, "an integer");
      break;
    case FieldType::kNumber:
      scalarChecked([](const std::string& s) { return parseNumber(s).has_value(); }, "a number");
      break;
    case FieldType::kBool:
      scalarChecked([](const std::string& s) { return parseBool(s).has_value(); }, "true or false");
      break;
    case FieldType::kDuration:
      scalarChecked([](const std::string& s) { return parseDuration(s).has_value(); },
                    "a duration like 5s or 250ms");
      break;
    case FieldType::kEnum:
      if (!node.IsScalar()) {
        report(mark, path, "expected one of " + joinList(field.enum_values) + ", got " + got);
      } else {
        checkEnum(node, field, path);
      }
      break;
    case FieldType::kStringList:
      if (node.IsScalar()) {
        checkEnum(node, field, path);
      } else if (node.IsSequence()) {
        std::size_t index = 0;
        for (auto it = node.begin(); it != node.end(); ++it, ++index) {
          const std::string item_path = indexPath(path, index);
          if (!it->IsScalar()) {
            YAML::Mark item_mark = it->IsNull() ? mark : it->Mark();
            report(item_mark, item_path, "expected a string, got " + describe(*it, false));
          } else {
            checkEnum(*it, field, item_path);
          }
        }
      } else {
        report(mark, path, "expected a list of strings, got " + got);
      }
      break;
    case FieldType::kObject:
      if (field.schema != nullptr) {
        mapping(node, *field.schema, path, key_mark, depth + 1);
      } else if (!isAbsent(node) && !node.IsMap()) {
        report(mark, path, "expected a mapping, got " + got);
      }
      break;
    case FieldType::kMapOf:
      if (isAbsent(node)) break;
      if (!node.IsMap()) {
        report(mark, path, "expected a mapping, got " + got);
        break;
      }
      checkKeys(node, path);
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) continue;  // reported by checkKeys
        value(it->second, field, field.element_type, joinPath(path, it->first.Scalar()),
              it->first.Mark(), depth + 1);
      }
      break;
    case FieldType::kListOf: {
      if (isAbsent(node)) break;
      if (!node.IsSequence()) {
        report(mark, path, "expected a list, got " + got);
        break;
      }
      std::size_t index = 0;
      for (auto it = node.begin(); it != node.end(); ++it, ++index) {
        value(*it, field, field.element_type, indexPath(path, index), mark, depth + 1);
      }
      break;
    }
  }
}

std::vector<std::string> Validator::allowedKeys(const Layers& resolved) {
  std::set<std::string> keys;
  auto add = [&keys](const Schema& schema) {
    if (!schema.variant_key.empty()) keys.insert(schema.variant_key);
    for (const Field& field : schema.fields) {
      keys.insert(field.key);
      if (field.secret) keys.insert(field.key + "_file");
    }
  };
  for (const Layer& layer : resolved.layers) add(*layer.schema);
  if (resolved.unresolved != nullptr) add(*resolved.unresolved);
  return {keys.begin(), keys.end()};
}

}  // namespace

std::string closestMatch(std::string_view given, const std::vector<std::string>& candidates) {
  const std::string needle = lower(given);
  const std::size_t limit = std::min<std::size_t>(2, std::max<std::size_t>(1, needle.size() / 2));
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    std::size_t distance = editDistance(needle, lower(candidate));
    if (distance == 0 && candidate == given) continue;  // not a typo of itself
    if (distance < best_distance ||
        (distance == best_distance && !best.empty() && candidate < best)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best_distance <= limit ? best : "";
}

void validate(const Document& document, const Schema& root, Diagnostics& out) {
  out.append(document.diagnostics());
  Validator validator(document, out);
  validator.mapping(document.root(), root, "", document.root().Mark(), 0);
}

}  // namespace smsbridge::config
