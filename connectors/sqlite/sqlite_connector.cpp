#include "connectors/sqlite/sqlite_connector.h"

#include "connectors/poll_capture.h"
#include "connectors/sqlite/sqlite_db.h"
#include "connectors/sqlite/sqlite_poll_reader.h"
#include "connectors/sqlite/sqlite_sql_session.h"
#include "connectors/sqlite/sqlite_store.h"
#include "connectors/sqlite/sqlite_trigger_source.h"

namespace smsbridge::sqlite {

const config::Schema& sourceSchema() {
  using namespace config;
  static const Schema schema{
      "sqlite source",
      "A SQLite database file (an embedded shop, a booking app, the quickstart demo).",
      {
          required(str("path",
                       "Database file. Relative paths are resolved against the "
                       "config file's directory. The file must exist.")),
          duration("busy_timeout", "5s",
                   "How long to wait for the shop's own write transactions to release the "
                   "database before an operation fails and is retried."),
          integer("batch_size", 500, "Most captured changes read and enqueued per transaction."),
          duration("retain_processed", "1d",
                   "How long processed rows stay in <prefix>changes for inspection before "
                   "they are purged."),
          object("poll", poll::pollSchema(), "Settings of `capture: poll`."),
      },
      "",
      {}};
  return schema;
}

namespace {

// Column names of `table`, or nothing when there is no such table.
Result<std::optional<std::set<std::string>>> tableColumns(Database& db, const std::string& table) {
  auto st = db.prepare("SELECT name FROM pragma_table_info(?)");
  if (!st) return st.error();
  st->bind(1, table);
  std::set<std::string> columns;
  while (true) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    columns.insert(st->columnText(0));
  }
  if (columns.empty()) return std::optional<std::set<std::string>>();
  return std::optional(std::move(columns));
}

Result<bool> triggersInstalled(Database& db, const std::string& prefix, const std::string& table) {
  auto st = db.prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN "
      "(?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, table)
      .bind(2, prefix + table + "_ai")
      .bind(3, prefix + table + "_au")
      .bind(4, prefix + table + "_ad");
  auto row = st->step();
  if (!row) return row.error();
  return st->columnInt(0) == 3;
}

std::function<Result<std::unique_ptr<JobStore>>(const std::string&)> storeFactory(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  return [path, busy_timeout](const std::string& prefix) -> Result<std::unique_ptr<JobStore>> {
    auto store = SqliteStore::create(path, prefix, busy_timeout);
    if (!store) return store.error();
    return std::unique_ptr<JobStore>(std::move(*store));
  };
}

std::function<Result<std::unique_ptr<SqlSession>>()> sqlFactory(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  return [path, busy_timeout]() -> Result<std::unique_ptr<SqlSession>> {
    auto session = SqliteSqlSession::open(path, busy_timeout);
    if (!session) return session.error();
    return std::unique_ptr<SqlSession>(std::move(*session));
  };
}

// `capture: poll`: the file is only read. It can still hold the store when the bridge may write
// to it (the store opens it separately); with a read-only file, put the store elsewhere.
std::optional<SourceFactory> parsePollSource(SourceFactory factory, const config::Section& section,
                                             config::Diagnostics& diagnostics) {
  poll::Settings settings;
  settings.name = factory.name;
  settings.batch_size = static_cast<int>(section.integer("batch_size"));
  if (!poll::readPollSettings(section.object("poll"), settings, diagnostics)) return std::nullopt;
  const std::string path = section.resolvePath("path");
  const auto busy_timeout = section.duration("busy_timeout");
  factory.description = "SQLite database " + path;
  factory.create_source = [settings, path, busy_timeout](
                              const std::vector<std::string>& tables,
                              const std::string& prefix) -> Result<std::unique_ptr<Source>> {
    poll::Settings s = settings;
    s.tables = poll::tableSpecsFor(s.configured, tables);
    s.prefix = prefix;
    auto source = poll::PollSource::create(std::move(s),
                                           std::make_unique<SqlitePollReader>(path, busy_timeout));
    if (!source) return source.error();
    return std::unique_ptr<Source>(std::move(*source));
  };
  factory.create_store = storeFactory(path, busy_timeout);
  factory.open_sql = sqlFactory(path, busy_timeout);
  return factory;
}

}  // namespace

std::vector<DoctorCheck> runDoctor(const std::string& path, std::chrono::milliseconds busy_timeout,
                                   const DoctorRequest& request) {
  std::vector<DoctorCheck> checks;
  auto db = Database::open(path, Database::OpenMode::kExisting, busy_timeout);
  if (!db) {
    checks.push_back(failCheck("database file", db.error().message(),
                               "fix the source's `path`, or create the database"));
    return checks;
  }
  checks.push_back(okCheck("database file", path + " opens"));
  const std::string setup = "smsbridge setup -c <config>";
  if (request.capture == "trigger") {
    auto changes = tableColumns(**db, request.prefix + "changes");
    if (!changes) {
      checks.push_back(failCheck("table " + request.prefix + "changes", changes.error().message(),
                                 "check that the file is a SQLite database"));
      return checks;
    }
    checks.push_back(*changes ? okCheck("table " + request.prefix + "changes", "present")
                              : failCheck("table " + request.prefix + "changes", "missing", setup));
  }
  for (const TableNeeds& needs : request.tables) {
    auto columns = tableColumns(**db, needs.table);
    if (!columns) {
      checks.push_back(failCheck("table " + needs.table, columns.error().message(),
                                 "check that the file is a SQLite database"));
      continue;
    }
    checks.push_back(tableColumnsCheck(needs, *columns));
    if (request.capture != "trigger" || !*columns) continue;
    auto installed = triggersInstalled(**db, request.prefix, needs.table);
    const std::string name = "trigger " + needs.table;
    if (!installed) {
      checks.push_back(failCheck(name, installed.error().message(), setup));
    } else if (!*installed) {
      checks.push_back(failCheck(name, "capture triggers not installed", setup));
    } else {
      checks.push_back(okCheck(name, "capture triggers installed"));
    }
  }
  return checks;
}

std::optional<SourceFactory> parseSource(const std::string& name, const config::Section& section,
                                         config::Diagnostics& diagnostics) {
  SourceFactory factory;
  if (!readCommonSourceKeys(factory, name, "sqlite", {"trigger", "poll"}, section, diagnostics)) {
    return std::nullopt;
  }
  if (factory.capture == "poll") {
    auto parsed = parsePollSource(std::move(factory), section, diagnostics);
    if (parsed) {
      parsed->doctor =
          [path = section.resolvePath("path"), busy_timeout = section.duration("busy_timeout")](
              const DoctorRequest& request) { return runDoctor(path, busy_timeout, request); };
    }
    return parsed;
  }
  TriggerSourceConfig config;
  config.name = name;
  config.path = section.resolvePath("path");
  config.batch_size = static_cast<int>(section.integer("batch_size"));
  config.busy_timeout = section.duration("busy_timeout");
  config.retain_processed = section.duration("retain_processed");
  factory.description = "SQLite database " + config.path;
  factory.create_source = createSourceWith<SqliteTriggerSource>(config);
  factory.doctor = [config](const DoctorRequest& request) {
    return runDoctor(config.path, config.busy_timeout, request);
  };
  factory.create_store = storeFactory(config.path, config.busy_timeout);
  factory.open_sql = sqlFactory(config.path, config.busy_timeout);
  return factory;
}

}  // namespace smsbridge::sqlite
