#pragma once

// The `sqlite` source type: its config schema and how a config section becomes factories.

#include "connectors/registry.h"

namespace smsbridge::sqlite {

const config::Schema& sourceSchema();
std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics);

// `smsbridge doctor` for a SQLite file: it opens, the mapped tables and columns exist, and for
// trigger capture the change table and triggers are installed. SQLite has no users or
// settings to check.
std::vector<DoctorCheck> runDoctor(const std::string& path, std::chrono::milliseconds busy_timeout,
                                   const DoctorRequest& request);

}  // namespace smsbridge::sqlite
