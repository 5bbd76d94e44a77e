#pragma once

// Shadow state for `poll` capture (DESIGN.md §3): what a poll source last saw of each row's
// watched columns. Comparing a polled row with its shadow is how poll mode tells an insert
// from an update from nothing at all, and where its before-image (`old.status`) comes from.
//
// The shadow lives in the store (<prefix>shadow), never in the captured database: poll mode is
// the mode for read-only credentials. Its updates are committed in the same transaction as
// the jobs and the watermark they belong to (JobStore::enqueue), so after a crash the shadow
// and the checkpoint always agree and a re-read row is recognised as already seen.

#include <map>
#include <optional>
#include <span>
#include <string>

#include "core/result.h"

namespace smsbridge {

// One row's shadow, as written to <prefix>shadow. The source is the checkpoint's.
struct ShadowEntry {
  std::string table;
  std::string pk;     // primary key as text, the same rendering as ChangeEvent::pk
  std::string state;  // the watched columns as a JSON object, in column order
};

// Read access to the shadow, for the poll source. Implemented by every JobStore.
class ShadowStore {
 public:
  virtual ~ShadowStore() = default;
  // The stored states of `pks` of `source`.`table`, keyed by pk; a pk never seen is absent.
  virtual Result<std::map<std::string, std::string>> loadShadow(
      const std::string& source, const std::string& table, std::span<const std::string> pks) = 0;
};

}  // namespace smsbridge
