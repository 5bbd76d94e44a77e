#include "connectors/mysql/mysql_doctor.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "connectors/mysql/mysql_binlog_source.h"
#include "connectors/mysql/mysql_store.h"
#include "connectors/mysql/mysql_trigger_source.h"
#include "core/sql_ident.h"

namespace smsbridge::mysql {
namespace {

// Three days: a bridge stopped over a weekend must still find its binlog position.
constexpr std::int64_t kMinimumRetentionSeconds = 3 * 24 * 3600;
// What doctor suggests: a week, so a bridge down over a long weekend has margin to spare.
constexpr std::int64_t kSuggestedRetentionSeconds = 7 * 24 * 3600;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string variable(const MysqlServerFacts& server, const std::string& name) {
  auto it = server.variables.find(name);
  return it == server.variables.end() ? "" : it->second;
}

bool isOn(std::string_view value) { return upper(value) == "ON" || value == "1"; }

// SET GLOBAL changes the running server; only my.cnf survives its restart.
std::string setGlobal(std::string_view name, std::string_view value, bool quoted = false) {
  return fmt::format(
      "SET GLOBAL {0} = {1}; and in my.cnf under [mysqld]: {0} = {2} (SET GLOBAL is lost on "
      "restart)",
      name, quoted ? "'" + std::string(value) + "'" : std::string(value), value);
}

// MySQL LIKE with '\' escapes: the pattern of a database-level grant.
bool likeMatch(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '%') {
    for (std::size_t i = 0; i <= text.size(); ++i) {
      if (likeMatch(pattern.substr(1), text.substr(i))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern[0] == '\\' && pattern.size() > 1) {
    return pattern[1] == text[0] && likeMatch(pattern.substr(2), text.substr(1));
  }
  if (pattern[0] == '_' || pattern[0] == text[0]) {
    return likeMatch(pattern.substr(1), text.substr(1));
  }
  return false;
}

// `name` -> name, with doubled backticks undone; * stays *.
std::string unquote(std::string_view part) {
  std::string s = trim(part);
  if (s.size() >= 2 && s.front() == '`' && s.back() == '`') {
    std::string out;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      out += s[i];
      if (s[i] == '`' && s[i + 1] == '`') ++i;
    }
    return out;
  }
  return s;
}

// Splits at `sep` outside backticks and parentheses.
std::vector<std::string> splitTopLevel(std::string_view text, char sep) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '`') quoted = !quoted;
    if (!quoted && c == '(') ++depth;
    if (!quoted && c == ')') --depth;
    if (!quoted && depth == 0 && c == sep) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

std::string quoteName(std::string_view name) { return quoteIdentifier(name, SqlDialect::kMysql); }

std::string tableName(const MysqlServerFacts& server, const std::string& table) {
  return "`" + server.database + "`." + (isValidIdentifier(table) ? quoteName(table) : table);
}

// How long the server keeps binlogs, in seconds; 0: forever. MySQL 8 and MariaDB 10.6 have
// binlog_expire_logs_seconds (0 there defers to expire_logs_days); older servers only days.
std::int64_t retentionSeconds(const MysqlServerFacts& server) {
  std::int64_t seconds = std::atoll(variable(server, "binlog_expire_logs_seconds").c_str());
  if (seconds == 0) {
    seconds = static_cast<std::int64_t>(std::atof(variable(server, "expire_logs_days").c_str()) *
                                        24 * 3600);
  }
  return seconds;
}

std::int64_t roundUpToDays(std::int64_t seconds) {
  constexpr std::int64_t kDay = 24 * 3600;
  return (seconds + kDay - 1) / kDay * kDay;
}

std::string days(std::int64_t seconds) { return fmt::format("{:.1f} days", seconds / 86400.0); }

// The statement that keeps binlogs `seconds` long, in the variable this server has.
std::string retentionFix(const MysqlServerFacts& server, std::int64_t seconds) {
  if (server.variables.contains("binlog_expire_logs_seconds")) {
    return setGlobal("binlog_expire_logs_seconds", std::to_string(seconds));
  }
  return setGlobal("expire_logs_days", std::to_string(roundUpToDays(seconds) / (24 * 3600)));
}

bool hasReplicationClient(const std::vector<GrantLine>& grants) {
  return hasPrivilege(grants, "REPLICATION CLIENT", "*", "*") ||
         hasPrivilege(grants, "BINLOG MONITOR", "*", "*");
}

}  // namespace

std::vector<GrantLine> parseGrants(const std::vector<std::string>& lines) {
  std::vector<GrantLine> grants;
  for (const std::string& line : lines) {
    if (upper(line.substr(0, 6)) != "GRANT ") continue;
    const std::string up = upper(line);
    auto on = up.find(" ON ");
    auto to = up.find(" TO ", on == std::string::npos ? 0 : on);
    if (on == std::string::npos || to == std::string::npos) continue;  // a role grant
    std::string object = trim(std::string_view(line).substr(on + 4, to - on - 4));
    const std::string object_up = upper(object);
    if (object_up.starts_with("PROCEDURE ") || object_up.starts_with("FUNCTION ")) continue;
    if (object_up.starts_with("TABLE ")) object = object.substr(6);
    auto parts = splitTopLevel(object, '.');
    if (parts.size() != 2) continue;  // PROXY ON ''@''
    GrantLine grant;
    grant.db = unquote(parts[0]);
    grant.table = unquote(parts[1]);
    for (const std::string& p : splitTopLevel(std::string_view(line).substr(6, on - 6), ',')) {
      std::string privilege = upper(trim(p));
      if (privilege.find('(') != std::string::npos) continue;  // column privilege
      if (privilege == "ALL PRIVILEGES") privilege = "ALL";
      grant.privileges.insert(privilege);
    }
    grants.push_back(std::move(grant));
  }
  return grants;
}

bool hasPrivilege(const std::vector<GrantLine>& grants, std::string_view privilege,
                  const std::string& db, const std::string& table) {
  const std::string wanted = upper(privilege);
  for (const GrantLine& g : grants) {
    if (!g.privileges.contains(wanted) && !g.privileges.contains("ALL")) continue;
    if (g.db == "*") return true;
    if (db == "*") continue;
    if (g.table == "*") {
      if (likeMatch(g.db, db)) return true;
      continue;
    }
    if (table != "*" && g.db == db && g.table == table) return true;
  }
  return false;
}

std::string grantee(const std::string& current_user) {
  auto at = current_user.rfind('@');
  std::string user = at == std::string::npos ? current_user : current_user.substr(0, at);
  std::string host = at == std::string::npos ? "%" : current_user.substr(at + 1);
  return quoteLiteral(user) + "@" + quoteLiteral(host);
}

DoctorCheck checkVersion(const MysqlServerFacts& server) {
  const std::string found = (server.mariadb ? "MariaDB " : "MySQL ") + server.version;
  const unsigned long minimum = server.mariadb ? 100600 : 80000;
  if (server.version_num < minimum) {
    // The store claims jobs with FOR UPDATE SKIP LOCKED, and the binlog decoder expects the
    // row metadata of these versions.
    return warningCheck("server version",
                        found + "; smsbridge is built for MySQL 8.0+ and MariaDB 10.6+",
                        "upgrade the server");
  }
  return okCheck("server version", found);
}

DoctorCheck checkLogBin(const MysqlServerFacts& server) {
  const std::string value = variable(server, "log_bin");
  if (isOn(value)) return okCheck("log_bin", "ON");
  return failCheck("log_bin", (value.empty() ? "unknown" : value) + "; binlog capture needs it",
                   "log_bin cannot be set at run time: in my.cnf under [mysqld] add "
                   "log_bin = mysql-bin and server_id = 1, then restart the server");
}

DoctorCheck checkBinlogFormat(const MysqlServerFacts& server) {
  const std::string value = upper(variable(server, "binlog_format"));
  if (value == "ROW") return okCheck("binlog_format", "ROW");
  return failCheck("binlog_format",
                   value + "; binlog capture needs row images (MariaDB's default is MIXED)",
                   setGlobal("binlog_format", "ROW", true));
}

DoctorCheck checkBinlogRowImage(const MysqlServerFacts& server) {
  const std::string value = upper(variable(server, "binlog_row_image"));
  if (value == "FULL") return okCheck("binlog_row_image", "FULL");
  return failCheck("binlog_row_image",
                   value + "; mappings need every column of the before and after images",
                   setGlobal("binlog_row_image", "FULL", true));
}

DoctorCheck checkBinlogRowMetadata(const MysqlServerFacts& server) {
  if (!server.variables.contains("binlog_row_metadata")) {
    return warningCheck("binlog_row_metadata",
                        "not supported by this server: column names come from "
                        "information_schema, so a column change while the bridge is behind can "
                        "misname values",
                        "upgrade to MySQL 8.0.1+ or MariaDB 10.5+ and set binlog_row_metadata "
                        "= FULL");
  }
  const std::string value = upper(variable(server, "binlog_row_metadata"));
  if (value == "FULL") return okCheck("binlog_row_metadata", "FULL");
  return warningCheck("binlog_row_metadata",
                      value +
                          ": column names come from information_schema, so a column change "
                          "while the bridge is behind can misname values",
                      setGlobal("binlog_row_metadata", "FULL", true));
}

DoctorCheck checkSyncBinlog(const MysqlServerFacts& server) {
  const std::string value = variable(server, "sync_binlog");
  if (value == "1") return okCheck("sync_binlog", "1");
  return warningCheck("sync_binlog",
                      value +
                          ": a server crash can lose binlog events of committed "
                          "transactions, and their SMS with them",
                      setGlobal("sync_binlog", "1"));
}

DoctorCheck checkServerId(const MysqlServerFacts& server,
                          const std::optional<std::vector<std::uint32_t>>& replica_ids,
                          std::uint32_t bridge_id) {
  const std::string value = variable(server, "server_id");
  const unsigned long id = std::strtoul(value.c_str(), nullptr, 10);
  if (id == 0) {
    return failCheck("server_id", "0; a server with binary logging needs a non-zero server_id",
                     setGlobal("server_id", "1"));
  }
  if (id == bridge_id) {
    return failCheck("server_id", fmt::format("{} equals the bridge's replica server_id", id),
                     "give the server (or the bridge) another server_id");
  }
  std::string found = fmt::format("server {}, bridge replica {}", id, bridge_id);
  if (!replica_ids) {
    return okCheck("server_id", found + " (replicas not listable by this user)");
  }
  if (std::find(replica_ids->begin(), replica_ids->end(), bridge_id) != replica_ids->end()) {
    // A running bridge lists itself; a second reader with the same id kicks the first out.
    return warningCheck("server_id",
                        found +
                            "; a connected replica already uses the bridge's server_id "
                            "(fine if it is this bridge running)",
                        "stop the other replica, or give the bridge another server_id");
  }
  return okCheck("server_id", found + ", unique among connected replicas");
}

DoctorCheck checkBinlogRetention(const MysqlServerFacts& server,
                                 const BinlogRetentionFacts& facts) {
  const std::int64_t retention = retentionSeconds(server);
  const std::optional<BinlogPosition> position = BinlogPosition::parse(facts.checkpoint);
  const std::vector<std::string> logs = facts.binary_logs.value_or(std::vector<std::string>{});
  if (position && !logs.empty() &&
      std::find(logs.begin(), logs.end(), position->file) == logs.end()) {
    return failCheck(
        "binlog retention",
        fmt::format("the stored checkpoint {} is in {}, which is no longer on the server (oldest "
                    "kept: {}): the changes since then are lost to the bridge",
                    facts.checkpoint, position->file, logs.front()),
        fmt::format(
            "1) keep binlogs longer: {}; 2) in the store's database: DELETE FROM {} "
            "WHERE source = {}; 3) restart the bridge: capture starts again at the "
            "binlog's current end; 4) changes made since the checkpoint was saved{} sent "
            "no SMS: send those by hand",
            retentionFix(server, kSuggestedRetentionSeconds), quoteName(facts.checkpoints_table),
            quoteLiteral(facts.source),
            facts.checkpoint_age ? " (" + days(facts.checkpoint_age->count()) + " ago)" : ""));
  }
  if (retention == 0) return okCheck("binlog retention", "binlogs are never purged automatically");
  const std::string kept = "binlogs purged after " + days(retention);
  // The file the server writes now is never purged: an idle source leaves an old checkpoint
  // there safely.
  const bool in_active_file = position && !logs.empty() && position->file == logs.back();
  if (position && facts.checkpoint_age && !in_active_file &&
      facts.checkpoint_age->count() * 2 > retention) {
    const std::int64_t wanted =
        std::max(kSuggestedRetentionSeconds, roundUpToDays(2 * facts.checkpoint_age->count()));
    return warningCheck(
        "binlog retention",
        fmt::format("{}; the stored checkpoint in {} was saved {} ago: a bridge that stays "
                    "stopped or behind loses its position when that file is purged",
                    kept, position->file, days(facts.checkpoint_age->count())),
        "start the bridge so it catches up, and keep binlogs longer: " +
            retentionFix(server, wanted));
  }
  if (retention < kMinimumRetentionSeconds) {
    return warningCheck("binlog retention",
                        kept + ": a bridge stopped longer than that loses its position",
                        retentionFix(server, kSuggestedRetentionSeconds));
  }
  if (position && facts.checkpoint_age) {
    return okCheck("binlog retention", kept + "; the stored checkpoint was saved " +
                                           days(facts.checkpoint_age->count()) + " ago");
  }
  return okCheck("binlog retention", kept);
}

DoctorCheck checkJobClaiming(const MysqlServerFacts& server) {
  if (claimLockingFor(server.mariadb, server.version_num) == ClaimLocking::kSkipLocked) {
    return okCheck("job claiming",
                   "FOR UPDATE SKIP LOCKED: bridge instances sharing the store "
                   "dispatch side by side");
  }
  return warningCheck("job claiming",
                      "no FOR UPDATE SKIP LOCKED on this server: one bridge instance at a time "
                      "dispatches from the store, others sharing it stand by",
                      std::string("upgrade the store's server to ") +
                          (server.mariadb ? "MariaDB 10.6" : "MySQL 8.0.1") +
                          " or later to dispatch from several instances; one instance needs "
                          "nothing");
}

DoctorCheck checkReplicationGrants(const MysqlServerFacts& server) {
  auto grants = parseGrants(server.grants);
  std::vector<std::string> missing;
  if (!hasPrivilege(grants, "REPLICATION SLAVE", "*", "*")) missing.push_back("REPLICATION SLAVE");
  if (!hasReplicationClient(grants)) {
    // MariaDB 10.5.2 renamed REPLICATION CLIENT to BINLOG MONITOR (the old name still works).
    missing.push_back(server.mariadb && server.version_num >= 100502 ? "BINLOG MONITOR"
                                                                     : "REPLICATION CLIENT");
  }
  if (missing.empty()) {
    return okCheck("replication grants", server.user + " may read the binlog");
  }
  return failCheck("replication grants", server.user + " lacks " + joinNames(missing),
                   "GRANT " + joinNames(missing) + " ON *.* TO " + grantee(server.user) + ";");
}

DoctorCheck checkTablePrivilege(const MysqlServerFacts& server, std::string_view privilege,
                                const std::string& table) {
  const std::string name = std::string(privilege) + " " + table;
  if (hasPrivilege(parseGrants(server.grants), privilege, server.database, table)) {
    return okCheck(name, server.user + " has it");
  }
  return failCheck(name, server.user + " lacks it",
                   "GRANT " + std::string(privilege) + " ON " + tableName(server, table) + " TO " +
                       grantee(server.user) + ";");
}

DoctorCheck checkTriggerCreation(const MysqlServerFacts& server) {
  if (!isOn(variable(server, "log_bin"))) {
    return okCheck("trigger creation", "binary log off: no SUPER needed");
  }
  if (isOn(variable(server, "log_bin_trust_function_creators"))) {
    return okCheck("trigger creation", "log_bin_trust_function_creators = ON");
  }
  if (hasPrivilege(parseGrants(server.grants), "SUPER", "*", "*")) {
    return okCheck("trigger creation", server.user + " has SUPER");
  }
  return failCheck("trigger creation",
                   "binary log on, " + server.user +
                       " lacks SUPER and log_bin_trust_function_creators is OFF: CREATE TRIGGER "
                       "fails with error 1419",
                   setGlobal("log_bin_trust_function_creators", "1"));
}

DoctorCheck checkIsolation(const MysqlServerFacts& server) {
  std::string value = variable(server, "transaction_isolation");
  if (value.empty()) value = variable(server, "tx_isolation");
  if (upper(value) == "READ-UNCOMMITTED") {
    const std::string name = server.variables.contains("transaction_isolation")
                                 ? "transaction_isolation"
                                 : "tx_isolation";
    return warningCheck("isolation",
                        value +
                            ": polling could see rows of transactions that later roll back "
                            "and send SMS for changes that never happened",
                        setGlobal(name, "READ-COMMITTED", true));
  }
  return okCheck("isolation", value + ": polling reads committed rows only");
}

namespace {

constexpr const char* kVariables[] = {"log_bin",
                                      "binlog_format",
                                      "binlog_row_image",
                                      "binlog_row_metadata",
                                      "sync_binlog",
                                      "server_id",
                                      "expire_logs_days",
                                      "binlog_expire_logs_seconds",
                                      "log_bin_trust_function_creators",
                                      "transaction_isolation",
                                      "tx_isolation"};

Result<MysqlServerFacts> readServer(Connection& conn) {
  MysqlServerFacts server;
  auto who = conn.query("SELECT VERSION(), CURRENT_USER(), DATABASE()");
  if (!who) return who.error();
  if (who->empty()) return internalError("SELECT VERSION() returned no row");
  server.version = (*who)[0][0].value_or("");
  server.user = (*who)[0][1].value_or("");
  server.database = (*who)[0][2].value_or("");
  server.mariadb = conn.isMariaDb();
  server.version_num = conn.serverVersion();
  std::string names;
  for (const char* v : kVariables) names += std::string(names.empty() ? "" : ", ") + "'" + v + "'";
  auto vars = conn.query("SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + names + ")");
  if (!vars) return vars.error();
  for (const auto& row : *vars) {
    std::string name = row[0].value_or("");
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    server.variables[name] = row[1].value_or("");
  }
  auto grants = conn.query("SHOW GRANTS");
  if (!grants) return grants.error();
  for (const auto& row : *grants) server.grants.push_back(row[0].value_or(""));
  return server;
}

// The first column of every row, or nothing when the statement is refused.
std::optional<std::vector<std::string>> firstColumn(Connection& conn, const std::string& sql) {
  auto rows = conn.query(sql);
  if (!rows) return std::nullopt;
  std::vector<std::string> values;
  for (const auto& row : *rows) values.push_back(row.empty() ? "" : row[0].value_or(""));
  return values;
}

std::optional<std::vector<std::uint32_t>> replicaIds(Connection& conn) {
  // SHOW SLAVE HOSTS is SHOW REPLICAS on MySQL 8.4; both list Server_id first.
  auto ids = firstColumn(conn, "SHOW SLAVE HOSTS");
  if (!ids) ids = firstColumn(conn, "SHOW REPLICAS");
  if (!ids) return std::nullopt;
  std::vector<std::uint32_t> out;
  for (const auto& id : *ids) out.push_back(static_cast<std::uint32_t>(std::stoul("0" + id)));
  return out;
}

std::optional<std::set<std::string>> tableColumns(Connection& conn, const std::string& table) {
  const Param params[] = {table};
  auto rows = conn.query(
      "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
      "TABLE_NAME = ?",
      params);
  if (!rows || rows->empty()) return std::nullopt;
  std::set<std::string> columns;
  for (const auto& row : *rows) columns.insert(row[0].value_or(""));
  return columns;
}

DoctorCheck triggersCheck(Connection& conn, const std::string& prefix, const std::string& table) {
  const Param params[] = {table, prefix + table + "_ai", prefix + table + "_au",
                          prefix + table + "_ad"};
  auto rows = conn.query(
      "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND "
      "EVENT_OBJECT_TABLE = ? AND TRIGGER_NAME IN (?, ?, ?)",
      params);
  const std::string name = "trigger " + table;
  if (!rows) return failCheck(name, rows.error().message(), "grant the user TRIGGER on the table");
  if ((*rows)[0][0].value_or("0") == "3") return okCheck(name, "capture triggers installed");
  return failCheck(name, "capture triggers not installed", "smsbridge setup -c <config>");
}

}  // namespace

std::vector<DoctorCheck> runDoctor(const DoctorConfig& config, const DoctorRequest& request) {
  std::vector<DoctorCheck> checks;
  auto conn = Connection::connect(config.connection);
  if (!conn) {
    checks.push_back(failCheck("connection", conn.error().message(),
                               "fix the source's `dsn` or make the server reachable"));
    return checks;
  }
  auto server = readServer(**conn);
  if (!server) {
    checks.push_back(failCheck("server facts", server.error().message(),
                               "run doctor as a user that may read the server's variables"));
    return checks;
  }
  checks.push_back(checkVersion(*server));
  if (request.holds_store) checks.push_back(checkJobClaiming(*server));
  if (request.capture == "binlog") {
    checks.push_back(checkLogBin(*server));
    checks.push_back(checkBinlogFormat(*server));
    checks.push_back(checkBinlogRowImage(*server));
    checks.push_back(checkBinlogRowMetadata(*server));
    checks.push_back(checkSyncBinlog(*server));
    checks.push_back(checkServerId(*server, replicaIds(**conn), config.replica_server_id));
    checks.push_back(checkBinlogRetention(
        *server,
        {request.checkpoint, request.checkpoint_age, firstColumn(**conn, "SHOW BINARY LOGS"),
         request.source, request.prefix + "checkpoints"}));
    checks.push_back(checkReplicationGrants(*server));
  }
  if (request.capture == "trigger") {
    checks.push_back(checkTriggerCreation(*server));
    checks.push_back(tableColumnsCheck({request.prefix + "changes", {}, {}},
                                       tableColumns(**conn, request.prefix + "changes")));
    if (checks.back().level == CheckLevel::kFail) checks.back().fix = "smsbridge setup -c <config>";
  }
  if (request.capture == "poll") checks.push_back(checkIsolation(*server));
  for (const TableNeeds& needs : request.tables) {
    auto columns = tableColumns(**conn, needs.table);
    checks.push_back(tableColumnsCheck(needs, columns));
    // Privileges are checked even for a table the user cannot see: that may be why.
    checks.push_back(checkTablePrivilege(*server, "SELECT", needs.table));
    if (request.capture == "trigger") {
      checks.push_back(checkTablePrivilege(*server, "TRIGGER", needs.table));
      if (columns) checks.push_back(triggersCheck(**conn, request.prefix, needs.table));
    }
  }
  if (request.capture == "trigger") {
    TriggerSourceConfig source;
    source.name = request.source;
    source.connection = config.connection;
    source.prefix = request.prefix;
    for (const auto& t : request.tables) source.tables.push_back(t.table);
    auto capture = MysqlTriggerSource::create(std::move(source));
    auto warnings =
        capture ? (*capture)->cascadeWarnings() : Result<std::vector<std::string>>(capture.error());
    if (!warnings) {
      checks.push_back(warningCheck("foreign key cascades", warnings.error().message(),
                                    "grant SELECT on the tables so doctor can read their keys"));
    } else if (warnings->empty()) {
      checks.push_back(okCheck("foreign key cascades", "no mapped table is changed by cascade"));
    }
    for (const std::string& w : warnings ? *warnings : std::vector<std::string>{}) {
      checks.push_back(warningCheck("foreign key cascades", w,
                                    "map the change on the parent table instead: cascaded "
                                    "rows reach no trigger"));
    }
  }
  return checks;
}

std::vector<std::string> grantStatements(const GrantRequest& request) {
  const std::string who = quoteLiteral(request.user) + "@" + quoteLiteral(request.host);
  const std::string db = "`" + request.database + "`";
  std::vector<std::string> tables;
  for (const auto& t : request.tables)
    tables.push_back(db + "." + (isValidIdentifier(t) ? quoteName(t) : t));
  std::vector<std::string> out;
  out.push_back("-- least privileges for " + who + " (" + request.capture + " capture)");
  std::string table_privileges = "SELECT";
  if (request.capture == "binlog") {
    out.push_back("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO " + who +
                  ";  -- MariaDB 10.5+: REPLICATION CLIENT is named BINLOG MONITOR");
  }
  if (request.capture == "trigger") table_privileges += ", TRIGGER";
  // One statement per table: MySQL grants take no table list. SELECT serves poll, the
  // initial read and lookups.
  for (const auto& t : tables)
    out.push_back("GRANT " + table_privileges + " ON " + t + " TO " + who + ";");
  if (request.capture == "trigger") {
    out.push_back(
        "-- with the binary log on, CREATE TRIGGER also needs SUPER or: SET GLOBAL "
        "log_bin_trust_function_creators = 1;");
  }
  // The bridge's own tables: setup creates them, so CREATE is granted on each name (MySQL
  // accepts a table grant before the table exists only when it includes CREATE).
  std::vector<std::string> own;
  if (request.capture == "trigger") own.push_back("changes");
  if (request.holds_store) {
    for (const char* t : {"schema", "messages", "attempts", "checkpoints", "shadow", "optouts",
                          "inbound", "reports_parked"})
      own.push_back(t);
  }
  for (const auto& t : own) {
    out.push_back("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES ON " +
                  db + "." + quoteName(request.prefix + t) + " TO " + who + ";");
  }
  return out;
}

}  // namespace smsbridge::mysql
