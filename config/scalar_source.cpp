#include "config/scalar_source.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace smsbridge::config {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

bool isBreak(std::string_view text, std::size_t i) {
  if (i >= text.size()) return false;
  return text[i] == '\n' || (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n');
}

std::size_t afterBreak(std::string_view text, std::size_t i) {
  return text[i] == '\r' ? i + 2 : i + 1;
}

void appendUtf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A double-quoted escape starting at text[i] == '\\': the bytes it stands for and its length.
std::optional<std::pair<std::string, std::size_t>> decodeEscape(std::string_view text,
                                                                std::size_t i) {
  if (i + 1 >= text.size()) return std::nullopt;
  char e = text[i + 1];
  auto one = [](char c) { return std::make_pair(std::string(1, c), std::size_t{2}); };
  switch (e) {
    case '0':
      return one('\0');
    case 'a':
      return one('\a');
    case 'b':
      return one('\b');
    case 't':
    case '\t':
      return one('\t');
    case 'n':
      return one('\n');
    case 'v':
      return one('\v');
    case 'f':
      return one('\f');
    case 'r':
      return one('\r');
    case 'e':
      return one('\x1b');
    case ' ':
      return one(' ');
    case '"':
      return one('"');
    case '/':
      return one('/');
    case '\\':
      return one('\\');
    default:
      break;
  }
  std::uint32_t cp = 0;
  std::size_t digits = 0;
  switch (e) {
    case 'N':
      cp = 0x85;
      break;
    case '_':
      cp = 0xA0;
      break;
    case 'L':
      cp = 0x2028;
      break;
    case 'P':
      cp = 0x2029;
      break;
    case 'x':
      digits = 2;
      break;
    case 'u':
      digits = 4;
      break;
    case 'U':
      digits = 8;
      break;
    default:
      return std::nullopt;
  }
  for (std::size_t k = 0; k < digits; ++k) {
    std::size_t at = i + 2 + k;
    if (at >= text.size()) return std::nullopt;
    char h = text[at];
    int v = (h >= '0' && h <= '9')   ? h - '0'
            : (h >= 'a' && h <= 'f') ? h - 'a' + 10
            : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                     : -1;
    if (v < 0) return std::nullopt;
    cp = cp * 16 + static_cast<std::uint32_t>(v);
  }
  std::string bytes;
  appendUtf8(cp, bytes);
  return std::make_pair(bytes, 2 + digits);
}

// Plain, single- and double-quoted scalars. Walks source and value side by side, checking that
// they agree, until `offset` bytes of the value are accounted for.
std::optional<std::size_t> locateInFlow(std::string_view text, std::size_t i, char style,
                                        std::string_view value, std::size_t offset) {
  const std::size_t n = text.size();
  std::size_t d = 0;
  while (true) {
    if (d == offset) return i;
    if (i >= n || d >= value.size()) return std::nullopt;
    char c = text[i];
    if (isBlank(c) || isBreak(text, i)) {
      std::size_t j = i;
      while (j < n && isBlank(text[j])) ++j;
      if (isBreak(text, j)) {
        // Line folding: one break reads as a space, each further empty line as a newline.
        std::size_t fold_at = i;
        j = afterBreak(text, j);
        std::size_t empty_lines = 0;
        while (true) {
          std::size_t k = j;
          while (k < n && isBlank(text[k])) ++k;
          if (!isBreak(text, k)) {
            j = k;
            break;
          }
          ++empty_lines;
          j = afterBreak(text, k);
        }
        std::string produced = empty_lines == 0 ? " " : std::string(empty_lines, '\n');
        for (char p : produced) {
          if (d == offset) return fold_at;
          if (d >= value.size() || value[d] != p) return std::nullopt;
          ++d;
        }
        i = j;
        continue;
      }
    }
    if (style == '\'' && c == '\'') {
      if (i + 1 < n && text[i + 1] == '\'' && value[d] == '\'') {
        ++d;
        i += 2;
        continue;
      }
      return std::nullopt;
    }
    if (style == '"' && c == '"') return std::nullopt;
    if (style == '"' && c == '\\') {
      if (isBreak(text, i + 1)) {  // escaped line break: the lines join with nothing between
        std::size_t j = afterBreak(text, i + 1);
        while (j < n && isBlank(text[j])) ++j;
        i = j;
        continue;
      }
      auto escape = decodeEscape(text, i);
      if (!escape) return std::nullopt;
      for (char b : escape->first) {
        if (d == offset) return i;
        if (d >= value.size() || value[d] != b) return std::nullopt;
        ++d;
      }
      i += escape->second;
      continue;
    }
    if (value[d] != c) return std::nullopt;
    ++d;
    ++i;
  }
}

// Literal (|) and folded (>) block scalars: the content starts on the line after the indicator
// and every line drops the indentation of the first non-empty one.
std::size_t locateInBlock(std::string_view text, std::size_t start, std::string_view value,
                          std::size_t offset) {
  const std::size_t n = text.size();
  const bool folded = text[start] == '>';
  std::size_t i = start;
  while (i < n && !isBreak(text, i)) ++i;
  if (i >= n) return start;
  i = afterBreak(text, i);

  std::size_t indent = 0;
  std::size_t fallback = i;
  for (std::size_t line = i; line < n;) {
    std::size_t k = line;
    while (k < n && text[k] == ' ') ++k;
    if (!isBreak(text, k)) {
      indent = k - line;
      fallback = k;
      break;
    }
    line = afterBreak(text, k);
  }

  std::size_t d = 0;
  std::size_t line = i;
  while (line < n) {
    std::size_t k = line;
    while (k < n && k - line < indent && text[k] == ' ') ++k;
    while (k < n && !isBreak(text, k)) {
      if (d == offset) return k;
      if (d >= value.size() || value[d] != text[k]) return fallback;
      ++d;
      ++k;
    }
    if (d == offset) return k;
    if (k >= n || d >= value.size()) return fallback;
    if (value[d] == '\n' || (folded && value[d] == ' ')) {
      ++d;
    } else if (!folded) {
      return fallback;
    }
    line = afterBreak(text, k);
  }
  return fallback;
}

}  // namespace

std::size_t locateInScalar(std::string_view text, std::size_t start, std::string_view value,
                           std::size_t offset) {
  if (start >= text.size()) return std::min(start, text.size());
  offset = std::min(offset, value.size());
  char style = text[start];
  if (style == '|' || style == '>') return locateInBlock(text, start, value, offset);
  std::size_t content = (style == '\'' || style == '"') ? start + 1 : start;
  return locateInFlow(text, content, style, value, offset).value_or(content);
}

}  // namespace smsbridge::config
