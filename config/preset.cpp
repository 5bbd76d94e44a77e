#include "config/preset.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <deque>

namespace smsbridge::config {
namespace {

constexpr std::string_view kReference = "${preset.";

std::string scalarOr(const YAML::Node& node, std::string fallback = "") {
  return node && node.IsScalar() ? node.Scalar() : fallback;
}

std::vector<std::string> scalars(const YAML::Node& node) {
  std::vector<std::string> out;
  if (node && node.IsScalar()) out.push_back(node.Scalar());
  if (node && node.IsSequence()) {
    for (const auto& item : node) {
      if (item.IsScalar()) out.push_back(item.Scalar());
    }
  }
  return out;
}

std::vector<std::string> keysOf(const YAML::Node& node) {
  std::vector<std::string> out;
  if (!node || !node.IsMap()) return out;
  for (const auto& kv : node) out.push_back(kv.first.Scalar());
  return out;
}

void readHeader(const YAML::Node& header, Preset& preset) {
  preset.description = scalarOr(header["description"]);
  for (const auto& kv : header["parameters"]) {
    PresetParameter p;
    p.name = kv.first.Scalar();
    const YAML::Node& spec = kv.second;
    p.description = scalarOr(spec["description"]);
    p.default_value = scalarOr(spec["default"]);
    p.required = spec["required"] && spec["required"].as<bool>();
    p.identifier = spec["identifier"] && spec["identifier"].as<bool>();
    p.values = scalars(spec["values"]);
    if (p.name == "name" || p.name == "source" || p.name == "disable") {
      preset.error = "parameter '" + p.name + "' is reserved for every preset entry";
    }
    preset.parameters.push_back(std::move(p));
  }
  for (const auto& by_param : header["choose"]) {
    auto& values = preset.choices[by_param.first.Scalar()];
    for (const auto& by_value : by_param.second) {
      auto& derived = values[by_value.first.Scalar()];
      for (const auto& kv : by_value.second) derived[kv.first.Scalar()] = scalarOr(kv.second);
    }
  }
  for (const auto& kv : header["detect"]) {
    preset.detect[kv.first.Scalar()] = {scalarOr(kv.second["sql"]),
                                        scalarOr(kv.second["fallback"])};
  }
  for (const auto& kv : header["setup"]) preset.setup[kv.first.Scalar()] = scalars(kv.second);
}

Schema entrySchemaFor(const Preset& preset) {
  Schema schema{preset.name, preset.description, {}, "", {}, ""};
  std::vector<std::string> parts = preset.mappings;
  parts.insert(parts.end(), preset.schedules.begin(), preset.schedules.end());
  std::string listed;
  for (const auto& part : parts) listed += (listed.empty() ? "" : ", ") + part;
  schema.fields.push_back(subsetOf("disable", parts, {},
                                   "Mappings and schedules of this preset to leave out (" + listed +
                                       "). `mappings.<name>.enabled: false` does "
                                       "the same."));
  for (const PresetParameter& p : preset.parameters) {
    Field field = p.values.empty() ? str(p.name, p.default_value, p.description)
                                   : oneOf(p.name, p.values, p.default_value, p.description);
    if (p.required) field = required(field);
    schema.fields.push_back(std::move(field));
  }
  return schema;
}

}  // namespace

const PresetParameter* Preset::parameter(std::string_view wanted) const {
  for (const auto& p : parameters) {
    if (p.name == wanted) return &p;
  }
  return nullptr;
}

Preset parsePreset(std::string name, std::string path, std::string text) {
  Preset preset;
  preset.name = std::move(name);
  preset.path = std::move(path);
  preset.text = std::move(text);
  try {
    YAML::Node root = YAML::Load(preset.text);
    if (!root.IsMap() || !root["preset"] || !root["preset"].IsMap()) {
      preset.error = "a preset file starts with a `preset:` mapping";
      return preset;
    }
    readHeader(root["preset"], preset);
    preset.mappings = keysOf(root["mappings"]);
    preset.schedules = keysOf(root["schedules"]);
  } catch (const YAML::Exception& e) {
    preset.error = e.what();
  }
  return preset;
}

const std::vector<Preset>& builtinPresets() {
  static const std::vector<Preset> presets = [] {
    std::vector<Preset> out;
    for (const PresetFile& file : builtinPresetFiles()) {
      out.push_back(
          parsePreset(std::string(file.name), std::string(file.path), std::string(file.text)));
    }
    return out;
  }();
  return presets;
}

const Preset* findPreset(std::string_view name) {
  for (const auto& preset : builtinPresets()) {
    if (preset.name == name) return &preset;
  }
  return nullptr;
}

std::vector<std::string> builtinPresetNames() {
  std::vector<std::string> names;
  for (const auto& preset : builtinPresets()) names.push_back(preset.name);
  return names;
}

const Schema& presetEntrySchema() {
  static const std::deque<Schema> variants = [] {
    std::deque<Schema> out;
    for (const auto& preset : builtinPresets()) out.push_back(entrySchemaFor(preset));
    return out;
  }();
  static const Schema schema = [] {
    Schema s{"preset",
             "A shipped preset and its parameters.",
             {
                 oneOf("name", builtinPresetNames(),
                       "Which preset. A plain name in the list is short for {name: <name>}."),
                 str("source", "", "Source the preset's mappings read. Default: the only source."),
             },
             "name",
             {},
             "name"};
    for (std::size_t i = 0; i < variants.size(); ++i) {
      s.variants.emplace_back(builtinPresets()[i].name, &variants[i]);
    }
    return s;
  }();
  return schema;
}

std::string substitutePresetValues(std::string_view text,
                                   const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t at = text.find(kReference, i);
    std::size_t close = at == std::string_view::npos ? at : text.find('}', at);
    if (close == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, at - i);
    std::string name(text.substr(at + kReference.size(), close - at - kReference.size()));
    auto found = values.find(name);
    out += found != values.end() ? found->second : std::string(text.substr(at, close + 1 - at));
    i = close + 1;
  }
  return out;
}

void addChoices(const Preset& preset, std::map<std::string, std::string>& values) {
  std::map<std::string, std::string> derived;
  for (const auto& [parameter, by_value] : preset.choices) {
    auto chosen = values.find(parameter);
    if (chosen == values.end()) continue;
    auto set = by_value.find(chosen->second);
    if (set == by_value.end()) continue;
    for (const auto& [name, text] : set->second) {
      derived[name] = substitutePresetValues(text, values);
    }
  }
  for (auto& [name, text] : derived) values[name] = std::move(text);
}

Result<Document> instantiatePreset(const Preset& preset,
                                   const std::map<std::string, std::string>& values,
                                   const LoadOptions& options) {
  LoadOptions own = options;
  auto env = options.env;
  own.env = [values, env](const std::string& name) -> std::optional<std::string> {
    if (name.rfind("preset.", 0) == 0) {
      auto found = values.find(name.substr(7));
      if (found == values.end()) return std::nullopt;
      return found->second;
    }
    if (env) return env(name);
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  return Document::loadString(preset.text, preset.path, std::move(own));
}

}  // namespace smsbridge::config
