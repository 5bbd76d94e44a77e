#pragma once

// The one place where names from the config (tables, columns, the table prefix) become SQL.
// Values from rows are never spliced into SQL anywhere: they are bound as parameters.

#include <string>
#include <string_view>

#include "core/result.h"

namespace smsbridge {

enum class SqlDialect { kSqlite, kPostgres, kMysql };

// A name is accepted when it is 1..63 characters of letters, digits, '_' and '$', not starting
// with a digit. That covers real shop/ERP schemas and keeps quoting trivially correct.
bool isValidIdentifier(std::string_view name);
Status validateIdentifier(std::string_view name, std::string_view what);

// Quotes a valid identifier: "name" (SQLite, PostgreSQL) or `name` (MySQL). A dotted name
// ("public.orders") is quoted part by part.
std::string quoteIdentifier(std::string_view name, SqlDialect dialect);

// Whether `table` is one smsbridge writes (its name starts with the store prefix), so capturing
// it would loop. `<prefix>outbox` is the exception: applications write it and smsbridge only
// reads it (the outbox preset, config/presets/outbox.yaml). `table` may be schema-qualified.
bool isBridgeOwnedTable(std::string_view table, std::string_view prefix);

// A string literal for DDL that cannot take parameters (trigger bodies): 'it''s'.
std::string quoteLiteral(std::string_view text);

}  // namespace smsbridge
