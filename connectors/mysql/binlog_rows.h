#pragma once

// Decoding of MySQL/MariaDB ROW binlog events into rows: TABLE_MAP_EVENT bodies into a TableMap,
// WRITE/UPDATE/DELETE_ROWS events (V1 23–25 as MariaDB writes them, V2 30–32 as MySQL 8 writes
// them) into before/after Rows, and those into ChangeEvents. We decode row images ourselves
// because mariadb_rpl_extract_rows ignores present-column bitmaps, misreads MySQL V2 updates
// and has no JSON (cdc.md C2); against MariaDB 10.11 it also rejects any row with a CHAR or
// ENUM column as malformed. mariadb_rpl still does the connection and event framing.
//
// Contract:
// - Pure functions over bytes: no I/O, no global state, no logging; safe from any thread.
// - Every read is bounds-checked. Malformed input returns a Status with category kInternal and
//   a message naming the table, row, column and byte offset; it never reads out of bounds and
//   never throws. Input the decoder understands but cannot or will not decode (an unknown
//   column type, compressed row events, a table map without column names) returns kConfig,
//   saying what the operator can change. Nothing is skipped silently.
// - `body` arguments are an event's bytes after the 19-byte common header and without the
//   trailing CRC32; splitEvent() cuts a whole event into those parts. Table ids are 6 bytes
//   (post-header length 8/10), as every MySQL ≥ 5.6 and MariaDB ≥ 10.0 writes them.
//
// Values (smsbridge::Value) by column type:
//   TINY/SHORT/INT24/LONG/LONGLONG  int64; UNSIGNED BIGINT above INT64_MAX as decimal text
//   YEAR                            int64 (0, or 1901–2155)
//   BIT                             int64 of the bits (above INT64_MAX as decimal text)
//   NEWDECIMAL                      exact decimal text with `scale` digits ("-12.50")
//   FLOAT / DOUBLE                  double (FLOAT widened via its shortest text, so 1.1f → 1.1)
//   CHAR/VARCHAR/TEXT/BLOB          the stored bytes as a string (charset untouched); BINARY(n)
//                                   padded back to n bytes with 0x00 when the charset metadata
//                                   marks it binary (the binlog strips trailing zero bytes)
//   ENUM                            member name ("" for the invalid-value index 0); the index as
//                                   int64 when the table map has no member names
//   SET                             member names joined with ','; the bitmask as int64 without
//                                   member names
//   DATE                            "YYYY-MM-DD"
//   TIME, TIME2                     "[-]HH:MM:SS[.f…]" with as many fraction digits as the fsp
//   DATETIME, DATETIME2             "YYYY-MM-DD HH:MM:SS[.f…]"
//   TIMESTAMP, TIMESTAMP2           seconds since the epoch rendered in UTC, same format;
//                                   0 is MySQL's zero timestamp "0000-00-00 00:00:00"
//   JSON (MySQL binary, type 245)   JSON text as MySQL prints it ({"a": 1, "b": [true, null]});
//                                   MariaDB's JSON is LONGTEXT and arrives as BLOB text
//   GEOMETRY                        the stored bytes (4-byte SRID + WKB)
// A column absent from a partial row image (binlog_row_image=MINIMAL/NOBLOB) is present in the
// Row as UnavailableValue, so every Row lists every column in table order.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/change_event.h"
#include "core/result.h"
#include "core/value.h"

namespace smsbridge::mysql {

// Which server wrote the binlog. The two disagree on which columns the optional TABLE_MAP
// metadata counts: MariaDB lists YEAR among the numeric columns (signedness) and GEOMETRY
// among the character columns (charsets); MySQL lists neither. Read it from the
// FORMAT_DESCRIPTION_EVENT's server version with flavorFromServerVersion().
enum class ServerFlavor { kMariaDb, kMySql };

ServerFlavor flavorFromServerVersion(std::string_view server_version);

// Column type codes (enum_field_types) as they appear in TABLE_MAP_EVENT.
enum class ColumnType : std::uint8_t {
  kDecimal = 0,  // pre-5.0 DECIMAL: recognised, not decoded
  kTiny = 1,
  kShort = 2,
  kLong = 3,
  kFloat = 4,
  kDouble = 5,
  kNull = 6,
  kTimestamp = 7,
  kLongLong = 8,
  kInt24 = 9,
  kDate = 10,
  kTime = 11,
  kDatetime = 12,
  kYear = 13,
  kNewDate = 14,
  kVarchar = 15,
  kBit = 16,
  kTimestamp2 = 17,
  kDatetime2 = 18,
  kTime2 = 19,
  kJson = 245,
  kNewDecimal = 246,
  kEnum = 247,
  kSet = 248,
  kTinyBlob = 249,
  kMediumBlob = 250,
  kLongBlob = 251,
  kBlob = 252,
  kVarString = 253,
  kString = 254,
  kGeometry = 255,
};

// "VARCHAR", "TIMESTAMP2", …; "type 140" for codes outside the enum.
std::string columnTypeName(std::uint8_t type_code);

struct Column {
  // The type the value is decoded as. ENUM and SET travel as STRING with their real type in
  // the metadata; this is the real type.
  ColumnType type = ColumnType::kNull;
  std::uint8_t binlog_type = 0;  // the code in the event's type array
  bool nullable = true;
  std::string name;  // empty until the table map or applyTableSchema() names it

  // From the per-column metadata block; zero where the type has none.
  std::uint32_t max_length = 0;   // STRING/VARCHAR/VAR_STRING: longest value in bytes
  std::uint8_t length_bytes = 0;  // BLOB/JSON/GEOMETRY: size of the length prefix (1–4)
  std::uint8_t pack_length = 0;   // ENUM (1–2), SET (1–8), FLOAT (4), DOUBLE (8)
  std::uint8_t precision = 0;     // NEWDECIMAL
  std::uint8_t scale = 0;         // NEWDECIMAL
  std::uint8_t fsp = 0;           // TIME2/DATETIME2/TIMESTAMP2 fractional digits (0–6)
  std::uint16_t bits = 0;         // BIT(n)

  // From the optional metadata (binlog_row_metadata=MINIMAL gives signedness and charsets,
  // FULL adds names, member names and the primary key).
  bool is_unsigned = false;
  std::vector<std::string> members;        // ENUM/SET member names in definition order
  std::optional<std::uint32_t> collation;  // collation id; set only when the charset
                                           // metadata matched the table's character columns
};

struct PrimaryKeyPart {
  std::size_t column = 0;    // index into TableMap::columns
  std::uint32_t prefix = 0;  // index prefix length in characters; 0 = the whole column
};

struct TableMap {
  std::uint64_t table_id = 0;
  std::uint16_t flags = 0;
  std::string schema;
  std::string table;
  std::vector<Column> columns;

  // Which optional metadata the event carried. Decoding needs names; without signedness every
  // integer is read as signed, without members ENUM/SET come out as numbers.
  bool has_names = false;
  bool has_signedness = false;
  bool has_members = false;
  bool has_primary_key = false;  // primary_key is empty and this false: no metadata came
  std::vector<PrimaryKeyPart> primary_key;

  // "schema.table", for messages.
  std::string qualifiedName() const;
};

// The identity of a TABLE_MAP_EVENT, read without parsing the columns: lets a caller skip
// tables it does not capture (whose column types it may not be able to decode).
struct TableMapHead {
  std::uint64_t table_id = 0;
  std::uint16_t flags = 0;
  std::string schema;
  std::string table;
};
Result<TableMapHead> peekTableMap(std::span<const std::uint8_t> body);

Result<TableMap> parseTableMap(std::span<const std::uint8_t> body, ServerFlavor flavor);

// What information_schema knows about a table, for a table map that came without
// binlog_row_metadata=FULL. Columns are in ORDINAL_POSITION order.
struct ColumnSchema {
  std::string name;                  // COLUMN_NAME
  bool is_unsigned = false;          // COLUMN_TYPE ends in "unsigned"
  std::vector<std::string> members;  // ENUM/SET members parsed from COLUMN_TYPE
  std::string data_type;             // DATA_TYPE ("int", "varchar"...); empty: not checked
};
struct TableSchema {
  std::vector<ColumnSchema> columns;
  std::vector<std::string> primary_key;  // key column names in key order
};

// The members of an ENUM or SET as information_schema.COLUMNS.COLUMN_TYPE spells them:
// "enum('new','it''s')" → {"new", "it's"}. Empty for any other type.
std::vector<std::string> parseColumnMembers(std::string_view column_type);

// Whether a column information_schema calls `data_type` is logged with binlog type `type`.
// DATA_TYPEs this module does not know (a server's own types, e.g. MariaDB's inet6) match.
bool dataTypeMatches(ColumnType type, std::string_view data_type);

// Fills in what `map` lacks from `schema`: names, signedness, ENUM/SET members, primary key.
// What the table map already carries is kept, and must agree: a different column count, a
// different name, or a DATA_TYPE that cannot have written the binlog's column type means
// `schema` describes another version of the table than the binlog does, and that is a
// kSourceLost error rather than a guess.
Status applyTableSchema(TableMap& map, const TableSchema& schema);

enum class RowsKind { kWrite, kUpdate, kDelete };

// Event type codes this module decodes as row events.
bool isRowsEventType(std::uint8_t event_type);

struct RowsHeader {
  RowsKind kind = RowsKind::kWrite;
  int version = 1;  // 1 for types 23–25, 2 for 30–32
  std::uint64_t table_id = 0;
  std::uint16_t flags = 0;
  bool statementEnd() const { return (flags & 0x0001) != 0; }  // STMT_END_F
};
// The event's table id and flags, to look up its TableMap before decoding.
Result<RowsHeader> peekRowsEvent(std::uint8_t event_type, std::span<const std::uint8_t> body);

struct RowChange {
  std::optional<Row> before;  // update and delete
  std::optional<Row> after;   // write and update
};

struct RowsEvent {
  RowsHeader header;
  std::vector<RowChange> rows;
};

// Decodes a rows event against the TABLE_MAP that preceded it (same table id). Fails with
// kConfig if `map` has no column names: set binlog_row_metadata=FULL on the server, or read the
// names from information_schema.COLUMNS and pass them in with applyTableSchema().
Result<RowsEvent> decodeRowsEvent(std::uint8_t event_type, std::span<const std::uint8_t> body,
                                  const TableMap& map);

// MySQL's binary JSON (the value of a type-245 column) as JSON text. An empty value is the
// JSON null literal, as MySQL reads it.
Result<std::string> jsonBinaryToText(std::span<const std::uint8_t> data);

// The common event header (v4, 19 bytes) and an event's body.
struct EventHeader {
  std::uint32_t timestamp = 0;
  std::uint8_t type = 0;
  std::uint32_t server_id = 0;
  std::uint32_t event_length = 0;   // header + body + checksum
  std::uint32_t next_position = 0;  // end_log_pos; 0 inside MariaDB 11.4 transactions
  std::uint16_t flags = 0;
};
struct EventView {
  EventHeader header;
  std::span<const std::uint8_t> body;  // points into the input
};
// Splits a whole event (as it sits in the binlog, without the network OK byte). The length
// must equal the header's event_length; with `has_checksum` (binlog_checksum=CRC32) the last 4
// bytes are dropped, not verified.
Result<EventView> splitEvent(std::span<const std::uint8_t> event, bool has_checksum);

// Where the rows came from, copied into every ChangeEvent.
struct ChangeContext {
  std::string source;    // configured source name
  std::string position;  // opaque position the connector will resume from
  std::chrono::system_clock::time_point commit_ts{};
  std::string txid;
};

// A ChangeEvent plus the schema its table lives in (ChangeEvent::table is the bare name).
struct BinlogChange {
  std::string schema;
  ChangeEvent event;
};

// The primary key of `row` as ChangeEvent::pk wants it: key column values as text joined with
// '|'. Fails if the table map has no primary key or the row image lacks a key column.
Result<std::string> primaryKeyText(const TableMap& map, const Row& row);

// One ChangeEvent per row: write → insert (after), update → update (before, after),
// delete → delete (before). The pk is read from the after image, or the before image for a
// delete.
Result<std::vector<BinlogChange>> toChangeEvents(const TableMap& map, const RowsEvent& rows,
                                                 const ChangeContext& context);

}  // namespace smsbridge::mysql
