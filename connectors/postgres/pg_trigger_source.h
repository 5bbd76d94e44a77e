#pragma once

// `trigger` capture on PostgreSQL: one plpgsql trigger per captured table writes the before and
// after images (to_jsonb(OLD) / to_jsonb(NEW)), the primary key and the writing transaction's
// id (xid8) into <prefix>changes; the source reads the rows not yet processed, in id order, and
// marks exactly those rows processed once their jobs are durable (consume-and-mark, cdc.md B4
// #1 and C3).
//
// Why not `id > last`: ids come from a sequence at INSERT time, not at commit, so a shop
// transaction that commits late can make a lower id visible after higher ones were read
// (cdc.md B2). Reading `processed_at IS NULL` has no cursor to jump past it. A crash between
// the store commit and the mark re-delivers the batch; the jobs' dedup keys absorb it.
//
// Positions: a batch's position is its highest change id and each event's position is its own
// change id, so a mapping's dedup key is per change. Both are informational for resuming:
// what is unprocessed in the table is the truth.
//
// Threading: not thread-safe; the runtime's one capture thread per source calls every method.
// Errors are PgConnection's: kTransient (retry), kConfig (missing triggers, tables, privileges
// or primary key: the message says what to do).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/postgres/pg_connection.h"
#include "core/connector.h"
#include "core/value.h"

namespace smsbridge::postgres {

struct TriggerSourceConfig {
  std::string name;                   // source name from the config
  std::string dsn;                    // libpq URI or key=value string
  std::vector<std::string> tables;    // captured tables: "orders" (current schema) or "s.orders"
  std::string prefix = "smsbridge_";  // the bridge's own tables
  int batch_size = 500;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds retain_processed{std::chrono::hours(24)};
};

class PgTriggerSource final : public Source {
 public:
  // Validates names only; connects lazily (setup/start), so a config can be checked offline.
  static Result<std::unique_ptr<PgTriggerSource>> create(TriggerSourceConfig config);

  const std::string& name() const override { return config_.name; }
  Status setup() override;
  Result<std::vector<std::string>> setupSql() override;
  Status start(const std::string& checkpoint) override;
  Result<ChangeBatch> poll(std::chrono::milliseconds wait) override;
  Status acknowledge(const std::string& position) override;

 private:
  explicit PgTriggerSource(TriggerSourceConfig config) : config_(std::move(config)) {}
  Status connect();
  // The schema the bridge's tables live in, fixed at setup so the trigger finds the changes
  // table whatever search_path the shop's sessions use.
  Result<std::string> ownSchema();
  std::string qualified(const std::string& schema, const std::string& name) const;
  std::string triggerName() const { return config_.prefix + "capture"; }

  TriggerSourceConfig config_;
  std::unique_ptr<PgConnection> conn_;
  std::string changes_table_;  // quoted schema.name, set by start()
  // The change ids of the last batch poll() returned, and that batch's position: acknowledge()
  // marks exactly these rows.
  std::vector<std::int64_t> pending_ids_;
  std::string pending_position_;
  int acks_since_purge_ = 0;
};

// How a jsonb column value reaches a Row: numbers become int64 or double when that is exact,
// otherwise their text; nested objects and arrays their JSON text. Exposed for tests.
Value jsonbValue(std::string_view type, const std::optional<std::string>& text);

}  // namespace smsbridge::postgres
