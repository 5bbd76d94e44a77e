#pragma once

// A capture source: reads committed changes from one database and hands them over in
// transaction-sized batches with the position after them.
//
// Threading: the runtime calls poll() from one dedicated thread per source; it may block up to
// `wait`. acknowledge() is called on the same thread after the batch's jobs and checkpoint are
// durable in the store; only then may the source tell its server the position is consumed.

#include <chrono>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/result.h"
#include "core/shadow.h"

namespace smsbridge {

// A figure a source knows about its own capture, exported as a gauge on /metrics with a
// `source` label: e.g. how much WAL a replication slot makes the server keep.
struct SourceGauge {
  std::string name;  // full metric name, "smsbridge_source_retained_wal_bytes"
  std::string help;
  double value = 0;
};

struct ChangeBatch {
  std::vector<ChangeEvent> events;
  std::string position;  // resume point after the last event; empty when nothing was read
  // Poll sources only: shadow rows to store with `position` (Checkpoint::shadow). A batch may
  // carry shadow rows and no events (rows whose change no mapping needs to see, a baseline).
  std::vector<ShadowEntry> shadow = {};
};

class Source {
 public:
  virtual ~Source() = default;
  virtual const std::string& name() const = 0;

  // Installs what the capture mode needs (trigger tables, triggers...). Idempotent.
  virtual Status setup() = 0;
  // The statements setup() would run, for `setup --dry-run`.
  virtual Result<std::vector<std::string>> setupSql() = 0;
  // Tables whose mappings read the row before the change (old.col, changed(), crossed_*()).
  // A mode that sends before images only when the table is configured for it (PostgreSQL
  // REPLICA IDENTITY FULL) makes that change in setup() when `apply`, and otherwise says what
  // is needed. Called before setup()/setupSql(); modes that always have before images ignore it.
  virtual void setBeforeImageTables(std::vector<std::string> /*tables*/, bool /*apply*/) {}

  // Connects and positions the reader after `checkpoint` (empty: from the start of capture).
  virtual Status start(const std::string& checkpoint) = 0;
  // Returns the next batch of committed changes, or an empty batch after `wait` with nothing.
  virtual Result<ChangeBatch> poll(std::chrono::milliseconds wait) = 0;
  // The batch ending at `position` is durable in the store.
  virtual Status acknowledge(const std::string& position) = 0;

  // Poll sources compare rows with the shadow kept in the store; the runtime hands it over
  // before start(). The store outlives the source. Other capture modes ignore it.
  virtual void attachShadowStore(ShadowStore& /*store*/) {}

  // Current capture figures (retained WAL, lag) for sources that know them; none by default.
  // Called on the capture thread between polls; cheap (no query of its own).
  virtual std::vector<SourceGauge> gauges() const { return {}; }
};

}  // namespace smsbridge
