#pragma once

// The `mysql` source type (MySQL 8 / MariaDB): its config schema and how a config section
// becomes factories. The store lives in the same database by default.

#include "connectors/registry.h"

namespace smsbridge::mysql {

const config::Schema& sourceSchema();
std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics);

}  // namespace smsbridge::mysql
