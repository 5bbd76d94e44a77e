#pragma once

// Where a benchmark finds the PostgreSQL of scripts/test-services.sh: an explicit --pg-dsn, else
// $SMSBRIDGE_TEST_PG_DSN, else the env file the script writes ($SMSBRIDGE_SERVICES_ENV or
// <build dir>/test-services.env, the same lookup the integration tests use).

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

namespace smsbridge::bench {

// The value of `name` in a file of `[export ]NAME=value` lines, shell quotes removed.
inline std::optional<std::string> envFileValue(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    if (line.rfind(name + "=", 0) != 0) continue;
    std::string value = line.substr(name.size() + 1);
    // The script writes shell-quoted values: 'postgresql://...'
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (!value.empty()) return value;
  }
  return std::nullopt;
}

inline std::optional<std::string> pgDsn(const std::string& explicit_dsn) {
  if (!explicit_dsn.empty()) return explicit_dsn;
  if (const char* env = std::getenv("SMSBRIDGE_TEST_PG_DSN"); env && *env) return env;
  const char* file = std::getenv("SMSBRIDGE_SERVICES_ENV");
  return envFileValue(file && *file ? file : SMSBRIDGE_TEST_ENV_FILE, "SMSBRIDGE_TEST_PG_DSN");
}

}  // namespace smsbridge::bench
