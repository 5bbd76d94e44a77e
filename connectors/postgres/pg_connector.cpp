#include "connectors/postgres/pg_connector.h"

#include "connectors/poll_capture.h"
#include "connectors/postgres/pg_doctor.h"
#include "connectors/postgres/pg_logical_source.h"
#include "connectors/postgres/pg_poll_reader.h"
#include "connectors/postgres/pg_sql_session.h"
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
          str("slot", "",
              "capture: logical: the replication slot's name (lower-case letters, digits, "
              "'_'); empty: <prefix>slot_<source>. `setup` creates it."),
          str("publication", "",
              "capture: logical: the publication listing the captured tables; empty: "
              "<prefix>pub_<source>. `setup` creates it and keeps its table list in sync with "
              "the mappings."),
          duration("status_interval", "10s",
                   "capture: logical: how often the bridge reports its position to the server "
                   "when nothing else is sent; must stay well under the server's "
                   "wal_sender_timeout."),
          integer("retained_wal_warning_mb", 1024,
                  "capture: logical: warn when the slot keeps more than this much WAL on the "
                  "server (MB), a sign that capture is stopped or falling behind."),
          object("poll", poll::pollSchema(), "Settings of `capture: poll`."),
      },
      "",
      {}};
  return schema;
}

std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics) {
  SourceFactory factory;
  bool ok = readCommonSourceKeys(factory, name, "postgres", {"trigger", "logical", "poll"}, section,
                                 diagnostics);
  if (section.duration("connect_timeout") < std::chrono::seconds(1)) {
    diagnostics.add(section.at("connect_timeout", "must be at least 1s"));
    ok = false;
  }
  auto dsn = section.secret("dsn");
  if (!dsn) {
    diagnostics.add(section.at("dsn", dsn.error().message()));
    ok = false;
  }
  if (section.duration("status_interval") < std::chrono::seconds(1)) {
    diagnostics.add(section.at("status_interval", "must be at least 1s"));
    ok = false;
  }
  if (section.integer("retained_wal_warning_mb") < 1) {
    diagnostics.add(section.at("retained_wal_warning_mb", "must be at least 1"));
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
  }
  TriggerSourceConfig config;
  config.name = name;
  config.dsn = *dsn;
  config.batch_size = static_cast<int>(section.integer("batch_size"));
  config.connect_timeout = section.duration("connect_timeout");
  config.retain_processed = section.duration("retain_processed");
  // Never the DSN itself: it may hold the password.
  factory.description = "PostgreSQL database of source '" + name + "'";
  if (factory.capture == "logical") {
    LogicalSourceConfig logical;
    logical.name = name;
    logical.dsn = *dsn;
    logical.slot = section.str("slot");
    logical.publication = section.str("publication");
    logical.batch_size = config.batch_size;
    logical.connect_timeout = config.connect_timeout;
    logical.status_interval = section.duration("status_interval");
    logical.retained_wal_warning_bytes = section.integer("retained_wal_warning_mb") * 1024 * 1024;
    factory.create_source = createSourceWith<PgLogicalSource>(logical);
  } else if (factory.capture == "trigger") {
    factory.create_source = createSourceWith<PgTriggerSource>(config);
  }
  const std::string slot = section.str("slot");
  const std::string publication = section.str("publication");
  factory.doctor = [config, slot, publication](const DoctorRequest& request) {
    return runDoctor({config.dsn, config.connect_timeout, slot, publication}, request);
  };
  factory.grants = [config, slot, publication, capture = factory.capture](
                       const std::vector<std::string>& tables, const std::string& prefix,
                       bool holds_store) {
    GrantRequest request;
    std::tie(request.user, request.database) = dsnUserAndDatabase(config.dsn);
    request.source = config.name;
    request.capture = capture;
    request.prefix = prefix;
    request.tables = tables;
    request.holds_store = holds_store;
    request.slot = slot;
    request.publication = publication;
    return grantStatements(request);
  };
  factory.open_sql = [config]() -> Result<std::unique_ptr<SqlSession>> {
    auto session = PgSqlSession::open(config.dsn, config.connect_timeout);
    if (!session) return session.error().withContext("source '" + config.name + "'");
    return std::unique_ptr<SqlSession>(std::move(*session));
  };
  factory.create_store = [config](const std::string& prefix) -> Result<std::unique_ptr<JobStore>> {
    auto store = PostgresStore::create(config.dsn, prefix, config.connect_timeout);
    if (!store) return store.error();
    return std::unique_ptr<JobStore>(std::move(*store));
  };
  return factory;
}

}  // namespace smsbridge::postgres
