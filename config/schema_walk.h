#pragma once

// Internal to config/: how validate.cpp and section.cpp find keys and fields in a mapping, so
// both agree on variants, `<secret>_file` and null values. yaml-cpp's operator[] is avoided on
// purpose: on a non-const node it inserts the key, on a non-map it throws.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.h"

namespace smsbridge::config {

struct Entry {
  YAML::Node key;
  YAML::Node value;
};

// The first entry whose key is `key`; nullopt when absent or `map` is not a mapping.
std::optional<Entry> findEntry(const YAML::Node& map, std::string_view key);

// Absent or an explicit null (`key:` with nothing after it, `~`): both mean "not given".
bool isAbsent(const YAML::Node& node);

// A schema whose fields apply to a mapping, and why ("type: sqlite"; empty for the base).
struct Layer {
  const Schema* schema;
  std::string label;
};

struct Layers {
  std::vector<Layer> layers;
  // The schema whose variant key is missing or names no variant; its variants' keys cannot be
  // told apart from unknown ones.
  const Schema* unresolved = nullptr;
};

// The schema itself, then the variant its variant_key selects (by the mapping's value or the
// declared default), recursively.
Layers resolveLayers(const YAML::Node& map, const Schema& schema);

// The field declaring `key` in these layers. For "<secret>_file" returns the secret's field and
// sets *as_file.
const Field* findField(const std::vector<Layer>& layers, std::string_view key,
                       bool* as_file = nullptr);

std::string joinPath(const std::string& parent, std::string_view key);
std::string indexPath(const std::string& parent, std::size_t index);

}  // namespace smsbridge::config
