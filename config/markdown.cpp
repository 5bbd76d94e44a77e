#include "config/markdown.h"

#include <algorithm>
#include <vector>

namespace smsbridge::config {
namespace {

std::string code(const std::string& text) { return "`" + text + "`"; }

std::string codeList(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) out += (out.empty() ? "" : ", ") + code(value);
  return out;
}

// Table cells are one line and must not contain an unescaped '|'.
std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string scalarTypeText(FieldType type, const Field& field) {
  switch (type) {
    case FieldType::kEnum:
      return "one of " + codeList(field.enum_values);
    case FieldType::kStringList:
      if (!field.enum_values.empty()) return "list of: " + codeList(field.enum_values);
      return "list of strings";
    default:
      return std::string(fieldTypeName(type));
  }
}

struct Row {
  std::string key;
  std::string label;  // "type: sqlite"
  std::string type;
  std::string default_text;
  bool required = false;
  std::string description;
};

struct Pending {
  std::string path;
  const Schema* schema;
  std::string label;
};

class Renderer {
 public:
  explicit Renderer(int heading_level) : heading_(std::max(1, heading_level), '#') {}

  // `note` goes after the description (the root's general remarks).
  void section(const std::string& title, const std::string& path, const Schema& schema,
               const std::string& label, const std::string& note,
               std::vector<const Schema*> ancestors);
  std::string take() { return std::move(out_); }

 private:
  void rows(const std::string& path, const Schema& schema, const std::string& label,
            const std::vector<const Schema*>& ancestors, std::vector<Row>& out,
            std::vector<Pending>& children);
  std::string typeText(const std::string& path, const Field& field,
                       const std::vector<const Schema*>& ancestors, std::vector<Pending>& children,
                       const std::string& label);

  std::string heading_;
  std::string out_;
};

std::string childPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string Renderer::typeText(const std::string& path, const Field& field,
                               const std::vector<const Schema*>& ancestors,
                               std::vector<Pending>& children, const std::string& label) {
  auto nested = [&](const std::string& child_path) -> std::string {
    if (field.schema == nullptr) return "mapping";
    bool cycle = std::find(ancestors.begin(), ancestors.end(), field.schema) != ancestors.end();
    if (!cycle) children.push_back({child_path, field.schema, label});
    return "mapping, see " + code(child_path);
  };
  switch (field.type) {
    case FieldType::kObject:
      return nested(path);
    case FieldType::kMapOf: {
      std::string element_path = path + "." + field.placeholder;
      std::string element = field.element_type == FieldType::kObject
                                ? nested(element_path)
                                : scalarTypeText(field.element_type, field);
      return "map of " + code(field.placeholder) + " → " + element;
    }
    case FieldType::kListOf: {
      std::string element = field.element_type == FieldType::kObject
                                ? nested(path + "[]")
                                : scalarTypeText(field.element_type, field);
      return "list of " + element;
    }
    default:
      return scalarTypeText(field.type, field);
  }
}

void Renderer::rows(const std::string& path, const Schema& schema, const std::string& label,
                    const std::vector<const Schema*>& ancestors, std::vector<Row>& out,
                    std::vector<Pending>& children) {
  if (!schema.variant_key.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, variant] : schema.variants) names.push_back(name);
    const Field* declared = schema.find(schema.variant_key);
    Row row;
    row.key = childPath(path, schema.variant_key);
    row.label = label;
    row.type = "one of " + codeList(names);
    row.default_text = declared != nullptr ? declared->default_text : "";
    row.required = row.default_text.empty();
    row.description = declared != nullptr ? declared->description : "";
    if (row.description.empty()) row.description = "Selects which further keys apply.";
    out.push_back(std::move(row));
  }
  for (const Field& field : schema.fields) {
    if (field.key == schema.variant_key) continue;
    Row row;
    row.key = childPath(path, field.key);
    row.label = label;
    row.type = typeText(row.key, field, ancestors, children, label);
    row.default_text = field.default_text;
    row.required = field.required;
    row.description = field.description;
    if (field.secret) {
      row.type = "secret " + row.type;
      std::string hint = "Secret: give it as " + code("${ENV_VAR}") +
                         " or put it in a file and "
                         "set " +
                         code(field.key + "_file") + " to its path.";
      row.description += (row.description.empty() ? "" : " ") + hint;
    }
    out.push_back(std::move(row));
  }
  for (const auto& [name, variant] : schema.variants) {
    if (variant == nullptr) continue;
    if (std::find(ancestors.begin(), ancestors.end(), variant) != ancestors.end()) continue;
    std::vector<const Schema*> inner = ancestors;
    inner.push_back(variant);
    std::string variant_label =
        label + (label.empty() ? "" : ", ") + schema.variant_key + ": " + name;
    rows(path, *variant, variant_label, inner, out, children);
  }
}

void Renderer::section(const std::string& title, const std::string& path, const Schema& schema,
                       const std::string& label, const std::string& note,
                       std::vector<const Schema*> ancestors) {
  ancestors.push_back(&schema);
  out_ += heading_ + " " + title + "\n\n";
  if (!label.empty()) out_ += "Only when " + code(label) + ".\n\n";
  if (!schema.description.empty()) out_ += schema.description + "\n\n";
  if (!note.empty()) out_ += note + "\n\n";

  std::vector<Row> table;
  std::vector<Pending> children;
  rows(path, schema, "", ancestors, table, children);

  // One row for a key that several variants declare alike ("host" of postgres and mysql).
  std::vector<Row> merged;
  for (Row& row : table) {
    auto same = std::find_if(merged.begin(), merged.end(), [&row](const Row& other) {
      return other.key == row.key && other.type == row.type &&
             other.default_text == row.default_text && other.required == row.required &&
             other.description == row.description && !other.label.empty() && !row.label.empty();
    });
    if (same != merged.end()) {
      same->label += "; " + row.label;
    } else {
      merged.push_back(std::move(row));
    }
  }

  if (merged.empty()) {
    out_ += "No keys.\n\n";
  } else {
    out_ += "| Key | Type | Default | Required | Description |\n";
    out_ += "| --- | --- | --- | --- | --- |\n";
    for (const Row& row : merged) {
      std::string key = code(row.key);
      if (!row.label.empty()) key += " (" + row.label + ")";
      out_ += "| " + cell(key) + " | " + cell(row.type) + " | " +
              (row.default_text.empty() ? "" : cell(code(row.default_text))) + " | " +
              (row.required ? "yes" : "") + " | " + cell(row.description) + " |\n";
    }
    out_ += "\n";
  }

  for (const Pending& child : children) {
    section(code(child.path), child.path, *child.schema, child.label, "", ancestors);
  }
}

}  // namespace

std::string renderSchemaMarkdown(const Schema& root, int heading_level) {
  const std::string note =
      "Durations are written like `250ms`, `5s`, `2m`, `1h` or `1d` (combined: `1h30m`); a "
      "bare number means seconds. Any value may use `${VAR}` or `${VAR:-default}` to read the "
      "environment. A secret `<key>` may instead be given as `<key>_file`, the path of a file "
      "that holds it; relative paths are relative to the config file.";
  Renderer renderer(heading_level);
  renderer.section(root.name.empty() ? "Top level" : code(root.name), "", root, "", note, {});
  return renderer.take();
}

}  // namespace smsbridge::config
