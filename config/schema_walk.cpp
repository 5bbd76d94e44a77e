#include "config/schema_walk.h"

namespace smsbridge::config {

std::optional<Entry> findEntry(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return Entry{it->first, it->second};
  }
  return std::nullopt;
}

bool isAbsent(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

Layers resolveLayers(const YAML::Node& map, const Schema& schema) {
  Layers result;
  result.layers.push_back({&schema, ""});
  const Schema* current = &schema;
  std::string label;
  // Bounded: a schema that selects itself as its own variant must not loop forever.
  for (int depth = 0; depth < 16 && !current->variant_key.empty(); ++depth) {
    std::string value = current->defaultVariant();
    if (auto entry = findEntry(map, current->variant_key); entry && !isAbsent(entry->value)) {
      value = entry->value.IsScalar() ? entry->value.Scalar() : "";
    }
    const Schema* selected = value.empty() ? nullptr : current->variant(value);
    if (selected == nullptr) {
      result.unresolved = current;
      break;
    }
    label += (label.empty() ? "" : ", ") + current->variant_key + ": " + value;
    result.layers.push_back({selected, label});
    current = selected;
  }
  return result;
}

const Field* findField(const std::vector<Layer>& layers, std::string_view key, bool* as_file) {
  if (as_file != nullptr) *as_file = false;
  for (const Layer& layer : layers) {
    if (const Field* field = layer.schema->find(key)) return field;
  }
  constexpr std::string_view kFileSuffix = "_file";
  if (key.size() > kFileSuffix.size() && key.ends_with(kFileSuffix)) {
    std::string_view base = key.substr(0, key.size() - kFileSuffix.size());
    for (const Layer& layer : layers) {
      const Field* field = layer.schema->find(base);
      if (field != nullptr && field->secret) {
        if (as_file != nullptr) *as_file = true;
        return field;
      }
    }
  }
  return nullptr;
}

std::string joinPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string indexPath(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

}  // namespace smsbridge::config
