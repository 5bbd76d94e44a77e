#pragma once

// Decoding of PostgreSQL's built-in `pgoutput` logical replication protocol, proto_version 1,
// and its assembly into smsbridge ChangeEvents, one batch per committed transaction.
//
// Contract:
// - Pure: no I/O, no clock, no logging. The caller strips the 25-byte 'w' (XLogData) header and
//   hands over the payload; each payload holds exactly one pgoutput message.
// - Input is untrusted. Every length and count is checked against the bytes present; a short,
//   overlong or otherwise malformed payload yields a kInternal Status naming the message, the
//   field and the byte offset. Nothing here reads out of bounds or throws on bad input.
// - Thread-compatible: distinct objects may be used from distinct threads; one RelationCache or
//   TransactionAssembler must not be used from two threads at once.
//
// Only what proto_version 1 without options can send is accepted: no streamed transactions, no
// two-phase, no logical decoding messages ('M') and no binary column values ('b'). Receiving
// any of those means the stream was started with options this module was not written for, so
// it is an error rather than something to skip (reference/cdc.md C1).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/change_event.h"
#include "core/result.h"

namespace smsbridge::postgres {

// A WAL position. Text form is PostgreSQL's: two 32-bit halves in upper-case hex, "0/16B3748".
using Lsn = std::uint64_t;

std::string formatLsn(Lsn lsn);
// Accepts what PostgreSQL's pg_lsn input accepts: 1-8 hex digits, '/', 1-8 hex digits, nothing
// else. kInternal on anything else, since a stored position we cannot read is our own defect.
Result<Lsn> parseLsn(std::string_view text);

// pgoutput timestamps are microseconds since 2000-01-01 00:00:00 UTC. kInternal when the value
// does not fit std::chrono::system_clock (only corrupt input is that far out).
Result<std::chrono::system_clock::time_point> timestampFromPostgres(std::int64_t micros);

// Type OIDs from pg_type.dat that get a native Value (see changeEventFrom()).
inline constexpr std::uint32_t kBoolOid = 16;
inline constexpr std::uint32_t kInt8Oid = 20;
inline constexpr std::uint32_t kInt2Oid = 21;
inline constexpr std::uint32_t kInt4Oid = 23;
inline constexpr std::uint32_t kFloat4Oid = 700;
inline constexpr std::uint32_t kFloat8Oid = 701;
inline constexpr std::uint32_t kNumericOid = 1700;

// One column of a TupleData block.
struct TupleColumn {
  enum class Kind {
    kNull,       // 'n'
    kUnchanged,  // 'u': an unchanged TOASTed value the server did not send
    kText,       // 't': the type's text output in `text`
  };
  Kind kind = Kind::kNull;
  std::string text;

  bool operator==(const TupleColumn&) const = default;
};
using TupleData = std::vector<TupleColumn>;

// The old row image of an Update or Delete.
struct OldTuple {
  enum class Kind {
    kKey,   // 'K': replica identity columns only; the others arrive as 'n' and mean "not sent"
    kFull,  // 'O': every column (REPLICA IDENTITY FULL)
  };
  Kind kind = Kind::kKey;
  TupleData columns;

  bool operator==(const OldTuple&) const = default;
};

enum class ReplicaIdentity : char {
  kDefault = 'd',  // primary key
  kNothing = 'n',
  kFull = 'f',
  kIndex = 'i',  // a chosen unique index
};

struct BeginMessage {
  Lsn final_lsn = 0;  // LSN of the commit record, equal to the Commit's commit_lsn
  std::chrono::system_clock::time_point commit_ts;
  std::uint32_t xid = 0;
};

struct CommitMessage {
  std::uint8_t flags = 0;  // unused by the server, always 0
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;  // end of the commit record: the position to resume after this transaction
  std::chrono::system_clock::time_point commit_ts;
};

// The transaction was replayed from another node (sent only for origin-tagged transactions).
struct OriginMessage {
  Lsn commit_lsn = 0;  // the commit LSN on the origin node
  std::string name;
};

struct RelationColumn {
  // Part of the replica identity. Note that with REPLICA IDENTITY FULL the server flags *every*
  // column, so this is then not the primary key (see RelationCache::setPrimaryKey()).
  bool key = false;
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;

  bool operator==(const RelationColumn&) const = default;
};

struct RelationMessage {
  std::uint32_t oid = 0;
  std::string schema;  // namespace; "" means pg_catalog
  std::string name;
  ReplicaIdentity replica_identity = ReplicaIdentity::kDefault;
  std::vector<RelationColumn> columns;  // in attribute order; tuples map to it by position
};

// Sent before the first Relation that uses a non-built-in type.
struct TypeMessage {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
};

struct InsertMessage {
  std::uint32_t relation_oid = 0;
  TupleData new_tuple;
};

struct UpdateMessage {
  std::uint32_t relation_oid = 0;
  // 'O' under REPLICA IDENTITY FULL; 'K' only when a key column changed; absent otherwise.
  std::optional<OldTuple> old_tuple;
  TupleData new_tuple;
};

struct DeleteMessage {
  std::uint32_t relation_oid = 0;
  OldTuple old_tuple;
};

struct TruncateMessage {
  static constexpr std::uint8_t kCascade = 1;
  static constexpr std::uint8_t kRestartIdentity = 2;
  std::uint8_t options = 0;
  std::vector<std::uint32_t> relation_oids;
};

using PgoutputMessage =
    std::variant<BeginMessage, CommitMessage, OriginMessage, RelationMessage, TypeMessage,
                 InsertMessage, UpdateMessage, DeleteMessage, TruncateMessage>;

// Decodes one XLogData payload (the bytes after the 'w' header).
Result<PgoutputMessage> decodePgoutput(std::string_view payload);

// The table definitions the stream announced, by OID. pgoutput sends a Relation message before
// the first change to a table in a session and again after its definition changes, so the
// latest message always wins. After a reconnect the server announces every table again.
class RelationCache {
 public:
  // Adds or replaces the definition of `relation.oid`.
  void update(RelationMessage relation);
  // nullptr when the stream has not announced `oid`.
  const RelationMessage* find(std::uint32_t oid) const;

  // The columns ChangeEvent::pk is built from for `oid`, overriding the key flags of its
  // Relation messages. The caller reads them from pg_index: under REPLICA IDENTITY FULL the
  // server flags every column as key, which would make the whole row the "primary key". The
  // override survives re-definitions of the relation; a name the relation lacks is an error
  // when an event is built.
  void setPrimaryKey(std::uint32_t oid, std::vector<std::string> columns);
  const std::vector<std::string>* primaryKey(std::uint32_t oid) const;

  std::size_t size() const { return relations_.size(); }

 private:
  std::unordered_map<std::uint32_t, RelationMessage> relations_;
  std::unordered_map<std::uint32_t, std::vector<std::string>> primary_keys_;
};

// "schema.table", or just "table" in schema public.
std::string qualifiedTableName(const RelationMessage& relation);

// The ChangeEvent for one row change: table, op, pk, before and after. Transaction fields
// (source, position, commit_ts, txid) are left for the caller. Text is converted by type OID:
// bool to bool, int2/int4/int8 to integers, float4/float8 to doubles; numeric and all other
// types stay text so no precision is lost. 'u' becomes UnavailableValue, except that an Update
// carrying a full old row ('O') fills it from there, since the value is by definition unchanged.
// A 'K' old tuple gives a before row holding only the key columns: the others were not sent,
// which is not the same as null. kInternal when the relation is unknown, a tuple's column count
// differs from the relation's, or a value does not read as its type.
Result<ChangeEvent> changeEventFrom(const InsertMessage& message, const RelationCache& relations);
Result<ChangeEvent> changeEventFrom(const UpdateMessage& message, const RelationCache& relations);
Result<ChangeEvent> changeEventFrom(const DeleteMessage& message, const RelationCache& relations);

// Everything one committed transaction produced, ready for JobStore.enqueue().
struct TransactionBatch {
  std::vector<ChangeEvent> events;  // in commit order; may be empty (the position still moves)
  std::string position;             // formatLsn(end_lsn): resume after this transaction
  Lsn end_lsn = 0;
  std::chrono::system_clock::time_point commit_ts;
  std::uint32_t xid = 0;
  // Tables emptied by TRUNCATE. ChangeEvent has no truncate op, so the caller can only warn.
  std::vector<std::string> truncated_tables;
};

// Turns the ordered message stream into transaction batches. Row changes are converted as they
// arrive, against the relation definition current at that point in the stream.
class TransactionAssembler {
 public:
  // `source` is the configured source name stamped on every event.
  explicit TransactionAssembler(std::string source) : source_(std::move(source)) {}

  // Feeds the next message. Returns the finished batch on Commit and nullopt otherwise.
  // kInternal for messages out of protocol order (a change outside a transaction, a Begin
  // inside one, a Commit whose LSN differs from its Begin's) and for conversion errors; the
  // open transaction is then discarded and the next message must be a Begin.
  Result<std::optional<TransactionBatch>> feed(PgoutputMessage message);

  // Forgets an open transaction, e.g. after the connection dropped mid-transaction; the server
  // replays it whole from the last confirmed position.
  void reset();

  bool inTransaction() const { return open_.has_value(); }
  RelationCache& relations() { return relations_; }
  const RelationCache& relations() const { return relations_; }

 private:
  struct OpenTransaction {
    BeginMessage begin;
    TransactionBatch batch;
  };
  Status addChange(Result<ChangeEvent> event);

  std::string source_;
  RelationCache relations_;
  std::optional<OpenTransaction> open_;
};

}  // namespace smsbridge::postgres
