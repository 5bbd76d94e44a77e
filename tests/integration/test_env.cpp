#include "tests/integration/test_env.h"

#include <charconv>
#include <cstdlib>
#include <fstream>

#ifndef SMSBRIDGE_TEST_ENV_FILE
#error "SMSBRIDGE_TEST_ENV_FILE must name the env file written by scripts/test-services.sh"
#endif

namespace smsbridge::testing {
namespace {

std::optional<std::string> nonEmptyEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// Undoes the shell quoting the script writes ('...', "...", backslashes); no expansions.
std::string unquoteShellWord(std::string_view word) {
  std::string out;
  for (size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    if (c == '\'') {
      const auto end = word.find('\'', i + 1);
      out.append(word.substr(i + 1, end == std::string_view::npos ? end : end - i - 1));
      if (end == std::string_view::npos) break;
      i = end;
    } else if (c == '"') {
      for (++i; i < word.size() && word[i] != '"'; ++i) {
        if (word[i] == '\\' && i + 1 < word.size() &&
            std::string_view("\"\\$`").find(word[i + 1]) != std::string_view::npos) {
          ++i;
        }
        out.push_back(word[i]);
      }
    } else if (c == '\\' && i + 1 < word.size()) {
      out.push_back(word[++i]);
    } else if (c == ' ' || c == '\t' || c == '#') {
      break;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Looks `name` up in a file of `export NAME='value'` lines.
std::optional<std::string> envFileValue(const std::string& path, std::string_view name) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::string_view rest = trim(line);
    if (rest.empty() || rest.front() == '#') continue;
    if (rest.starts_with("export ")) rest = trim(rest.substr(7));
    const auto eq = rest.find('=');
    if (eq == std::string_view::npos || rest.substr(0, eq) != name) continue;
    std::string value = unquoteShellWord(rest.substr(eq + 1));
    if (value.empty()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::string envFilePath() {
  return nonEmptyEnv("SMSBRIDGE_SERVICES_ENV").value_or(SMSBRIDGE_TEST_ENV_FILE);
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hexDigit(text[i + 1]);
    const int low = hexDigit(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<std::string> serviceSetting(std::string_view name) {
  const std::string key(name);
  if (auto value = nonEmptyEnv(key.c_str())) return value;
  return envFileValue(envFilePath(), name);
}

std::optional<std::string> pgDsn() { return serviceSetting(kPgDsnVar); }

std::optional<std::string> mysqlDsn() { return serviceSetting(kMysqlDsnVar); }

bool runningInCi() { return nonEmptyEnv("CI").value_or("") == "true"; }

std::string missingServiceMessage(std::string_view var_name) {
  return std::string(var_name) + " is not set and " + envFilePath() +
         " does not provide it: run `scripts/test-services.sh start` (or scripts/test.sh, which "
         "starts and stops the databases itself)";
}

std::optional<MysqlDsn> parseMysqlDsn(std::string_view dsn) {
  std::string_view rest;
  for (std::string_view scheme : {"mysql://", "mariadb://"}) {
    if (dsn.starts_with(scheme)) rest = dsn.substr(scheme.size());
  }
  if (rest.empty()) return std::nullopt;
  if (const auto query = rest.find('?'); query != std::string_view::npos) {
    rest = rest.substr(0, query);
  }

  MysqlDsn out;
  std::string_view authority = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    auto database = percentDecode(rest.substr(slash + 1));
    if (!database) return std::nullopt;
    out.database = std::move(*database);
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percentDecode(userinfo.substr(0, colon));
    if (!user) return std::nullopt;
    out.user = std::move(*user);
    if (colon != std::string_view::npos) {
      auto password = percentDecode(userinfo.substr(colon + 1));
      if (!password) return std::nullopt;
      out.password = std::move(*password);
    }
  }

  std::string_view port;
  if (authority.starts_with('[')) {  // [::1]:3306
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  if (!port.empty()) {
    unsigned int value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    out.port = value;
  }
  return out;
}

}  // namespace smsbridge::testing
