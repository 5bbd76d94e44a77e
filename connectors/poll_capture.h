#pragma once

// `poll` capture: for databases where smsbridge may only SELECT (DESIGN.md §3). Each round
// reads the rows of every captured table whose change column lies within an overlap window
// below the highest value seen so far, compares each row's watched columns with the shadow the
// store keeps (core/shadow.h) and turns differences into insert and update events.
//
// Why an overlap window and a shadow instead of a watermark (cdc.md B2-B4, DESIGN.md §2.6):
// `updated_at` and auto-increment values are assigned before commit, so a transaction that
// commits late carries a value below rows already seen. A bare `updated_at > last` skips it for
// ever. Here every round re-reads `change_column >= highest_seen - overlap`; the shadow makes
// re-reading harmless (a row equal to its shadow produces nothing), so the only requirement is
// that `overlap` exceeds the longest write transaction plus clock skew between the writers.
// A late commit older than that is missed; that is the documented limit of read-only capture.
//
// What a round does, per table, in primary-key order and pages of `batch_size` rows:
//   1. the reader (one per database kind) returns the page, every column, plus the row's
//      change value as an integer "mark" (microseconds since 1970 for timestamps, the value
//      itself for version columns), each page one autocommit statement;
//   2. the shadow states of the page's keys are loaded from the store;
//   3. rows differing from their shadow become events and new shadow entries, which travel in
//      the batch and are committed with the jobs and the position (JobStore::enqueue);
//   4. after the last page the table's mark advances to the highest mark seen.
// Paging by key, not by mark, keeps pages stable while rows change: a row updated behind the
// cursor has a fresh mark and is read by the next round.
//
// First run: a table with no state in the checkpoint is read whole and only recorded in the
// shadow (a baseline). Existing rows produce no events, so turning poll mode on does not text
// every customer who ever ordered. Afterwards, a row missing from the shadow is an insert.
//
// Deletes are not seen: a deleted row simply stops appearing. Mappings with `on: [delete]` need
// trigger, logical or binlog capture.
//
// Tables without a change column are read whole every round (fine for small tables such as
// settings or a few hundred bookings; a large table needs a change column).
//
// Latency from commit to enqueue is about poll_interval plus one round.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/schema.h"
#include "config/section.h"
#include "core/connector.h"
#include "core/shadow.h"
#include "core/value.h"

namespace smsbridge::poll {

enum class ChangeKind {
  kTimestamp,  // a date-time column (updated_at, write_date, date_updated_gmt)
  kVersion,    // an integer that grows on every change (a version counter, a sequence)
};

struct TableSpec {
  std::string table;
  std::string change_column;  // empty: read the whole table every round
  ChangeKind kind = ChangeKind::kTimestamp;
  std::vector<std::string> watch;  // columns compared with the shadow; empty: every column
};

struct Settings {
  std::string name;  // source name
  std::vector<TableSpec> tables;
  std::map<std::string, TableSpec> configured;  // poll.tables, before the captured set is known
  std::string prefix = "smsbridge_";
  std::chrono::milliseconds overlap{std::chrono::minutes(5)};  // for timestamp columns
  std::int64_t version_overlap = 1000;                         // for version columns
  int batch_size = 500;
};

// One page a reader is asked for.
struct PageQuery {
  const TableSpec* table = nullptr;
  const std::vector<std::string>* primary_key = nullptr;
  // Rows whose mark is at least this; nullopt: the whole table (baseline, full-scan tables).
  std::optional<std::int64_t> min_mark;
  std::vector<Value> after;  // key of the previous page's last row; empty: first page
  int limit = 500;
};

struct PolledRow {
  Row row;                           // every column of the table
  std::optional<std::int64_t> mark;  // the change column as a mark; nullopt without one or NULL
};

// The database-specific part: a thin query layer per connector.
class Reader {
 public:
  virtual ~Reader() = default;
  // Opens the connection when needed. Idempotent.
  virtual Status connect() = 0;
  // The table's primary key columns, in key order; a kConfig error when it has none or the
  // table does not exist. Also checks that the change and watched columns exist.
  virtual Result<std::vector<std::string>> primaryKey(const TableSpec& table) = 0;
  // Rows matching `query`, ordered by primary key, at most `query.limit`.
  virtual Result<std::vector<PolledRow>> page(const PageQuery& query) = 0;
};

// --- The comparison, pure and separately testable -------------------------------------------

// The watched columns of `row` as a JSON object (every column when `watch` is empty).
std::string shadowState(const Row& row, const std::vector<std::string>& watch);
// A shadow state back as a row: the before-image of an update.
std::optional<Row> rowFromShadowState(const std::string& state);
// "17", or "3|en" for a composite key: the rendering every capture mode uses.
std::string primaryKeyText(const Row& row, const std::vector<std::string>& primary_key);

struct RowChange {
  std::optional<ChangeEvent> event;   // absent: nothing a mapping needs to see
  std::optional<ShadowEntry> shadow;  // absent: the shadow is already right
};

// What one polled row means, given its stored shadow (nullopt: never seen). `baseline` is true
// while a table is read for the first time: new rows are recorded, not announced. The event's
// position identifies this change of this row (its mark and both states), so a replay of the
// same change maps to the same dedup key and a later, different change never does.
RowChange compareWithShadow(const std::string& source, const TableSpec& table,
                            const std::vector<std::string>& primary_key, const PolledRow& polled,
                            const std::optional<std::string>& stored, bool baseline);

// --- Positions ---------------------------------------------------------------------------------

// Per table: whether its baseline is done and the highest mark seen.
struct TableProgress {
  bool baselined = false;
  std::optional<std::int64_t> mark;
};
using Progress = std::map<std::string, TableProgress>;

// {"poll":1,"tables":{"orders":{"mark":1732262400000000},"settings":{}}}
std::string formatPosition(const Progress& progress);
Result<Progress> parsePosition(const std::string& position);

// The lowest mark a round reads for a table, or nullopt for a whole-table read.
std::optional<std::int64_t> lowerBound(const Settings& settings, const TableSpec& table,
                                       const TableProgress& progress);

// --- Configuration ---------------------------------------------------------------------------

// The `poll:` object every source type accepts:
//   poll:
//     overlap: 5m
//     tables:
//       orders: { change_column: updated_at, watch: [status, total] }
const config::Schema& pollSchema();
// Reads a validated `poll:` section (the source's `batch_size` is read by the caller).
// Problems go to `diagnostics`; returns false then.
bool readPollSettings(const config::Section& poll, Settings& settings,
                      config::Diagnostics& diagnostics);
// The specs for the tables a source captures: those configured under poll.tables, the others
// read whole each round.
std::vector<TableSpec> tableSpecsFor(const std::map<std::string, TableSpec>& configured,
                                     const std::vector<std::string>& tables);

// --- The source --------------------------------------------------------------------------------

class PollSource final : public Source {
 public:
  // Checks the settings (identifiers, no capturing of the bridge's own tables).
  static Result<std::unique_ptr<PollSource>> create(Settings settings,
                                                    std::unique_ptr<Reader> reader);

  const std::string& name() const override { return settings_.name; }
  // Poll mode installs nothing in the source database: it may not write there.
  Status setup() override { return Status::ok(); }
  Result<std::vector<std::string>> setupSql() override { return std::vector<std::string>{}; }
  Status start(const std::string& checkpoint) override;
  Result<ChangeBatch> poll(std::chrono::milliseconds wait) override;
  // Nothing to confirm: the position and shadow are already durable in the store.
  Status acknowledge(const std::string& /*position*/) override { return Status::ok(); }
  void attachShadowStore(ShadowStore& store) override { shadow_ = &store; }

 private:
  PollSource(Settings settings, std::unique_ptr<Reader> reader)
      : settings_(std::move(settings)), reader_(std::move(reader)) {}

  // Where the current round is: which table, after which key, the highest mark seen so far.
  struct Round {
    std::size_t table = 0;
    std::vector<Value> after;
    std::optional<std::int64_t> max_mark;
  };

  Settings settings_;
  std::unique_ptr<Reader> reader_;
  ShadowStore* shadow_ = nullptr;
  std::vector<std::vector<std::string>> primary_keys_;  // per settings_.tables entry
  Progress progress_;
  std::optional<Round> round_;
};

}  // namespace smsbridge::poll
