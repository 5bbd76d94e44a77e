#pragma once

// Process-wide logging on spdlog: human-readable lines, or one JSON object per line for log
// shippers. Messages are sentences; details go in key=value fields.

#include <string_view>

#include <spdlog/spdlog.h>

#include "core/result.h"

namespace smsbridge {

enum class LogFormat { kText, kJson };

// Configures the default logger (stderr). `level` is trace|debug|info|warn|error|off.
Status setupLogging(std::string_view level, LogFormat format);

}  // namespace smsbridge
