#pragma once

// The one event shape every connector produces, whatever its database and capture mode.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/value.h"

namespace smsbridge {

enum class Op { kInsert, kUpdate, kDelete };

std::string_view opName(Op op);                    // "insert" | "update" | "delete"
std::optional<Op> parseOp(std::string_view name);  // accepts the names above

struct ChangeEvent {
  std::string source;  // configured source name, e.g. "shop"
  std::string table;   // table name as the mapping names it (no schema for SQLite)
  Op op = Op::kInsert;
  std::string pk;             // primary key rendered as text ("17", or "3|en" for composite)
  std::optional<Row> before;  // absent when the mode has no before-image (insert, poll)
  std::optional<Row> after;   // absent for delete
  std::string position;       // source position of this change, opaque to the engine
  std::chrono::system_clock::time_point commit_ts{};
  std::string txid;  // source transaction id when known

  // The row a mapping reads unprefixed columns from: after, or before for a delete.
  const Row* current() const {
    if (after) return &*after;
    if (before) return &*before;
    return nullptr;
  }
};

}  // namespace smsbridge
