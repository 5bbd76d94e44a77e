#pragma once

// Typed, read-only access to one mapping of a validated document, for component parsers:
//
//   Section root = Section::root(document, rootSchema());
//   for (const auto& [name, source] : root.entries("sources")) {
//     std::chrono::milliseconds poll = source.duration("poll_interval");  // schema default
//     Result<std::string> password = source.secret("password");
//     if (bad(source.str("table"))) out.add(source.at("table", "no such table"));
//   }
//
// Absent keys (and explicit nulls) read as the schema's default, or as the type's zero value
// ("", 0, false, 0ms, {}) without one. Accessors never throw: on input that validate() would
// have rejected they return the default. An empty key means the section's own value, which is
// how scalar elements of kMapOf / kListOf are read: `for (auto& [name, route] :
// root.entries("routes")) providers = route.strings();`.
//
// A Section points into its Document, which must outlive it.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diagnostics.h"
#include "config/document.h"
#include "config/schema.h"
#include "core/result.h"

namespace smsbridge::config {

class Section {
 public:
  Section() = default;
  // `schema` may be null (no defaults, no variant lookup); `key_path` is this node's path ("" at
  // the root).
  Section(const Document* document, YAML::Node node, const Schema* schema, std::string key_path);

  Section(const Section&) = default;
  Section(Section&&) = default;
  // YAML::Node's own assignment writes through into the tree it refers to; this one rebinds.
  Section& operator=(const Section& other);

  static Section root(const Document& document, const Schema& schema);

  // Given and not null. For a secret, either `<key>` or `<key>_file` counts.
  bool has(std::string_view key) const;

  std::string str(std::string_view key = {}) const;
  std::int64_t integer(std::string_view key = {}) const;
  double number(std::string_view key = {}) const;
  bool boolean(std::string_view key = {}) const;
  std::chrono::milliseconds duration(std::string_view key = {}) const;
  // kStringList: a single scalar reads as a one-element list.
  std::vector<std::string> strings(std::string_view key = {}) const;

  // The kObject under `key` (empty, with its schema's defaults, when absent). For a kMapOf or
  // kListOf key it returns the container, whose entries() / items() then work without a key.
  Section object(std::string_view key) const;
  // kMapOf: name → element, in file order. Elements of kObject type carry the element schema.
  std::vector<std::pair<std::string, Section>> entries(std::string_view key = {}) const;
  // kListOf: the elements, in order; paths end in "[i]".
  std::vector<Section> items(std::string_view key = {}) const;

  // The secret's value: `<key>` as given (after ${VAR} substitution), or the contents of the
  // file `<key>_file` names (relative to Document::baseDir(), trailing newlines trimmed).
  // Errors (unreadable or empty file) are kConfig, name the file and never the secret. An
  // absent optional secret is "". With LoadOptions::read_secret_files off, a file is not read
  // and a placeholder naming it is returned.
  Result<std::string> secret(std::string_view key) const;

  // A diagnostic at the value of `key` (at the key when its value is null, at this section
  // when absent), with the key's path. An empty key means this section.
  Diagnostic at(std::string_view key, std::string message) const;
  // A diagnostic at byte `offset` of the scalar value of `key` (e.g. where a template or
  // expression error is): exact for plain, quoted and block scalars; falls back to at().
  Diagnostic atOffset(std::string_view key, std::size_t offset, std::string message) const;

  // "providers.twilio"; "" at the root.
  const std::string& path() const { return path_; }
  // The value of `key` as a filesystem path, made absolute against Document::baseDir();
  // "" when absent without a default.
  std::string resolvePath(std::string_view key) const;

  const YAML::Node& node() const { return node_; }
  const Schema* schema() const { return schema_; }
  const Document* document() const { return document_; }

 private:
  struct Lookup {
    YAML::Node value;  // undefined when absent
    YAML::Node key;    // undefined when absent or for the section itself
    const Field* field = nullptr;
  };
  Lookup lookup(std::string_view key) const;
  // The scalar under `key`, or nullptr when absent, null or not a scalar.
  const std::string* scalar(const Lookup& found) const;
  Section child(const Lookup& found, std::string path, const Schema* schema) const;
  YAML::Mark anchor() const;
  std::string absolutePath(const std::string& path) const;

  const Document* document_ = nullptr;
  YAML::Node node_;
  const Schema* schema_ = nullptr;
  const Field* field_ = nullptr;  // what declared node_, when it is a kMapOf / kListOf value
  std::string path_;
  YAML::Mark mark_ = YAML::Mark::null_mark();  // where at() points when node_ is absent
};

}  // namespace smsbridge::config
