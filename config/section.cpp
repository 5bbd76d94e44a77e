#include "config/section.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "config/schema_walk.h"

namespace smsbridge::config {
namespace {

// "[insert, update]", "update" or "" (Field::default_text of a kStringList) as a list.
std::vector<std::string> parseListDefault(const std::string& text) {
  if (text.empty()) return {};
  try {
    YAML::Node node = YAML::Load(text);
    if (node.IsScalar()) return {node.Scalar()};
    std::vector<std::string> out;
    if (node.IsSequence()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (it->IsScalar()) out.push_back(it->Scalar());
      }
    }
    return out;
  } catch (const YAML::Exception&) {
    return {text};
  }
}

}  // namespace

Section::Section(const Document* document, YAML::Node node, const Schema* schema,
                 std::string key_path)
    : document_(document),
      node_(std::move(node)),
      schema_(schema),
      path_(std::move(key_path)),
      mark_(node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark()) {}

Section& Section::operator=(const Section& other) {
  if (this == &other) return *this;
  document_ = other.document_;
  node_.reset(other.node_);
  schema_ = other.schema_;
  field_ = other.field_;
  path_ = other.path_;
  mark_ = other.mark_;
  return *this;
}

Section Section::root(const Document& document, const Schema& schema) {
  return Section(&document, document.root(), &schema, "");
}

Section::Lookup Section::lookup(std::string_view key) const {
  Lookup found;
  if (key.empty()) {
    found.value.reset(node_);
    found.field = field_;
    return found;
  }
  if (schema_ != nullptr && !schema_->shorthand_key.empty() && key == schema_->shorthand_key &&
      (node_.IsSequence() || node_.IsScalar())) {
    found.value.reset(node_);  // the shorthand form: this value is that key's
  } else if (auto entry = findEntry(node_, key)) {
    found.key.reset(entry->key);
    found.value.reset(entry->value);
  }
  if (schema_ != nullptr) {
    found.field = findField(resolveLayers(node_, *schema_).layers, key);
  }
  return found;
}

const std::string* Section::scalar(const Lookup& found) const {
  if (isAbsent(found.value) || !found.value.IsScalar()) return nullptr;
  return &found.value.Scalar();
}

bool Section::has(std::string_view key) const {
  Lookup found = lookup(key);
  if (!isAbsent(found.value)) return true;
  if (found.field != nullptr && found.field->secret && !key.empty()) {
    auto file = findEntry(node_, std::string(key) + "_file");
    return file && !isAbsent(file->value);
  }
  return false;
}

std::string Section::str(std::string_view key) const {
  Lookup found = lookup(key);
  if (const std::string* value = scalar(found)) return *value;
  return found.field != nullptr ? found.field->default_text : "";
}

std::int64_t Section::integer(std::string_view key) const {
  Lookup found = lookup(key);
  if (const std::string* value = scalar(found)) {
    if (auto parsed = parseInteger(*value)) return *parsed;
  }
  if (found.field != nullptr) return parseInteger(found.field->default_text).value_or(0);
  return 0;
}

double Section::number(std::string_view key) const {
  Lookup found = lookup(key);
  if (const std::string* value = scalar(found)) {
    if (auto parsed = parseNumber(*value)) return *parsed;
  }
  if (found.field != nullptr) return parseNumber(found.field->default_text).value_or(0.0);
  return 0.0;
}

bool Section::boolean(std::string_view key) const {
  Lookup found = lookup(key);
  if (const std::string* value = scalar(found)) {
    if (auto parsed = parseBool(*value)) return *parsed;
  }
  if (found.field != nullptr) return parseBool(found.field->default_text).value_or(false);
  return false;
}

std::chrono::milliseconds Section::duration(std::string_view key) const {
  Lookup found = lookup(key);
  if (const std::string* value = scalar(found)) {
    if (auto parsed = parseDuration(*value)) return *parsed;
  }
  if (found.field != nullptr) {
    return parseDuration(found.field->default_text).value_or(std::chrono::milliseconds(0));
  }
  return std::chrono::milliseconds(0);
}

std::vector<std::string> Section::strings(std::string_view key) const {
  Lookup found = lookup(key);
  if (const std::string* value = scalar(found)) return {*value};
  if (found.value.IsSequence()) {
    std::vector<std::string> out;
    for (auto it = found.value.begin(); it != found.value.end(); ++it) {
      if (it->IsScalar()) out.push_back(it->Scalar());
    }
    return out;
  }
  return found.field != nullptr ? parseListDefault(found.field->default_text)
                                : std::vector<std::string>{};
}

Section Section::child(const Lookup& found, std::string path, const Schema* schema) const {
  Section out(document_, found.value.IsDefined() ? found.value : YAML::Node(), schema,
              std::move(path));
  if (!isAbsent(found.value)) {
    out.mark_ = found.value.Mark();
  } else if (found.key.IsDefined()) {
    out.mark_ = found.key.Mark();
  } else {
    out.mark_ = anchor();
  }
  return out;
}

Section Section::object(std::string_view key) const {
  Lookup found = lookup(key);
  const Field* field = found.field;
  const bool object = field != nullptr && field->type == FieldType::kObject;
  Section out = child(found, joinPath(path_, key), object ? field->schema : nullptr);
  if (field != nullptr && (field->type == FieldType::kMapOf || field->type == FieldType::kListOf)) {
    out.field_ = field;
  }
  return out;
}

std::vector<std::pair<std::string, Section>> Section::entries(std::string_view key) const {
  Lookup found = lookup(key);
  std::vector<std::pair<std::string, Section>> out;
  if (!found.value.IsMap()) return out;
  const std::string base = key.empty() ? path_ : joinPath(path_, key);
  const Schema* element_schema =
      found.field != nullptr && found.field->element_type == FieldType::kObject
          ? found.field->schema
          : nullptr;
  for (auto it = found.value.begin(); it != found.value.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& name = it->first.Scalar();
    Lookup element;
    element.key.reset(it->first);
    element.value.reset(it->second);
    out.emplace_back(name, child(element, joinPath(base, name), element_schema));
  }
  return out;
}

std::vector<Section> Section::items(std::string_view key) const {
  Lookup found = lookup(key);
  std::vector<Section> out;
  if (!found.value.IsSequence()) return out;
  const std::string base = key.empty() ? path_ : joinPath(path_, key);
  const Schema* element_schema =
      found.field != nullptr && found.field->element_type == FieldType::kObject
          ? found.field->schema
          : nullptr;
  std::size_t index = 0;
  for (auto it = found.value.begin(); it != found.value.end(); ++it, ++index) {
    Lookup element;
    element.value.reset(*it);
    out.push_back(child(element, indexPath(base, index), element_schema));
  }
  return out;
}

Result<std::string> Section::secret(std::string_view key) const {
  Lookup found = lookup(key);
  if (const std::string* value = scalar(found)) return *value;

  const std::string file_key = std::string(key) + "_file";
  auto file_entry = findEntry(node_, file_key);
  if (!file_entry || isAbsent(file_entry->value) || !file_entry->value.IsScalar()) {
    if (found.field != nullptr && found.field->required) {
      return configError(at(key, "required key is missing").toString());
    }
    return std::string();
  }

  const std::string path = absolutePath(file_entry->value.Scalar());
  if (document_ != nullptr && !document_->options().read_secret_files) {
    return "<secret from " + path + ">";
  }
  auto fail = [&](const std::string& reason) -> Result<std::string> {
    return configError(
        at(file_key, "cannot read secret file '" + path + "': " + reason).toString());
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return fail("it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int error = errno;
    return fail(error != 0 ? std::generic_category().message(error) : "cannot open");
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return fail("read error");
  std::string value = std::move(content).str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) return fail("the file is empty");
  return value;
}

YAML::Mark Section::anchor() const {
  if (!isAbsent(node_) && !node_.Mark().is_null()) return node_.Mark();
  return mark_;
}

Diagnostic Section::at(std::string_view key, std::string message) const {
  std::string path = key.empty() ? path_ : joinPath(path_, key);
  YAML::Mark mark = anchor();
  if (!key.empty()) {
    auto entry = findEntry(node_, key);
    const Field* field = lookup(key).field;
    if (!entry && field != nullptr && field->secret) {
      // A secret given as <key>_file is reported there.
      if (auto file_entry = findEntry(node_, std::string(key) + "_file")) {
        path += "_file";
        mark = isAbsent(file_entry->value) ? file_entry->key.Mark() : file_entry->value.Mark();
      }
    }
    if (entry) mark = isAbsent(entry->value) ? entry->key.Mark() : entry->value.Mark();
  }
  if (document_ == nullptr) return Diagnostic{"", 0, 0, std::move(path), std::move(message)};
  return document_->diagnosticAt(mark, std::move(path), std::move(message));
}

Diagnostic Section::atOffset(std::string_view key, std::size_t offset, std::string message) const {
  Lookup found = lookup(key);
  if (document_ == nullptr || scalar(found) == nullptr) return at(key, std::move(message));
  return document_->diagnosticInScalar(
      found.value, offset, key.empty() ? path_ : joinPath(path_, key), std::move(message));
}

std::string Section::absolutePath(const std::string& path) const {
  std::filesystem::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  std::filesystem::path base(document_ != nullptr ? document_->baseDir() : std::string());
  return (base / p).lexically_normal().string();
}

std::string Section::resolvePath(std::string_view key) const {
  std::string value = str(key);
  if (value.empty()) return "";
  return absolutePath(value);
}

}  // namespace smsbridge::config
