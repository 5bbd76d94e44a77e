// `smsbridge test-mapping`: what would this mapping do with this row? Prints the job or the
// reason there is none. Nothing is ever written and no provider is called; the database is read
// only for the mapping's lookups and for `--from-db`, which takes the table's most recent rows.

#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/bridge_config.h"
#include "app/commands.h"
#include "app/sql_lookups.h"
#include "connectors/doctor.h"
#include "core/clock.h"
#include "core/sql_ident.h"

namespace smsbridge {
namespace {

Result<std::optional<Row>> parseRow(const std::string& json, const char* option) {
  if (json.empty()) return std::optional<Row>();
  auto parsed = nlohmann::ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return configError(std::string(option) + " must be a JSON object like '{\"status\": " +
                       "\"shipped\", \"phone\": \"600 700 800\"}'");
  }
  Row row;
  for (auto it = parsed.begin(); it != parsed.end(); ++it) {
    const auto& v = it.value();
    if (v.is_null()) {
      row.set(it.key(), Value());
    } else if (v.is_boolean()) {
      row.set(it.key(), Value(v.get<bool>()));
    } else if (v.is_number_integer()) {
      row.set(it.key(), Value(v.get<std::int64_t>()));
    } else if (v.is_number()) {
      row.set(it.key(), Value(v.get<double>()));
    } else if (v.is_string()) {
      row.set(it.key(), Value(v.get<std::string>()));
    } else {
      row.set(it.key(), Value(v.dump()));
    }
  }
  return std::optional<Row>(std::move(row));
}

void printJob(const SmsJob& job) {
  std::printf("mapping:    %s\n", job.mapping.c_str());
  std::printf("status:     %s%s%s\n", std::string(statusName(job.status)).c_str(),
              job.status_reason.empty() ? "" : " — ", job.status_reason.c_str());
  std::printf("to:         %s (raw: %s)\n", job.recipient.empty() ? "-" : job.recipient.c_str(),
              job.recipient_raw.c_str());
  std::printf("sender:     %s\n", job.sender.empty() ? "(provider default)" : job.sender.c_str());
  std::printf("text:       %s\n", job.body.c_str());
  std::printf("encoding:   %s, %d segment%s\n", std::string(encodingName(job.encoding)).c_str(),
              job.segments, job.segments == 1 ? "" : "s");
  std::printf("lane:       %s\n", std::string(laneName(job.lane)).c_str());
  std::printf("route:      %s\n", job.route.c_str());
  std::printf("schedule:   %s%s\n", formatTimestamp(job.not_before).c_str(),
              job.expires_at ? (", expires " + formatTimestamp(*job.expires_at)).c_str() : "");
  std::printf("dedup key:  %s\n", job.dedup_key.c_str());
}

// Maps one event and prints the outcome. Returns false when a lookup could not run.
bool printOutcome(const Mapping& mapping, const ChangeEvent& event, LookupRunner& lookups) {
  if (!mapping.matches(event)) {
    std::printf("no job: mapping '%s' does not run on %s\n", mapping.name().c_str(),
                std::string(opName(event.op)).c_str());
    return true;
  }
  auto job = mapping.apply(event, SystemClock::instance().now(), lookups);
  if (!job) {
    std::fprintf(stderr, "smsbridge test-mapping: %s\n", job.error().toString().c_str());
    return false;
  }
  if (!*job) {
    std::printf("no job: `when` is false for this row\n");
    return true;
  }
  printJob(**job);
  return true;
}

SqlDialect dialectOf(const SourceFactory& source) {
  if (source.type == "postgres") return SqlDialect::kPostgres;
  if (source.type == "mysql") return SqlDialect::kMysql;
  return SqlDialect::kSqlite;
}

// The primary key columns of `table`, in key order, from the database's own catalogue.
Result<std::vector<std::string>> primaryKey(SqlSession& sql, const SourceFactory& source,
                                            const std::string& table) {
  std::string query;
  switch (dialectOf(source)) {
    case SqlDialect::kPostgres:
      query =
          "SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
          "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(:table) AND "
          "i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)";
      break;
    case SqlDialect::kMysql:
      query =
          "SELECT column_name AS name FROM information_schema.key_column_usage WHERE "
          "table_schema = DATABASE() AND table_name = :table AND constraint_name = 'PRIMARY' "
          "ORDER BY ordinal_position";
      break;
    case SqlDialect::kSqlite:
      query = "SELECT name FROM pragma_table_info(:table) WHERE pk > 0 ORDER BY pk";
      break;
  }
  const std::string quoted = dialectOf(source) == SqlDialect::kPostgres
                                 ? quoteIdentifier(table, SqlDialect::kPostgres)
                                 : table;
  auto rows = sql.query(query, Row{{"table", quoted}});
  if (!rows) return rows.error();
  std::vector<std::string> key;
  for (const Row& row : *rows) {
    if (const Value* name = row.find("name"); name && !name->isNull())
      key.push_back(name->toText());
  }
  if (key.empty()) {
    return configError("table '" + table + "' of source '" + source.name +
                       "' has no primary key (or does not exist), so its most recent rows are "
                       "unknown");
  }
  return key;
}

// --from-db: the mapping's table's `limit` rows with the highest primary key, each mapped as
// the change the mapping fires on (an insert when it runs on inserts).
int fromDatabase(const BridgeConfig& cfg, const Mapping& mapping, int limit) {
  const SourceFactory* source = cfg.findSource(mapping.source());
  if (!source || !source->open_sql) {
    std::fprintf(stderr, "smsbridge test-mapping: source '%s' cannot run queries for --from-db\n",
                 mapping.source().c_str());
    return 1;
  }
  auto fail = [](const Status& status) {
    std::fprintf(stderr, "smsbridge test-mapping: %s\n", status.toString().c_str());
    return 1;
  };
  auto sql = source->open_sql();
  if (!sql) return fail(sql.error());
  auto key = primaryKey(**sql, *source, mapping.table());
  if (!key) return fail(key.error());
  const SqlDialect dialect = dialectOf(*source);
  std::string order;
  for (const std::string& column : *key) {
    order += (order.empty() ? "" : ", ") + quoteIdentifier(column, dialect) + " DESC";
  }
  auto rows = (*sql)->query("SELECT * FROM " + quoteIdentifier(mapping.table(), dialect) +
                                " ORDER BY " + order + " LIMIT :limit",
                            Row{{"limit", limit}});
  if (!rows) return fail(rows.error());
  const Op op = mapping.ops().contains(Op::kInsert) ? Op::kInsert : *mapping.ops().begin();
  std::printf(
      "%zu most recent row%s of %s, each as %s%s\n", rows->size(), rows->size() == 1 ? "" : "s",
      mapping.table().c_str(),
      op == Op::kInsert ? "an insert" : std::string("an " + std::string(opName(op))).c_str(),
      op == Op::kInsert ? "" : " without a before image (old.* does not exist)");
  SqlLookupRunner lookups(cfg.sources);
  int index = 0;
  for (const Row& row : *rows) {
    ChangeEvent event;
    event.source = mapping.source();
    event.table = mapping.table();
    event.op = op;
    for (const std::string& column : *key) {
      const Value* v = row.find(column);
      event.pk += (event.pk.empty() ? "" : ",") + (v ? v->toText() : std::string());
    }
    event.position = "test";
    event.commit_ts = SystemClock::instance().now();
    if (op == Op::kDelete) {
      event.before = row;
    } else {
      event.after = row;
    }
    std::printf("\n--- row %d of %zu: %s %s\n", ++index, rows->size(), joinNames(*key).c_str(),
                event.pk.c_str());
    if (!printOutcome(mapping, event, lookups)) return 1;
  }
  return 0;
}

}  // namespace

int testMappingCommand(const TestMappingOptions& options) {
  (void)setupLogging("off", LogFormat::kText);  // the answer goes to stdout, not the log
  config::Diagnostics diagnostics;
  config::LoadOptions load;
  // Secrets (DSN files) are only needed to reach the database.
  load.read_secret_files = options.from_db > 0;
  auto cfg = loadBridgeConfig(options.config, load, diagnostics);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", diagnostics.toString().c_str());
    return 1;
  }
  const Mapping* mapping = nullptr;
  std::string names;
  for (const Mapping& m : cfg->mappings->mappings()) {
    if (m.name() == options.mapping) mapping = &m;
    names += (names.empty() ? "" : ", ") + m.name();
  }
  if (!mapping) {
    std::fprintf(stderr, "smsbridge test-mapping: no mapping named '%s'; the config has: %s\n",
                 options.mapping.c_str(), names.c_str());
    return 1;
  }
  if (options.from_db > 0) return fromDatabase(*cfg, *mapping, options.from_db);
  if (options.row.empty()) {
    std::fprintf(stderr, "smsbridge test-mapping: give --row JSON or --from-db N\n");
    return 1;
  }
  if (mapping->hasLookups() && !load.read_secret_files) {
    // The lookups run for real, so the database's secrets are needed after all.
    load.read_secret_files = true;
    diagnostics = config::Diagnostics();
    cfg = loadBridgeConfig(options.config, load, diagnostics);
    if (!cfg) {
      std::fprintf(stderr, "%s\n", diagnostics.toString().c_str());
      return 1;
    }
    for (const Mapping& m : cfg->mappings->mappings()) {
      if (m.name() == options.mapping) mapping = &m;
    }
  }
  auto after = parseRow(options.row, "--row");
  auto before = parseRow(options.old_row, "--old");
  for (const auto* r : {&after, &before}) {
    if (!*r) {
      std::fprintf(stderr, "smsbridge test-mapping: %s\n", r->error().message().c_str());
      return 1;
    }
  }
  ChangeEvent event;
  event.source = mapping->source();
  event.table = mapping->table();
  event.op = before->has_value() ? Op::kUpdate : Op::kInsert;
  if (!options.op.empty()) {
    auto op = parseOp(options.op);
    if (!op) {
      std::fprintf(stderr, "smsbridge test-mapping: --op must be insert, update or delete\n");
      return 1;
    }
    event.op = *op;
  }
  event.pk = options.pk;
  event.position = "test";
  // The optionals themselves: --old is often absent, and dereferencing it would be undefined.
  event.before = std::move(*before);
  event.after = std::move(*after);
  if (event.op == Op::kDelete && !event.before) std::swap(event.before, event.after);

  SqlLookupRunner lookups(cfg->sources);
  return printOutcome(*mapping, event, lookups) ? 0 : 1;
}

}  // namespace smsbridge
