#pragma once

// A loaded configuration file: the YAML tree after ${VAR} substitution, plus what is needed to
// point diagnostics at the user's text (file name, source, positions). Loading fails only when
// there is no tree at all (unreadable file, YAML syntax error); everything else — an unset
// variable here, a wrong type there — is collected in diagnostics() and, through validate(),
// reported together with the schema problems.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/diagnostics.h"
#include "core/result.h"

namespace smsbridge::config {

struct LoadOptions {
  // Section::secret() reads `<key>_file` files. `check` turns this off to stay free of I/O;
  // secret() then returns a placeholder naming the file instead of its contents.
  bool read_secret_files = true;
  // Presets' `auto` parameters (config/preset.h) are resolved with one query on their source
  // when set (`run`, `setup`); off, they take the preset's fallback so `check` stays pure.
  bool read_databases = false;
  // Looks up ${VAR}; unset (the default) means the process environment. Tests inject a map.
  std::function<std::optional<std::string>(const std::string&)> env;
};

class Document {
 public:
  Document() = default;
  Document(const Document&) = default;
  Document(Document&&) = default;
  // YAML::Node's own assignment writes through into the tree it refers to; this one rebinds.
  Document& operator=(const Document& other);

  // Missing or unreadable file, or YAML syntax error: a kConfig error naming the file (with
  // line:col for syntax errors).
  static Result<Document> loadFile(const std::string& path, LoadOptions options = {});
  // `file_name` is what diagnostics print; relative paths in the config resolve against its
  // directory (the working directory when it has none).
  static Result<Document> loadString(std::string text, std::string file_name,
                                     LoadOptions options = {});

  // A Null node for an empty file.
  const YAML::Node& root() const { return root_; }
  const std::string& file() const { return file_; }
  // Absolute directory of the file, fixed at load time.
  std::string baseDir() const { return base_dir_; }
  const LoadOptions& options() const { return options_; }
  const std::string& text() const { return text_; }

  // Problems found while loading: unset ${VAR}s, malformed ${...}, more than one YAML document.
  // validate() appends them to its output, so callers need not fetch them separately.
  const Diagnostics& diagnostics() const { return diagnostics_; }

  // A diagnostic at a yaml-cpp mark (0-based byte positions) in this file. A null mark (a node
  // not from the file) gives line 0: toString() then leaves the position out.
  Diagnostic diagnosticAt(const YAML::Mark& mark, std::string key_path, std::string message) const;
  // A diagnostic at byte `offset` of `scalar`'s value: exact for plain, quoted and block
  // scalars, the start of the value when it cannot be exact (e.g. after ${VAR} substitution).
  Diagnostic diagnosticInScalar(const YAML::Node& scalar, std::size_t offset, std::string key_path,
                                std::string message) const;

 private:
  // `visited` holds the containers already walked, by (mark position, type): aliases can make
  // the tree cyclic (`a: &x {b: *x, c: *x}`), and walking it as a tree would never end.
  void substitute(YAML::Node node, const std::string& key_path,
                  std::set<std::pair<std::size_t, int>>& visited);
  void substituteScalar(YAML::Node node, const std::string& key_path);
  // 1-based line and column (in characters) of a byte position in text_.
  std::pair<int, int> lineColumn(std::size_t pos) const;

  std::string file_;
  std::string base_dir_;
  std::string text_;
  std::vector<std::size_t> line_starts_;
  YAML::Node root_;
  LoadOptions options_;
  Diagnostics diagnostics_;
  // Marks (byte positions) of scalars whose value was changed by ${VAR} substitution: their
  // value no longer matches the text, so positions inside them fall back to the start.
  std::unordered_set<std::size_t> substituted_;
};

}  // namespace smsbridge::config
