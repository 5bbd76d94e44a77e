#include "connectors/postgres/pg_connector.h"

#include "connectors/postgres/pg_doctor.h"
#include "connectors/postgres/pg_store.h"
#include "connectors/postgres/pg_trigger_source.h"

namespace smsbridge::postgres {

const config::Schema& sourceSchema() {
  using namespace config;
  static const Schema schema{
      "postgres source",
      "A PostgreSQL database (WooCommerce on PostgreSQL, Odoo, a booking or CRM app).",
      {
          required(secret("dsn",
                          "Connection string: a libpq URI (postgresql://user:password@host:5432/"
                          "shop) or key=value pairs (host=... dbname=... user=...). Give it as "
                          "${ENV} or as dsn_file.")),
          integer("batch_size", 500, "Most captured changes read and enqueued per transaction."),
          duration("connect_timeout", "10s",
                   "How long to wait for the server when connecting before the attempt fails "
                   "and is retried."),
          duration("retain_processed", "1d",
                   "How long processed rows stay in <prefix>changes for inspection before "
                   "they are purged."),
      },
      "",
      {}};
  return schema;
}

std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics) {
  SourceFactory factory;
  bool ok = readCommonSourceKeys(factory, name, "postgres", {"trigger"}, section, diagnostics);
  if (section.duration("connect_timeout") < std::chrono::seconds(1)) {
    diagnostics.add(section.at("connect_timeout", "must be at least 1s"));
    ok = false;
  }
  auto dsn = section.secret("dsn");
  if (!dsn) {
    diagnostics.add(section.at("dsn", dsn.error().message()));
    ok = false;
  }
  if (!ok) return std::nullopt;
  TriggerSourceConfig config;
  config.name = name;
  config.dsn = *dsn;
  config.batch_size = static_cast<int>(section.integer("batch_size"));
  config.connect_timeout = section.duration("connect_timeout");
  config.retain_processed = section.duration("retain_processed");
  // Never the DSN itself: it may hold the password.
  factory.description = "PostgreSQL database of source '" + name + "'";
  factory.create_source = [config](const std::vector<std::string>& tables,
                                   const std::string& prefix) -> Result<std::unique_ptr<Source>> {
    TriggerSourceConfig c = config;
    c.tables = tables;
    c.prefix = prefix;
    auto source = PgTriggerSource::create(std::move(c));
    if (!source) return source.error();
    return std::unique_ptr<Source>(std::move(*source));
  };
  factory.doctor = [config](const DoctorRequest& request) {
    return runDoctor({config.dsn, config.connect_timeout}, request);
  };
  factory.grants = [config, capture = factory.capture](const std::vector<std::string>& tables,
                                                       const std::string& prefix,
                                                       bool holds_store) {
    GrantRequest request;
    std::tie(request.user, request.database) = dsnUserAndDatabase(config.dsn);
    request.source = config.name;
    request.capture = capture;
    request.prefix = prefix;
    request.tables = tables;
    request.holds_store = holds_store;
    return grantStatements(request);
  };
  factory.create_store = [config](const std::string& prefix) -> Result<std::unique_ptr<JobStore>> {
    auto store = PostgresStore::create(config.dsn, prefix, config.connect_timeout);
    if (!store) return store.error();
    return std::unique_ptr<JobStore>(std::move(*store));
  };
  return factory;
}

}  // namespace smsbridge::postgres
