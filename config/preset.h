#pragma once

// Presets: ready mappings (and schedules) for a known application, shipped as plain YAML in
// config/presets/<name>.yaml and compiled into the binary, so `presets: [woocommerce]` works
// wherever smsbridge runs and an admin can still copy a file into their own config.
//
// A preset file is a bridge config fragment with a `preset:` header:
//
//   preset:
//     description: Order-status SMS for WooCommerce.
//     parameters:                      # what a `presets:` entry may set, besides name/source
//       table_prefix: {default: wp_, identifier: true, description: ...}
//       storage: {default: auto, values: [auto, hpos, legacy], description: ...}
//     choose:                          # values derived from another parameter's value
//       storage:
//         hpos: {orders_table: "${preset.table_prefix}wc_orders"}
//         legacy: {orders_table: "${preset.table_prefix}posts"}
//     detect:                          # how `auto` is resolved by one query at start
//       storage: {sql: "SELECT ... AS value", fallback: legacy}
//     setup:                           # tables `smsbridge setup` creates, per database type
//       sqlite: ["CREATE TABLE IF NOT EXISTS ..."]
//   mappings:
//     order_completed: {table: "${preset.orders_table}", ...}
//
// `${preset.<name>}` anywhere in the file stands for a parameter's value, `${preset.source}`
// for the source the entry names. Substitution happens on the text's scalars (as ${ENV} does),
// so diagnostics about a preset point into the preset file, at file:line:col.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/document.h"
#include "config/schema.h"
#include "core/result.h"

namespace smsbridge::config {

// One shipped preset file, as embedded at build time (generated builtin_presets.cpp).
struct PresetFile {
  std::string_view name;  // "woocommerce"
  std::string_view path;  // "config/presets/woocommerce.yaml": what diagnostics print
  std::string_view text;
};
std::span<const PresetFile> builtinPresetFiles();

struct PresetParameter {
  std::string name;
  std::string description;
  std::string default_value;
  bool required = false;
  // Substituted into SQL and table names: only letters, digits and '_' are accepted.
  bool identifier = false;
  std::vector<std::string> values;  // allowed values; empty: any
};

struct PresetDetect {
  std::string sql;       // one row, column `value`; parameters substituted, no binds
  std::string fallback;  // the value when the query returns no row
};

struct Preset {
  std::string name;
  std::string path;
  std::string text;
  std::string description;
  std::vector<PresetParameter> parameters;
  // parameter → its value → derived name → text (which may use ${preset.<parameter>}).
  std::map<std::string, std::map<std::string, std::map<std::string, std::string>>> choices;
  std::map<std::string, PresetDetect> detect;  // by parameter
  // Database type (sqlite, postgres, mysql) → statements `smsbridge setup` runs.
  std::map<std::string, std::vector<std::string>> setup;
  std::vector<std::string> mappings;   // names, in file order
  std::vector<std::string> schedules;  // names, in file order
  // Set when the file itself is broken (a unit test keeps shipped presets free of it).
  std::string error;

  const PresetParameter* parameter(std::string_view name) const;
};

// Every shipped preset, parsed once, by name.
const std::vector<Preset>& builtinPresets();
const Preset* findPreset(std::string_view name);
std::vector<std::string> builtinPresetNames();

// Parses a preset's header; never fails: problems land in Preset::error.
Preset parsePreset(std::string name, std::string path, std::string text);

// One element of the top-level `presets:` list: `name` picks the preset and its parameters are
// the other keys; a plain name is short for {name: <name>}.
const Schema& presetEntrySchema();

// The preset's file with every `${preset.<name>}` replaced by `values` (parameters, derived
// choices and `source`); other ${VAR}s read the environment through `options`. Unknown
// parameters are diagnostics of the returned document.
Result<Document> instantiatePreset(const Preset& preset,
                                   const std::map<std::string, std::string>& values,
                                   const LoadOptions& options);

// Adds the derived values of `preset.choices` for the chosen parameter values, with their own
// ${preset.<name>} references resolved. Parameters whose value has no choices add nothing.
void addChoices(const Preset& preset, std::map<std::string, std::string>& values);

// Replaces `${preset.<name>}` in `text` with values; unknown names are left as they are.
std::string substitutePresetValues(std::string_view text,
                                   const std::map<std::string, std::string>& values);

}  // namespace smsbridge::config
