#include "connectors/postgres/pg_connector.h"

#include "connectors/poll_capture.h"
#include "connectors/postgres/pg_poll_reader.h"
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
          object("poll", poll::pollSchema(), "Settings of `capture: poll`."),
      },
      "",
      {}};
  return schema;
}

std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics) {
  SourceFactory factory;
  bool ok =
      readCommonSourceKeys(factory, name, "postgres", {"trigger", "poll"}, section, diagnostics);
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
  if (factory.capture == "poll") {
    // Poll mode only SELECTs: the shop's user may be read-only, and the store then lives in
    // another source's database (store.source).
    poll::Settings settings;
    settings.name = name;
    settings.batch_size = static_cast<int>(section.integer("batch_size"));
    if (!poll::readPollSettings(section.object("poll"), settings, diagnostics)) return std::nullopt;
    factory.description = "PostgreSQL database of source '" + name + "'";
    factory.create_source = [settings, dsn = *dsn, timeout = section.duration("connect_timeout")](
                                const std::vector<std::string>& tables,
                                const std::string& prefix) -> Result<std::unique_ptr<Source>> {
      poll::Settings s = settings;
      s.tables = poll::tableSpecsFor(s.configured, tables);
      s.prefix = prefix;
      auto source =
          poll::PollSource::create(std::move(s), std::make_unique<PgPollReader>(dsn, timeout));
      if (!source) return source.error();
      return std::unique_ptr<Source>(std::move(*source));
    };
    factory.create_store = [dsn = *dsn, timeout = section.duration("connect_timeout")](
                               const std::string& prefix) -> Result<std::unique_ptr<JobStore>> {
      auto store = PostgresStore::create(dsn, prefix, timeout);
      if (!store) return store.error();
      return std::unique_ptr<JobStore>(std::move(*store));
    };
    return factory;
  }
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
  factory.create_store = [config](const std::string& prefix) -> Result<std::unique_ptr<JobStore>> {
    auto store = PostgresStore::create(config.dsn, prefix, config.connect_timeout);
    if (!store) return store.error();
    return std::unique_ptr<JobStore>(std::move(*store));
  };
  return factory;
}

}  // namespace smsbridge::postgres
