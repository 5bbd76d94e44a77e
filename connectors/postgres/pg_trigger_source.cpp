#include "connectors/postgres/pg_trigger_source.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/sql_ident.h"

namespace smsbridge::postgres {
namespace {

// The last part of "schema.table".
std::string_view baseName(std::string_view table) {
  auto dot = table.rfind('.');
  return dot == std::string_view::npos ? table : table.substr(dot + 1);
}

std::string sqlName(std::string_view name) { return quoteIdentifier(name, SqlDialect::kPostgres); }

// "19.990" -> "19.99", "4.0" -> "4": how the shortest double representation would read.
std::string canonicalDecimal(std::string_view text) {
  std::string out(text);
  if (out.find('.') == std::string::npos) return out;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

// Turns [[column, jsonb_typeof, text], ...] (see the poll query) into a Row.
Result<std::optional<Row>> parseImage(const pqxx::field& field) {
  if (field.is_null()) return std::optional<Row>();
  auto j = nlohmann::json::parse(field.c_str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return internalError("change image is not a JSON array");
  Row row;
  for (const auto& column : j) {
    if (!column.is_array() || column.size() != 3 || !column[0].is_string() ||
        !column[1].is_string()) {
      return internalError("change image has a malformed column entry");
    }
    std::optional<std::string> text;
    if (column[2].is_string()) text = column[2].get<std::string>();
    row.set(column[0].get<std::string>(), jsonbValue(column[1].get<std::string>(), text));
  }
  return std::optional<Row>(std::move(row));
}

}  // namespace

Value jsonbValue(std::string_view type, const std::optional<std::string>& text) {
  if (!text || type == "null") return Value();
  if (type == "boolean") return Value(*text == "true");
  if (type == "number") {
    const char* begin = text->data();
    const char* end = begin + text->size();
    bool integral = text->find_first_of(".eE") == std::string::npos;
    if (integral) {
      std::int64_t i = 0;
      auto [ptr, ec] = std::from_chars(begin, end, i);
      if (ec == std::errc() && ptr == end) return Value(i);
      return Value(*text);  // beyond int64 (numeric): the text keeps every digit
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(begin, end, d);
    if (ec == std::errc() && ptr == end && std::isfinite(d)) {
      char buf[64];
      auto [out, ec2] = std::to_chars(buf, buf + sizeof buf, d);
      if (ec2 == std::errc() && std::string_view(buf, out - buf) == canonicalDecimal(*text)) {
        return Value(d);
      }
    }
    // A numeric with more precision than a double holds stays text; Value::toNumber() still
    // reads it for comparisons, and templates print every digit.
    return Value(*text);
  }
  return Value(*text);  // string, or an object/array as its JSON text
}

Result<std::unique_ptr<PgTriggerSource>> PgTriggerSource::create(TriggerSourceConfig config) {
  if (config.batch_size < 1) return configError("batch_size must be at least 1");
  SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(config.prefix + "changes", "table prefix"));
  for (const auto& table : config.tables) {
    SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(table, "table"));
    if (isBridgeOwnedTable(baseName(table), config.prefix)) {
      return configError("source '" + config.name + "' cannot capture '" + table +
                         "': tables starting with '" + config.prefix +
                         "' are smsbridge's own (capturing them would loop)");
    }
  }
  return std::unique_ptr<PgTriggerSource>(new PgTriggerSource(std::move(config)));
}

Status PgTriggerSource::connect() {
  if (conn_) return Status::ok();
  auto conn = PgConnection::open(config_.dsn, config_.connect_timeout);
  if (!conn) return conn.error().withContext("source '" + config_.name + "'");
  conn_ = std::move(*conn);
  return Status::ok();
}

Result<std::string> PgTriggerSource::ownSchema() {
  std::string schema;
  SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
    auto r = txn.exec("SELECT current_schema()");
    if (r[0][0].is_null()) {
      return configError(conn_->server() +
                         ": the connection has no current schema (empty search_path); set one "
                         "for the bridge's user");
    }
    schema = r[0][0].c_str();
    return Status::ok();
  }));
  return schema;
}

std::string PgTriggerSource::qualified(const std::string& schema, const std::string& name) const {
  return sqlName(schema) + "." + sqlName(name);
}

Result<std::vector<std::string>> PgTriggerSource::setupSql() {
  SMSBRIDGE_RETURN_IF_ERROR(connect());
  auto schema = ownSchema();
  if (!schema) return schema.error();
  const std::string changes = qualified(*schema, config_.prefix + "changes");
  const std::string function = qualified(*schema, config_.prefix + "capture");
  std::vector<std::string> sql = {
      fmt::format("CREATE TABLE IF NOT EXISTS {} (\n"
                  "  id bigserial PRIMARY KEY,\n"
                  "  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),\n"
                  "  tbl text NOT NULL,\n  op text NOT NULL,\n  pk text,\n"
                  "  before jsonb,\n  after jsonb,\n"
                  "  created_at timestamptz NOT NULL DEFAULT now(),\n"
                  "  processed_at timestamptz)",
                  changes),
      fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} (id) WHERE processed_at IS NULL",
                  sqlName(config_.prefix + "changes_pending"), changes),
      // SECURITY DEFINER: the shop's own database user, whose writes fire the trigger, needs
      // no privilege on the bridge's table; a fixed search_path keeps a definer function safe
      // from objects a session could put in front of it.
      fmt::format(
          "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
          "SET search_path = pg_catalog, pg_temp AS $smsbridge$\n"
          "DECLARE\n"
          "  image jsonb;\n  key text := '';\n  i integer;\n"
          "BEGIN\n"
          "  IF TG_OP = 'DELETE' THEN image := to_jsonb(OLD); ELSE image := to_jsonb(NEW); END "
          "IF;\n"
          "  FOR i IN 1 .. TG_NARGS - 1 LOOP\n"
          "    IF i > 1 THEN key := key || '|'; END IF;\n"
          "    key := key || COALESCE(image ->> TG_ARGV[i], '');\n"
          "  END LOOP;\n"
          "  INSERT INTO {} (tbl, op, pk, before, after) VALUES (TG_ARGV[0], lower(TG_OP), key,\n"
          "    CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,\n"
          "    CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);\n"
          "  RETURN NULL;\n"
          "END\n$smsbridge$",
          function, changes),
  };
  for (const auto& table : config_.tables) {
    bool exists = false;
    std::vector<std::string> primary_key;
    SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
      primary_key.clear();
      exists =
          txn.exec_params("SELECT to_regclass($1) IS NOT NULL", sqlName(table))[0][0].as<bool>();
      if (!exists) return Status::ok();
      auto r = txn.exec_params(
          "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
          "a.attnum = ANY (i.indkey) WHERE i.indrelid = to_regclass($1) AND i.indisprimary "
          "ORDER BY array_position(i.indkey::int2[], a.attnum)",
          sqlName(table));
      for (const auto& row : r) primary_key.push_back(row[0].c_str());
      return Status::ok();
    }));
    if (!exists) {
      return configError("source '" + config_.name + "': table '" + table + "' does not exist in " +
                         conn_->server() + " (check `tables:` and the mappings' `table:`)");
    }
    if (primary_key.empty()) {
      return configError("source '" + config_.name + "': table '" + table +
                         "' has no primary key, so its changes cannot be told apart; add one "
                         "(ALTER TABLE ... ADD PRIMARY KEY) or capture another table");
    }
    std::string args = quoteLiteral(table);
    for (const auto& column : primary_key) args += ", " + quoteLiteral(column);
    const std::string trigger = sqlName(triggerName());
    sql.push_back(fmt::format("DROP TRIGGER IF EXISTS {} ON {}", trigger, sqlName(table)));
    sql.push_back(
        fmt::format("CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW EXECUTE "
                    "FUNCTION {}({})",
                    trigger, sqlName(table), function, args));
  }
  return sql;
}

Status PgTriggerSource::setup() {
  auto sql = setupSql();
  if (!sql) return sql.error();
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    for (const auto& statement : *sql) txn.exec(statement);
    return Status::ok();
  });
  if (!status.isOk()) return status.withContext("source '" + config_.name + "'");
  spdlog::info("Installed trigger capture. source={} tables={}", config_.name,
               fmt::join(config_.tables, ","));
  return Status::ok();
}

Status PgTriggerSource::start(const std::string& checkpoint) {
  SMSBRIDGE_RETURN_IF_ERROR(connect());
  auto schema = ownSchema();
  if (!schema) return schema.error();
  changes_table_ = qualified(*schema, config_.prefix + "changes");
  std::string missing;
  SMSBRIDGE_RETURN_IF_ERROR(conn_->transact([&](pqxx::work& txn) -> Status {
    missing.clear();
    if (!txn.exec_params("SELECT to_regclass($1) IS NOT NULL", changes_table_)[0][0].as<bool>()) {
      missing = config_.prefix + "changes";
      return Status::ok();
    }
    // The triggers must be there, or changes are silently not captured.
    for (const auto& table : config_.tables) {
      auto r = txn.exec_params(
          "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2 AND "
          "NOT tgisinternal",
          sqlName(table), triggerName());
      if (r[0][0].as<int>() == 0) {
        missing = "the capture trigger on table '" + table + "'";
        return Status::ok();
      }
    }
    return Status::ok();
  }));
  if (!missing.empty()) {
    return configError("source '" + config_.name + "': " + missing + " is missing in " +
                       conn_->server() + "; run `smsbridge setup -c <config>`");
  }
  pending_ids_.clear();
  pending_position_.clear();
  // The checkpoint is informational here: unprocessed rows are the truth, and a batch whose
  // jobs were stored but not yet marked comes again (its dedup keys absorb it).
  spdlog::info("Capturing changes. source={} mode=trigger last_change_id={}", config_.name,
               checkpoint.empty() ? "none" : checkpoint);
  return Status::ok();
}

Result<ChangeBatch> PgTriggerSource::poll(std::chrono::milliseconds /*wait*/) {
  if (changes_table_.empty()) return internalError("poll() before start()");
  // Each image comes as [[column, jsonb_typeof, text], ...] in the table's column order, so
  // numbers keep their exact text (a numeric(20,2) would lose digits through a double).
  auto image = [&](const char* column) {
    return fmt::format(
        "CASE WHEN c.{0} IS NULL THEN NULL ELSE (SELECT COALESCE(json_agg(json_build_array("
        "e.key, jsonb_typeof(e.value), e.value #>> '{{}}') ORDER BY a.attnum NULLS LAST, e.key), "
        "'[]')::text FROM jsonb_each(c.{0}) e LEFT JOIN pg_attribute a ON a.attrelid = "
        "to_regclass(c.tbl) AND a.attname = e.key) END",
        column);
  };
  ChangeBatch batch;
  std::vector<std::int64_t> ids;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    batch = ChangeBatch{};
    ids.clear();
    auto r = txn.exec_params(
        "SELECT c.id, c.txid::text, c.tbl, c.op, c.pk, "
        "(extract(epoch FROM c.created_at) * 1000000)::bigint, " +
            image("before") + ", " + image("after") + " FROM " + changes_table_ +
            " c WHERE c.processed_at IS NULL ORDER BY c.id LIMIT $1",
        config_.batch_size);
    for (const auto& row : r) {
      std::int64_t id = row[0].as<long long>();
      ids.push_back(id);
      auto op = parseOp(row[3].c_str());
      if (!op) {
        spdlog::warn("Skipping a change row with an unknown op. source={} change_id={} op={}",
                     config_.name, id, row[3].c_str());
        continue;
      }
      ChangeEvent event;
      event.source = config_.name;
      event.table = row[2].c_str();
      event.op = *op;
      event.pk = row[4].is_null() ? "" : row[4].c_str();
      auto before = parseImage(row[6]);
      if (!before) return before.error().withContext("change " + std::to_string(id));
      auto after = parseImage(row[7]);
      if (!after) return after.error().withContext("change " + std::to_string(id));
      event.before = std::move(*before);
      event.after = std::move(*after);
      event.position = std::to_string(id);
      // The writing transaction's start time: PostgreSQL keeps no commit time without
      // track_commit_timestamp.
      event.commit_ts = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::microseconds(row[5].as<long long>())));
      event.txid = row[1].c_str();
      batch.events.push_back(std::move(event));
    }
    return Status::ok();
  });
  if (!status.isOk()) return status.withContext("source '" + config_.name + "'");
  if (!ids.empty()) batch.position = std::to_string(ids.back());
  // A batch polled again without an acknowledge (its enqueue failed) simply replaces this.
  pending_ids_ = std::move(ids);
  pending_position_ = batch.position;
  return batch;
}

Status PgTriggerSource::acknowledge(const std::string& position) {
  if (position.empty() || pending_ids_.empty()) return Status::ok();
  if (position != pending_position_) {
    return internalError("source '" + config_.name + "': acknowledged position " + position +
                         " is not the last polled batch (" + pending_position_ + ")");
  }
  std::string array = "{";
  for (std::size_t i = 0; i < pending_ids_.size(); ++i) {
    if (i > 0) array += ',';
    array += std::to_string(pending_ids_[i]);
  }
  array += '}';
  bool purge = ++acks_since_purge_ >= 100;
  Status status = conn_->transact([&](pqxx::work& txn) -> Status {
    txn.exec_params("UPDATE " + changes_table_ +
                        " SET processed_at = now() WHERE id = ANY ($1::bigint[]) AND "
                        "processed_at IS NULL",
                    array);
    // Processed rows are kept a while for inspection, then purged so the table stays small.
    if (purge) {
      txn.exec_params("DELETE FROM " + changes_table_ +
                          " WHERE processed_at < now() - $1::bigint * interval '1 millisecond'",
                      static_cast<long long>(config_.retain_processed.count()));
    }
    return Status::ok();
  });
  if (!status.isOk()) return status.withContext("source '" + config_.name + "'");
  if (purge) acks_since_purge_ = 0;
  pending_ids_.clear();
  pending_position_.clear();
  return Status::ok();
}

}  // namespace smsbridge::postgres
