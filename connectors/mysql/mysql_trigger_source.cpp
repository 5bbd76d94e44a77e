#include "connectors/mysql/mysql_trigger_source.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/sql_ident.h"

namespace smsbridge::mysql {
namespace {

// Acknowledged ids are marked in chunks so one UPDATE never carries an unbounded IN list.
constexpr std::size_t kIdsPerUpdate = 500;

struct TableInfo {
  std::vector<std::pair<std::string, std::string>> columns;  // name, DATA_TYPE
  std::vector<std::string> primary_key;
};

Result<TableInfo> readTableInfo(Connection& conn, const std::string& table) {
  const Param params[] = {table};
  auto columns = conn.query(
      "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
      "DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
      params);
  if (!columns) return columns.error();
  TableInfo info;
  for (const auto& row : *columns) {
    const std::string column = row[0].value_or("");
    if (!isValidIdentifier(column)) {
      return configError("table '" + table + "' has a column named '" + column +
                         "' that smsbridge cannot capture safely (unusual characters)");
    }
    info.columns.emplace_back(column, row[1].value_or(""));
  }
  if (info.columns.empty()) {
    return configError("table '" + table + "' does not exist in database '" +
                       conn.options().database + "' on " + conn.options().host +
                       " (check `tables:` and the mappings' `table:`)");
  }
  auto pk = conn.query(
      "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = "
      "DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
      params);
  if (!pk) return pk.error();
  for (const auto& row : *pk) info.primary_key.push_back(row[0].value_or(""));
  if (info.primary_key.empty()) {
    return configError("table '" + table + "' in database '" + conn.options().database +
                       "' has no primary key; trigger capture needs one to tell rows apart "
                       "(add a PRIMARY KEY or leave the table out of `tables:`)");
  }
  return info;
}

// The column as JSON_OBJECT should see it: binary data is not valid text, so it goes as hex,
// and BIT as its number.
std::string jsonArgument(const std::string& ref, const std::string& column,
                         const std::string& type) {
  const std::string col = ref + "." + quoteIdentifier(column, SqlDialect::kMysql);
  if (type == "binary" || type == "varbinary" || type.find("blob") != std::string::npos ||
      type == "geometry" || type == "point" || type == "linestring" || type == "polygon") {
    return "HEX(" + col + ")";
  }
  if (type == "bit") return "CAST(" + col + " AS UNSIGNED)";
  return col;
}

std::string jsonImage(const TableInfo& info, const std::string& ref) {
  std::string args;
  for (const auto& [column, type] : info.columns) {
    if (!args.empty()) args += ", ";
    args += quoteLiteral(column) + ", " + jsonArgument(ref, column, type);
  }
  return "JSON_OBJECT(" + args + ")";
}

std::string pkExpression(const TableInfo& info, const std::string& ref) {
  if (info.primary_key.size() == 1) {
    return fmt::format("CAST({}.{} AS CHAR)", ref,
                       quoteIdentifier(info.primary_key[0], SqlDialect::kMysql));
  }
  std::string out = "CONCAT_WS('|'";
  for (const auto& column : info.primary_key) {
    out += fmt::format(", COALESCE(CAST({}.{} AS CHAR), '')", ref,
                       quoteIdentifier(column, SqlDialect::kMysql));
  }
  return out + ")";
}

Value jsonToValue(const nlohmann::ordered_json& j) {
  if (j.is_null()) return Value();
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return Value(j.get<double>());
  }
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  return Value(j.dump());
}

std::optional<Row> parseImage(const Cell& text) {
  if (!text) return std::nullopt;
  auto j = nlohmann::ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  Row row;
  for (auto it = j.begin(); it != j.end(); ++it) row.set(it.key(), jsonToValue(it.value()));
  return row;
}

std::optional<std::int64_t> parseId(std::string_view text) {
  std::int64_t id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return id;
}

}  // namespace

Result<std::unique_ptr<MysqlTriggerSource>> MysqlTriggerSource::create(TriggerSourceConfig config) {
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(config.prefix + "changes", "table prefix"));
  for (const auto& table : config.tables) {
    SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(table, "table"));
    if (isBridgeOwnedTable(table, config.prefix)) {
      return configError("source '" + config.name + "' cannot capture '" + table +
                         "': tables starting with '" + config.prefix +
                         "' are smsbridge's own (capturing them would loop)");
    }
    // MySQL names are at most 64 characters; the trigger name adds the prefix and "_ai".
    SMSBRIDGE_RETURN_IF_ERROR(
        validateIdentifier(config.prefix + table + "_ai", "trigger name (prefix + table)"));
  }
  if (config.batch_size < 1) return configError("batch_size must be at least 1");
  return std::unique_ptr<MysqlTriggerSource>(new MysqlTriggerSource(std::move(config)));
}

Result<Connection*> MysqlTriggerSource::connection() {
  if (conn_ && conn_->isBroken()) conn_.reset();
  if (!conn_) {
    auto conn = Connection::connect(config_.connection);
    if (!conn) return conn.error().withContext("source '" + config_.name + "'");
    conn_ = std::move(*conn);
  }
  return conn_.get();
}

std::string MysqlTriggerSource::changesTable() const {
  return quoteIdentifier(config_.prefix + "changes", SqlDialect::kMysql);
}

Result<std::vector<std::string>> MysqlTriggerSource::triggerSql(Connection& conn,
                                                                const std::string& table) {
  auto info = readTableInfo(conn, table);
  if (!info) return info.error();
  struct Kind {
    const char* suffix;
    const char* event;
    const char* op;
    bool before;
    bool after;
  };
  constexpr Kind kKinds[] = {{"ai", "INSERT", "insert", false, true},
                             {"au", "UPDATE", "update", true, true},
                             {"ad", "DELETE", "delete", true, false}};
  std::vector<std::string> sql;
  for (const Kind& k : kKinds) {
    const std::string trigger =
        quoteIdentifier(config_.prefix + table + "_" + k.suffix, SqlDialect::kMysql);
    // MariaDB replaces a trigger atomically; MySQL needs DROP + CREATE, and a change written
    // between the two would not be captured, so run setup on MySQL while the shop is quiet.
    std::string create = "CREATE OR REPLACE TRIGGER ";
    if (!conn.isMariaDb()) {
      sql.push_back("DROP TRIGGER IF EXISTS " + trigger);
      create = "CREATE TRIGGER ";
    }
    sql.push_back(fmt::format(
        "{}{} AFTER {} ON {} FOR EACH ROW INSERT INTO {} (tbl, op, pk, before_image, "
        "after_image, created_at) VALUES ({}, '{}', {}, {}, {}, UTC_TIMESTAMP(3))",
        create, trigger, k.event, quoteIdentifier(table, SqlDialect::kMysql), changesTable(),
        quoteLiteral(table), k.op, pkExpression(*info, k.after ? "NEW" : "OLD"),
        k.before ? jsonImage(*info, "OLD") : "NULL", k.after ? jsonImage(*info, "NEW") : "NULL"));
  }
  return sql;
}

Result<std::vector<std::string>> MysqlTriggerSource::setupSql() {
  auto conn = connection();
  if (!conn) return conn.error();
  // pk is TEXT, not VARCHAR: it is never indexed, and a long composite key must not make the
  // shop's own INSERT fail in the trigger.
  std::vector<std::string> sql = {
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n"
                  "  tbl VARCHAR(191) NOT NULL,\n  op VARCHAR(8) NOT NULL,\n  pk TEXT,\n"
                  "  before_image LONGTEXT,\n  after_image LONGTEXT,\n"
                  "  created_at DATETIME(3) NOT NULL,\n  processed_at DATETIME(3) NULL,\n"
                  "  KEY changes_pending (processed_at, id)\n"
                  ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                  changesTable()),
  };
  for (const auto& table : config_.tables) {
    auto triggers = triggerSql(**conn, table);
    if (!triggers) return triggers.error().withContext("source '" + config_.name + "'");
    sql.insert(sql.end(), triggers->begin(), triggers->end());
  }
  return sql;
}

Status MysqlTriggerSource::setup() {
  auto sql = setupSql();
  if (!sql) return sql.error();
  // DDL commits implicitly in MySQL; every statement is idempotent, so a failed setup is
  // simply run again.
  for (const auto& statement : *sql) {
    SMSBRIDGE_RETURN_IF_ERROR(conn_->exec(statement).withContext("source '" + config_.name + "'"));
  }
  spdlog::info("Installed trigger capture. source={} tables={}", config_.name,
               fmt::join(config_.tables, ","));
  return Status::ok();
}

Status MysqlTriggerSource::start(const std::string& checkpoint) {
  auto conn = connection();
  if (!conn) return conn.error();
  const Param table_params[] = {config_.prefix + "changes"};
  auto changes = (*conn)->query(
      "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME "
      "= ?",
      table_params);
  if (!changes) return changes.error();
  if (changes->empty()) {
    return configError("source '" + config_.name + "': table " + config_.prefix +
                       "changes is missing in database '" + config_.connection.database +
                       "'; run `smsbridge setup -c <config>`");
  }
  // The triggers must be there, or changes are silently not captured.
  for (const auto& table : config_.tables) {
    const Param params[] = {table, config_.prefix + table + "_ai", config_.prefix + table + "_au",
                            config_.prefix + table + "_ad"};
    auto rows = (*conn)->query(
        "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND "
        "EVENT_OBJECT_TABLE = ? AND TRIGGER_NAME IN (?, ?, ?)",
        params);
    if (!rows) return rows.error();
    if (rows->empty() || (*rows)[0][0].value_or("0") != "3") {
      return configError("source '" + config_.name + "': the capture triggers on table '" + table +
                         "' are missing in database '" + config_.connection.database +
                         "'; run `smsbridge setup -c <config>`");
    }
  }
  if (!checkpoint.empty() && !parseId(checkpoint)) {
    return sourceLostError("source '" + config_.name + "': stored checkpoint '" + checkpoint +
                           "' is not a change id");
  }
  delivered_ids_.clear();
  delivered_position_.clear();
  // The checkpoint is informational here: what is left to read is whatever is not marked
  // processed, which also covers changes that committed after the checkpoint's id.
  spdlog::info("Capturing changes. source={} mode=trigger last_change_id={}", config_.name,
               checkpoint.empty() ? "none" : checkpoint);
  return Status::ok();
}

Result<ChangeBatch> MysqlTriggerSource::poll(std::chrono::milliseconds /*wait*/) {
  auto conn = connection();
  if (!conn) return conn.error();
  const Param params[] = {std::int64_t{config_.batch_size}};
  auto rows = (*conn)->query("SELECT id, tbl, op, pk, before_image, after_image, created_at FROM " +
                                 changesTable() + " WHERE processed_at IS NULL ORDER BY id LIMIT ?",
                             params);
  if (!rows) return rows.error();
  ChangeBatch batch;
  std::vector<std::int64_t> ids;
  for (const auto& row : *rows) {
    const std::int64_t id = parseId(row[0].value_or("")).value_or(0);
    ids.push_back(id);
    auto op = parseOp(row[2].value_or(""));
    if (!op) {
      spdlog::warn("Skipping a change row with an unknown op. source={} change_id={} op={}",
                   config_.name, id, row[2].value_or(""));
      continue;
    }
    ChangeEvent event;
    event.source = config_.name;
    event.table = row[1].value_or("");
    event.op = *op;
    event.pk = row[3].value_or("");
    event.before = parseImage(row[4]);
    event.after = parseImage(row[5]);
    if ((row[4] && !event.before) || (row[5] && !event.after)) {
      spdlog::warn("A change row has an image that is not a JSON object. source={} change_id={}",
                   config_.name, id);
    }
    event.position = std::to_string(id);
    event.commit_ts = fromSqlTime(row[6]).value_or(std::chrono::system_clock::time_point{});
    batch.events.push_back(std::move(event));
  }
  if (!ids.empty()) batch.position = std::to_string(*std::max_element(ids.begin(), ids.end()));
  delivered_ids_ = std::move(ids);
  delivered_position_ = batch.position;
  return batch;
}

Status MysqlTriggerSource::acknowledge(const std::string& position) {
  if (position.empty()) return Status::ok();
  if (position != delivered_position_) {
    return internalError("source '" + config_.name + "': acknowledged position " + position +
                         " is not that of the last batch (" + delivered_position_ + ")");
  }
  auto conn = connection();
  if (!conn) return conn.error();
  for (std::size_t start = 0; start < delivered_ids_.size(); start += kIdsPerUpdate) {
    const std::size_t end = std::min(delivered_ids_.size(), start + kIdsPerUpdate);
    std::vector<Param> params(delivered_ids_.begin() + static_cast<std::ptrdiff_t>(start),
                              delivered_ids_.begin() + static_cast<std::ptrdiff_t>(end));
    std::string in;
    for (std::size_t i = start; i < end; ++i) in += i == start ? "?" : ", ?";
    auto marked = (*conn)->execute("UPDATE " + changesTable() +
                                       " SET processed_at = UTC_TIMESTAMP(3) WHERE id IN (" + in +
                                       ") AND processed_at IS NULL",
                                   params);
    if (!marked) return marked.error();
  }
  delivered_ids_.clear();
  delivered_position_.clear();
  // Processed rows are kept a while for inspection, then purged so the table stays small.
  if (++acks_since_purge_ >= 100) {
    acks_since_purge_ = 0;
    const Param params[] = {toSqlTime(std::chrono::system_clock::now() - config_.retain_processed)};
    auto purged = (*conn)->execute(
        "DELETE FROM " + changesTable() + " WHERE processed_at IS NOT NULL AND processed_at < ?",
        params);
    if (!purged) return purged.error();
  }
  return Status::ok();
}

Result<std::vector<std::string>> MysqlTriggerSource::cascadeWarnings() {
  auto conn = connection();
  if (!conn) return conn.error();
  auto rows = (*conn)->query(
      "SELECT TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, DELETE_RULE, UPDATE_RULE FROM "
      "information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND "
      "(DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') OR UPDATE_RULE IN ('CASCADE', "
      "'SET NULL', 'SET DEFAULT')) ORDER BY TABLE_NAME, CONSTRAINT_NAME");
  if (!rows) return rows.error();
  std::vector<std::string> warnings;
  for (const auto& row : *rows) {
    const std::string table = row[0].value_or("");
    if (std::find(config_.tables.begin(), config_.tables.end(), table) == config_.tables.end()) {
      continue;
    }
    std::vector<std::string> actions;
    const std::string on_delete = row[3].value_or("");
    const std::string on_update = row[4].value_or("");
    if (on_delete != "RESTRICT" && on_delete != "NO ACTION") {
      actions.push_back("ON DELETE " + on_delete);
    }
    if (on_update != "RESTRICT" && on_update != "NO ACTION") {
      actions.push_back("ON UPDATE " + on_update);
    }
    warnings.push_back(fmt::format(
        "table '{}' is changed by foreign key '{}' from '{}' ({}); such cascaded changes fire "
        "no trigger, so source '{}' does not capture them",
        table, row[1].value_or(""), row[2].value_or(""), fmt::join(actions, ", "), config_.name));
  }
  return warnings;
}

}  // namespace smsbridge::mysql
