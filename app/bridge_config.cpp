#include "app/bridge_config.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>

#include "config/preset.h"
#include "config/section.h"
#include "config/validate.h"
#include "core/phone.h"
#include "core/sql_ident.h"

namespace smsbridge {
namespace {

using config::Diagnostics;
using config::Section;
// The schema builders (str, oneOf, object...) read as a table of keys.
using namespace config;

// A section with a fixed set of keys: no `type:` variants, no short form.
Schema plainSchema(std::string name, std::string description, std::vector<Field> fields) {
  return Schema{std::move(name), std::move(description), std::move(fields), "", {}};
}

std::vector<std::string> registeredTypes(auto const& registry) {
  std::vector<std::string> types;
  for (const auto& entry : registry) types.emplace_back(entry.type);
  return types;
}

const config::Schema& logSchema() {
  static const Schema schema = plainSchema(
      "log", "Logging to stderr.",
      {
          oneOf("level", {"trace", "debug", "info", "warn", "error", "off"}, "info",
                "Least severe level that is logged."),
          oneOf("format", {"text", "json"}, "text",
                "`text`: one human-readable line per event; `json`: one JSON object per line "
                "for log shippers."),
      });
  return schema;
}

const config::Schema& defaultsSchema() {
  static const Schema schema = plainSchema(
      "defaults", "Values mappings use when they do not set their own.",
      {
          str("region", "",
              "ISO-3166 country code (PL, DE, GB...) for phone numbers written without a "
              "country code, when neither the record nor the mapping gives one."),
          str("sender", "", "Sender ID: up to 11 letters/digits, or an E.164 number."),
          oneOf("phone_types", {"mobile", "mobile_or_unknown", "any"}, "mobile",
                "Which numbers are SMS-capable: `mobile` (mobile and fixed-or-mobile), "
                "`mobile_or_unknown`, or `any` valid number."),
      });
  return schema;
}

// A schema whose `type:` picks one entry of a plugin registry; each entry brings its own keys.
template <typename Registry>
config::Schema registrySchema(config::Schema common, const Registry& registry) {
  common.variant_key = "type";
  for (const auto& entry : registry) {
    common.variants.emplace_back(std::string(entry.type), entry.schema);
  }
  return common;
}

const config::Schema& sourceSchema() {
  static const Schema schema = registrySchema(
      plainSchema(
          "source",
          "A database smsbridge captures changes from. The keys below apply to every type; "
          "each type adds its own.",
          {
              required(oneOf("type", registeredTypes(connectorRegistry()), "Database kind.")),
              oneOf("capture", {"trigger", "logical", "binlog", "poll"}, "trigger",
                    "Capture mode. `trigger` (every database): installed triggers record "
                    "changes in <prefix>changes; needs DDL rights, works on shared hosting. "
                    "`logical` (PostgreSQL): pgoutput logical replication; needs "
                    "wal_level=logical and the REPLICATION attribute. `binlog` "
                    "(MySQL/MariaDB): reads the ROW binlog as a replica; needs REPLICATION "
                    "SLAVE/CLIENT. `poll` (every database): re-reads rows with an overlap "
                    "window and compares them with a shadow copy; read-only access is "
                    "enough, deletes are not seen, latency is about poll_interval. "
                    "`smsbridge doctor` checks what the chosen mode needs."),
              stringList("tables", {},
                         "Tables to capture. Default: every table a mapping of this source "
                         "reads."),
              duration("poll_interval", "500ms",
                       "How often to look for new changes when idle. Latency from commit "
                       "to enqueue is at most about this long."),
              boolean("mirror_statuses",
                      "When the store lives in another database, keep the status of every "
                      "job of this source's mappings in a table of this database "
                      "(`write_back.mirror_table`), so staff can query it beside their "
                      "data; `smsbridge setup` creates it. Default: true, except for "
                      "`capture: poll`, whose database is often read-only."),
          }),
      connectorRegistry());
  return schema;
}

const config::Schema& storeSchema() {
  static const Schema schema = plainSchema(
      "store",
      "Where jobs, attempts and checkpoints live. By default, in the source database itself, "
      "so delivery statuses are written back where the shop's staff can query them.",
      {
          str("source", "",
              "Name of the source whose database holds the store. Default: the only source "
              "(required when there are several)."),
          str("table_prefix", "smsbridge_", "Prefix of every table smsbridge creates."),
      });
  return schema;
}

const config::Schema& optOutsSchema() {
  static const Schema schema = plainSchema(
      "opt-outs", "Recipients who replied STOP (kept in `<prefix>optouts`; START removes them).",
      {
          subsetOf("lanes", {"otp", "transactional", "marketing"}, {"marketing"},
                   "Lanes whose jobs to an opted-out recipient are `suppressed` (reason "
                   "`opted_out`) instead of sent, at enqueue and again just before sending. "
                   "Order, booking and one-time-password messages usually still go out, so "
                   "the default is marketing only."),
      });
  return schema;
}

const config::Schema& rateLimitSchema() {
  static const Schema schema = plainSchema(
      "rate limit", "A provider's sending rate.",
      {
          number("messages_per_second", 0, "Most messages started per second; 0: no limit."),
          number("segments_per_second", 0,
                 "Most SMS segments started per second (a 3-part SMS counts 3); 0: no limit."),
      });
  return schema;
}

const config::Schema& breakerSchema() {
  static const Schema schema = plainSchema(
      "breaker", "Circuit breaker of one provider.",
      {
          integer("failures", 5,
                  "Consecutive failures (network errors, timeouts, 5xx, 429, refusals that fail "
                  "over) that pause the provider; 0: never pause."),
          duration("open_for", "30s",
                   "How long a paused provider gets no traffic before one probe is sent; the "
                   "probe's success resumes it."),
      });
  return schema;
}

const config::Schema& providerSchema() {
  static const Schema schema = registrySchema(
      plainSchema(
          "provider", "An SMS provider account. The name is what routes refer to.",
          {
              required(oneOf("type", registeredTypes(providerRegistry()), "Provider kind.")),
              integer("max_inflight", 0,
                      "Most requests to this provider awaiting an answer at once; 0: only "
                      "`dispatcher.max_inflight` applies. With latency L the provider then "
                      "gets at most max_inflight / L messages per second; keep "
                      "`dispatcher.max_inflight` above the sum of its providers' values, or it "
                      "is the lower limit."),
              object("rate_limit", rateLimitSchema(),
                     "Sending rate this account allows; never exceeded in any one-second "
                     "window."),
              object("breaker", breakerSchema(),
                     "Pausing this provider after repeated failures, so routes use the next "
                     "one."),
          }),
      providerRegistry());
  return schema;
}

const config::Schema& routeSchema() {
  static const Schema schema = [] {
    Schema s = plainSchema(
        "route",
        "An ordered list of providers: the first is tried first, the next on failover or while "
        "the first is paused. A plain list (`otp: [messageflow, twilio]`) is short for "
        "`{providers: [...]}`.",
        {
            required(stringList("providers", "Providers in the order they are tried.")),
            mapOf("countries", FieldType::kStringList,
                  "Providers for recipients whose E.164 number starts with a prefix, e.g. "
                  "`\"+1\": [twilio]`; the longest matching prefix wins, others use "
                  "`providers`.",
                  "<prefix>"),
            oneOf("in_doubt", {"resend", "hold"}, "resend",
                  "Jobs found in `sending` after a crash may or may not have reached the "
                  "provider. `resend`: send again (the SMS may arrive twice; SMSAPI's idx "
                  "prevents that); `hold`: mark them `failed` with an `in_doubt` reason for an "
                  "operator (it may never arrive)."),
        });
    s.shorthand_key = "providers";
    return s;
  }();
  return schema;
}

const config::Schema& quietHoursSchema() {
  static const Schema schema = plainSchema(
      "quiet hours", "A daily window in which this lane sends nothing.",
      {
          required(str("window", "Local time window, e.g. `21:00-08:00` (may wrap midnight).")),
          required(str("time_zone", "IANA time zone of the recipients, e.g. `Europe/Warsaw`.")),
          str("weekdays", "",
              "Days the window starts on, in cron syntax (`MON-FRI`, `SAT,SUN`). Empty: "
              "every day."),
          oneOf("action", {"defer", "drop"}, "defer",
                "`defer`: send when the window ends; `drop`: suppress the job (reason "
                "`quiet_hours`)."),
      });
  return schema;
}

const config::Schema& laneSchema() {
  static const Schema schema = plainSchema(
      "lane", "Timing rules of one lane.",
      {
          duration("expires_in",
                   "How long a job stays sendable once due; after that it becomes `expired` "
                   "without being sent. Default: 5m for otp, never for the other lanes."),
          object("quiet_hours", quietHoursSchema(), "When this lane must not send."),
          integer("max_attempts",
                  "Send attempts before a job of this lane is `failed`. Default: "
                  "`dispatcher.max_attempts`."),
          duration("max_age",
                   "Stop retrying a job this long after it was created (it becomes `failed`). "
                   "Default: no limit besides max_attempts and expires_in."),
      });
  return schema;
}

const config::Schema& lanesSchema() {
  static const Schema schema = plainSchema(
      "lanes",
      "Per-lane timing. Lanes are sent in strict priority: otp, then transactional, then "
      "marketing.",
      {
          object("otp", laneSchema(), "One-time passwords and other codes."),
          object("transactional", laneSchema(), "Order, shipping and booking notices."),
          object("marketing", laneSchema(), "Campaigns; typically with quiet hours."),
      });
  return schema;
}

const config::Schema& dispatcherSchema() {
  static const Schema schema = plainSchema(
      "dispatcher", "How queued jobs are claimed and sent.",
      {
          integer("batch_size", 50,
                  "Most jobs claimed per round, lanes in priority order; also the most "
                  "claimed jobs waiting for a send slot."),
          integer("max_inflight", 100,
                  "Most sends whose outcome is not durable yet: requests awaiting an answer "
                  "plus answers waiting for their commit to the store. This bounds the SMS a "
                  "crash can duplicate with providers that have no idempotency key (Twilio, "
                  "MessageFlow). A send slot stays taken until its outcome is committed, so "
                  "set it a batch above the providers' `max_inflight` to let them be reached."),
          duration("poll_interval", "200ms", "How often to look for due jobs when idle."),
          duration("lease", "60s",
                   "How long a claimed job belongs to this process. A job whose owner died "
                   "(crash, kill -9) is sent again after its lease expires."),
          duration("retry_base", "1s", "First retry delay; doubles each attempt, with jitter."),
          duration("retry_max", "5m", "Longest retry delay."),
          integer("max_attempts", 5, "Attempts before a job is `failed`."),
      });
  return schema;
}

const config::Schema& writeBackActionSchema() {
  static const Schema schema = plainSchema(
      "write-back action",
      "SQL run in the mapping's source database when a job's status changes, exactly once per "
      "change, e.g. an order note. Values are bound as parameters: `:job_id`, `:status`, "
      "`:status_reason`, `:provider`, `:provider_message_id`, `:entity_table`, `:entity_id`, "
      "`:mapping`, `:source`, `:recipient`, `:lane`, `:segments`, `:price`, `:currency`, "
      "`:changed_at`.",
      {
          subsetOf("on", writeBackStatusNames(), {},
                   "Statuses this action runs on. Default: all of them."),
          required(str("sql",
                       "The statement, e.g. `INSERT INTO wp_comments (comment_post_ID, "
                       "comment_content, comment_type) VALUES (:entity_id, :status, "
                       "'order_note')`. It runs in one transaction with smsbridge's marker row "
                       "(<table_prefix>write_back_done), so a crash never runs it twice.")),
      });
  return schema;
}

const config::Schema& writeBackSchema() {
  static const Schema schema = plainSchema(
      "write-back",
      "How delivery statuses reach the source databases: mappings' `write_back:` actions and "
      "the status mirror.",
      {
          str("mirror_table", "",
              "Table kept in a source whose store lives elsewhere (see "
              "`sources.<name>.mirror_statuses`), one row per job. Default: "
              "<table_prefix>message_status."),
          integer("max_attempts", 10,
                  "Tries of a status change whose action keeps failing (wrong SQL, say) before "
                  "it is given up and logged with its error; an unreachable database is retried "
                  "without limit."),
          duration("retry_max", "5m",
                   "Longest wait between tries of a failing status change (the wait starts at "
                   "1s and doubles)."),
          duration("poll_interval", "500ms",
                   "How often to look for status changes to write back when idle."),
      });
  return schema;
}

// The keys that build a job, shared by mappings and schedules: both build jobs with the same
// code (Mapping::apply), so they read them alike.
std::vector<config::Field> jobFields(std::string text_description, std::string dedup_description) {
  return {
      required(str("to", "Recipient template, e.g. `{{ phone }}`.")),
      str("region", "",
          "Country for numbers without a country code, as a template (e.g. "
          "`{{ country }}`). Empty: defaults.region."),
      required(str("text", std::move(text_description))),
      str("sender", "", "Sender ID. Default: defaults.sender."),
      oneOf("lane", {"otp", "transactional", "marketing"}, "transactional",
            "Priority lane: otp before transactional before marketing."),
      str("route", "default", "Route (list of providers) to send through."),
      str("dedup", "", std::move(dedup_description)),
      oneOf("phone_types", {"", "mobile", "mobile_or_unknown", "any"}, "",
            "Overrides defaults.phone_types."),
      boolean("normalize", false,
              "Replace characters GSM-7 lacks by look-alikes (ą→a, ł→l, “→\") so the SMS "
              "stays GSM-7: 160 characters per segment instead of 70."),
      integer("max_segments", 0, "Longest SMS in segments; 0: no limit."),
      oneOf("too_long", {"reject", "truncate"}, "reject",
            "Over max_segments: `reject` the job, or `truncate` the text with an "
            "ellipsis."),
  };
}

const config::Schema& lookupSchema() {
  static const Schema schema = [] {
    Schema s = plainSchema(
        "lookup",
        "A query whose first row the mapping's `when` and templates read as `<name>.<column>`. "
        "Short form: `<name>: SELECT ...`.",
        {
            required(str("sql",
                         "The query, e.g. `SELECT phone, country FROM addresses WHERE order_id "
                         "= :id`. `:<column>` binds that column of the changed row as a "
                         "parameter (never spliced into the SQL). Only the first row is read; "
                         "order it when several can match.")),
            str("source", "", "Source whose database runs the query. Default: the mapping's."),
            boolean("optional", false,
                    "No row: read every `<name>.<column>` as null (so `| default(...)` works) "
                    "instead of suppressing the job with reason `lookup_empty`."),
        });
    s.shorthand_key = "sql";
    return s;
  }();
  return schema;
}

const config::Schema& mappingSchema() {
  static const Schema schema = [] {
    Schema s =
        plainSchema("mapping", "Turns a change in one table into an SMS.",
                    {
                        str("source", "", "Source name. Default: the only source."),
                        required(str("table", "Table whose changes this mapping reads.")),
                        subsetOf("on", {"insert", "update", "delete"}, {"insert", "update"},
                                 "Operations that trigger the mapping."),
                        str("when", "",
                            "Condition on the change, e.g. `status == 'shipped' and old.status != "
                            "'shipped'`. `old.<col>` is the value before an update. Empty: every "
                            "change."),
                    });
    for (Field& f : jobFields("SMS text template: `{{ column }}`, `{{ old.column }}`, "
                              "filters like `{{ name | upper }}`.",
                              "Dedup key template. Jobs with the same key are sent once. "
                              "Default: source, table, primary key, mapping and the values of "
                              "the columns `when` reads, so a row's transition makes one job "
                              "however often it is captured. `{{ change.position }}` (the "
                              "change's source position) makes each captured change its own "
                              "job, while a replayed one keeps its key.")) {
      s.fields.push_back(std::move(f));
    }
    s.fields.push_back(
        duration("delay", "0s", "Send this long after the change (e.g. a follow-up)."));
    s.fields.push_back(
        duration("expires_in", "Overrides the lane's `expires_in` for this mapping."));
    s.fields.push_back(boolean("enabled", true,
                               "`false` turns the mapping off; with a preset, `mappings.<name>: "
                               "{enabled: false}` turns off one of the preset's mappings."));
    s.fields.push_back(
        mapOf("lookup", lookupSchema(),
              "Named queries run for each change that fires, before the templates render: "
              "`billing: SELECT phone FROM addresses WHERE order_id = :id` makes "
              "`{{ billing.phone }}`. `when` may read them too (those lookups then run for "
              "every matching change). One query per lookup per change at most; a batch "
              "asks each distinct query once. No row suppresses the job (`lookup_empty`) "
              "unless the lookup is `optional`.",
              "<lookup>"));
    s.fields.push_back(listOf("write_back", writeBackActionSchema(),
                              "Actions run in the source database when a job's status changes."));
    return s;
  }();
  return schema;
}

const config::Schema& scheduleSchema() {
  static const Schema schema = [] {
    Schema s = plainSchema(
        "schedule",
        "Runs a query on a cron or interval trigger; each row becomes an SMS, built like a "
        "mapping's. Booking reminders, \"no login for 30 days\", abandoned carts, campaigns.",
        {
            str("source", "", "Source the query runs on. Default: the only source."),
            str("cron", "",
                "Five-field cron expression (minute hour day-of-month month day-of-week), "
                "e.g. `0 10 * * FRI` for Fridays at 10:00 in `time_zone`. Set this or "
                "`every`."),
            duration("every",
                     "Interval trigger, e.g. `15m`; runs are aligned to the Unix epoch "
                     "(`15m`: at :00, :15, :30 and :45 UTC). Set this or `cron`."),
            str("time_zone", "UTC", "IANA time zone whose wall clock `cron` reads."),
            required(str("query",
                         "SQL whose rows become SMS. Parameters are written `:name` and bound, "
                         "never spliced: `:now` (the run's scheduled time, UTC, as "
                         "'YYYY-MM-DD HH:MM:SS'), `:now_epoch` (the same in Unix seconds), "
                         "`:last_run` and `:last_run_epoch` (the previous run's scheduled "
                         "time), and any key of `params`.")),
            mapOf("params", FieldType::kString, "Constant values for the query's parameters.",
                  "<name>"),
            str("key", "",
                "Column that identifies a row (a booking, a customer) in the default dedup "
                "key. Empty: the first column."),
        });
    for (Field& f : jobFields("SMS text template over the row's columns: `{{ column }}`, "
                              "filters like `{{ name | upper }}`.",
                              "Dedup key template. Jobs with the same key are sent once, so "
                              "`cart:{{ cart_id }}` reminds of a cart once ever. Default: the "
                              "schedule name, the run's scheduled time and the row's `key`, so "
                              "re-running a time sends nothing twice.")) {
      s.fields.push_back(std::move(f));
    }
    s.fields.push_back(
        duration("expires_in", "Overrides the lane's `expires_in` for this schedule."));
    s.fields.push_back(boolean("enabled", true,
                               "`false` turns the schedule off; with a preset, `schedules.<name>: "
                               "{enabled: false}` turns off one of the preset's schedules."));
    s.fields.push_back(
        oneOf("misfire", {"skip", "run_once"}, "skip",
              "Scheduled times that passed while the bridge was stopped (more than a minute ago): "
              "`skip` runs none of them and waits for the next time, so a restart sends no burst "
              "of stale reminders; `run_once` makes one catch-up run for all of them. A run "
              "interrupted mid-way is always finished."));
    s.fields.push_back(
        integer("batch_size", 500,
                "Most jobs enqueued per transaction; rows stream, so memory holds one batch."));
    s.fields.push_back(number("pace", 0,
                              "Most jobs enqueued per second, to spread a campaign; 0: no "
                              "limit. Sending speed is still bounded by the providers' rates."));
    return s;
  }();
  return schema;
}

// Which section gives a key: a preset's mapping or schedule with the user's overrides on top
// (LayeredMapping::at), or one plain section.
using SectionAt = std::function<const config::Section&(std::string_view key)>;

// Reads the job-building keys (jobFields) of a mapping or schedule, each from where it was given.
void readJobFields(const SectionAt& at, MappingSpec& spec) {
  spec.to = at("to").str("to");
  spec.region = at("region").str("region");
  spec.text = at("text").str("text");
  spec.sender = at("sender").str("sender");
  spec.lane = at("lane").str("lane");
  spec.route = at("route").str("route");
  spec.dedup = at("dedup").str("dedup");
  spec.phone_types = at("phone_types").str("phone_types");
  spec.normalize = at("normalize").boolean("normalize");
  spec.max_segments = static_cast<int>(at("max_segments").integer("max_segments"));
  spec.truncate = at("too_long").str("too_long") == "truncate";
  if (at("expires_in").has("expires_in")) spec.expires_in = at("expires_in").duration("expires_in");
}

// Adds a compile error of a mapping or schedule at its offset inside the value, unless the
// schema already rejected that value (a lane outside the list, say).
void addUnlessSeen(config::Diagnostic d, config::Diagnostics& diagnostics) {
  for (const auto& seen : diagnostics.all()) {
    if (seen.key_path == d.key_path && seen.file == d.file) return;
  }
  diagnostics.add(std::move(d));
}

Mapping::ReportFn reportInto(SectionAt at, config::Diagnostics& diagnostics) {
  return [at = std::move(at), &diagnostics](std::string_view key, std::size_t offset,
                                            std::string message) {
    addUnlessSeen(at(key).atOffset(key, offset, std::move(message)), diagnostics);
  };
}

const config::Schema& tlsSchema() {
  static const Schema schema = plainSchema(
      "tls", "HTTPS for the server. With both files set it speaks only HTTPS.",
      {
          str("cert_file", "",
              "PEM certificate chain (server certificate first), relative to this file."),
          str("key_file", "", "PEM private key of the certificate, relative to this file."),
      });
  return schema;
}

const config::Schema& serverSchema() {
  static const Schema schema = plainSchema(
      "server",
      "The HTTP server: delivery-report and inbound webhooks, `/healthz` (liveness), `/readyz` "
      "(sources capturing, store answering) and `/metrics` (Prometheus). It runs only when this "
      "section is present.",
      {
          str("listen", "127.0.0.1:8787",
              "Address and port to listen on, `host:port` (`[::1]:8787` for IPv6; "
              "`0.0.0.0:8787` for every interface). Port 0 picks a free port, logged at "
              "start."),
          str("public_url", "",
              "The base URL providers reach this server at, e.g. `https://sms.example.com` "
              "behind a reverse proxy: webhook signatures that cover the URL (Twilio) are "
              "computed over it, not over the address the proxy forwards to."),
          object("tls", tlsSchema(), "HTTPS certificate and key."),
          integer("max_body_bytes", 1048576,
                  "Largest request body accepted; bigger ones get 413 and are not read."),
          duration("header_timeout", "10s",
                   "Time a client has to send a request's header; also how long an idle "
                   "keep-alive connection is kept."),
          duration("body_timeout", "30s",
                   "Time a client has to send a request's body after its header, and to read "
                   "the answer."),
          integer("max_connections", 256,
                  "Most connections open at once; further ones are closed at once."),
          duration("park_reports_for", "10m",
                   "How long a delivery report for a message id no job has yet is kept, "
                   "waiting for the send result that names it; then it is dropped and counted "
                   "as unknown (`smsbridge_delivery_reports_parked_dropped_total`)."),
      });
  return schema;
}

// A key whose value this schema does not check: the preset header's parts, which
// config/preset.cpp reads.
config::Field opaque(std::string key, std::string description) {
  return config::Field{
      .key = std::move(key), .type = config::FieldType::kObject, .description = description};
}

// A preset file (config/preset.h): its header, and mappings and schedules checked like a
// config's.
const config::Schema& presetDocumentSchema() {
  static const Schema header =
      plainSchema("preset header", "What a preset is and which parameters it takes.",
                  {
                      str("description", "", "What the preset does."),
                      opaque("parameters", "Parameters a presets: entry may set."),
                      opaque("choose", "Values derived from a parameter's value."),
                      opaque("detect", "Queries that resolve `auto` parameters."),
                      opaque("setup", "Tables `smsbridge setup` creates."),
                  });
  static const Schema schema =
      plainSchema("preset file", "A preset: ready mappings for one application.",
                  {
                      required(object("preset", header, "The preset's header.")),
                      mapOf("mappings", mappingSchema(), "Change → SMS rules.", "<mapping>"),
                      mapOf("schedules", scheduleSchema(),
                            "Query → SMS rules on a cron or interval trigger.", "<schedule>"),
                  });
  return schema;
}

std::string presetList() {
  std::string out;
  for (const auto& name : config::builtinPresetNames()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// "mappings.<name>" and "schedules.<name>" of what the presets listed under `presets:` ship.
std::set<std::string> presetMappingNames(const Section& root) {
  std::set<std::string> names;
  for (const Section& entry : root.items("presets")) {
    if (const config::Preset* preset = config::findPreset(entry.str("name"))) {
      for (const auto& m : preset->mappings) names.insert("mappings." + m);
      for (const auto& m : preset->schedules) names.insert("schedules." + m);
    }
  }
  return names;
}

// "mappings.<a preset's mapping>.<key>: required key is missing" (or a schedule's): the preset
// gives that key.
bool isOverrideGap(const config::Diagnostic& d, const std::set<std::string>& preset_mappings) {
  if (d.message != "required key is missing") return false;
  std::size_t dot = d.key_path.rfind('.');
  return dot != std::string::npos && preset_mappings.count(d.key_path.substr(0, dot)) > 0;
}

// One `presets:` entry, instantiated with its parameters. Sections point into `document`,
// so uses live in a deque (stable addresses) for as long as the mappings are read.
struct PresetUse {
  const config::Preset* preset = nullptr;
  Section entry;
  config::Document document;
  Section root;
};

// `auto` for a parameter the preset can detect: one query on the preset's source. Without
// database reads (`check`), the preset's fallback.
std::string detectParameter(const config::Preset& preset, const std::string& parameter,
                            const std::map<std::string, std::string>& values,
                            const BridgeConfig& cfg, const config::LoadOptions& options,
                            const Section& entry, Diagnostics& diagnostics) {
  const config::PresetDetect& detect = preset.detect.at(parameter);
  if (!options.read_databases) return detect.fallback;
  const SourceFactory* source = cfg.findSource(values.at("source"));
  if (source == nullptr) return detect.fallback;  // reported with the mappings
  auto fail = [&](const std::string& why) {
    diagnostics.add(entry.at(
        parameter, parameter + ": auto cannot be resolved: " + why + "; set it explicitly"));
    return detect.fallback;
  };
  if (!source->open_sql) return fail("source '" + source->name + "' cannot run queries yet");
  auto session = source->open_sql();
  if (!session) return fail(session.error().message());
  auto rows = (*session)->query(config::substitutePresetValues(detect.sql, values), Row{});
  if (!rows) return fail(rows.error().message());
  if (rows->empty()) return detect.fallback;
  const Value* value = rows->front().find("value");
  if (value == nullptr) return fail("the detection query returned no `value` column");
  return value->toText();
}

std::deque<PresetUse> usePresets(const Section& root, BridgeConfig& cfg,
                                 const std::vector<std::string>& source_names,
                                 const config::LoadOptions& options, Diagnostics& diagnostics) {
  std::deque<PresetUse> uses;
  for (const Section& entry : root.items("presets")) {
    const config::Preset* preset = config::findPreset(entry.str("name"));
    if (preset == nullptr) continue;  // validation listed the presets there are
    if (!preset->error.empty()) {
      diagnostics.add(
          entry.at("name", "preset file " + preset->path + " is broken: " + preset->error));
      continue;
    }
    std::map<std::string, std::string> values;
    values["source"] = entry.str("source");
    if (values["source"].empty()) {
      if (source_names.size() == 1) {
        values["source"] = source_names.front();
      } else if (source_names.size() > 1) {
        diagnostics.add(entry.at("source",
                                 "several sources are configured; name the one "
                                 "preset '" +
                                     preset->name + "' reads"));
      }
    }
    bool complete = true;
    for (const config::PresetParameter& p : preset->parameters) {
      // A plain-name entry has no variant to take defaults from.
      std::string value = entry.has(p.name) ? entry.str(p.name) : p.default_value;
      if (value.empty() && p.required) {
        // Validation reports this for {name: ...}, not for the plain-name shorthand.
        if (entry.node().IsScalar()) {
          diagnostics.add(entry.at("", "preset '" + preset->name + "' needs parameter '" + p.name +
                                           "': write {name: " + preset->name + ", " + p.name +
                                           ": ...}"));
        }
        complete = false;
      }
      if (p.identifier && !value.empty() && !isValidIdentifier(value + "x")) {
        diagnostics.add(entry.at(p.name, "'" + value + "' may hold only letters, digits and _"));
        complete = false;
      }
      values[p.name] = std::move(value);
    }
    if (!complete) continue;
    for (const auto& [parameter, detect] : preset->detect) {
      if (values[parameter] == "auto") {
        values[parameter] =
            detectParameter(*preset, parameter, values, cfg, options, entry, diagnostics);
      }
    }
    config::addChoices(*preset, values);
    auto document = config::instantiatePreset(*preset, values, root.document()->options());
    if (!document) {
      diagnostics.add(entry.at("name", document.error().message()));
      continue;
    }
    PresetUse& use = uses.emplace_back();
    use.preset = preset;
    use.entry = entry;
    use.document = std::move(*document);
    use.root = Section(&use.document, use.document.root(), &presetDocumentSchema(), "");
    config::validate(use.document, presetDocumentSchema(), diagnostics);
    if (const SourceFactory* source = cfg.findSource(values["source"])) {
      auto setup = preset->setup.find(source->type);
      if (setup != preset->setup.end()) {
        PresetSetup ps{preset->name, source->name, {}};
        for (const auto& sql : setup->second) {
          ps.statements.push_back(config::substitutePresetValues(sql, values));
        }
        cfg.preset_setup.push_back(std::move(ps));
      } else if (!preset->setup.empty()) {
        diagnostics.add(entry.at("source", "preset '" + preset->name +
                                               "' cannot create its tables in a " + source->type +
                                               " database"));
      }
    }
  }
  return uses;
}

// A mapping as the bridge reads it: from a preset with the user's overrides on top, or the
// user's own. Each key, and each diagnostic about it, comes from where it was given.
struct LayeredMapping {
  std::string name;
  std::optional<Section> preset;
  std::optional<Section> user;
  bool disabled = false;

  const Section& at(std::string_view key) const {
    if (user && (!preset || user->has(key))) return *user;
    return *preset;
  }
};

// `kind` is "mappings" or "schedules": both layer alike.
std::vector<LayeredMapping> layerSections(const Section& root, const std::deque<PresetUse>& uses,
                                          const std::string& kind, Diagnostics& diagnostics) {
  std::vector<LayeredMapping> out;
  std::map<std::string, std::string> owner;  // mapping name → preset that ships it
  auto find = [&](const std::string& name) -> LayeredMapping* {
    for (auto& m : out) {
      if (m.name == name) return &m;
    }
    return nullptr;
  };
  for (const PresetUse& use : uses) {
    std::vector<std::string> disabled = use.entry.strings("disable");
    for (auto& [name, section] : use.root.object(kind).entries()) {
      if (auto [it, fresh] = owner.emplace(name, use.preset->name); !fresh) {
        diagnostics.add(use.entry.at("name", "preset '" + use.preset->name + "' ships " +
                                                 kind.substr(0, kind.size() - 1) + " '" + name +
                                                 "', which preset '" + it->second +
                                                 "' listed earlier already defines"));
        continue;
      }
      LayeredMapping m{name, section, std::nullopt, false};
      m.disabled = std::find(disabled.begin(), disabled.end(), name) != disabled.end();
      out.push_back(std::move(m));
    }
  }
  for (auto& [name, section] : root.object(kind).entries()) {
    if (LayeredMapping* m = find(name)) {
      m->user = section;
    } else {
      out.push_back({name, std::nullopt, section, false});
    }
  }
  return out;
}

std::optional<SqlDialect> dialectOf(std::string_view type) {
  if (type == "sqlite") return SqlDialect::kSqlite;
  if (type == "postgres") return SqlDialect::kPostgres;
  if (type == "mysql") return SqlDialect::kMysql;
  return std::nullopt;
}

// A mapping's `write_back:` actions; a `:name` the SQL uses that is no job field is reported
// where it stands.
std::vector<WriteBackAction> readWriteBackActions(const Section& mapping,
                                                  Diagnostics& diagnostics) {
  std::vector<WriteBackAction> actions;
  const auto& fields = writeBackFieldNames();
  for (const Section& item : mapping.items("write_back")) {
    WriteBackAction action;
    action.sql = item.str("sql");
    for (const std::string& name : item.strings("on")) {
      if (auto status = parseStatus(name)) action.on.insert(*status);
    }
    for (const std::string& name : sqlParameterNames(action.sql)) {
      if (std::find(fields.begin(), fields.end(), name) != fields.end()) continue;
      std::string list;
      for (const auto& f : fields) list += (list.empty() ? ":" : ", :") + f;
      diagnostics.add(
          item.atOffset("sql", action.sql.find(":" + name),
                        "':" + name + "' is not a job field; write-back binds " + list));
    }
    actions.push_back(std::move(action));
  }
  return actions;
}

// Which sources write-back writes to, and which mappings' status changes the store must log.
void planWriteBack(BridgeConfig& cfg, const Section& root,
                   const std::map<std::string, std::vector<WriteBackAction>>& actions) {
  Section section = root.object("write_back");
  WriteBackConfig& wb = cfg.write_back;
  wb.prefix = cfg.store.prefix;
  wb.mirror_table = section.str("mirror_table");
  if (wb.mirror_table.empty()) wb.mirror_table = cfg.store.prefix + "message_status";
  wb.max_attempts = static_cast<int>(section.integer("max_attempts"));
  wb.retry_max = section.duration("retry_max");
  wb.poll_interval = section.duration("poll_interval");
  Section sources = root.object("sources");
  for (const SourceFactory& factory : cfg.sources) {
    auto dialect = dialectOf(factory.type);
    if (!dialect) continue;
    bool mirror = false;
    if (factory.name != cfg.store.source && !cfg.mappings->tablesOf(factory.name).empty()) {
      Section s;
      for (auto& [name, entry] : sources.entries()) {
        if (name == factory.name) s = entry;
      }
      mirror = s.has("mirror_statuses") ? s.boolean("mirror_statuses") : factory.capture != "poll";
    }
    bool has_actions = false;
    for (const Mapping& mapping : cfg.mappings->mappings()) {
      if (mapping.source() != factory.name) continue;
      auto it = actions.find(mapping.name());
      const bool acts = it != actions.end() && !it->second.empty();
      has_actions = has_actions || acts;
      if (acts) wb.actions[mapping.name()] = it->second;
      if (acts || mirror) cfg.write_back_mappings.push_back(mapping.name());
    }
    if (has_actions || mirror) {
      wb.sources[factory.name] = WriteBackSource{*dialect, mirror, factory.open_sql};
    }
  }
}

// The `source:` of a mapping or schedule that names no source that loaded: none given while
// several exist, or a name nobody configured. A configured source whose own section has
// problems is reported there, not again here.
void checkUnknownSource(const std::string& source, const std::vector<std::string>& source_names,
                        const Section& at, Diagnostics& diagnostics) {
  if (source.empty()) {
    if (source_names.size() > 1) {
      diagnostics.add(at.at("source", "several sources are configured; name one"));
    }
  } else if (std::find(source_names.begin(), source_names.end(), source) == source_names.end()) {
    diagnostics.add(at.at("source", "no source named '" + source + "'"));
  }
}

// The `route:` of a mapping or schedule.
void checkRoute(const std::string& route, const BridgeConfig& cfg, const Section& at,
                Diagnostics& diagnostics) {
  if (!cfg.routes.count(route)) {
    diagnostics.add(at.at("route", "no route named '" + route + "' under routes"));
  }
}

std::string hostOwner() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace

const config::Schema& bridgeSchema() {
  static const Schema schema = plainSchema(
      "smsbridge", "The smsbridge configuration file.",
      {
          object("log", logSchema(), "Logging."),
          object("defaults", defaultsSchema(), "Defaults for mappings."),
          required(mapOf("sources", sourceSchema(), "Databases to capture changes from.")),
          object("store", storeSchema(), "Where jobs and checkpoints live."),
          object("optouts", optOutsSchema(), "What an opt-out (STOP) suppresses."),
          required(mapOf("providers", providerSchema(), "SMS provider accounts.")),
          required(mapOf("routes", routeSchema(),
                         "Ordered provider lists. A mapping's `route` names one; the first "
                         "provider is tried first, the next on failover.",
                         "<route>")),
          object("lanes", lanesSchema(), "Expiry and quiet hours per lane."),
          object("dispatcher", dispatcherSchema(), "Sending."),
          listOf("presets", config::presetEntrySchema(),
                 "Ready mappings for an application, by name (" + presetList() +
                     "), with parameters: `presets: [outbox, {name: woocommerce, "
                     "admin_phone: \"+48600100200\"}]`. Each preset mapping keeps its name; a "
                     "mapping of the same name under `mappings` overrides the keys it gives "
                     "(only `text`, say) and `enabled: false` turns it off. The files are "
                     "config/presets/<name>.yaml in the source tree, built into the binary; "
                     "copy one into your config to change it wholesale."),
          mapOf("mappings", mappingSchema(),
                "Change → SMS rules. Required unless `presets` gives some.", "<mapping>"),
          object("write_back", writeBackSchema(), "Writing delivery statuses back."),
          mapOf("schedules", scheduleSchema(),
                "Query → SMS rules that run on a cron or interval trigger.", "<schedule>"),
          object("inbound", inboundSchema(), "Inbound SMS: opt-out keywords and replies."),
          object("server", serverSchema(), "HTTP server for webhooks, health and metrics."),
      });
  return schema;
}

const SourceFactory* BridgeConfig::findSource(const std::string& name) const {
  for (const auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> BridgeConfig::tablesOf(const SourceFactory& source) const {
  if (!source.tables.empty()) return source.tables;
  return mappings->tablesOf(source.name);
}

std::vector<WebhookProvider> BridgeConfig::webhookProviders() const {
  std::vector<WebhookProvider> out;
  for (const auto& provider : providers) {
    const ProviderEntry* entry = findProvider(provider.type);
    if (!entry || !entry->parse_webhook_secrets) continue;
    out.push_back({provider.name, provider.type, provider.webhook_secrets});
  }
  return out;
}

Result<std::unique_ptr<JobStore>> BridgeConfig::createStore() const {
  const SourceFactory* source = findSource(store.source);
  if (!source || !source->create_store) {
    return configError("source '" + store.source + "' cannot hold the store");
  }
  return source->create_store(store.prefix);
}

std::optional<BridgeConfig> loadBridgeConfig(const std::string& path,
                                             const config::LoadOptions& options,
                                             Diagnostics& diagnostics) {
  auto document = config::Document::loadFile(path, options);
  if (!document) {
    // The message already says file:line:col (syntax errors) or names the file.
    diagnostics.add(config::Diagnostic{"", 0, 0, "", document.error().message()});
    return std::nullopt;
  }
  Section root(&*document, document->root(), &bridgeSchema(), "");
  {
    // A mapping that overrides a preset's gives only the keys it changes.
    Diagnostics found;
    config::validate(*document, bridgeSchema(), found);
    std::set<std::string> preset_mappings = presetMappingNames(root);
    for (const auto& d : found.all()) {
      if (!isOverrideGap(d, preset_mappings)) diagnostics.add(d);
    }
  }
  // Go on after schema problems: the readers below fall back to defaults on bad values, and
  // compiling the mappings finds expression and template errors the schema cannot see, so the
  // operator gets every problem in one run.

  BridgeConfig cfg;
  cfg.file = path;

  Section log = root.object("log");
  cfg.log_level = log.str("level");
  cfg.log_format = log.str("format") == "json" ? LogFormat::kJson : LogFormat::kText;

  Section defaults = root.object("defaults");
  cfg.defaults.region = defaults.str("region");
  cfg.defaults.sender = defaults.str("sender");
  cfg.defaults.phone_types =
      parsePhoneTypePolicy(defaults.str("phone_types")).value_or(PhoneTypePolicy::kMobile);
  if (!cfg.defaults.region.empty() && !isValidRegionCode(cfg.defaults.region)) {
    diagnostics.add(defaults.at("region", "'" + cfg.defaults.region +
                                              "' is not a country code libphonenumber knows "
                                              "(use ISO-3166 alpha-2 like PL, DE, GB)"));
  }

  Section lanes = root.object("lanes");
  for (Lane lane : kLanesByPriority) {
    std::string lane_name(laneName(lane));
    Section l = lanes.object(lane_name);
    LaneSettings& settings = cfg.defaults.lanes[lane];
    if (l.has("max_attempts") || l.has("max_age")) {
      RetryPolicy& retry = cfg.dispatcher.lane_retry[lane];
      retry.max_attempts = static_cast<int>(
          l.has("max_attempts") ? l.integer("max_attempts")
                                : root.object("dispatcher").integer("max_attempts"));
      if (retry.max_attempts < 1) diagnostics.add(l.at("max_attempts", "must be at least 1"));
      if (l.has("max_age")) retry.max_age = l.duration("max_age");
    }
    if (l.has("expires_in")) {
      settings.expires_in = l.duration("expires_in");
    } else if (lane == Lane::kOtp) {
      settings.expires_in = std::chrono::minutes(5);
    }
    if (l.has("quiet_hours")) {
      Section q = l.object("quiet_hours");
      auto window = QuietHours::parse(q.str("window"), q.str("time_zone"), q.str("weekdays"));
      if (window) {
        settings.quiet_hours = std::move(*window);
        settings.drop_in_quiet_hours = q.str("action") == "drop";
      } else {
        diagnostics.add(q.at("window", window.error().message()));
      }
    }
  }

  // Names as written, even for sources whose section has problems: mappings refer to them.
  std::vector<std::string> source_names;
  for (auto& [name, section] : root.object("sources").entries()) {
    source_names.push_back(name);
    const ConnectorEntry* entry = findConnector(section.str("type"));
    if (!entry) continue;  // validation reported it
    if (auto factory = entry->parse(name, section, diagnostics)) {
      cfg.sources.push_back(std::move(*factory));
    }
  }

  Section store = root.object("store");
  cfg.store.prefix = store.str("table_prefix");
  if (Status s = validateIdentifier(cfg.store.prefix + "x", "table_prefix"); !s.isOk()) {
    diagnostics.add(store.at("table_prefix", s.message()));
  }
  cfg.store.source = store.str("source");
  if (cfg.store.source.empty()) {
    if (cfg.sources.size() == 1) {
      cfg.store.source = cfg.sources.front().name;
    } else if (cfg.sources.size() > 1) {
      diagnostics.add(store.at("source",
                               "several sources are configured; name the one whose "
                               "database holds the store"));
    }
  } else if (!cfg.findSource(cfg.store.source)) {
    diagnostics.add(store.at("source", "no source named '" + cfg.store.source + "'"));
  }

  cfg.optouts.lanes.clear();
  for (const std::string& name : root.object("optouts").strings("lanes")) {
    if (auto lane = parseLane(name)) cfg.optouts.lanes.push_back(*lane);  // else: reported
  }

  std::set<std::string> provider_names;
  for (auto& [name, section] : root.object("providers").entries()) {
    provider_names.insert(name);
    const ProviderEntry* entry = findProvider(section.str("type"));
    if (!entry) continue;
    WebhookSecrets secrets;
    if (entry->parse_webhook_secrets) {
      secrets = entry->parse_webhook_secrets(section, diagnostics).value_or(WebhookSecrets{});
    }
    if (entry->parse_http) {
      // Parsed once, for the sender and for status polling alike.
      if (auto spec = entry->parse_http(name, section, diagnostics)) {
        if (spec->status_poll.enabled && spec->status_query) cfg.status_polls.push_back(*spec);
        cfg.providers.push_back(
            {name, section.str("type"), httpProviderFactory(std::move(*spec)), std::move(secrets)});
      }
    } else if (auto factory = entry->parse(name, section, diagnostics)) {
      cfg.providers.push_back({name, section.str("type"), std::move(*factory), std::move(secrets)});
    }
    ProviderLimits& limits = cfg.dispatcher.limits[name];
    limits.max_inflight = static_cast<int>(section.integer("max_inflight"));
    Section rate = section.object("rate_limit");
    limits.messages_per_second = rate.number("messages_per_second");
    limits.segments_per_second = rate.number("segments_per_second");
    Section breaker = section.object("breaker");
    limits.breaker.failure_threshold = static_cast<int>(breaker.integer("failures"));
    limits.breaker.open_for = breaker.duration("open_for");
    if (limits.max_inflight < 0) diagnostics.add(section.at("max_inflight", "must be 0 or more"));
    for (const char* key : {"messages_per_second", "segments_per_second"}) {
      if (rate.number(key) < 0) diagnostics.add(rate.at(key, "must be 0 or more"));
    }
    if (limits.breaker.failure_threshold < 0) {
      diagnostics.add(breaker.at("failures", "must be 0 or more"));
    }
  }

  Section routes = root.object("routes");
  for (auto& [name, section] : routes.entries()) {
    Route route;
    route.providers = section.strings("providers");
    route.in_doubt =
        section.str("in_doubt") == "hold" ? InDoubtPolicy::kHold : InDoubtPolicy::kResend;
    if (route.providers.empty()) {
      diagnostics.add(section.at("providers", "a route needs at least one provider"));
    }
    auto check = [&](const Section& where, std::string_view key,
                     const std::vector<std::string>& list) {
      for (const auto& provider : list) {
        if (!provider_names.count(provider)) {
          diagnostics.add(where.at(key, "route '" + name + "' names provider '" + provider +
                                            "', which is not configured under providers"));
        }
      }
    };
    check(section, "providers", route.providers);
    Section countries = section.object("countries");
    for (auto& [prefix, list_section] : countries.entries()) {
      std::vector<std::string> list = countries.strings(prefix);
      bool digits = prefix.size() >= 2 && prefix[0] == '+' &&
                    prefix.find_first_not_of("0123456789", 1) == std::string::npos;
      if (!digits) {
        diagnostics.add(countries.at(prefix, "'" + prefix +
                                                 "' is not an E.164 prefix; write it like "
                                                 "\"+48\" or \"+1\""));
      }
      if (list.empty()) diagnostics.add(countries.at(prefix, "needs at least one provider"));
      check(countries, prefix, list);
      route.countries[prefix] = std::move(list);
    }
    cfg.routes[name] = std::move(route);
  }

  Section inbound = root.object("inbound");
  cfg.inbound = parseInboundSettings(inbound, diagnostics);
  bool replies = !cfg.inbound.stop_reply.empty() || !cfg.inbound.start_reply.empty();
  if (replies && !cfg.routes.count(cfg.inbound.reply_route)) {
    diagnostics.add(
        inbound.at("reply_route", "no route named '" + cfg.inbound.reply_route + "' under routes"));
  }

  Section dispatcher = root.object("dispatcher");
  cfg.dispatcher.owner = hostOwner();
  cfg.dispatcher.batch_size = static_cast<int>(dispatcher.integer("batch_size"));
  cfg.dispatcher.max_inflight = static_cast<int>(dispatcher.integer("max_inflight"));
  cfg.dispatcher.poll_interval = dispatcher.duration("poll_interval");
  cfg.dispatcher.lease = dispatcher.duration("lease");
  cfg.dispatcher.retry_base = dispatcher.duration("retry_base");
  cfg.dispatcher.retry_max = dispatcher.duration("retry_max");
  cfg.dispatcher.max_attempts = static_cast<int>(dispatcher.integer("max_attempts"));
  for (const char* key : {"batch_size", "max_inflight", "max_attempts"}) {
    if (dispatcher.integer(key) < 1) diagnostics.add(dispatcher.at(key, "must be at least 1"));
  }

  std::deque<PresetUse> presets = usePresets(root, cfg, source_names, options, diagnostics);

  if (root.has("server")) {
    Section server = root.object("server");
    ServerSettings settings;
    if (Status s = parseListenAddress(server.str("listen"), settings.http.host, settings.http.port);
        !s.isOk()) {
      diagnostics.add(server.at("listen", s.message()));
    }
    settings.public_url = server.str("public_url");
    if (!settings.public_url.empty() && settings.public_url.rfind("http://", 0) != 0 &&
        settings.public_url.rfind("https://", 0) != 0) {
      diagnostics.add(server.at("public_url", "must start with http:// or https://"));
    }
    Section tls = server.object("tls");
    settings.http.cert_file = tls.resolvePath("cert_file");
    settings.http.key_file = tls.resolvePath("key_file");
    if (settings.http.cert_file.empty() != settings.http.key_file.empty()) {
      diagnostics.add(tls.at(settings.http.cert_file.empty() ? "cert_file" : "key_file",
                             "HTTPS needs both cert_file and key_file"));
    }
    std::int64_t max_body = server.integer("max_body_bytes");
    if (max_body < 1) diagnostics.add(server.at("max_body_bytes", "must be at least 1"));
    settings.http.max_body_bytes = static_cast<std::size_t>(std::max<std::int64_t>(max_body, 1));
    settings.http.header_timeout = server.duration("header_timeout");
    settings.http.body_timeout = server.duration("body_timeout");
    for (const char* key : {"header_timeout", "body_timeout"}) {
      if (server.duration(key).count() <= 0) diagnostics.add(server.at(key, "must be positive"));
    }
    settings.http.max_connections = static_cast<int>(server.integer("max_connections"));
    if (settings.http.max_connections < 1) {
      diagnostics.add(server.at("max_connections", "must be at least 1"));
    }
    settings.park_reports_for = server.duration("park_reports_for");
    if (settings.park_reports_for.count() <= 0) {
      diagnostics.add(server.at("park_reports_for", "must be positive"));
    }
    cfg.server = std::move(settings);
  }

  std::vector<Mapping> mappings;
  std::map<std::string, std::vector<WriteBackAction>> write_back_actions;
  for (const LayeredMapping& layered : layerSections(root, presets, "mappings", diagnostics)) {
    const std::string& name = layered.name;
    auto section = [&](std::string_view key) -> const Section& { return layered.at(key); };
    if (layered.disabled || !section("enabled").boolean("enabled")) continue;
    write_back_actions[name] = readWriteBackActions(section("write_back"), diagnostics);
    MappingSpec spec;
    spec.name = name;
    spec.source = section("source").str("source");
    if (spec.source.empty() && source_names.size() == 1) spec.source = source_names.front();
    spec.table = section("table").str("table");
    spec.on = section("on").strings("on");
    spec.when = section("when").str("when");
    readJobFields(section, spec);
    spec.delay = section("delay").duration("delay");
    // A lookup: map comes whole from one layer: overriding one query keeps the others'
    // parameters and column names consistent only if the user restates them all.
    std::map<std::string, Section> lookup_sections;
    for (auto& [lookup_name, lookup] : section("lookup").entries("lookup")) {
      LookupSpec l{lookup_name, lookup.str("sql"), lookup.str("source"),
                   lookup.boolean("optional")};
      if (!l.source.empty() &&
          std::find(source_names.begin(), source_names.end(), l.source) == source_names.end()) {
        diagnostics.add(lookup.at("source", "no source named '" + l.source + "'"));
      }
      spec.lookups.push_back(std::move(l));
      lookup_sections.emplace(lookup_name, lookup);
    }
    if (const SourceFactory* source = cfg.findSource(spec.source)) {
      if (isBridgeOwnedTable(spec.table, cfg.store.prefix)) {
        diagnostics.add(section("table").at("table", "tables starting with '" + cfg.store.prefix +
                                                         "' are smsbridge's own and cannot be "
                                                         "mapped"));
      } else if (Status s = validateIdentifier(spec.table, "table"); !s.isOk()) {
        diagnostics.add(section("table").at("table", s.message()));
      } else if (!source->tables.empty() && std::find(source->tables.begin(), source->tables.end(),
                                                      spec.table) == source->tables.end()) {
        // The mapping would silently never fire.
        diagnostics.add(section("table").at(
            "table", "source '" + spec.source + "' does not capture '" + spec.table +
                         "'; add it to sources." + spec.source + ".tables"));
      }
    } else {
      checkUnknownSource(spec.source, source_names, section("source"), diagnostics);
    }
    checkRoute(spec.route, cfg, section("route"), diagnostics);
    auto mapping = Mapping::compile(
        spec, cfg.defaults, [&](std::string_view key, std::size_t offset, std::string message) {
          // "lookup.<name>" points into that lookup's SQL.
          auto lookup = key.starts_with("lookup.")
                            ? lookup_sections.find(std::string(key.substr(7)))
                            : lookup_sections.end();
          addUnlessSeen(lookup != lookup_sections.end()
                            ? lookup->second.atOffset("sql", offset, std::move(message))
                            : section(key).atOffset(key, offset, std::move(message)),
                        diagnostics);
        });
    if (mapping) mappings.push_back(std::move(*mapping));
  }
  if (mappings.empty() && !root.has("mappings") && !root.has("presets")) {
    diagnostics.add(root.at("mappings", "required key is missing; give mappings or presets"));
  }
  cfg.mappings = std::make_shared<MappingEngine>(std::move(mappings));
  planWriteBack(cfg, root, write_back_actions);

  for (const LayeredMapping& layered : layerSections(root, presets, "schedules", diagnostics)) {
    const std::string& name = layered.name;
    // `cron` and `every` are one choice: an override that gives either replaces the preset's
    // trigger, rather than adding a second one.
    const bool own_trigger =
        layered.user && (layered.user->has("cron") || layered.user->has("every"));
    SectionAt section = [&layered, own_trigger](std::string_view key) -> const Section& {
      if (own_trigger && (key == "cron" || key == "every")) return *layered.user;
      return layered.at(key);
    };
    if (layered.disabled || !section("enabled").boolean("enabled")) continue;
    ScheduleSpec spec;
    spec.name = name;
    spec.source = section("source").str("source");
    if (spec.source.empty() && source_names.size() == 1) spec.source = source_names.front();
    spec.cron = section("cron").str("cron");
    if (section("every").has("every")) spec.every = section("every").duration("every");
    spec.time_zone = section("time_zone").str("time_zone");
    spec.query = section("query").str("query");
    Section params = section("params").object("params");
    for (auto& [param, value] : params.entries())
      spec.params.emplace_back(param, params.str(param));
    spec.key = section("key").str("key");
    readJobFields(section, spec.job);
    spec.misfire =
        section("misfire").str("misfire") == "run_once" ? Misfire::kRunOnce : Misfire::kSkip;
    spec.batch_size = static_cast<int>(section("batch_size").integer("batch_size"));
    spec.pace = section("pace").number("pace");
    if (const SourceFactory* source = cfg.findSource(spec.source)) {
      if (!source->open_sql) {
        diagnostics.add(
            section("source").at("source", "source '" + spec.source +
                                               "' cannot run queries yet (its database type "
                                               "has no SQL session)"));
      }
    } else {
      checkUnknownSource(spec.source, source_names, section("source"), diagnostics);
    }
    checkRoute(spec.job.route, cfg, section("route"), diagnostics);
    auto schedule = Schedule::compile(spec, cfg.defaults, reportInto(section, diagnostics));
    if (schedule) cfg.schedules.push_back(std::move(*schedule));
  }

  if (!diagnostics.empty()) return std::nullopt;
  return cfg;
}

}  // namespace smsbridge
