#include "connectors/postgres/pg_doctor.h"

#include <libpq-fe.h>

#include <algorithm>

#include <fmt/format.h>

#include "connectors/postgres/pg_connection.h"
#include "core/sql_ident.h"

namespace smsbridge::postgres {
namespace {

// Role and database names come from the server or the DSN, not from our identifier rules, so
// they are quoted here in full ("a""b"), never rejected.
std::string quoteName(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::string quoteText(std::string_view text) { return quoteLiteral(text); }

constexpr std::string_view kRestart = " then restart PostgreSQL (it takes effect only at start)";

int minimumVersion(std::string_view capture) {
  // trigger capture records pg_current_xact_id() as xid8 (PostgreSQL 13); pgoutput and the
  // poll queries need 10.
  return capture == "trigger" ? 130000 : 100000;
}

}  // namespace

DoctorCheck checkVersion(const PgServerFacts& server, std::string_view capture) {
  const int minimum = minimumVersion(capture);
  std::string found = "PostgreSQL " + server.version;
  if (server.version_num < minimum) {
    return failCheck("server version",
                     found + "; `" + std::string(capture) + "` capture needs " +
                         std::to_string(minimum / 10000) + " or newer",
                     "upgrade the server to PostgreSQL " + std::to_string(minimum / 10000) +
                         " or newer, or choose another capture mode");
  }
  return okCheck("server version", found);
}

DoctorCheck checkWalLevel(const PgServerFacts& server) {
  if (server.wal_level == "logical") return okCheck("wal_level", "logical");
  return failCheck("wal_level", server.wal_level + "; logical capture needs wal_level = logical",
                   "ALTER SYSTEM SET wal_level = logical;" + std::string(kRestart));
}

DoctorCheck checkReplicationCapacity(const PgServerFacts& server, bool slot_exists) {
  const std::string found = fmt::format(
      "replication slots {} of {} in use, WAL senders {} of {} in use", server.slots_in_use,
      server.max_replication_slots, server.senders_in_use, server.max_wal_senders);
  if (!slot_exists && server.slots_in_use >= server.max_replication_slots) {
    return failCheck("replication capacity", found + "; no slot free for the bridge",
                     fmt::format("ALTER SYSTEM SET max_replication_slots = {};{}",
                                 server.slots_in_use + 1, kRestart));
  }
  if (server.max_wal_senders < 1) {
    return failCheck("replication capacity", found,
                     fmt::format("ALTER SYSTEM SET max_wal_senders = 10;{}", kRestart));
  }
  if (server.senders_in_use >= server.max_wal_senders) {
    // The busy sender may be the bridge itself when it is running; otherwise it cannot stream.
    return warningCheck("replication capacity",
                        found + "; a bridge not running now could not start streaming",
                        fmt::format("ALTER SYSTEM SET max_wal_senders = {};{}",
                                    server.senders_in_use + 1, kRestart));
  }
  return okCheck("replication capacity", found);
}

DoctorCheck checkReplicationRole(const PgServerFacts& server) {
  if (server.superuser) return okCheck("replication role", "role " + server.user + " is superuser");
  if (server.replication) {
    return okCheck("replication role", "role " + server.user + " has REPLICATION");
  }
  return failCheck("replication role",
                   "role " + server.user + " has neither REPLICATION nor superuser",
                   "ALTER ROLE " + quoteName(server.user) + " REPLICATION;  (as a superuser)");
}

DoctorCheck checkPublication(const PgServerFacts& server, const std::vector<PgTableFacts>& tables,
                             const LogicalNames& names, bool publication_exists) {
  const std::string name = "publication " + names.publication;
  std::vector<std::string> all, missing, not_owned, owners;
  for (const PgTableFacts& t : tables) {
    if (!t.exists) continue;
    all.push_back(t.qualified);
    if (!t.in_publication) missing.push_back(t.qualified);
    if (!t.is_owner) {
      not_owned.push_back(t.qualified + " (owner " + t.owner + ")");
      if (std::find(owners.begin(), owners.end(), t.owner) == owners.end())
        owners.push_back(t.owner);
    }
  }
  if (publication_exists) {
    if (missing.empty()) return okCheck(name, "exists and publishes every mapped table");
    return failCheck(name, "exists but does not publish " + joinNames(missing),
                     "ALTER PUBLICATION " + quoteName(names.publication) + " ADD TABLE " +
                         joinNames(missing) + ";  (as the owner of the publication and tables)");
  }
  const std::string create =
      "CREATE PUBLICATION " + quoteName(names.publication) + " FOR TABLE " + joinNames(all) + ";";
  if (!not_owned.empty()) {
    return failCheck(name,
                     "does not exist, and CREATE PUBLICATION needs ownership of every table; " +
                         server.user + " does not own " + joinNames(not_owned),
                     "as " + joinNames(owners, " / ") + ", run: " + create);
  }
  if (!server.can_create_in_database && !server.superuser) {
    return failCheck(
        name, "does not exist, and " + server.user + " lacks CREATE on database " + server.database,
        "GRANT CREATE ON DATABASE " + quoteName(server.database) + " TO " + quoteName(server.user) +
            ";");
  }
  return warningCheck(name, "does not exist yet", "smsbridge setup creates it (" + create + ")");
}

DoctorCheck checkReplicaIdentity(const TableNeeds& needs, const PgTableFacts& table) {
  const std::string name = "replica identity " + needs.table;
  const std::string fix = "ALTER TABLE " + table.qualified + " REPLICA IDENTITY FULL;";
  if (table.replica_identity == 'f') return okCheck(name, "FULL: every old value is published");
  const bool uses_key = table.replica_identity == 'd' || table.replica_identity == 'i';
  if (table.replica_identity == 'n' || (uses_key && table.identity_columns.empty())) {
    // Without an identity, a published table refuses the shop's own UPDATE and DELETE.
    return failCheck(
        name,
        std::string(table.replica_identity == 'n' ? "NOTHING" : "DEFAULT without a primary key") +
            ": UPDATE and DELETE on a published table fail, and no old values "
            "reach the bridge",
        fix);
  }
  std::vector<std::string> outside;
  for (const std::string& c : needs.old_columns) {
    if (!table.identity_columns.contains(c)) outside.push_back(c);
  }
  const std::string kind = table.replica_identity == 'd' ? "DEFAULT (primary key" : "USING INDEX (";
  const std::string key =
      kind + joinNames({table.identity_columns.begin(), table.identity_columns.end()}) + ")";
  if (!outside.empty()) {
    return failCheck(name,
                     key + " publishes no old value of " + joinNames(outside) +
                         ", which the mappings read through old./changed()/crossed_*()",
                     fix);
  }
  return okCheck(name, key + " covers the old values the mappings read");
}

DoctorCheck checkSlot(const std::optional<PgSlotFacts>& slot, const LogicalNames& names,
                      std::int64_t warn_bytes) {
  const std::string name = "slot " + names.slot;
  const std::string drop = "SELECT pg_drop_replication_slot(" + quoteText(names.slot) + ");";
  if (!slot) return warningCheck(name, "does not exist yet", "smsbridge setup creates it");
  if (slot->plugin != "pgoutput") {
    return failCheck(name, "uses output plugin " + slot->plugin + ", not pgoutput",
                     drop + " then smsbridge setup");
  }
  const std::string mib = std::to_string(slot->retained_bytes >> 20) + " MiB";
  if (slot->wal_status == "lost") {
    return failCheck(name, "wal_status lost: WAL the slot needed was removed, changes were missed",
                     drop + " then smsbridge setup (the bridge starts from a new snapshot)");
  }
  if (slot->retained_bytes > warn_bytes) {
    return warningCheck(name,
                        "retains " + mib + " of WAL (wal_status " + slot->wal_status +
                            "): the bridge is behind or stopped",
                        "start the bridge (smsbridge run) so it confirms its position, or, if "
                        "this source is gone for good: " +
                            drop);
  }
  if (slot->wal_status == "unreserved") {
    return warningCheck(name, "wal_status unreserved: its WAL is about to be removed",
                        "start the bridge now (smsbridge run), or raise max_slot_wal_keep_size");
  }
  return okCheck(name, "pgoutput, wal_status " +
                           (slot->wal_status.empty() ? "n/a" : slot->wal_status) + ", retains " +
                           mib + " of WAL");
}

DoctorCheck checkTrigger(const PgServerFacts& server, const PgTableFacts& table) {
  const std::string name = "trigger " + table.table;
  const std::string grant =
      "GRANT TRIGGER ON " + table.qualified + " TO " + quoteName(server.user) + ";";
  const std::string setup = "smsbridge setup -c <config>";
  if (!table.is_owner && !table.can_trigger) {
    return failCheck(name,
                     server.user + " may not create triggers on it (owner " + table.owner + ")",
                     "run `" + setup + "` as " + table.owner + ", or " + grant);
  }
  if (!table.trigger_installed) {
    return failCheck(name, "capture trigger not installed", setup);
  }
  if (!table.is_owner) {
    // DROP TRIGGER needs ownership, and setup replaces its trigger when run again.
    return warningCheck(name,
                        "installed; " + server.user + " has TRIGGER but is not the owner (" +
                            table.owner + "), so re-running setup will fail",
                        "run `" + setup + "` as " + table.owner);
  }
  return okCheck(name, "capture trigger installed; " + server.user + " owns the table");
}

DoctorCheck checkSelect(const PgServerFacts& server, const PgTableFacts& table) {
  const std::string name = "SELECT " + table.table;
  if (table.can_select) return okCheck(name, server.user + " may read it");
  return failCheck(name, server.user + " may not read it",
                   "GRANT SELECT ON " + table.qualified + " TO " + quoteName(server.user) + ";");
}

DoctorCheck checkChangesTable(const PgServerFacts& server, const std::string& prefix, bool exists,
                              bool can_create_in_schema, const std::string& schema) {
  const std::string name = "table " + prefix + "changes";
  if (exists) return okCheck(name, "present");
  if (!can_create_in_schema) {
    return failCheck(name, "missing, and " + server.user + " may not create it in schema " + schema,
                     "GRANT CREATE ON SCHEMA " + quoteName(schema) + " TO " +
                         quoteName(server.user) + "; then smsbridge setup -c <config>");
  }
  return failCheck(name, "missing", "smsbridge setup -c <config>");
}

namespace {

std::string sqlName(std::string_view name) { return quoteIdentifier(name, SqlDialect::kPostgres); }

Status readServer(pqxx::work& txn, PgServerFacts& server) {
  auto r = txn.exec(
      "SELECT current_setting('server_version_num')::int, current_setting('server_version'), "
      "current_user, current_database(), r.rolsuper, r.rolreplication, "
      "has_database_privilege(current_database(), 'CREATE'), current_setting('wal_level'), "
      "current_setting('max_replication_slots')::int, "
      "(SELECT count(*) FROM pg_replication_slots)::int, "
      "current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication)::int "
      "FROM pg_roles r WHERE r.rolname = current_user");
  if (r.empty()) return internalError("the current role is missing from pg_roles");
  const auto& row = r[0];
  server.version_num = row[0].as<int>();
  server.version = row[1].c_str();
  server.user = row[2].c_str();
  server.database = row[3].c_str();
  server.superuser = row[4].as<bool>();
  server.replication = row[5].as<bool>();
  server.can_create_in_database = row[6].as<bool>();
  server.wal_level = row[7].c_str();
  server.max_replication_slots = row[8].as<int>();
  server.slots_in_use = row[9].as<int>();
  server.max_wal_senders = row[10].as<int>();
  server.senders_in_use = row[11].as<int>();
  return Status::ok();
}

void readTable(pqxx::work& txn, PgTableFacts& t, const std::string& trigger,
               const std::string& publication) {
  const std::string name = sqlName(t.table);
  auto r = txn.exec_params(
      "SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner), pg_has_role(c.relowner, "
      "'USAGE'), has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, 'TRIGGER'), "
      "c.relreplident::text, "
      "EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $2), "
      "EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $3 AND (p.puballtables OR "
      "EXISTS (SELECT 1 FROM pg_publication_rel pr WHERE pr.prpubid = p.oid AND pr.prrelid = "
      "c.oid))) "
      "FROM pg_class c WHERE c.oid = to_regclass($1)",
      name, trigger, publication);
  t.exists = !r.empty();
  if (!t.exists) return;
  const auto& row = r[0];
  t.qualified = row[0].c_str();
  t.owner = row[1].c_str();
  t.is_owner = row[2].as<bool>();
  t.can_select = row[3].as<bool>();
  t.can_trigger = row[4].as<bool>();
  t.replica_identity = row[5].c_str()[0];
  t.trigger_installed = row[6].as<bool>();
  t.in_publication = row[7].as<bool>();
  for (const auto& c : txn.exec_params("SELECT attname FROM pg_attribute WHERE attrelid = "
                                       "to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                                       name)) {
    t.columns.insert(c[0].c_str());
  }
  for (const auto& c : txn.exec_params(
           "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
           "a.attnum = ANY (i.indkey) WHERE i.indrelid = to_regclass($1) AND CASE WHEN $2 = 'i' "
           "THEN i.indisreplident ELSE i.indisprimary END",
           name, std::string(1, t.replica_identity))) {
    t.identity_columns.insert(c[0].c_str());
  }
}

}  // namespace

std::vector<DoctorCheck> runDoctor(const DoctorConfig& config, const DoctorRequest& request) {
  std::vector<DoctorCheck> checks;
  auto conn = PgConnection::open(config.dsn, config.connect_timeout);
  if (!conn) {
    checks.push_back(failCheck("connection", conn.error().message(),
                               "fix the source's `dsn` or make the server reachable"));
    return checks;
  }
  const LogicalNames names =
      logicalNames(request.prefix, request.source, config.slot, config.publication);
  PgServerFacts server;
  std::vector<PgTableFacts> tables;
  std::optional<PgSlotFacts> slot;
  bool publication_exists = false;
  bool changes_exists = false, can_create_in_schema = false;
  std::string schema;
  Status read = (*conn)->transact([&](pqxx::work& txn) -> Status {
    SMSBRIDGE_RETURN_IF_ERROR(readServer(txn, server));
    tables.clear();
    for (const TableNeeds& needs : request.tables) {
      PgTableFacts t;
      t.table = needs.table;
      // A name our identifier rules refuse cannot be mapped anyway; report it as missing.
      if (isValidIdentifier(needs.table.substr(needs.table.find('.') + 1)))
        readTable(txn, t, request.prefix + "capture", names.publication);
      tables.push_back(std::move(t));
    }
    if (request.capture == "logical") {
      publication_exists = txn.exec_params("SELECT count(*) FROM pg_publication WHERE pubname = $1",
                                           names.publication)[0][0]
                               .as<int>() > 0;
      const std::string wal_status = server.version_num >= 130000 ? "wal_status" : "''";
      auto r = txn.exec_params(
          "SELECT plugin, " + wal_status +
              ", COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint FROM "
              "pg_replication_slots WHERE slot_name = $1",
          names.slot);
      if (!r.empty()) {
        slot = PgSlotFacts{r[0][0].is_null() ? "" : r[0][0].c_str(),
                           r[0][1].is_null() ? "" : r[0][1].c_str(), r[0][2].as<std::int64_t>()};
      }
    }
    if (request.capture == "trigger") {
      auto r = txn.exec_params(
          "SELECT to_regclass($1) IS NOT NULL, has_schema_privilege(current_schema(), 'CREATE'), "
          "current_schema()",
          sqlName(request.prefix + "changes"));
      changes_exists = r[0][0].as<bool>();
      can_create_in_schema = r[0][1].as<bool>();
      schema = r[0][2].c_str();
    }
    return Status::ok();
  });
  if (!read.isOk()) {
    checks.push_back(failCheck("server facts", read.message(),
                               "grant the user access to the catalog, or run doctor as another "
                               "user"));
    return checks;
  }

  checks.push_back(checkVersion(server, request.capture));
  if (request.capture == "logical") {
    checks.push_back(checkWalLevel(server));
    checks.push_back(checkReplicationCapacity(server, slot.has_value()));
    checks.push_back(checkReplicationRole(server));
    checks.push_back(checkPublication(server, tables, names, publication_exists));
    checks.push_back(checkSlot(slot, names));
  }
  if (request.capture == "trigger") {
    checks.push_back(
        checkChangesTable(server, request.prefix, changes_exists, can_create_in_schema, schema));
  }
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const PgTableFacts& t = tables[i];
    checks.push_back(
        tableColumnsCheck(request.tables[i], t.exists ? std::optional(t.columns) : std::nullopt));
    if (!t.exists) continue;
    checks.push_back(checkSelect(server, t));
    if (request.capture == "logical") checks.push_back(checkReplicaIdentity(request.tables[i], t));
    if (request.capture == "trigger") checks.push_back(checkTrigger(server, t));
  }
  return checks;
}

std::vector<std::string> grantStatements(const GrantRequest& request) {
  const std::string user = quoteName(request.user);
  std::vector<std::string> out;
  out.push_back(fmt::format("-- least privileges for role {} ({} capture, source '{}')", user,
                            request.capture, request.source));
  out.push_back("GRANT CONNECT ON DATABASE " + quoteName(request.database) + " TO " + user + ";");
  std::vector<std::string> schemas, tables;
  for (const std::string& t : request.tables) {
    auto dot = t.find('.');
    // Unqualified names resolve through the search_path, which is "public" by default.
    std::string schema = dot == std::string::npos ? "public" : t.substr(0, dot);
    if (std::find(schemas.begin(), schemas.end(), schema) == schemas.end())
      schemas.push_back(schema);
    tables.push_back(isValidIdentifier(t.substr(dot == std::string::npos ? 0 : dot + 1))
                         ? quoteIdentifier(t, SqlDialect::kPostgres)
                         : t);
  }
  for (const std::string& s : schemas)
    out.push_back("GRANT USAGE ON SCHEMA " + quoteName(s) + " TO " + user + ";");
  if (!tables.empty()) {
    // Every mode reads the captured tables: poll queries them, logical takes its initial
    // snapshot from them, and lookups read rows in every mode.
    out.push_back("GRANT SELECT ON " + joinNames(tables) + " TO " + user + ";");
  }
  if (request.capture == "logical") {
    const LogicalNames names =
        logicalNames(request.prefix, request.source, request.slot, request.publication);
    out.push_back("ALTER ROLE " + user + " REPLICATION;");
    out.push_back("GRANT CREATE ON DATABASE " + quoteName(request.database) + " TO " + user +
                  ";  -- for CREATE PUBLICATION");
    out.push_back("-- CREATE PUBLICATION needs ownership of every published table. If " + user +
                  " does not own them, have their owner run before setup:");
    out.push_back("--   CREATE PUBLICATION " + quoteName(names.publication) + " FOR TABLE " +
                  joinNames(tables) + ";");
  } else if (request.capture == "trigger") {
    if (!request.holds_store) {
      out.push_back("GRANT CREATE ON SCHEMA " + quoteName("public") + " TO " + user +
                    ";  -- setup creates " + request.prefix + "changes and " + request.prefix +
                    "capture()");
    }
    out.push_back("GRANT TRIGGER ON " + joinNames(tables) + " TO " + user + ";");
    out.push_back(
        "-- re-running setup replaces the triggers, which PostgreSQL allows only the "
        "table owner: run setup as the owner, or let it own the tables");
  }
  if (request.holds_store) {
    // PostgreSQL 15 no longer lets every role create in schema public.
    out.push_back("GRANT CREATE ON SCHEMA " + quoteName("public") + " TO " + user +
                  ";  -- setup creates the store's " + request.prefix +
                  "* tables, which the role then owns");
  }
  return out;
}

std::pair<std::string, std::string> dsnUserAndDatabase(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error) PQfreemem(error);
  std::string user, database;
  if (options) {
    for (PQconninfoOption* o = options; o->keyword; ++o) {
      if (!o->val || !*o->val) continue;
      std::string_view key = o->keyword;
      if (key == "user") user = o->val;
      if (key == "dbname") database = o->val;
    }
    PQconninfoFree(options);
  }
  // libpq's defaults: the OS user, and a database named like the user.
  if (user.empty()) user = "<bridge user>";
  if (database.empty()) database = user;
  return {user, database};
}

}  // namespace smsbridge::postgres
