#include "connectors/postgres/pgoutput.h"

#include <charconv>
#include <cstdio>
#include <iterator>

namespace smsbridge::postgres {
namespace {

// 2000-01-01 00:00:00 UTC, PostgreSQL's timestamp epoch, in Unix microseconds.
constexpr std::int64_t kPostgresEpochUnixMicros = 946'684'800'000'000;

std::string hexByte(std::uint8_t byte) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", byte);
  return buf;
}

// Reads the big-endian fields of one message, refusing to step past its end. Every failure
// names the message, the field and its offset in the payload (the type byte is offset 0), so a
// bad stream can be diagnosed from the log line alone.
class Reader {
 public:
  // Starts after the type byte, which the caller has already dispatched on.
  Reader(std::string_view payload, std::string_view message)
      : bytes_(payload), message_(message), pos_(1) {}

  Status u8(std::uint8_t& out, std::string_view field) {
    SMSBRIDGE_RETURN_IF_ERROR(need(1, field));
    out = byteAt(pos_++);
    return Status::ok();
  }
  Status u16(std::uint16_t& out, std::string_view field) {
    std::uint64_t wide = 0;
    SMSBRIDGE_RETURN_IF_ERROR(bigEndian(2, wide, field));
    out = static_cast<std::uint16_t>(wide);
    return Status::ok();
  }
  Status u32(std::uint32_t& out, std::string_view field) {
    std::uint64_t wide = 0;
    SMSBRIDGE_RETURN_IF_ERROR(bigEndian(4, wide, field));
    out = static_cast<std::uint32_t>(wide);
    return Status::ok();
  }
  Status i32(std::int32_t& out, std::string_view field) {
    std::uint32_t raw = 0;
    SMSBRIDGE_RETURN_IF_ERROR(u32(raw, field));
    out = static_cast<std::int32_t>(raw);
    return Status::ok();
  }
  Status u64(std::uint64_t& out, std::string_view field) { return bigEndian(8, out, field); }
  Status i64(std::int64_t& out, std::string_view field) {
    std::uint64_t raw = 0;
    SMSBRIDGE_RETURN_IF_ERROR(u64(raw, field));
    out = static_cast<std::int64_t>(raw);
    return Status::ok();
  }

  // A NUL-terminated string.
  Status cstring(std::string& out, std::string_view field) {
    const std::size_t end = bytes_.find('\0', pos_);
    if (end == std::string_view::npos) {
      return truncated(
          field, "has no terminating NUL in the " + std::to_string(remaining()) + " bytes left");
    }
    out.assign(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return Status::ok();
  }

  Status raw(std::string& out, std::size_t length, std::string_view field) {
    SMSBRIDGE_RETURN_IF_ERROR(need(length, field));
    out.assign(bytes_.substr(pos_, length));
    pos_ += length;
    return Status::ok();
  }

  // One message per payload: anything after it means we and the server disagree on the layout.
  Status finish() const {
    if (remaining() == 0) return Status::ok();
    return malformed(std::to_string(remaining()) +
                     " unexpected bytes after the message at offset " + std::to_string(pos_));
  }

  Status malformed(std::string_view detail) const {
    return internalError("malformed pgoutput " + std::string(message_) +
                         " message: " + std::string(detail));
  }
  // `field` at the current offset is wrong; `detail` says how.
  Status invalid(std::string_view field, std::string_view detail) const {
    return malformed(std::string(field) + " at offset " + std::to_string(pos_) + " " +
                     std::string(detail));
  }

  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::size_t offset() const { return pos_; }

 private:
  std::uint8_t byteAt(std::size_t i) const { return static_cast<std::uint8_t>(bytes_[i]); }

  Status need(std::size_t n, std::string_view field) const {
    if (remaining() >= n) return Status::ok();
    return truncated(
        field, "needs " + std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left");
  }

  Status truncated(std::string_view field, std::string_view detail) const {
    return internalError("truncated pgoutput " + std::string(message_) +
                         " message: " + std::string(field) + " at offset " + std::to_string(pos_) +
                         " " + std::string(detail));
  }

  Status bigEndian(std::size_t width, std::uint64_t& out, std::string_view field) {
    SMSBRIDGE_RETURN_IF_ERROR(need(width, field));
    out = 0;
    for (std::size_t i = 0; i < width; ++i) out = (out << 8) | byteAt(pos_ + i);
    pos_ += width;
    return Status::ok();
  }

  std::string_view bytes_;
  std::string_view message_;
  std::size_t pos_;
};

Status readTimestamp(Reader& in, std::chrono::system_clock::time_point& out,
                     std::string_view field) {
  std::int64_t micros = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.i64(micros, field));
  Result<std::chrono::system_clock::time_point> ts = timestampFromPostgres(micros);
  if (!ts) return in.malformed(std::string(field) + ": " + ts.error().message());
  out = *ts;
  return Status::ok();
}

Status readTuple(Reader& in, TupleData& out, std::string_view which) {
  std::uint16_t count = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.u16(count, std::string(which) + " column count"));
  out.clear();
  // Each column takes at least its kind byte, so a count larger than what is left cannot be
  // honest; checking first keeps a corrupt count from reserving memory.
  if (count > in.remaining()) {
    return in.invalid(
        std::string(which) + " column count",
        std::to_string(count) + " exceeds the " + std::to_string(in.remaining()) + " bytes left");
  }
  out.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    const std::string field = std::string(which) + " column " + std::to_string(i + 1);
    std::uint8_t kind = 0;
    SMSBRIDGE_RETURN_IF_ERROR(in.u8(kind, field + " kind"));
    TupleColumn column;
    switch (kind) {
      case 'n':
        column.kind = TupleColumn::Kind::kNull;
        break;
      case 'u':
        column.kind = TupleColumn::Kind::kUnchanged;
        break;
      case 't': {
        column.kind = TupleColumn::Kind::kText;
        std::int32_t length = 0;
        SMSBRIDGE_RETURN_IF_ERROR(in.i32(length, field + " length"));
        if (length < 0) {
          return in.invalid(field + " length", "is negative (" + std::to_string(length) + ")");
        }
        SMSBRIDGE_RETURN_IF_ERROR(
            in.raw(column.text, static_cast<std::size_t>(length), field + " value"));
        break;
      }
      case 'b':
        return in.malformed(field +
                            " is in binary format ('b'), which is only sent when the stream is "
                            "started with the binary option");
      default:
        return in.malformed(field + " has unknown kind " + hexByte(kind) + " at offset " +
                            std::to_string(in.offset() - 1));
    }
    out.push_back(std::move(column));
  }
  return Status::ok();
}

Status readOldTupleKind(Reader& in, std::uint8_t tag, OldTuple& out) {
  if (tag == 'K') {
    out.kind = OldTuple::Kind::kKey;
  } else if (tag == 'O') {
    out.kind = OldTuple::Kind::kFull;
  } else {
    return in.malformed("old tuple tag " + hexByte(tag) + " at offset " +
                        std::to_string(in.offset() - 1) + " is neither 'K' nor 'O'");
  }
  return readTuple(in, out.columns, tag == 'K' ? "old key tuple" : "old tuple");
}

Result<PgoutputMessage> decodeBegin(Reader& in) {
  BeginMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u64(m.final_lsn, "final LSN"));
  SMSBRIDGE_RETURN_IF_ERROR(readTimestamp(in, m.commit_ts, "commit timestamp"));
  SMSBRIDGE_RETURN_IF_ERROR(in.u32(m.xid, "xid"));
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeCommit(Reader& in) {
  CommitMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u8(m.flags, "flags"));
  SMSBRIDGE_RETURN_IF_ERROR(in.u64(m.commit_lsn, "commit LSN"));
  SMSBRIDGE_RETURN_IF_ERROR(in.u64(m.end_lsn, "end LSN"));
  SMSBRIDGE_RETURN_IF_ERROR(readTimestamp(in, m.commit_ts, "commit timestamp"));
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeOrigin(Reader& in) {
  OriginMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u64(m.commit_lsn, "origin commit LSN"));
  SMSBRIDGE_RETURN_IF_ERROR(in.cstring(m.name, "origin name"));
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeRelation(Reader& in) {
  RelationMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u32(m.oid, "relation OID"));
  SMSBRIDGE_RETURN_IF_ERROR(in.cstring(m.schema, "namespace"));
  SMSBRIDGE_RETURN_IF_ERROR(in.cstring(m.name, "relation name"));
  std::uint8_t identity = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.u8(identity, "replica identity"));
  switch (identity) {
    case 'd':
    case 'n':
    case 'f':
    case 'i':
      m.replica_identity = static_cast<ReplicaIdentity>(identity);
      break;
    default:
      return in.malformed("replica identity " + hexByte(identity) + " at offset " +
                          std::to_string(in.offset() - 1) + " is none of 'd', 'n', 'f', 'i'");
  }
  std::uint16_t count = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.u16(count, "column count"));
  // A column takes at least 10 bytes (flags, empty name, type OID, typmod).
  if (count > in.remaining() / 10) {
    return in.invalid("column count", std::to_string(count) + " cannot fit in the " +
                                          std::to_string(in.remaining()) + " bytes left");
  }
  m.columns.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    const std::string field = "column " + std::to_string(i + 1);
    RelationColumn column;
    std::uint8_t flags = 0;
    SMSBRIDGE_RETURN_IF_ERROR(in.u8(flags, field + " flags"));
    column.key = (flags & 1) != 0;
    SMSBRIDGE_RETURN_IF_ERROR(in.cstring(column.name, field + " name"));
    SMSBRIDGE_RETURN_IF_ERROR(in.u32(column.type_oid, field + " type OID"));
    SMSBRIDGE_RETURN_IF_ERROR(in.i32(column.type_modifier, field + " type modifier"));
    m.columns.push_back(std::move(column));
  }
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeType(Reader& in) {
  TypeMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u32(m.oid, "type OID"));
  SMSBRIDGE_RETURN_IF_ERROR(in.cstring(m.schema, "namespace"));
  SMSBRIDGE_RETURN_IF_ERROR(in.cstring(m.name, "type name"));
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeInsert(Reader& in) {
  InsertMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u32(m.relation_oid, "relation OID"));
  std::uint8_t tag = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.u8(tag, "new tuple tag"));
  if (tag != 'N') {
    return in.malformed("new tuple tag " + hexByte(tag) + " at offset " +
                        std::to_string(in.offset() - 1) + " is not 'N'");
  }
  SMSBRIDGE_RETURN_IF_ERROR(readTuple(in, m.new_tuple, "new tuple"));
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeUpdate(Reader& in) {
  UpdateMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u32(m.relation_oid, "relation OID"));
  std::uint8_t tag = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.u8(tag, "tuple tag"));
  if (tag == 'K' || tag == 'O') {
    m.old_tuple.emplace();
    SMSBRIDGE_RETURN_IF_ERROR(readOldTupleKind(in, tag, *m.old_tuple));
    SMSBRIDGE_RETURN_IF_ERROR(in.u8(tag, "new tuple tag"));
  }
  if (tag != 'N') {
    return in.malformed("tuple tag " + hexByte(tag) + " at offset " +
                        std::to_string(in.offset() - 1) + " is not 'N'" +
                        (m.old_tuple ? "" : ", 'K' or 'O'"));
  }
  SMSBRIDGE_RETURN_IF_ERROR(readTuple(in, m.new_tuple, "new tuple"));
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeDelete(Reader& in) {
  DeleteMessage m;
  SMSBRIDGE_RETURN_IF_ERROR(in.u32(m.relation_oid, "relation OID"));
  std::uint8_t tag = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.u8(tag, "old tuple tag"));
  SMSBRIDGE_RETURN_IF_ERROR(readOldTupleKind(in, tag, m.old_tuple));
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

Result<PgoutputMessage> decodeTruncate(Reader& in) {
  TruncateMessage m;
  std::uint32_t count = 0;
  SMSBRIDGE_RETURN_IF_ERROR(in.u32(count, "relation count"));
  SMSBRIDGE_RETURN_IF_ERROR(in.u8(m.options, "options"));
  if (count > in.remaining() / 4) {
    return in.invalid("relation count", std::to_string(count) + " cannot fit in the " +
                                            std::to_string(in.remaining()) + " bytes left");
  }
  m.relation_oids.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    SMSBRIDGE_RETURN_IF_ERROR(in.u32(m.relation_oids[i], "relation OID " + std::to_string(i + 1)));
  }
  SMSBRIDGE_RETURN_IF_ERROR(in.finish());
  return PgoutputMessage(std::move(m));
}

// --- conversion to ChangeEvent ---------------------------------------------------------------

const char* opLabel(Op op) {
  switch (op) {
    case Op::kInsert:
      return "Insert";
    case Op::kUpdate:
      return "Update";
    case Op::kDelete:
      return "Delete";
  }
  return "change";
}

Result<const RelationMessage*> lookUp(const RelationCache& relations, std::uint32_t oid, Op op) {
  const RelationMessage* relation = relations.find(oid);
  if (relation == nullptr) {
    return internalError(std::string(opLabel(op)) + " for relation OID " + std::to_string(oid) +
                         ", which the stream has not described in a Relation message");
  }
  return relation;
}

std::string describeColumn(const RelationMessage& relation, const RelationColumn& column) {
  return qualifiedTableName(relation) + "." + column.name + " (type OID " +
         std::to_string(column.type_oid) + ")";
}

template <typename T>
bool parseWhole(const std::string& text, T& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Result<Value> valueFrom(const RelationMessage& relation, const RelationColumn& column,
                        const TupleColumn& sent) {
  switch (sent.kind) {
    case TupleColumn::Kind::kNull:
      return Value(NullValue{});
    case TupleColumn::Kind::kUnchanged:
      return Value(UnavailableValue{});
    case TupleColumn::Kind::kText:
      break;
  }
  const std::string& text = sent.text;
  switch (column.type_oid) {
    case kBoolOid:
      if (text == "t") return Value(true);
      if (text == "f") return Value(false);
      break;
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid: {
      std::int64_t number = 0;
      if (parseWhole(text, number)) return Value(number);
      break;
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      // Covers PostgreSQL's "NaN", "Infinity" and "-Infinity" too.
      double number = 0;
      if (parseWhole(text, number)) return Value(number);
      break;
    }
    default:  // numeric included: a double would lose digits of money amounts
      return Value(text);
  }
  return internalError(describeColumn(relation, column) + ": \"" + text +
                       "\" does not read as its type");
}

enum class Image { kComplete, kKeyOnly };

Status checkColumnCount(const RelationMessage& relation, const TupleData& tuple, Op op,
                        std::string_view which) {
  if (tuple.size() == relation.columns.size()) return Status::ok();
  return internalError(std::string(opLabel(op)) + " for " + qualifiedTableName(relation) +
                       " sent " + std::to_string(tuple.size()) + " columns in its " +
                       std::string(which) + ", but its Relation message has " +
                       std::to_string(relation.columns.size()));
}

// The row as the mapping sees it. `unchanged_source`, a full old row, supplies the values the
// server left out as unchanged TOAST.
Result<Row> rowFrom(const RelationMessage& relation, const TupleData& tuple, Image image,
                    const TupleData* unchanged_source) {
  Row row;
  for (std::size_t i = 0; i < tuple.size(); ++i) {
    const RelationColumn& column = relation.columns[i];
    // Non-key columns of a 'K' tuple arrive as 'n' but were simply not sent.
    if (image == Image::kKeyOnly && !column.key) continue;
    const TupleColumn* sent = &tuple[i];
    if (sent->kind == TupleColumn::Kind::kUnchanged && unchanged_source != nullptr) {
      sent = &(*unchanged_source)[i];
    }
    Result<Value> value = valueFrom(relation, column, *sent);
    if (!value) return value.error();
    row.set(column.name, std::move(*value));
  }
  return row;
}

// ChangeEvent::pk: the raw text of the key columns, so "12.50" stays "12.50" and a composite
// key reads "3|en".
Result<std::string> keyFrom(const RelationMessage& relation, const RelationCache& relations,
                            const TupleData& tuple, Image image,
                            const TupleData* unchanged_source) {
  std::vector<std::size_t> positions;
  if (const std::vector<std::string>* names = relations.primaryKey(relation.oid)) {
    for (const std::string& name : *names) {
      std::size_t i = 0;
      while (i < relation.columns.size() && relation.columns[i].name != name) ++i;
      if (i == relation.columns.size()) {
        return internalError("primary key column " + name + " is not a column of " +
                             qualifiedTableName(relation));
      }
      if (image == Image::kKeyOnly && !relation.columns[i].key) {
        return internalError("primary key column " + name + " of " + qualifiedTableName(relation) +
                             " is not in its replica identity, so the server did not send it");
      }
      positions.push_back(i);
    }
  } else {
    for (std::size_t i = 0; i < relation.columns.size(); ++i) {
      if (relation.columns[i].key) positions.push_back(i);
    }
  }
  std::string key;
  for (std::size_t n = 0; n < positions.size(); ++n) {
    const std::size_t i = positions[n];
    const TupleColumn* sent = &tuple[i];
    if (sent->kind == TupleColumn::Kind::kUnchanged && unchanged_source != nullptr) {
      sent = &(*unchanged_source)[i];
    }
    if (sent->kind == TupleColumn::Kind::kUnchanged) {
      return internalError("key column " + relation.columns[i].name + " of " +
                           qualifiedTableName(relation) +
                           " was not sent (unchanged TOAST value), so the row has no key");
    }
    if (n > 0) key += '|';
    key += sent->text;  // empty for null
  }
  return key;
}

ChangeEvent eventShell(const RelationMessage& relation, Op op) {
  ChangeEvent event;
  event.table = qualifiedTableName(relation);
  event.op = op;
  return event;
}

}  // namespace

std::string formatLsn(Lsn lsn) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xFFFFFFFFu));
  return buf;
}

Result<Lsn> parseLsn(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto invalid = [&] {
    return internalError("\"" + std::string(text) +
                         "\" is not a PostgreSQL LSN (expected hex \"X/Y\", e.g. \"0/16B3748\")");
  };
  if (slash == std::string_view::npos) return invalid();
  std::uint32_t halves[2] = {0, 0};
  const std::string_view parts[2] = {text.substr(0, slash), text.substr(slash + 1)};
  for (int i = 0; i < 2; ++i) {
    const std::string_view part = parts[i];
    if (part.empty() || part.size() > 8) return invalid();
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), halves[i], 16);
    if (ec != std::errc() || ptr != part.data() + part.size()) return invalid();
  }
  return (static_cast<Lsn>(halves[0]) << 32) | halves[1];
}

Result<std::chrono::system_clock::time_point> timestampFromPostgres(std::int64_t micros) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  using std::chrono::system_clock;
  constexpr std::int64_t kMax = duration_cast<microseconds>(system_clock::duration::max()).count();
  constexpr std::int64_t kMin = duration_cast<microseconds>(system_clock::duration::min()).count();
  if (micros > kMax - kPostgresEpochUnixMicros || micros < kMin - kPostgresEpochUnixMicros) {
    return internalError("timestamp " + std::to_string(micros) +
                         " µs after 2000-01-01 is outside the range of the system clock");
  }
  return system_clock::time_point(
      duration_cast<system_clock::duration>(microseconds(micros + kPostgresEpochUnixMicros)));
}

Result<PgoutputMessage> decodePgoutput(std::string_view payload) {
  if (payload.empty()) return internalError("empty pgoutput message");
  const auto type = static_cast<std::uint8_t>(payload[0]);
  switch (type) {
    case 'B': {
      Reader in(payload, "Begin");
      return decodeBegin(in);
    }
    case 'C': {
      Reader in(payload, "Commit");
      return decodeCommit(in);
    }
    case 'O': {
      Reader in(payload, "Origin");
      return decodeOrigin(in);
    }
    case 'R': {
      Reader in(payload, "Relation");
      return decodeRelation(in);
    }
    case 'Y': {
      Reader in(payload, "Type");
      return decodeType(in);
    }
    case 'I': {
      Reader in(payload, "Insert");
      return decodeInsert(in);
    }
    case 'U': {
      Reader in(payload, "Update");
      return decodeUpdate(in);
    }
    case 'D': {
      Reader in(payload, "Delete");
      return decodeDelete(in);
    }
    case 'T': {
      Reader in(payload, "Truncate");
      return decodeTruncate(in);
    }
    default:
      break;
  }
  return internalError("unsupported pgoutput message type " + hexByte(type) +
                       (type >= 0x20 && type < 0x7F
                            ? " ('" + std::string(1, static_cast<char>(type)) + "')"
                            : std::string()) +
                       "; proto_version 1 without streaming, two_phase or messages never sends "
                       "it");
}

void RelationCache::update(RelationMessage relation) {
  const std::uint32_t oid = relation.oid;
  relations_.insert_or_assign(oid, std::move(relation));
}

const RelationMessage* RelationCache::find(std::uint32_t oid) const {
  auto it = relations_.find(oid);
  return it == relations_.end() ? nullptr : &it->second;
}

void RelationCache::setPrimaryKey(std::uint32_t oid, std::vector<std::string> columns) {
  primary_keys_.insert_or_assign(oid, std::move(columns));
}

const std::vector<std::string>* RelationCache::primaryKey(std::uint32_t oid) const {
  auto it = primary_keys_.find(oid);
  return it == primary_keys_.end() ? nullptr : &it->second;
}

std::string qualifiedTableName(const RelationMessage& relation) {
  if (relation.schema == "public") return relation.name;
  return (relation.schema.empty() ? std::string("pg_catalog") : relation.schema) + "." +
         relation.name;
}

Result<ChangeEvent> changeEventFrom(const InsertMessage& message, const RelationCache& relations) {
  Result<const RelationMessage*> relation = lookUp(relations, message.relation_oid, Op::kInsert);
  if (!relation) return relation.error();
  const RelationMessage& rel = **relation;
  SMSBRIDGE_RETURN_IF_ERROR(checkColumnCount(rel, message.new_tuple, Op::kInsert, "new tuple"));

  ChangeEvent event = eventShell(rel, Op::kInsert);
  Result<std::string> key = keyFrom(rel, relations, message.new_tuple, Image::kComplete, nullptr);
  if (!key) return key.error();
  event.pk = std::move(*key);
  Result<Row> after = rowFrom(rel, message.new_tuple, Image::kComplete, nullptr);
  if (!after) return after.error();
  event.after = std::move(*after);
  return event;
}

Result<ChangeEvent> changeEventFrom(const UpdateMessage& message, const RelationCache& relations) {
  Result<const RelationMessage*> relation = lookUp(relations, message.relation_oid, Op::kUpdate);
  if (!relation) return relation.error();
  const RelationMessage& rel = **relation;
  SMSBRIDGE_RETURN_IF_ERROR(checkColumnCount(rel, message.new_tuple, Op::kUpdate, "new tuple"));
  if (message.old_tuple) {
    SMSBRIDGE_RETURN_IF_ERROR(
        checkColumnCount(rel, message.old_tuple->columns, Op::kUpdate, "old tuple"));
  }

  const TupleData* full_old = nullptr;
  if (message.old_tuple && message.old_tuple->kind == OldTuple::Kind::kFull) {
    full_old = &message.old_tuple->columns;
  }
  ChangeEvent event = eventShell(rel, Op::kUpdate);
  Result<std::string> key = keyFrom(rel, relations, message.new_tuple, Image::kComplete, full_old);
  if (!key) return key.error();
  event.pk = std::move(*key);
  if (message.old_tuple) {
    const Image image =
        message.old_tuple->kind == OldTuple::Kind::kKey ? Image::kKeyOnly : Image::kComplete;
    Result<Row> before = rowFrom(rel, message.old_tuple->columns, image, nullptr);
    if (!before) return before.error();
    event.before = std::move(*before);
  }
  Result<Row> after = rowFrom(rel, message.new_tuple, Image::kComplete, full_old);
  if (!after) return after.error();
  event.after = std::move(*after);
  return event;
}

Result<ChangeEvent> changeEventFrom(const DeleteMessage& message, const RelationCache& relations) {
  Result<const RelationMessage*> relation = lookUp(relations, message.relation_oid, Op::kDelete);
  if (!relation) return relation.error();
  const RelationMessage& rel = **relation;
  SMSBRIDGE_RETURN_IF_ERROR(
      checkColumnCount(rel, message.old_tuple.columns, Op::kDelete, "old tuple"));

  const Image image =
      message.old_tuple.kind == OldTuple::Kind::kKey ? Image::kKeyOnly : Image::kComplete;
  ChangeEvent event = eventShell(rel, Op::kDelete);
  Result<std::string> key = keyFrom(rel, relations, message.old_tuple.columns, image, nullptr);
  if (!key) return key.error();
  event.pk = std::move(*key);
  Result<Row> before = rowFrom(rel, message.old_tuple.columns, image, nullptr);
  if (!before) return before.error();
  event.before = std::move(*before);
  return event;
}

Result<std::optional<TransactionBatch>> TransactionAssembler::feed(PgoutputMessage message) {
  using NoBatch = std::optional<TransactionBatch>;
  const auto outOfOrder = [this](std::string what) -> Status {
    reset();
    return internalError("pgoutput stream out of order: " + what);
  };

  if (auto* begin = std::get_if<BeginMessage>(&message)) {
    if (open_) {
      const std::uint32_t open_xid = open_->begin.xid;
      return outOfOrder("Begin of xid " + std::to_string(begin->xid) + " while xid " +
                        std::to_string(open_xid) + " is still open");
    }
    open_.emplace();
    open_->begin = *begin;
    return NoBatch();
  }
  if (auto* relation = std::get_if<RelationMessage>(&message)) {
    relations_.update(std::move(*relation));
    return NoBatch();
  }
  // Values stay text for non-built-in types, and an origin changes nothing about the rows.
  if (std::holds_alternative<TypeMessage>(message) ||
      std::holds_alternative<OriginMessage>(message)) {
    return NoBatch();
  }
  if (!open_) {
    static constexpr const char* kNames[] = {"Begin",  "Commit", "Origin", "Relation", "Type",
                                             "Insert", "Update", "Delete", "Truncate"};
    static_assert(std::size(kNames) == std::variant_size_v<PgoutputMessage>);
    return outOfOrder(std::string(kNames[message.index()]) + " outside a transaction");
  }
  if (auto* insert = std::get_if<InsertMessage>(&message)) {
    SMSBRIDGE_RETURN_IF_ERROR(addChange(changeEventFrom(*insert, relations_)));
    return NoBatch();
  }
  if (auto* update = std::get_if<UpdateMessage>(&message)) {
    SMSBRIDGE_RETURN_IF_ERROR(addChange(changeEventFrom(*update, relations_)));
    return NoBatch();
  }
  if (auto* del = std::get_if<DeleteMessage>(&message)) {
    SMSBRIDGE_RETURN_IF_ERROR(addChange(changeEventFrom(*del, relations_)));
    return NoBatch();
  }
  if (auto* truncate = std::get_if<TruncateMessage>(&message)) {
    for (std::uint32_t oid : truncate->relation_oids) {
      const RelationMessage* relation = relations_.find(oid);
      if (relation == nullptr) {
        reset();
        return internalError("Truncate of relation OID " + std::to_string(oid) +
                             ", which the stream has not described in a Relation message");
      }
      open_->batch.truncated_tables.push_back(qualifiedTableName(*relation));
    }
    return NoBatch();
  }

  const auto* commit_message = std::get_if<CommitMessage>(&message);
  if (commit_message == nullptr) {
    reset();
    return internalError("pgoutput message of variant index " + std::to_string(message.index()) +
                         " has no handler");
  }
  const CommitMessage& commit = *commit_message;
  if (commit.commit_lsn != open_->begin.final_lsn) {
    const Lsn begun = open_->begin.final_lsn;
    return outOfOrder("Commit at " + formatLsn(commit.commit_lsn) +
                      " does not match its Begin's final LSN " + formatLsn(begun));
  }
  TransactionBatch batch = std::move(open_->batch);
  const std::uint32_t xid = open_->begin.xid;
  open_.reset();
  batch.end_lsn = commit.end_lsn;
  batch.position = formatLsn(commit.end_lsn);
  batch.commit_ts = commit.commit_ts;
  batch.xid = xid;
  const std::string txid = std::to_string(xid);
  for (ChangeEvent& event : batch.events) {
    event.source = source_;
    event.position = batch.position;
    event.commit_ts = batch.commit_ts;
    event.txid = txid;
  }
  return NoBatch(std::move(batch));
}

Status TransactionAssembler::addChange(Result<ChangeEvent> event) {
  if (!event) {
    reset();
    return event.error();
  }
  open_->batch.events.push_back(std::move(*event));
  return Status::ok();
}

void TransactionAssembler::reset() { open_.reset(); }

}  // namespace smsbridge::postgres
