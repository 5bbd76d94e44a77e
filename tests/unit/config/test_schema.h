#pragma once

// A root schema shaped like smsbridge's own, for the config/ tests.

#include <map>
#include <optional>
#include <string>

#include "config/document.h"
#include "config/schema.h"

namespace smsbridge::config::testing {

inline const Schema& sqliteSchema() {
  static const Schema kSchema{.name = "sqlite",
                              .description = "A local SQLite file.",
                              .fields = {required(str("path", "Database file."))}};
  return kSchema;
}

inline const Schema& postgresSchema() {
  static const Schema kSchema{.name = "postgres",
                              .fields = {
                                  str("host", "localhost", "Server host."),
                                  integer("port", 5432, "Server port."),
                                  required(secret("password", "Password of the bridge user.")),
                              }};
  return kSchema;
}

inline const Schema& sourceSchema() {
  static const Schema kSchema{
      .name = "source",
      .description = "A database whose changes become messages.",
      .fields = {oneOf("type", {"sqlite", "postgres"}, "Database kind."),
                 oneOf("mode", {"logical", "trigger", "poll"}, "poll", "Capture mode."),
                 duration("poll_interval", "5s", "How often poll mode queries."),
                 stringList("tables", "Tables to watch.")},
      .variant_key = "type",
      .variants = {{"sqlite", &sqliteSchema()}, {"postgres", &postgresSchema()}}};
  return kSchema;
}

inline const Schema& twilioSchema() {
  static const Schema kSchema{
      .name = "twilio",
      .fields = {required(str("account_sid", "Account SID.")),
                 required(secret("auth_token", "Auth token.")),
                 required(str("from", "Sender number or ID.")), str("color", "", "Badge colour."),
                 integer("max_inflight", 8, "Requests in flight at most."),
                 number("price_limit", 0.25, "Highest price per segment."),
                 boolean("verify_tls", true, "Verify certificates."),
                 duration("timeout", "10s", "Per-request timeout.")}};
  return kSchema;
}

inline const Schema& providersSchema() {
  static const Schema kSchema{.name = "providers",
                              .fields = {object("twilio", twilioSchema(), "Twilio account.")}};
  return kSchema;
}

inline const Schema& mappingSchema() {
  static const Schema kSchema{
      .name = "mapping",
      .description = "Turns one kind of change into an SMS.",
      .fields = {required(str("source", "Source name.")), required(str("table", "Table.")),
                 subsetOf("on", {"insert", "update", "delete"}, {"insert", "update"},
                          "Operations that trigger."),
                 str("when", "Condition | expression."), required(str("to", "Recipient.")),
                 required(str("text", "Message template.")),
                 oneOf("lane", {"otp", "transactional", "marketing"}, "transactional", "Lane.")}};
  return kSchema;
}

inline const Schema& rootSchema() {
  static const Schema kSchema{
      .name = "smsbridge.yaml",
      .description = "The whole configuration.",
      .fields = {str("timezone", "UTC", "Default time zone."),
                 integer("workers", 4, "Dispatcher workers."),
                 required(mapOf("sources", sourceSchema(), "Databases to capture.")),
                 object("providers", providersSchema(), "SMS providers."),
                 mapOf("mappings", mappingSchema(), "What to send.", "<mapping>"),
                 mapOf("routes", FieldType::kStringList, "Provider order per route.", "<route>")}};
  return kSchema;
}

// Hermetic ${VAR} lookup.
inline LoadOptions withEnv(std::map<std::string, std::string> vars) {
  LoadOptions options;
  options.env = [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return options;
}

}  // namespace smsbridge::config::testing
