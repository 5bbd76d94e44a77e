#pragma once

// The declarative config schema. Each component declares its keys once — type, default,
// description, required, secret — and that one table drives validation (validate.h), typed
// access with defaults (section.h) and the reference text of `smsbridge config-schema`
// (markdown.h). Nothing else in the bridge knows which keys a component accepts.
//
// Declare schemas as static data next to the component's parser, with the builders below:
//
//   const config::Schema& twilioSchema() {
//     static const config::Schema kSchema{
//         .name = "twilio",
//         .description = "Sends through the Twilio Messages API.",
//         .fields = {
//             config::required(config::str("account_sid", "Account SID (AC…).")),
//             config::required(config::secret("auth_token", "Auth token.")),
//             config::str("from", "", "Sender: a number in E.164 or an alphanumeric ID."),
//             config::duration("timeout", "10s", "Per-request timeout."),
//         }};
//     return kSchema;
//   }
//
// Schemas refer to each other by pointer (Field::schema, Schema::variants); a function-local
// static like the one above is initialised on first use, so the order in which translation
// units initialise never matters.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smsbridge::config {

struct Schema;

enum class FieldType {
  kString,
  kInt,
  kNumber,
  kBool,
  kDuration,    // "250ms", "5s", "2m", "1h", "1d", "1h30m", or a bare integer of seconds
  kEnum,        // one of Field::enum_values
  kStringList,  // a list of strings; a single scalar is accepted as a one-element list
  kObject,      // a mapping described by Field::schema
  kMapOf,       // a mapping from names the user picks to values of Field::element_type
  kListOf,      // a list of values of Field::element_type
};

struct Field {
  std::string key = {};
  FieldType type = FieldType::kString;
  // The default as the user would write it in YAML ("5s", "true", "[insert, update]"); empty
  // means no default. Section accessors return it when the key is absent; docs print it.
  std::string default_text = {};
  std::string description = {};
  bool required = false;
  // May be given as `<key>` (usually "${ENV}") or as `<key>_file`, a path to a file holding it,
  // but not both. Diagnostics never echo its value.
  bool secret = false;
  // kEnum: the allowed values, in the order docs list them. On kStringList, and on kMapOf /
  // kListOf with element_type kEnum or kStringList, they restrict every element.
  std::vector<std::string> enum_values = {};
  // kObject: the mapping's schema. kMapOf / kListOf with element_type kObject: each element's.
  const Schema* schema = nullptr;
  // kMapOf / kListOf: the type of each element — a scalar type, kStringList or kObject
  // (e.g. `routes: {otp: [messageflow, twilio]}` is kMapOf of kStringList).
  FieldType element_type = FieldType::kObject;
  // kMapOf: what stands for the user's names in key paths of docs ("sources.<name>.path").
  std::string placeholder = "<name>";
};

// Every member has an initializer so designated initializers may leave any of them out
// without -Wmissing-field-initializers.
struct Schema {
  std::string name = {};
  std::string description = {};
  std::vector<Field> fields = {};
  // A mapping whose allowed keys depend on one of its values, e.g. `type: sqlite` selects the
  // keys of the sqlite schema. Allowed keys = fields + variant_key + the selected variant's
  // fields (variants may nest). The variant key is required unless `fields` declares a Field
  // with that key and a default_text; such a Field also gives it a description in docs.
  std::string variant_key = {};
  std::vector<std::pair<std::string, const Schema*>> variants = {};
  // A value that is not a mapping (a list or a scalar) stands for this one key, so the common
  // case stays short: `routes: {otp: [a, b]}` means `routes: {otp: {providers: [a, b]}}`.
  std::string shorthand_key = {};

  // This schema's own field with that key (not the variants'), or nullptr.
  const Field* find(std::string_view key) const;
  // The schema selected by `value` of variant_key, or nullptr.
  const Schema* variant(std::string_view value) const;
  // The default value of variant_key (from a declared Field), or "".
  std::string defaultVariant() const;
};

// Builders for Field, so declarations read as a table. The overloads without a default leave
// default_text empty. Other members (placeholder, enum_values...) can be set afterwards or with
// a designated initializer: Field{.key = "k", .type = FieldType::kInt, ...}.
Field str(std::string key, std::string description);
Field str(std::string key, std::string default_value, std::string description);
Field integer(std::string key, std::string description);
Field integer(std::string key, std::int64_t default_value, std::string description);
Field number(std::string key, std::string description);
Field number(std::string key, double default_value, std::string description);
Field boolean(std::string key, std::string description);
Field boolean(std::string key, bool default_value, std::string description);
Field boolean(std::string key, const char* default_value, std::string description) = delete;
Field duration(std::string key, std::string description);
Field duration(std::string key, std::string default_text, std::string description);
Field oneOf(std::string key, std::vector<std::string> values, std::string description);
Field oneOf(std::string key, std::vector<std::string> values, std::string default_value,
            std::string description);
Field stringList(std::string key, std::string description);
Field stringList(std::string key, std::vector<std::string> default_values, std::string description);
// A list of strings each of which must be one of `values` (`on: [insert, update]`).
Field subsetOf(std::string key, std::vector<std::string> values,
               std::vector<std::string> default_values, std::string description);
Field object(std::string key, const Schema& schema, std::string description);
Field mapOf(std::string key, const Schema& element, std::string description,
            std::string placeholder = "<name>");
Field mapOf(std::string key, FieldType element_type, std::string description,
            std::string placeholder = "<name>");
Field listOf(std::string key, const Schema& element, std::string description);
Field listOf(std::string key, FieldType element_type, std::string description);
// A secret string: `<key>: ${ENV}` or `<key>_file: /path/to/file`.
Field secret(std::string key, std::string description);
// The same field, marked required.
Field required(Field field);

// Scalar parsing shared by validation and Section. All return nullopt on anything that is not
// entirely a value of that type (no surrounding spaces, no trailing garbage).
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
std::optional<std::int64_t> parseInteger(std::string_view text);  // optional sign, digits
std::optional<double> parseNumber(std::string_view text);         // finite decimal or exponent
std::optional<bool> parseBool(std::string_view text);  // true/false/yes/no/on/off, any case

// "string", "integer", "duration", "list of strings"...: for docs.
std::string_view fieldTypeName(FieldType type);

}  // namespace smsbridge::config
