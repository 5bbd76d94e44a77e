// `smsbridge test-mapping`: what would this mapping do with this row? Pure: no database, no
// provider; prints the job or the reason there is none.

#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/bridge_config.h"
#include "app/commands.h"
#include "core/clock.h"

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

}  // namespace

int testMappingCommand(const TestMappingOptions& options) {
  (void)setupLogging("off", LogFormat::kText);  // the answer goes to stdout, not the log
  config::Diagnostics diagnostics;
  config::LoadOptions load;
  load.read_secret_files = false;
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
  event.before = std::move(**before);
  event.after = std::move(**after);
  if (event.op == Op::kDelete && !event.before) std::swap(event.before, event.after);

  if (!mapping->matches(event)) {
    std::printf("no job: mapping '%s' does not run on %s\n", mapping->name().c_str(),
                std::string(opName(event.op)).c_str());
    return 0;
  }
  auto job = mapping->apply(event, SystemClock::instance().now());
  if (!job) {
    std::printf("no job: `when` is false for this row\n");
    return 0;
  }
  std::printf("mapping:    %s\n", job->mapping.c_str());
  std::printf("status:     %s%s%s\n", std::string(statusName(job->status)).c_str(),
              job->status_reason.empty() ? "" : " — ", job->status_reason.c_str());
  std::printf("to:         %s (raw: %s)\n", job->recipient.empty() ? "-" : job->recipient.c_str(),
              job->recipient_raw.c_str());
  std::printf("sender:     %s\n", job->sender.empty() ? "(provider default)" : job->sender.c_str());
  std::printf("text:       %s\n", job->body.c_str());
  std::printf("encoding:   %s, %d segment%s\n", std::string(encodingName(job->encoding)).c_str(),
              job->segments, job->segments == 1 ? "" : "s");
  std::printf("lane:       %s\n", std::string(laneName(job->lane)).c_str());
  std::printf("route:      %s\n", job->route.c_str());
  std::printf("dedup key:  %s\n", job->dedup_key.c_str());
  return 0;
}

}  // namespace smsbridge
