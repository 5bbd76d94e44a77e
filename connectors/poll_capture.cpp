#include "connectors/poll_capture.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/sql_ident.h"

namespace smsbridge::poll {
namespace {

nlohmann::ordered_json toJson(const Value& v) {
  if (v.isBool()) return v.asBool();
  if (v.isInt()) return v.asInt();
  if (v.isDouble()) return v.asDouble();
  if (v.isString()) return v.asString();
  return nullptr;  // null, and unavailable (no capture mode here produces it)
}

Value fromJson(const nlohmann::ordered_json& j) {
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  return Value();
}

// FNV-1a: a stable digest for event positions. std::hash may differ between builds, and a
// position must map to the same dedup key after an upgrade.
std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<Value> keyValues(const Row& row, const std::vector<std::string>& primary_key) {
  std::vector<Value> out;
  for (const auto& column : primary_key) {
    const Value* v = row.find(column);
    out.push_back(v ? *v : Value());
  }
  return out;
}

}  // namespace

std::string shadowState(const Row& row, const std::vector<std::string>& watch) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  if (watch.empty()) {
    for (const auto& [column, value] : row) object[column] = toJson(value);
  } else {
    for (const auto& column : watch) {
      const Value* v = row.find(column);
      object[column] = v ? toJson(*v) : nullptr;
    }
  }
  return object.dump();
}

std::optional<Row> rowFromShadowState(const std::string& state) {
  auto j = nlohmann::ordered_json::parse(state, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  Row row;
  for (auto it = j.begin(); it != j.end(); ++it) row.set(it.key(), fromJson(it.value()));
  return row;
}

std::string primaryKeyText(const Row& row, const std::vector<std::string>& primary_key) {
  std::string out;
  for (std::size_t i = 0; i < primary_key.size(); ++i) {
    if (i > 0) out += '|';
    const Value* v = row.find(primary_key[i]);
    if (v) out += v->toText();
  }
  return out;
}

RowChange compareWithShadow(const std::string& source, const TableSpec& table,
                            const std::vector<std::string>& primary_key, const PolledRow& polled,
                            const std::optional<std::string>& stored, bool baseline) {
  RowChange change;
  std::string state = shadowState(polled.row, table.watch);
  if (stored && *stored == state) return change;
  std::string pk = primaryKeyText(polled.row, primary_key);
  change.shadow = ShadowEntry{table.table, pk, state};
  // A baseline records rows without announcing them; a row that already has a shadow has a
  // before-image, so its change is real even during a (resumed) baseline.
  if (!stored && baseline) return change;

  ChangeEvent event;
  event.source = source;
  event.table = table.table;
  event.pk = std::move(pk);
  event.after = polled.row;
  if (stored) {
    event.op = Op::kUpdate;
    event.before = rowFromShadowState(*stored);
  } else {
    event.op = Op::kInsert;
  }
  std::uint64_t digest = fnv1a(state, fnv1a(stored.value_or("\x01new")));
  event.position =
      fmt::format("poll:{}:{:016x}", polled.mark ? std::to_string(*polled.mark) : "-", digest);
  change.event = std::move(event);
  return change;
}

const config::Schema& pollSchema() {
  using namespace config;
  static const Schema table{
      "poll table",
      "How poll capture finds the changed rows of one table.",
      {
          str("change_column",
              "Column that every write to a row moves forward: a date-time set on each change "
              "(`updated_at`, Odoo `write_date`, WooCommerce `date_updated_gmt`) or a version "
              "number. Each round reads rows whose value is at least the highest value seen "
              "minus the overlap. Without it the table is read whole every round, which suits "
              "small tables only."),
          oneOf("kind", {"timestamp", "version"}, "timestamp",
                "`timestamp`: change_column is a date-time and `overlap` applies; `version`: it "
                "is an integer and `version_overlap` applies."),
          stringList("watch",
                     "Columns compared with the shadow; a row whose watched values did not "
                     "change makes no event, and `old.<column>` is available for these columns "
                     "only. Default: every column (largest shadow, every change reported)."),
      },
      "",
      {}};
  static const Schema schema{
      "poll",
      "Settings of `capture: poll`: for read-only database users. smsbridge reads each captured "
      "table every `poll_interval` and compares rows with the copy of their watched columns "
      "it keeps in the store (<prefix>shadow); the store must therefore be writable, e.g. "
      "another source's database or a SQLite file. The first round records existing rows "
      "without sending anything; a row changed before that round has completed (also across a "
      "restart in the middle of it) counts as existing. Deletes are not seen in poll mode. Latency "
      "is about "
      "poll_interval plus one round.",
      {
          duration("overlap", "5m",
                   "How far below the highest change_column value seen each round reads again. "
                   "Must exceed the longest write transaction on the captured tables plus clock "
                   "skew between the application servers that set the column: a row committed "
                   "with an older value than that is missed. Re-read rows cost a comparison, "
                   "not an SMS."),
          integer("version_overlap", 1000,
                  "Like `overlap`, for tables whose change column is a `version` number."),
          mapOf("tables", table, "Per captured table: its change column and watched columns.",
                "<table>"),
      },
      "",
      {}};
  return schema;
}

bool readPollSettings(const config::Section& poll, Settings& settings,
                      config::Diagnostics& diagnostics) {
  bool ok = true;
  settings.overlap = poll.duration("overlap");
  settings.version_overlap = poll.integer("version_overlap");
  if (settings.version_overlap < 0) {
    diagnostics.add(poll.at("version_overlap", "must not be negative"));
    ok = false;
  }
  for (const auto& [name, section] : poll.entries("tables")) {
    TableSpec spec;
    spec.table = name;
    spec.change_column = section.str("change_column");
    spec.kind = section.str("kind") == "version" ? ChangeKind::kVersion : ChangeKind::kTimestamp;
    spec.watch = section.strings("watch");
    for (const std::string* id : {&spec.table, &spec.change_column}) {
      if (id->empty()) continue;
      if (Status s = validateIdentifier(*id, "identifier"); !s.isOk()) {
        diagnostics.add(section.at(id == &spec.table ? "" : "change_column", s.message()));
        ok = false;
      }
    }
    for (const auto& column : spec.watch) {
      if (Status s = validateIdentifier(column, "watched column"); !s.isOk()) {
        diagnostics.add(section.at("watch", s.message()));
        ok = false;
      }
    }
    settings.configured[name] = std::move(spec);
  }
  return ok;
}

std::vector<TableSpec> tableSpecsFor(const std::map<std::string, TableSpec>& configured,
                                     const std::vector<std::string>& tables) {
  std::vector<TableSpec> specs;
  for (const auto& table : tables) {
    auto it = configured.find(table);
    if (it != configured.end()) {
      specs.push_back(it->second);
    } else {
      TableSpec spec;
      spec.table = table;
      specs.push_back(std::move(spec));
    }
  }
  return specs;
}

std::string formatPosition(const Progress& progress) {
  nlohmann::ordered_json tables = nlohmann::ordered_json::object();
  for (const auto& [table, p] : progress) {
    if (!p.baselined) continue;
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    if (p.mark) entry["mark"] = *p.mark;
    tables[table] = std::move(entry);
  }
  nlohmann::ordered_json j;
  j["poll"] = 1;
  j["tables"] = std::move(tables);
  return j.dump();
}

Result<Progress> parsePosition(const std::string& position) {
  Progress progress;
  if (position.empty()) return progress;
  auto j = nlohmann::ordered_json::parse(position, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("tables") || !j["tables"].is_object()) {
    return sourceLostError("stored checkpoint '" + position + "' is not a poll position");
  }
  for (auto it = j["tables"].begin(); it != j["tables"].end(); ++it) {
    TableProgress p;
    p.baselined = true;
    if (it.value().is_object() && it.value().contains("mark")) {
      if (!it.value()["mark"].is_number_integer()) {
        return sourceLostError("stored checkpoint '" + position + "' has a bad mark");
      }
      p.mark = it.value()["mark"].get<std::int64_t>();
    }
    progress[it.key()] = p;
  }
  return progress;
}

std::optional<std::int64_t> lowerBound(const Settings& settings, const TableSpec& table,
                                       const TableProgress& progress) {
  if (table.change_column.empty() || !progress.baselined || !progress.mark) return std::nullopt;
  const std::int64_t overlap =
      table.kind == ChangeKind::kTimestamp
          ? std::chrono::duration_cast<std::chrono::microseconds>(settings.overlap).count()
          : settings.version_overlap;
  return *progress.mark - overlap;
}

Result<std::unique_ptr<PollSource>> PollSource::create(Settings settings,
                                                       std::unique_ptr<Reader> reader) {
  if (settings.batch_size < 1) return configError("batch_size must be at least 1");
  for (const TableSpec& t : settings.tables) {
    SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(t.table, "table"));
    if (isBridgeOwnedTable(t.table, settings.prefix)) {
      return configError("source '" + settings.name + "' cannot capture '" + t.table +
                         "': tables starting with '" + settings.prefix +
                         "' are smsbridge's own (capturing them would loop)");
    }
    if (!t.change_column.empty()) {
      SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(t.change_column, "change column"));
    }
    for (const auto& column : t.watch) {
      SMSBRIDGE_RETURN_IF_ERROR(validateIdentifier(column, "watched column"));
    }
  }
  return std::unique_ptr<PollSource>(new PollSource(std::move(settings), std::move(reader)));
}

Status PollSource::start(const std::string& checkpoint) {
  if (!shadow_) {
    return internalError("poll source '" + settings_.name + "' started without a shadow store");
  }
  auto progress = parsePosition(checkpoint);
  if (!progress) return progress.error().withContext("source '" + settings_.name + "'");
  SMSBRIDGE_RETURN_IF_ERROR(reader_->connect());
  primary_keys_.clear();
  for (const TableSpec& t : settings_.tables) {
    auto pk = reader_->primaryKey(t);
    if (!pk) return pk.error().withContext("source '" + settings_.name + "'");
    primary_keys_.push_back(std::move(*pk));
    if (t.change_column.empty()) {
      spdlog::info("Table has no change column; it is read whole every round. source={} table={}",
                   settings_.name, t.table);
    }
  }
  progress_ = std::move(*progress);
  round_.reset();
  spdlog::info("Capturing changes. source={} mode=poll position={}", settings_.name,
               formatPosition(progress_));
  return Status::ok();
}

Result<ChangeBatch> PollSource::poll(std::chrono::milliseconds /*wait*/) {
  if (!round_) round_ = Round{};
  while (round_->table < settings_.tables.size()) {
    const TableSpec& table = settings_.tables[round_->table];
    const std::vector<std::string>& primary_key = primary_keys_[round_->table];
    TableProgress& progress = progress_[table.table];

    PageQuery query;
    query.table = &table;
    query.primary_key = &primary_key;
    query.min_mark = lowerBound(settings_, table, progress);
    query.after = round_->after;
    query.limit = settings_.batch_size;
    auto rows = reader_->page(query);
    if (!rows) return rows.error().withContext("source '" + settings_.name + "'");

    std::vector<std::string> keys;
    keys.reserve(rows->size());
    for (const PolledRow& r : *rows) keys.push_back(primaryKeyText(r.row, primary_key));
    auto stored = shadow_->loadShadow(settings_.name, table.table, keys);
    if (!stored) return stored.error();

    ChangeBatch batch;
    for (std::size_t i = 0; i < rows->size(); ++i) {
      const PolledRow& polled = (*rows)[i];
      auto found = stored->find(keys[i]);
      RowChange change = compareWithShadow(
          settings_.name, table, primary_key, polled,
          found == stored->end() ? std::nullopt : std::optional<std::string>(found->second),
          !progress.baselined);
      if (change.event) batch.events.push_back(std::move(*change.event));
      if (change.shadow) batch.shadow.push_back(std::move(*change.shadow));
      if (polled.mark)
        round_->max_mark = std::max(round_->max_mark.value_or(*polled.mark), *polled.mark);
    }

    bool position_moved = false;
    if (static_cast<int>(rows->size()) < settings_.batch_size) {
      // The table is done for this round: its mark may only advance now, after every row up
      // to it was compared, or a crash mid-table would skip the rest.
      TableProgress before = progress;
      progress.baselined = true;
      if (round_->max_mark)
        progress.mark = std::max(progress.mark.value_or(*round_->max_mark), *round_->max_mark);
      position_moved = before.baselined != progress.baselined || before.mark != progress.mark;
      round_->table += 1;
      round_->after.clear();
      round_->max_mark.reset();
    } else {
      round_->after = keyValues(rows->back().row, primary_key);
    }
    if (!batch.events.empty() || !batch.shadow.empty() || position_moved) {
      // Events keep their own positions (compareWithShadow): they name the change for dedup
      // keys, while the batch position is the resume point.
      batch.position = formatPosition(progress_);
      return batch;
    }
  }
  round_.reset();  // the round is over; the caller sleeps poll_interval before the next one
  return ChangeBatch{};
}

}  // namespace smsbridge::poll
