#include "config/document.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "config/scalar_source.h"

namespace smsbridge::config {
namespace {

std::string absoluteDirOf(const std::string& file_name) {
  std::error_code ec;
  std::filesystem::path base =
      file_name.empty()
          ? std::filesystem::current_path(ec)
          : std::filesystem::absolute(std::filesystem::path(file_name), ec).parent_path();
  if (ec) return std::filesystem::path(file_name).parent_path().string();
  return base.lexically_normal().string();
}

std::string childPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

bool isNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }

std::optional<std::string> processEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace

Document& Document::operator=(const Document& other) {
  if (this == &other) return *this;
  file_ = other.file_;
  base_dir_ = other.base_dir_;
  text_ = other.text_;
  line_starts_ = other.line_starts_;
  root_.reset(other.root_);
  options_ = other.options_;
  diagnostics_ = other.diagnostics_;
  substituted_ = other.substituted_;
  return *this;
}

Result<Document> Document::loadFile(const std::string& path, LoadOptions options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return configError("cannot read config file '" + path + "': it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int error = errno;
    std::string reason = error != 0 ? std::generic_category().message(error) : "cannot open";
    return configError("cannot read config file '" + path + "': " + reason);
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return configError("cannot read config file '" + path + "': read error");
  return loadString(std::move(content).str(), path, std::move(options));
}

Result<Document> Document::loadString(std::string text, std::string file_name,
                                      LoadOptions options) {
  Document doc;
  // yaml-cpp skips a byte order mark but still counts it in positions; drop it so byte
  // positions and the text agree.
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  doc.text_ = std::move(text);
  doc.file_ = std::move(file_name);
  doc.base_dir_ = absoluteDirOf(doc.file_);
  doc.options_ = std::move(options);
  if (!doc.options_.env) doc.options_.env = processEnv;
  doc.line_starts_.push_back(0);
  for (std::size_t i = 0; i < doc.text_.size(); ++i) {
    if (doc.text_[i] == '\n') doc.line_starts_.push_back(i + 1);
  }

  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(doc.text_);
  } catch (const YAML::Exception& e) {  // ParserException, and DeepRecursion on hostile input
    return configError(doc.diagnosticAt(e.mark, "", e.msg).toString());
  }
  if (documents.size() > 1) {
    doc.diagnostics_.add(doc.diagnosticAt(documents[1].Mark(), "",
                                          "only one YAML document is allowed; remove the '---' "
                                          "and everything after it, or merge them"));
  }
  if (!documents.empty()) doc.root_.reset(documents.front());
  std::set<std::pair<std::size_t, int>> visited;
  doc.substitute(doc.root_, "", visited);
  return doc;
}

void Document::substitute(YAML::Node node, const std::string& key_path,
                          std::set<std::pair<std::size_t, int>>& visited) {
  if (node.IsSequence() || node.IsMap()) {
    const YAML::Mark mark = node.Mark();
    std::size_t pos = mark.is_null() ? text_.size() + 1 : static_cast<std::size_t>(mark.pos);
    if (!visited.emplace(pos, static_cast<int>(node.Type())).second) return;
  }
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      substituteScalar(node, key_path);
      break;
    case YAML::NodeType::Sequence: {
      std::size_t index = 0;
      for (auto it = node.begin(); it != node.end(); ++it, ++index) {
        substitute(*it, key_path + "[" + std::to_string(index) + "]", visited);
      }
      break;
    }
    case YAML::NodeType::Map:
      for (auto it = node.begin(); it != node.end(); ++it) {
        substitute(it->second, childPath(key_path, it->first.Scalar()), visited);
      }
      break;
    default:
      break;
  }
}

void Document::substituteScalar(YAML::Node node, const std::string& key_path) {
  const std::string raw = node.Scalar();
  if (raw.find('$') == std::string::npos) return;
  const YAML::Mark mark = node.Mark();
  if (!mark.is_null() && substituted_.count(static_cast<std::size_t>(mark.pos)) > 0) return;

  std::string out;
  bool changed = false;
  std::size_t i = 0;
  while (i < raw.size()) {
    if (raw.compare(i, 3, "$${") == 0) {  // escape: a literal "${"
      out += "${";
      i += 3;
      changed = true;
      continue;
    }
    if (raw.compare(i, 2, "${") != 0) {
      out += raw[i++];
      continue;
    }
    changed = true;
    std::size_t close = raw.find('}', i + 2);
    if (close == std::string::npos) {
      diagnostics_.add(diagnosticInScalar(node, i, key_path,
                                          "unterminated '${' (write '$${' for a literal '${')"));
      out += raw.substr(i);
      break;
    }
    std::string inner = raw.substr(i + 2, close - i - 2);
    std::size_t dash = inner.find(":-");
    std::string name = inner.substr(0, dash);
    bool has_default = dash != std::string::npos;
    // Dots only inside a name: ${preset.table_prefix} (config/preset.h) reads a preset's
    // parameter through the same lookup.
    bool valid =
        !name.empty() && isNameStart(name.front()) && name.back() != '.' &&
        std::all_of(name.begin(), name.end(), [](char c) { return isNameChar(c) || c == '.'; });
    if (!valid) {
      diagnostics_.add(diagnosticInScalar(
          node, i, key_path,
          "invalid variable reference '${" + inner + "}'; expected ${NAME} or ${NAME:-default}"));
    } else {
      std::optional<std::string> value = options_.env(name);
      // As in the shell, ":-" also replaces a variable that is set but empty.
      if (value && !(has_default && value->empty())) {
        out += *value;
      } else if (has_default) {
        out += inner.substr(dash + 2);
      } else {
        std::string what = name.rfind("preset.", 0) == 0
                               ? "preset parameter '" + name.substr(7) +
                                     "' is not declared under preset.parameters"
                               : "environment variable '" + name + "' is not set";
        diagnostics_.add(diagnosticInScalar(node, i, key_path, std::move(what)));
      }
    }
    i = close + 1;
  }
  if (!changed) return;
  if (!mark.is_null()) substituted_.insert(static_cast<std::size_t>(mark.pos));
  node = out;
}

std::pair<int, int> Document::lineColumn(std::size_t pos) const {
  pos = std::min(pos, text_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
  std::size_t line_index = static_cast<std::size_t>(it - line_starts_.begin()) - 1;
  std::size_t line_start = line_starts_[line_index];
  int column = 1;
  for (std::size_t i = line_start; i < pos; ++i) {
    // Count characters, not bytes: skip UTF-8 continuation bytes.
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
  }
  return {static_cast<int>(line_index) + 1, column};
}

Diagnostic Document::diagnosticAt(const YAML::Mark& mark, std::string key_path,
                                  std::string message) const {
  Diagnostic d{file_, 0, 0, std::move(key_path), std::move(message)};
  if (mark.is_null() || mark.pos < 0) return d;
  std::size_t pos = static_cast<std::size_t>(mark.pos);
  if (pos <= text_.size()) {
    std::tie(d.line, d.column) = lineColumn(pos);
  } else {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  return d;
}

Diagnostic Document::diagnosticInScalar(const YAML::Node& scalar, std::size_t offset,
                                        std::string key_path, std::string message) const {
  Diagnostic d{file_, 0, 0, std::move(key_path), std::move(message)};
  if (!scalar.IsDefined()) return d;
  const YAML::Mark mark = scalar.Mark();
  if (mark.is_null() || mark.pos < 0 || static_cast<std::size_t>(mark.pos) > text_.size()) {
    return diagnosticAt(mark, std::move(d.key_path), std::move(d.message));
  }
  std::size_t start = static_cast<std::size_t>(mark.pos);
  if (substituted_.count(start) > 0) offset = 0;
  std::size_t pos = locateInScalar(text_, start, scalar.IsScalar() ? scalar.Scalar() : "", offset);
  std::tie(d.line, d.column) = lineColumn(pos);
  return d;
}

}  // namespace smsbridge::config
