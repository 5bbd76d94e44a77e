#include "connectors/mysql/mysql_connector.h"

#include "connectors/mysql/mysql_binlog_source.h"
#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_doctor.h"
#include "connectors/mysql/mysql_poll_reader.h"
#include "connectors/mysql/mysql_sql_session.h"
#include "connectors/mysql/mysql_store.h"
#include "connectors/mysql/mysql_trigger_source.h"
#include "connectors/poll_capture.h"

namespace smsbridge::mysql {

const config::Schema& sourceSchema() {
  using namespace config;
  static const Schema schema{
      "mysql source",
      "A MySQL 8 or MariaDB database (WooCommerce, PrestaShop, a booking system...).",
      {
          required(secret("dsn",
                          "Connection: mysql://user:password@host:port/database, or "
                          "`host=... port=... user=... password=... dbname=...`. The store "
                          "tables are created in the same database.")),
          integer("batch_size", 500, "Most captured changes read and enqueued per transaction."),
          duration("connect_timeout", "10s",
                   "How long to wait for the server when connecting before the attempt fails "
                   "and is retried."),
          duration("retain_processed", "1d",
                   "How long processed rows stay in <prefix>changes for inspection before "
                   "they are purged."),
          integer("server_id", kDefaultReplicaServerId,
                  "capture: binlog. The replica id the bridge registers with. It must differ "
                  "from the server's own server_id and from every other replica's (and every "
                  "other bridge's): the server drops one of two connections with the same id."),
          duration("heartbeat_interval", "5s",
                   "capture: binlog. How often the server sends a heartbeat when the binlog is "
                   "idle; three missed heartbeats count as a lost connection."),
          object("poll", poll::pollSchema(), "Settings of `capture: poll`."),
      },
      "",
      {}};
  return schema;
}

std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics) {
  SourceFactory factory;
  bool ok = readCommonSourceKeys(factory, name, "mysql", {"trigger", "binlog", "poll"}, section,
                                 diagnostics);
  auto dsn = section.secret("dsn");
  if (!dsn) {
    diagnostics.add(section.at("dsn", dsn.error().message()));
    return std::nullopt;
  }
  ConnectionOptions options;
  // With secret files left unread (`check`), the DSN is a placeholder and is checked at run.
  if (!dsn->starts_with("<secret from")) {
    auto parsed = parseDsn(*dsn);
    if (!parsed) {
      diagnostics.add(section.at("dsn", parsed.error().message()));
      ok = false;
    } else {
      options = std::move(*parsed);
    }
  }
  const std::int64_t server_id = section.integer("server_id");
  if (server_id < 1 || server_id > 4294967295) {
    diagnostics.add(section.at("server_id", "must be between 1 and 4294967295"));
    ok = false;
  }
  if (section.duration("heartbeat_interval") < std::chrono::seconds(1)) {
    diagnostics.add(section.at("heartbeat_interval", "must be at least 1s"));
    ok = false;
  }
  if (!ok) return std::nullopt;
  options.connect_timeout = section.duration("connect_timeout");
  if (factory.capture == "poll") {
    // Poll mode only SELECTs: the shop's user may be read-only, and the store then lives in
    // another source's database (store.source).
    poll::Settings settings;
    settings.name = name;
    settings.batch_size = static_cast<int>(section.integer("batch_size"));
    if (!poll::readPollSettings(section.object("poll"), settings, diagnostics)) return std::nullopt;
    factory.description = "MySQL database " + options.database + " on " + options.host + ":" +
                          std::to_string(options.port);
    factory.create_source = [settings, options](
                                const std::vector<std::string>& tables,
                                const std::string& prefix) -> Result<std::unique_ptr<Source>> {
      poll::Settings s = settings;
      s.tables = poll::tableSpecsFor(s.configured, tables);
      s.prefix = prefix;
      auto source =
          poll::PollSource::create(std::move(s), std::make_unique<MysqlPollReader>(options));
      if (!source) return source.error();
      return std::unique_ptr<Source>(std::move(*source));
    };
  }
  TriggerSourceConfig config;
  config.name = name;
  config.connection = options;
  config.batch_size = static_cast<int>(section.integer("batch_size"));
  config.retain_processed = section.duration("retain_processed");
  factory.description = "MySQL database " + options.database + " on " + options.host + ":" +
                        std::to_string(options.port);
  if (factory.capture == "binlog") {
    BinlogSourceConfig binlog;
    binlog.name = name;
    binlog.connection = options;
    binlog.batch_size = config.batch_size;
    binlog.server_id = static_cast<std::uint32_t>(server_id);
    binlog.heartbeat_interval = section.duration("heartbeat_interval");
    factory.create_source = createSourceWith<MysqlBinlogSource>(binlog);
  } else if (factory.capture == "trigger") {
    factory.create_source = createSourceWith<MysqlTriggerSource>(config);
  }
  factory.doctor = [options, server_id](const DoctorRequest& request) {
    return runDoctor({options, static_cast<std::uint32_t>(server_id)}, request);
  };
  factory.grants = [options, capture = factory.capture](const std::vector<std::string>& tables,
                                                        const std::string& prefix,
                                                        bool holds_store) {
    GrantRequest request;
    request.user = options.user;
    request.database = options.database;
    request.capture = capture;
    request.prefix = prefix;
    request.tables = tables;
    request.holds_store = holds_store;
    return grantStatements(request);
  };
  factory.open_sql = [options, name]() -> Result<std::unique_ptr<SqlSession>> {
    auto session = MysqlSqlSession::open(options);
    if (!session) return session.error().withContext("source '" + name + "'");
    return std::unique_ptr<SqlSession>(std::move(*session));
  };
  factory.create_store = [options](const std::string& prefix) -> Result<std::unique_ptr<JobStore>> {
    auto store = MysqlStore::create(options, prefix);
    if (!store) return store.error();
    return std::unique_ptr<JobStore>(std::move(*store));
  };
  return factory;
}

}  // namespace smsbridge::mysql
