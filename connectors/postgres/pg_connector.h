#pragma once

// The `postgres` source type: its config schema and how a config section becomes factories.

#include "connectors/registry.h"

namespace smsbridge::postgres {

const config::Schema& sourceSchema();
std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics);

}  // namespace smsbridge::postgres
