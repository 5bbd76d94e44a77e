#include "connectors/sqlite/sqlite_trigger_source.h"

#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/sql_ident.h"

namespace smsbridge::sqlite {
namespace {

// SQLite functions take at most 100 arguments by default, so json_object() holds 50 columns;
// wider tables are built from chunks merged with json_patch().
constexpr std::size_t kColumnsPerJsonObject = 40;

struct TableInfo {
  std::vector<std::string> columns;
  std::vector<std::string> primary_key;  // empty: the table uses its rowid
};

Result<TableInfo> readTableInfo(Database& db, const std::string& table) {
  auto st = db.prepare("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid");
  if (!st) return st.error();
  st->bind(1, table);
  TableInfo info;
  std::vector<std::pair<std::int64_t, std::string>> pk;
  while (true) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    std::string column = st->columnText(0);
    if (!isValidIdentifier(column)) {
      return configError("table '" + table + "' has a column named '" + column +
                         "' that smsbridge cannot capture safely (unusual characters)");
    }
    info.columns.push_back(column);
    if (std::int64_t k = st->columnInt(1); k > 0) pk.emplace_back(k, column);
  }
  if (info.columns.empty()) {
    return configError("table '" + table + "' does not exist in '" + db.path() +
                       "' (check `tables:` and the mappings' `table:`)");
  }
  std::sort(pk.begin(), pk.end());
  for (auto& [k, column] : pk) info.primary_key.push_back(column);
  return info;
}

std::string jsonImage(const TableInfo& info, const char* ref) {
  std::vector<std::string> chunks;
  for (std::size_t start = 0; start < info.columns.size(); start += kColumnsPerJsonObject) {
    std::string args;
    for (std::size_t i = start; i < std::min(info.columns.size(), start + kColumnsPerJsonObject);
         ++i) {
      const std::string col =
          fmt::format("{}.{}", ref, quoteIdentifier(info.columns[i], SqlDialect::kSqlite));
      if (!args.empty()) args += ", ";
      // JSON cannot hold BLOBs; capture them as hex so the event still carries the column.
      args += fmt::format("{}, CASE typeof({}) WHEN 'blob' THEN hex({}) ELSE {} END",
                          quoteLiteral(info.columns[i]), col, col, col);
    }
    chunks.push_back("json_object(" + args + ")");
  }
  std::string out = chunks.front();
  for (std::size_t i = 1; i < chunks.size(); ++i)
    out = "json_patch(" + out + ", " + chunks[i] + ")";
  return out;
}

std::string pkExpression(const TableInfo& info, const char* ref) {
  if (info.primary_key.empty()) return fmt::format("CAST({}.rowid AS TEXT)", ref);
  std::string out;
  for (const auto& column : info.primary_key) {
    if (!out.empty()) out += " || '|' || ";
    out += fmt::format("COALESCE(CAST({}.{} AS TEXT), '')", ref,
                       quoteIdentifier(column, SqlDialect::kSqlite));
  }
  return out;
}

Value jsonToValue(const nlohmann::ordered_json& j) {
  if (j.is_null()) return Value();
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  return Value(j.dump());
}

std::optional<Row> parseImage(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  auto j = nlohmann::ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  Row row;
  for (auto it = j.begin(); it != j.end(); ++it) row.set(it.key(), jsonToValue(it.value()));
  return row;
}

}  // namespace

Result<std::unique_ptr<SqliteTriggerSource>> SqliteTriggerSource::create(
    TriggerSourceConfig config) {
  for (const auto& table : config.tables) {
    SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(table, "table"));
    if (isBridgeOwnedTable(table, config.prefix)) {
      return configError("source '" + config.name + "' cannot capture '" + table +
                         "': tables starting with '" + config.prefix +
                         "' are smsbridge's own (capturing them would loop)");
    }
  }
  return std::unique_ptr<SqliteTriggerSource>(new SqliteTriggerSource(std::move(config)));
}

Status SqliteTriggerSource::connect() {
  if (db_) return Status::ok();
  auto db = Database::open(config_.path, Database::OpenMode::kExisting, config_.busy_timeout);
  if (!db) return db.error().withContext("source '" + config_.name + "'");
  db_ = std::move(*db);
  return Status::ok();
}

std::string SqliteTriggerSource::changesTable() const {
  return quoteIdentifier(config_.prefix + "changes", SqlDialect::kSqlite);
}

Result<std::vector<std::string>> SqliteTriggerSource::triggerSql(const std::string& table) {
  auto info = readTableInfo(*db_, table);
  if (!info) return info.error();
  std::vector<std::string> sql;
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
  for (const Kind& k : kKinds) {
    std::string trigger =
        quoteIdentifier(config_.prefix + table + "_" + k.suffix, SqlDialect::kSqlite);
    sql.push_back("DROP TRIGGER IF EXISTS " + trigger);
    sql.push_back(fmt::format(
        "CREATE TRIGGER {} AFTER {} ON {} BEGIN INSERT INTO {} (tbl, op, pk, before, after) "
        "VALUES ({}, '{}', {}, {}, {}); END",
        trigger, k.event, quoteIdentifier(table, SqlDialect::kSqlite), changesTable(),
        quoteLiteral(table), k.op, pkExpression(*info, k.after ? "NEW" : "OLD"),
        k.before ? jsonImage(*info, "OLD") : "NULL", k.after ? jsonImage(*info, "NEW") : "NULL"));
  }
  return sql;
}

Result<std::vector<std::string>> SqliteTriggerSource::setupSql() {
  SMSBRIDGE_RETURN_IF_ERROR(connect());
  std::vector<std::string> sql = {
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  tbl TEXT NOT NULL,\n"
                  "  op TEXT NOT NULL,\n  pk TEXT,\n  before TEXT,\n  after TEXT,\n"
                  "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),\n"
                  "  processed_at TEXT)",
                  changesTable()),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (processed_at, id)",
                  quoteIdentifier(config_.prefix + "changes_pending", SqlDialect::kSqlite),
                  changesTable()),
  };
  for (const auto& table : config_.tables) {
    auto triggers = triggerSql(table);
    if (!triggers) return triggers.error().withContext("source '" + config_.name + "'");
    sql.insert(sql.end(), triggers->begin(), triggers->end());
  }
  return sql;
}

Status SqliteTriggerSource::setup() {
  auto sql = setupSql();
  if (!sql) return sql.error();
  SMSBRIDGE_RETURN_IF_ERROR(db_->beginWrite());
  for (const auto& statement : *sql) {
    if (Status s = db_->exec(statement); !s.isOk()) {
      db_->rollback();
      return s.withContext("source '" + config_.name + "'");
    }
  }
  SMSBRIDGE_RETURN_IF_ERROR(db_->commit());
  spdlog::info("Installed trigger capture. source={} tables={}", config_.name,
               fmt::join(config_.tables, ","));
  return Status::ok();
}

Status SqliteTriggerSource::start(const std::string& checkpoint) {
  SMSBRIDGE_RETURN_IF_ERROR(connect());
  // The triggers must be there, or changes are silently not captured.
  for (const auto& table : config_.tables) {
    auto st = db_->prepare(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN "
        "(?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, table)
        .bind(2, config_.prefix + table + "_ai")
        .bind(3, config_.prefix + table + "_au")
        .bind(4, config_.prefix + table + "_ad");
    auto row = st->step();
    if (!row) return row.error();
    if (st->columnInt(0) != 3) {
      return configError("source '" + config_.name + "': the capture triggers on table '" + table +
                         "' are missing; run `smsbridge setup -c <config>`");
    }
  }
  last_id_ = 0;
  if (!checkpoint.empty()) {
    auto [ptr, ec] =
        std::from_chars(checkpoint.data(), checkpoint.data() + checkpoint.size(), last_id_);
    if (ec != std::errc() || ptr != checkpoint.data() + checkpoint.size()) {
      return sourceLostError("source '" + config_.name + "': stored checkpoint '" + checkpoint +
                             "' is not a change id");
    }
  }
  spdlog::info("Capturing changes. source={} mode=trigger after_change_id={}", config_.name,
               last_id_);
  return Status::ok();
}

Result<ChangeBatch> SqliteTriggerSource::poll(std::chrono::milliseconds /*wait*/) {
  auto st =
      db_->prepare("SELECT id, tbl, op, pk, before, after, created_at FROM " + changesTable() +
                   " WHERE processed_at IS NULL AND id > ? ORDER BY id LIMIT ?");
  if (!st) return st.error();
  st->bind(1, last_id_).bind(2, config_.batch_size);
  ChangeBatch batch;
  std::int64_t last = last_id_;
  while (true) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    last = st->columnInt(0);
    ChangeEvent event;
    event.source = config_.name;
    event.table = st->columnText(1);
    auto op = parseOp(st->columnText(2));
    if (!op) {
      spdlog::warn("Skipping a change row with an unknown op. source={} change_id={} op={}",
                   config_.name, last, st->columnText(2));
      continue;
    }
    event.op = *op;
    event.pk = st->columnText(3);
    event.before = parseImage(st->columnOptText(4));
    event.after = parseImage(st->columnOptText(5));
    event.position = std::to_string(last);
    event.commit_ts =
        parseTimestamp(st->columnText(6)).value_or(std::chrono::system_clock::time_point{});
    batch.events.push_back(std::move(event));
  }
  if (last != last_id_) batch.position = std::to_string(last);
  last_id_ = last;
  return batch;
}

Status SqliteTriggerSource::acknowledge(const std::string& position) {
  auto mark = db_->prepare("UPDATE " + changesTable() +
                           " SET processed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                           "WHERE id <= ? AND processed_at IS NULL");
  if (!mark) return mark.error();
  mark->bind(1, static_cast<std::int64_t>(std::stoll(position)));
  SMSBRIDGE_RETURN_IF_ERROR(mark->run());
  // Processed rows are kept a while for inspection, then purged so the table stays small.
  if (++acks_since_purge_ >= 100) {
    acks_since_purge_ = 0;
    auto purge = db_->prepare("DELETE FROM " + changesTable() +
                              " WHERE processed_at IS NOT NULL AND processed_at < ?");
    if (!purge) return purge.error();
    purge->bind(1, formatTimestamp(std::chrono::system_clock::now() - config_.retain_processed));
    SMSBRIDGE_RETURN_IF_ERROR(purge->run());
  }
  return Status::ok();
}

}  // namespace smsbridge::sqlite
