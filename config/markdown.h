#pragma once

// The configuration reference, generated from the same schema that validates: README and
// `smsbridge config-schema` can therefore never disagree with what the bridge accepts.

#include <string>

#include "config/schema.h"

namespace smsbridge::config {

// Markdown: a short note on durations, ${VAR} and secrets, then one table per mapping (the
// root, then every kObject / kMapOf / kListOf of objects, depth first), each row a key with its
// full path (`sources.<name>.path`), the variant it belongs to ("(type: sqlite)"), type (enum
// values listed), default, whether required, secret, and description. Section headings start
// at `heading_level` (2 = "##").
std::string renderSchemaMarkdown(const Schema& root, int heading_level = 2);

}  // namespace smsbridge::config
