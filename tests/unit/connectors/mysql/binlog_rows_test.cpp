// Decoding of binlog TABLE_MAP and ROWS events. Two kinds of fixtures: whole events captured
// from a real MariaDB 10.11 (binlog_row_metadata=FULL, CRC32 checksums; see the table below),
// and events built byte by byte for what that server never writes: MySQL's V2 rows events,
// binary JSON, MySQL's signedness rules, legacy temporal types and malformed input.

#include "connectors/mysql/binlog_rows.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace smsbridge::mysql {
namespace {

using ::testing::HasSubstr;

std::vector<std::uint8_t> fromHex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    return static_cast<std::uint8_t>(c - 'a' + 10);
  };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

// Builds binlog bytes: little-endian unless said otherwise, as the format is.
class ByteBuilder {
 public:
  ByteBuilder() = default;
  ByteBuilder(std::initializer_list<unsigned> bytes) { raw(bytes); }

  ByteBuilder& raw(std::initializer_list<unsigned> bytes) {
    for (unsigned b : bytes) data_.push_back(static_cast<std::uint8_t>(b));
    return *this;
  }
  ByteBuilder& raw(std::span<const std::uint8_t> bytes) {
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  ByteBuilder& raw(const ByteBuilder& other) { return raw(other.data()); }
  ByteBuilder& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) data_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  ByteBuilder& be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) data_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  ByteBuilder& lenenc(std::uint64_t v) {
    if (v < 0xfb) return le(v, 1);
    if (v <= 0xffff) return le(0xfc, 1).le(v, 2);
    if (v <= 0xffffff) return le(0xfd, 1).le(v, 3);
    return le(0xfe, 1).le(v, 8);
  }
  ByteBuilder& str(std::string_view s) {
    data_.insert(data_.end(), s.begin(), s.end());
    return *this;
  }
  ByteBuilder& lenencStr(std::string_view s) { return lenenc(s.size()).str(s); }
  // One optional-metadata field: type, length-encoded length, value.
  ByteBuilder& tlv(unsigned type, const ByteBuilder& value) {
    return le(type, 1).lenenc(value.size()).raw(value);
  }

  const std::vector<std::uint8_t>& data() const { return data_; }
  std::size_t size() const { return data_.size(); }
  operator std::span<const std::uint8_t>() const { return data_; }  // NOLINT

 private:
  std::vector<std::uint8_t> data_;
};

constexpr std::uint8_t kWriteV1 = 23;
constexpr std::uint8_t kUpdateV1 = 24;
constexpr std::uint8_t kDeleteV1 = 25;
constexpr std::uint8_t kWriteV2 = 30;
constexpr std::uint8_t kUpdateV2 = 31;
constexpr std::uint8_t kDeleteV2 = 32;
constexpr std::uint64_t kTableId = 0x010203040506;

struct ColumnSpec {
  std::uint8_t type;
  ByteBuilder meta;
  std::string name;
  bool nullable = true;
};

ByteBuilder namesField(const std::vector<ColumnSpec>& columns) {
  ByteBuilder names;
  for (const auto& c : columns) names.lenencStr(c.name);
  return ByteBuilder().tlv(4, names);
}

// A TABLE_MAP body for shop.orders; `optional` is appended after the null bitmap.
ByteBuilder tableMapBody(const std::vector<ColumnSpec>& columns, const ByteBuilder& optional,
                         std::string_view schema = "shop", std::string_view table = "orders") {
  ByteBuilder b;
  b.le(kTableId, 6).le(1, 2);
  b.le(schema.size(), 1).str(schema).le(0, 1);
  b.le(table.size(), 1).str(table).le(0, 1);
  b.lenenc(columns.size());
  for (const auto& c : columns) b.le(c.type, 1);
  ByteBuilder meta;
  for (const auto& c : columns) meta.raw(c.meta);
  b.lenenc(meta.size()).raw(meta);
  std::vector<std::uint8_t> nulls((columns.size() + 7) / 8);
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].nullable) nulls[i / 8] |= static_cast<std::uint8_t>(1 << (i % 8));
  }
  b.raw(nulls);
  b.raw(optional);
  return b;
}

TableMap mustParse(std::span<const std::uint8_t> body, ServerFlavor flavor = ServerFlavor::kMySql) {
  auto map = parseTableMap(body, flavor);
  EXPECT_TRUE(map.has_value()) << map.error().toString();
  return map.has_value() ? *map : TableMap{};
}

// A rows event body: post-header (+ V2 extra data), column count, bitmaps, row bytes.
ByteBuilder rowsBody(std::uint8_t event_type, std::size_t column_count,
                     std::initializer_list<unsigned> present, const ByteBuilder& rows,
                     std::optional<std::initializer_list<unsigned>> present_after = std::nullopt,
                     const ByteBuilder& extra = {}) {
  ByteBuilder b;
  b.le(kTableId, 6).le(1, 2);
  if (event_type >= 30) b.le(extra.size() + 2, 2).raw(extra);
  b.lenenc(column_count).raw(present);
  if (present_after) b.raw(*present_after);
  b.raw(rows);
  return b;
}

// Decodes one value of one column `v` through a whole TABLE_MAP + WRITE_ROWS round.
Result<Value> decodeOne(const ColumnSpec& spec, const ByteBuilder& value,
                        const ByteBuilder& more_metadata = {},
                        ServerFlavor flavor = ServerFlavor::kMySql) {
  std::vector<ColumnSpec> columns = {spec};
  columns[0].name = "v";
  ByteBuilder optional = namesField(columns);
  optional.raw(more_metadata);
  auto map = parseTableMap(tableMapBody(columns, optional), flavor);
  if (!map) return map.error();
  auto rows =
      decodeRowsEvent(kWriteV1, rowsBody(kWriteV1, 1, {0x01}, ByteBuilder{0x00}.raw(value)), *map);
  if (!rows) return rows.error();
  if (rows->rows.size() != 1) return internalError("expected exactly one row");
  return *rows->rows[0].after->find("v");
}

Value mustDecodeOne(const ColumnSpec& spec, const ByteBuilder& value,
                    const ByteBuilder& more_metadata = {},
                    ServerFlavor flavor = ServerFlavor::kMySql) {
  auto v = decodeOne(spec, value, more_metadata, flavor);
  EXPECT_TRUE(v.has_value()) << v.error().toString();
  return v.has_value() ? *v : Value(UnavailableValue{});
}

const ByteBuilder kUnsigned = ByteBuilder().tlv(1, ByteBuilder{0x80});

// ---- Real MariaDB 10.11.19 events ------------------------------------------------------------
//
// Captured with binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL,
// binlog_checksum=CRC32 from:
//
//   SET time_zone='+02:00';
//   CREATE TABLE golden (
//    id INT NOT NULL, lang CHAR(2) NOT NULL,
//    ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT,
//    mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
//    dc DECIMAL(14,4), dn DECIMAL(30,10), f FLOAT, d DOUBLE,
//    vc VARCHAR(20), vl VARCHAR(300), ch CHAR(100), bn BINARY(4),
//    en ENUM('new','paid','shipped'), st SET('a','b','c','d'),
//    tx TEXT, bl BLOB, js JSON,
//    dt DATE, tm TIME, tm2 TIME(2), tm6 TIME(6), dtm DATETIME, dtm3 DATETIME(3),
//    ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL,
//    yr YEAR, b1 BIT(1), b12 BIT(12), b64 BIT(64),
//    PRIMARY KEY (id, lang));
//   INSERT INTO golden VALUES (1, 'en', -128, 255, -32768, 65535, -8388608, 16777215,
//    -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
//    1234567890.1234, -12345678901234567890.0123456789, 1.1, -2.5e-300,
//    'zażółć', REPEAT('x', 300), 'Ünïcode ✓', 'ab\0c', 'paid', 'a,c,d', 'line1\nline2',
//    X'00FF10', '{"k": [1, "two", null, true, 2.5]}', '2024-02-29', '-838:59:59',
//    '12:34:56.78', '-00:00:01.500001', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999',
//    '2024-05-06 12:00:00', '2038-01-19 05:14:07.123456', 2155, b'1', b'101010101010',
//    b'1111111111111111111111111111111111111111111111111111111111111111');
//   INSERT INTO golden (id, lang) VALUES (2, 'pl');
//   UPDATE golden SET ti = 7, vc = 'changed', en = 'shipped', ts = NULL WHERE id = 1;
//   SET SESSION binlog_row_image = MINIMAL;
//   UPDATE golden SET si = 42 WHERE id = 2;
//   DELETE FROM golden WHERE id = 2;
//   SET SESSION binlog_row_image = FULL;
//   DELETE FROM golden WHERE id = 1;
//
// Each constant is one whole event: 19-byte header, body, CRC32.

// binlog position 4498, event type 19, 306 bytes
constexpr std::string_view kGoldenTableMap =
    "188a026b130100000032010000c4120000000018000000000001000e736d736272696467655f746573740006"
    "676f6c64656e002503fe01010202090903030808f6f604050f0ffefefefefcfcfc0a131313121211110d1010"
    "1024fe080e041e0a04085000b004ee90fe04f701f80102020400020600030006010004010008fcffffff1f01"
    "022aa10207e0043f063f072e0476026964046c616e67027469027475027369027375026d69026d7501690269"
    "7502626902627502646302646e0166016402766302766c02636802626e02656e02737402747802626c026a73"
    "02647402746d03746d3203746d360364746d0464746d33027473037473360279720262310362313203623634"
    "0a01e00509040161016201630164061203036e657704706169640773686970706564080200017b19e15b";
// binlog position 4804, event type 23, 560 bytes
constexpr std::string_view kGoldenWriteFull =
    "188a026b170100000030020000f41400000000180000000000010025ffffffff1f00000000e0010000000265"
    "6e80ff0080ffff000080ffffff00000080ffffffff0000000000000080ffffffffffffffff810dfb38d204d2"
    "73eb655bcaf204c72dff439eb1f6cdcc8c3f2f30b7b3a7c9ba810a7a61c5bcc3b3c582c4872c017878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "787878787878787878787878787878787878787878787878787878787878780d00c39c6ec3af636f646520e2"
    "9c930461620063020d0b006c696e65310a6c696e6532030000ff10220000007b226b223a205b312c20227477"
    "6f222c206e756c6c2c20747275652c20322e355d7d5dd00f4b910580c8b84e7ffffef85edf8cb2420000fef3"
    "ff7efb27066638aa207fffffff01e240ff010aaaffffffffffffffff8be16f64";
// binlog position 5812, event type 23, 49 bytes
constexpr std::string_view kGoldenWriteNulls =
    "188a026b170100000031000000e51600000000180000000000010025ffffffff1ffcffffffff020000000270"
    "6cecce310a";
// binlog position 6343, event type 24, 1081 bytes
constexpr std::string_view kGoldenUpdateFull =
    "188a026b180100000039040000001d00000000180000000000010025ffffffff1fffffffff1f00000000e001"
    "00000002656e80ff0080ffff000080ffffff00000080ffffffff0000000000000080ffffffffffffffff810d"
    "fb38d204d273eb655bcaf204c72dff439eb1f6cdcc8c3f2f30b7b3a7c9ba810a7a61c5bcc3b3c582c4872c01"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878780d00c39c6ec3af63"
    "6f646520e29c930461620063020d0b006c696e65310a6c696e6532030000ff10220000007b226b223a205b31"
    "2c202274776f222c206e756c6c2c20747275652c20322e355d7d5dd00f4b910580c8b84e7ffffef85edf8cb2"
    "420000fef3ff7efb27066638aa207fffffff01e240ff010aaaffffffffffffffff00000080e0010000000265"
    "6e07ff0080ffff000080ffffff00000080ffffffff0000000000000080ffffffffffffffff810dfb38d204d2"
    "73eb655bcaf204c72dff439eb1f6cdcc8c3f2f30b7b3a7c9ba81076368616e6765642c017878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "787878787878787878787878787878787878787878787878787878780d00c39c6ec3af636f646520e29c9304"
    "61620063030d0b006c696e65310a6c696e6532030000ff10220000007b226b223a205b312c202274776f222c"
    "206e756c6c2c20747275652c20322e355d7d5dd00f4b910580c8b84e7ffffef85edf8cb2420000fef3ff7efb"
    "27067fffffff01e240ff010aaaffffffffffffffffec04a171";
// binlog position 7864, event type 24, 53 bytes
constexpr std::string_view kGoldenUpdateMinimal =
    "188a026b180100000035000000ed1e0000000018000000000001002503000000001000000000fc0200000002"
    "706cfe2a00ad7fb65e";
// binlog position 8350, event type 25, 45 bytes
constexpr std::string_view kGoldenDeleteMinimal =
    "188a026b19010000002d000000cb20000000001800000000000100250300000000fc0200000002706cb3e864"
    "ab";
// binlog position 8828, event type 25, 553 bytes
constexpr std::string_view kGoldenDeleteFull =
    "188a026b190100000029020000a52400000000180000000000010025ffffffff1f00000080e0010000000265"
    "6e07ff0080ffff000080ffffff00000080ffffffff0000000000000080ffffffffffffffff810dfb38d204d2"
    "73eb655bcaf204c72dff439eb1f6cdcc8c3f2f30b7b3a7c9ba81076368616e6765642c017878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "787878787878787878787878787878787878787878787878787878780d00c39c6ec3af636f646520e29c9304"
    "61620063030d0b006c696e65310a6c696e6532030000ff10220000007b226b223a205b312c202274776f222c"
    "206e756c6c2c20747275652c20322e355d7d5dd00f4b910580c8b84e7ffffef85edf8cb2420000fef3ff7efb"
    "27067fffffff01e240ff010aaaffffffffffffffff078be5a0";

std::vector<std::uint8_t> goldenBody(std::string_view hex, std::vector<std::uint8_t>& storage) {
  storage = fromHex(hex);
  auto event = splitEvent(storage, /*has_checksum=*/true);
  EXPECT_TRUE(event.has_value()) << event.error().toString();
  return event.has_value() ? std::vector<std::uint8_t>(event->body.begin(), event->body.end())
                           : std::vector<std::uint8_t>{};
}

TableMap goldenTableMap() {
  std::vector<std::uint8_t> storage;
  return mustParse(goldenBody(kGoldenTableMap, storage), ServerFlavor::kMariaDb);
}

RowsEvent goldenRows(std::string_view hex) {
  std::vector<std::uint8_t> storage = fromHex(hex);
  auto event = splitEvent(storage, true);
  EXPECT_TRUE(event.has_value()) << event.error().toString();
  if (!event) return {};
  auto rows = decodeRowsEvent(event->header.type, event->body, goldenTableMap());
  EXPECT_TRUE(rows.has_value()) << rows.error().toString();
  return rows.has_value() ? *rows : RowsEvent{};
}

// Row 1 as inserted, in column order; TIMESTAMPs in UTC.
Row goldenRowOne() {
  return Row{{"id", 1},
             {"lang", "en"},
             {"ti", -128},
             {"tu", 255},
             {"si", -32768},
             {"su", 65535},
             {"mi", -8388608},
             {"mu", 16777215},
             {"i", std::int64_t{-2147483648LL}},
             {"iu", std::int64_t{4294967295LL}},
             {"bi", std::numeric_limits<std::int64_t>::min()},
             {"bu", "18446744073709551615"},
             {"dc", "1234567890.1234"},
             {"dn", "-12345678901234567890.0123456789"},
             {"f", 1.1},
             {"d", -2.5e-300},
             {"vc", "zażółć"},
             {"vl", std::string(300, 'x')},
             {"ch", "Ünïcode ✓"},
             {"bn", std::string("ab\0c", 4)},
             {"en", "paid"},
             {"st", "a,c,d"},
             {"tx", "line1\nline2"},
             {"bl", std::string("\x00\xff\x10", 3)},
             {"js", R"({"k": [1, "two", null, true, 2.5]})"},
             {"dt", "2024-02-29"},
             {"tm", "-838:59:59"},
             {"tm2", "12:34:56.78"},
             {"tm6", "-00:00:01.500001"},
             {"dtm", "1000-01-01 00:00:00"},
             {"dtm3", "9999-12-31 23:59:59.999"},
             {"ts", "2024-05-06 10:00:00"},
             {"ts6", "2038-01-19 03:14:07.123456"},
             {"yr", 2155},
             {"b1", 1},
             {"b12", 0b101010101010},
             {"b64", "18446744073709551615"}};
}

void expectRowsEqual(const Row& actual, const Row& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, value] = expected.columns()[i];
    EXPECT_EQ(actual.columns()[i].first, name);
    EXPECT_EQ(actual.columns()[i].second, value)
        << name << ": got " << actual.columns()[i].second.toDebugString() << ", want "
        << value.toDebugString();
  }
}

TEST(BinlogGoldenTest, TableMapCarriesFullMetadata) {
  const TableMap map = goldenTableMap();
  EXPECT_EQ(map.table_id, 24u);
  EXPECT_EQ(map.schema, "smsbridge_test");
  EXPECT_EQ(map.table, "golden");
  ASSERT_EQ(map.columns.size(), 37u);
  EXPECT_TRUE(map.has_names);
  EXPECT_TRUE(map.has_signedness);
  EXPECT_TRUE(map.has_members);
  ASSERT_EQ(map.primary_key.size(), 2u);
  EXPECT_EQ(map.primary_key[0].column, 0u);
  EXPECT_EQ(map.primary_key[1].column, 1u);

  auto column = [&](std::string_view name) -> const Column& {
    for (const auto& c : map.columns) {
      if (c.name == name) return c;
    }
    ADD_FAILURE() << "no column " << name;
    return map.columns[0];
  };
  EXPECT_FALSE(column("id").nullable);
  EXPECT_TRUE(column("ti").nullable);
  EXPECT_FALSE(column("ti").is_unsigned);
  EXPECT_TRUE(column("tu").is_unsigned);
  EXPECT_TRUE(column("bu").is_unsigned);
  EXPECT_FALSE(column("dc").is_unsigned);
  // MariaDB counts YEAR among the numeric columns of the signedness field (always unsigned).
  EXPECT_TRUE(column("yr").is_unsigned);
  EXPECT_EQ(column("ch").type, ColumnType::kString);
  EXPECT_EQ(column("ch").max_length, 400u);  // CHAR(100) utf8mb4: length bits in the type byte
  EXPECT_EQ(column("vl").max_length, 1200u);
  EXPECT_EQ(column("en").type, ColumnType::kEnum);
  EXPECT_EQ(column("en").binlog_type, 254);
  EXPECT_EQ(column("en").members, (std::vector<std::string>{"new", "paid", "shipped"}));
  EXPECT_EQ(column("st").type, ColumnType::kSet);
  EXPECT_EQ(column("st").members, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(column("js").type, ColumnType::kBlob);  // MariaDB JSON is LONGTEXT
  EXPECT_EQ(column("js").length_bytes, 4);
  EXPECT_EQ(column("tm").type, ColumnType::kTime2);
  EXPECT_EQ(column("tm6").fsp, 6);
  EXPECT_EQ(column("dtm3").type, ColumnType::kDatetime2);
  EXPECT_EQ(column("ts6").type, ColumnType::kTimestamp2);
  EXPECT_EQ(column("dn").precision, 30);
  EXPECT_EQ(column("dn").scale, 10);
  EXPECT_EQ(column("b12").bits, 12);
  // DEFAULT_CHARSET: utf8mb4_unicode_ci (224) except BINARY/BLOB (63) and JSON (46).
  EXPECT_EQ(column("vc").collation, 224u);
  EXPECT_EQ(column("bn").collation, 63u);
  EXPECT_EQ(column("bl").collation, 63u);
  EXPECT_EQ(column("js").collation, 46u);
  EXPECT_EQ(column("en").collation, 224u);
  EXPECT_EQ(column("id").collation, std::nullopt);
}

TEST(BinlogGoldenTest, WriteRowsDecodesEveryType) {
  const RowsEvent rows = goldenRows(kGoldenWriteFull);
  EXPECT_EQ(rows.header.kind, RowsKind::kWrite);
  EXPECT_EQ(rows.header.version, 1);
  EXPECT_TRUE(rows.header.statementEnd());
  ASSERT_EQ(rows.rows.size(), 1u);
  EXPECT_FALSE(rows.rows[0].before.has_value());
  ASSERT_TRUE(rows.rows[0].after.has_value());
  expectRowsEqual(*rows.rows[0].after, goldenRowOne());
}

TEST(BinlogGoldenTest, WriteRowsWithNulls) {
  const RowsEvent rows = goldenRows(kGoldenWriteNulls);
  ASSERT_EQ(rows.rows.size(), 1u);
  const Row& row = *rows.rows[0].after;
  ASSERT_EQ(row.size(), 37u);
  EXPECT_EQ(*row.find("id"), Value(2));
  EXPECT_EQ(*row.find("lang"), Value("pl"));
  for (std::size_t i = 2; i < row.size(); ++i) {
    EXPECT_TRUE(row.columns()[i].second.isNull()) << row.columns()[i].first;
  }
}

TEST(BinlogGoldenTest, UpdateRowsCarriesBothImages) {
  const RowsEvent rows = goldenRows(kGoldenUpdateFull);
  EXPECT_EQ(rows.header.kind, RowsKind::kUpdate);
  ASSERT_EQ(rows.rows.size(), 1u);
  ASSERT_TRUE(rows.rows[0].before && rows.rows[0].after);
  expectRowsEqual(*rows.rows[0].before, goldenRowOne());
  Row after = goldenRowOne();
  after.set("ti", 7);
  after.set("vc", "changed");
  after.set("en", "shipped");
  after.set("ts", NullValue{});
  expectRowsEqual(*rows.rows[0].after, after);
}

TEST(BinlogGoldenTest, MinimalImagesLeaveOtherColumnsUnavailable) {
  const RowsEvent update = goldenRows(kGoldenUpdateMinimal);
  ASSERT_EQ(update.rows.size(), 1u);
  const Row& before = *update.rows[0].before;
  const Row& after = *update.rows[0].after;
  ASSERT_EQ(before.size(), 37u);
  ASSERT_EQ(after.size(), 37u);
  EXPECT_EQ(*before.find("id"), Value(2));
  EXPECT_EQ(*before.find("lang"), Value("pl"));
  EXPECT_TRUE(before.find("si")->isUnavailable());
  EXPECT_TRUE(after.find("id")->isUnavailable());
  EXPECT_EQ(*after.find("si"), Value(42));
  EXPECT_TRUE(after.find("ti")->isUnavailable());

  const RowsEvent deleted = goldenRows(kGoldenDeleteMinimal);
  ASSERT_EQ(deleted.rows.size(), 1u);
  EXPECT_FALSE(deleted.rows[0].after.has_value());
  EXPECT_EQ(*deleted.rows[0].before->find("lang"), Value("pl"));
  EXPECT_TRUE(deleted.rows[0].before->find("vc")->isUnavailable());
}

TEST(BinlogGoldenTest, DeleteRowsBecomeChangeEvents) {
  const TableMap map = goldenTableMap();
  const RowsEvent rows = goldenRows(kGoldenDeleteFull);
  ChangeContext context{"shop", "binlog.000001:9412", std::chrono::system_clock::time_point{},
                        "0-1-18"};
  auto events = toChangeEvents(map, rows, context);
  ASSERT_TRUE(events.has_value()) << events.error().toString();
  ASSERT_EQ(events->size(), 1u);
  const BinlogChange& change = (*events)[0];
  EXPECT_EQ(change.schema, "smsbridge_test");
  EXPECT_EQ(change.event.table, "golden");
  EXPECT_EQ(change.event.source, "shop");
  EXPECT_EQ(change.event.op, Op::kDelete);
  EXPECT_EQ(change.event.pk, "1|en");
  EXPECT_EQ(change.event.position, "binlog.000001:9412");
  EXPECT_EQ(change.event.txid, "0-1-18");
  EXPECT_FALSE(change.event.after.has_value());
  ASSERT_TRUE(change.event.before.has_value());
  EXPECT_EQ(*change.event.before->find("vc"), Value("changed"));

  // The MINIMAL delete still carries the key, so its pk is known.
  auto minimal = toChangeEvents(map, goldenRows(kGoldenDeleteMinimal), context);
  ASSERT_TRUE(minimal.has_value()) << minimal.error().toString();
  EXPECT_EQ((*minimal)[0].event.pk, "2|pl");
  // The MINIMAL update's after image has only `si`: no key to read.
  auto no_key = toChangeEvents(map, goldenRows(kGoldenUpdateMinimal), context);
  ASSERT_FALSE(no_key.has_value());
  EXPECT_THAT(no_key.error().message(), HasSubstr("primary key column 'id' is not in the row"));
}

TEST(BinlogGoldenTest, EveryTruncatedEventFails) {
  for (std::string_view hex : {kGoldenTableMap, kGoldenWriteFull, kGoldenUpdateFull,
                               kGoldenUpdateMinimal, kGoldenDeleteFull}) {
    const std::vector<std::uint8_t> event = fromHex(hex);
    for (std::size_t n = 0; n < event.size(); ++n) {
      auto cut = splitEvent(std::span(event).first(n), true);
      EXPECT_FALSE(cut.has_value()) << n;
    }
  }
}

TEST(BinlogGoldenTest, EveryTruncatedRowsBodyFails) {
  // A rows body ends where its last row ends, so a cut body is caught by the row decoder itself
  // for single-row events (a cut at a row boundary of a multi-row event would be a valid event
  // with fewer rows; splitEvent's length check catches that).
  const TableMap map = goldenTableMap();
  for (std::string_view hex : {kGoldenWriteFull, kGoldenWriteNulls, kGoldenUpdateFull,
                               kGoldenUpdateMinimal, kGoldenDeleteMinimal, kGoldenDeleteFull}) {
    std::vector<std::uint8_t> storage;
    const std::vector<std::uint8_t> body = goldenBody(hex, storage);
    const std::uint8_t type = storage[4];
    for (std::size_t n = 0; n < body.size(); ++n) {
      auto rows = decodeRowsEvent(type, std::span(body).first(n), map);
      // A body cut right after the bitmaps is a valid event with no rows.
      if (rows.has_value()) {
        EXPECT_TRUE(rows->rows.empty()) << "prefix " << n << " of event type " << int(type);
        continue;
      }
      EXPECT_EQ(rows.error().category(), ErrorCategory::kInternal) << rows.error().message();
    }
  }
}

TEST(BinlogGoldenTest, CorruptedBytesAreDecodedOrRejectedNeverOverread) {
  // Every single-byte corruption of real events: the decoder may accept the bytes (many are
  // plain data) but must never read past them. Meaningful under ASan; cheap everywhere.
  std::vector<std::uint8_t> storage;
  const std::vector<std::uint8_t> map_body = goldenBody(kGoldenTableMap, storage);
  const TableMap map = goldenTableMap();
  for (std::string_view hex : {kGoldenWriteFull, kGoldenUpdateFull, kGoldenUpdateMinimal}) {
    std::vector<std::uint8_t> rows_storage;
    const std::vector<std::uint8_t> body = goldenBody(hex, rows_storage);
    const std::uint8_t type = rows_storage[4];
    for (std::size_t i = 0; i < body.size(); ++i) {
      for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
        std::vector<std::uint8_t> bad = body;
        bad[i] ^= flip;
        (void)decodeRowsEvent(type, bad, map);
      }
    }
  }
  std::size_t rejected = 0;
  for (std::size_t i = 0; i < map_body.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      std::vector<std::uint8_t> bad = map_body;
      bad[i] ^= flip;
      rejected += parseTableMap(bad, ServerFlavor::kMariaDb).has_value() ? 0 : 1;
    }
  }
  EXPECT_GT(rejected, map_body.size());
}

TEST(BinlogGoldenTest, TruncatedTableMapFailsOrLosesOnlyOptionalMetadata) {
  std::vector<std::uint8_t> storage;
  const std::vector<std::uint8_t> body = goldenBody(kGoldenTableMap, storage);
  std::size_t parsed = 0;
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto map = parseTableMap(std::span(body).first(n), ServerFlavor::kMariaDb);
    if (!map) continue;
    // Only a cut between two optional-metadata fields parses; what it lost is reported.
    ++parsed;
    EXPECT_FALSE(map->has_names && map->has_members && map->has_primary_key) << n;
  }
  EXPECT_GT(parsed, 0u);
  EXPECT_LT(parsed, 8u);
}

// ---- TABLE_MAP ------------------------------------------------------------------------------

TEST(BinlogTableMapTest, PeekReadsIdentityOnly) {
  // Type 140 (MariaDB compressed VARCHAR) is not decodable, but the identity still is.
  auto body = tableMapBody({{140, ByteBuilder{0x10, 0x00}, "c"}}, {}, "crm", "notes");
  auto head = peekTableMap(body);
  ASSERT_TRUE(head.has_value()) << head.error().toString();
  EXPECT_EQ(head->table_id, kTableId);
  EXPECT_EQ(head->schema, "crm");
  EXPECT_EQ(head->table, "notes");

  auto map = parseTableMap(body, ServerFlavor::kMariaDb);
  ASSERT_FALSE(map.has_value());
  EXPECT_EQ(map.error().category(), ErrorCategory::kConfig);
  EXPECT_THAT(map.error().message(), HasSubstr("crm.notes"));
  EXPECT_THAT(map.error().message(), HasSubstr("type 140"));
}

TEST(BinlogTableMapTest, UnknownColumnTypeIsAnExplicitError) {
  auto map =
      parseTableMap(tableMapBody({{3, {}, "id"}, {200, {}, "odd"}}, {}), ServerFlavor::kMySql);
  ASSERT_FALSE(map.has_value());
  EXPECT_EQ(map.error().category(), ErrorCategory::kConfig);
  EXPECT_THAT(map.error().message(), HasSubstr("column 2 has type type 200"));
}

TEST(BinlogTableMapTest, SignednessCountsYearOnlyOnMariaDb) {
  // INT UNSIGNED, YEAR, TINYINT UNSIGNED: MariaDB lists three numeric columns, MySQL two.
  const std::vector<ColumnSpec> columns = {{3, {}, "a"}, {13, {}, "y"}, {1, {}, "b"}};
  const ByteBuilder mariadb = namesField(columns).tlv(1, ByteBuilder{0b1110'0000});
  const ByteBuilder mysql = namesField(columns).tlv(1, ByteBuilder{0b1100'0000});
  const TableMap m = mustParse(tableMapBody(columns, mariadb), ServerFlavor::kMariaDb);
  const TableMap y = mustParse(tableMapBody(columns, mysql), ServerFlavor::kMySql);
  for (const TableMap* map : {&m, &y}) {
    ASSERT_EQ(map->columns.size(), 3u);
    EXPECT_TRUE(map->columns[0].is_unsigned);
    EXPECT_TRUE(map->columns[2].is_unsigned);
  }
  // Nine numeric columns need two bytes; one byte is malformed, whichever flavour.
  std::vector<ColumnSpec> nine(9, {3, {}, "n"});
  for (std::size_t i = 0; i < nine.size(); ++i) nine[i].name = "n" + std::to_string(i);
  auto bad = parseTableMap(tableMapBody(nine, namesField(nine).tlv(1, ByteBuilder{0xff})),
                           ServerFlavor::kMySql);
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("signedness field has 1 bytes for 9 numeric"));
}

TEST(BinlogTableMapTest, CharsetsFollowTheFlavoursCharacterColumns) {
  // VARCHAR, GEOMETRY, BLOB: MariaDB lists a charset for GEOMETRY, MySQL does not.
  const std::vector<ColumnSpec> columns = {{15, ByteBuilder{0x50, 0x00}, "name"},
                                           {255, ByteBuilder{0x04}, "loc"},
                                           {252, ByteBuilder{0x02}, "note"}};
  const TableMap m =
      mustParse(tableMapBody(columns, namesField(columns).tlv(3, ByteBuilder{224, 63, 45})),
                ServerFlavor::kMariaDb);
  EXPECT_EQ(m.columns[0].collation, 224u);
  EXPECT_EQ(m.columns[1].collation, 63u);
  EXPECT_EQ(m.columns[2].collation, 45u);
  const TableMap y =
      mustParse(tableMapBody(columns, namesField(columns).tlv(3, ByteBuilder{224, 45})),
                ServerFlavor::kMySql);
  EXPECT_EQ(y.columns[0].collation, 224u);
  EXPECT_EQ(y.columns[1].collation, std::nullopt);
  EXPECT_EQ(y.columns[2].collation, 45u);
  // A list that does not fit the character columns is not guessed at.
  const TableMap odd = mustParse(
      tableMapBody(columns, namesField(columns).tlv(3, ByteBuilder{224})), ServerFlavor::kMySql);
  EXPECT_EQ(odd.columns[0].collation, std::nullopt);
  EXPECT_TRUE(odd.has_names);
}

TEST(BinlogTableMapTest, PrimaryKeyWithPrefix) {
  const std::vector<ColumnSpec> columns = {{252, ByteBuilder{0x02}, "sku"}, {3, {}, "shop_id"}};
  // PRIMARY KEY (shop_id, sku(10))
  const TableMap map =
      mustParse(tableMapBody(columns, namesField(columns).tlv(9, ByteBuilder{1, 0, 0, 10})));
  ASSERT_EQ(map.primary_key.size(), 2u);
  EXPECT_EQ(map.primary_key[0].column, 1u);
  EXPECT_EQ(map.primary_key[0].prefix, 0u);
  EXPECT_EQ(map.primary_key[1].column, 0u);
  EXPECT_EQ(map.primary_key[1].prefix, 10u);

  auto bad = parseTableMap(tableMapBody(columns, namesField(columns).tlv(8, ByteBuilder{2})),
                           ServerFlavor::kMySql);
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("primary key names column index 2"));
}

TEST(BinlogTableMapTest, UnknownOptionalFieldsAreSkipped) {
  const std::vector<ColumnSpec> columns = {{3, {}, "id"}};
  // 12 = MySQL's COLUMN_VISIBILITY, 99 = something newer still.
  const TableMap map = mustParse(tableMapBody(columns, ByteBuilder()
                                                           .tlv(12, ByteBuilder{0x80})
                                                           .tlv(99, ByteBuilder{1, 2, 3})
                                                           .raw(namesField(columns))));
  EXPECT_TRUE(map.has_names);
  EXPECT_EQ(map.columns[0].name, "id");
}

TEST(BinlogTableMapTest, MalformedMetadataIsReportedPrecisely) {
  // Metadata block longer than the column types use.
  ByteBuilder extra = tableMapBody({{3, ByteBuilder{0x00}, "id"}}, {});
  auto map = parseTableMap(extra, ServerFlavor::kMySql);
  ASSERT_FALSE(map.has_value());
  EXPECT_EQ(map.error().category(), ErrorCategory::kInternal);
  EXPECT_THAT(map.error().message(),
              HasSubstr("metadata block has 1 bytes, the column types use 0"));

  // Schema name without its NUL.
  ByteBuilder no_nul;
  no_nul.le(kTableId, 6).le(0, 2).le(4, 1).str("shopX");
  auto head = peekTableMap(no_nul);
  ASSERT_FALSE(head.has_value());
  EXPECT_THAT(head.error().message(), HasSubstr("schema name at offset 13 is not NUL-terminated"));

  // A column count larger than the event.
  ByteBuilder huge;
  huge.le(kTableId, 6).le(0, 2).le(1, 1).str("s").le(0, 1).le(1, 1).str("t").le(0, 1);
  huge.lenenc(1'000'000);
  auto big = parseTableMap(huge, ServerFlavor::kMySql);
  ASSERT_FALSE(big.has_value());
  EXPECT_THAT(big.error().message(), HasSubstr("column count at offset 14 is 1000000"));

  // Names for fewer columns than the table has.
  const std::vector<ColumnSpec> two = {{3, {}, "a"}, {3, {}, "b"}};
  auto short_names = parseTableMap(
      tableMapBody(two, ByteBuilder().tlv(4, ByteBuilder().lenencStr("a"))), ServerFlavor::kMySql);
  ASSERT_FALSE(short_names.has_value());
  EXPECT_THAT(short_names.error().message(), HasSubstr("1 column names for 2 columns"));

  // Impossible per-type metadata.
  for (const ColumnSpec& spec :
       {ColumnSpec{246, ByteBuilder{10, 11}, "d"}, ColumnSpec{17, ByteBuilder{7}, "t"},
        ColumnSpec{252, ByteBuilder{5}, "b"}, ColumnSpec{16, ByteBuilder{0, 9}, "bit"},
        ColumnSpec{254, ByteBuilder{0xf7, 3}, "e"}, ColumnSpec{254, ByteBuilder{0xfd, 3}, "x"},
        ColumnSpec{4, ByteBuilder{8}, "f"}}) {
    auto bad = parseTableMap(tableMapBody({spec}, {}), ServerFlavor::kMySql);
    EXPECT_FALSE(bad.has_value()) << columnTypeName(spec.type);
    if (!bad) {
      EXPECT_EQ(bad.error().category(), ErrorCategory::kInternal) << bad.error().message();
    }
  }
}

TEST(BinlogTableMapTest, ApplyTableSchemaFillsWhatTheMapLacks) {
  // binlog_row_metadata=MINIMAL: signedness only, no names, no members, no key.
  const std::vector<ColumnSpec> columns = {
      {3, {}, ""}, {254, ByteBuilder{0xf7, 0x01}, ""}, {8, {}, ""}};
  TableMap map = mustParse(tableMapBody(columns, ByteBuilder().tlv(1, ByteBuilder{0x40})));
  EXPECT_FALSE(map.has_names);
  EXPECT_TRUE(map.columns[2].is_unsigned);

  ByteBuilder row;
  row.raw({0x00}).le(7, 4).le(2, 1).le(0xffffffffffffffff, 8);
  const ByteBuilder event = rowsBody(kWriteV1, 3, {0x07}, row);
  auto without = decodeRowsEvent(kWriteV1, event, map);
  ASSERT_FALSE(without.has_value());
  EXPECT_EQ(without.error().category(), ErrorCategory::kConfig);
  EXPECT_THAT(without.error().message(), HasSubstr("information_schema"));
  EXPECT_THAT(without.error().message(), HasSubstr("applyTableSchema"));

  TableSchema schema;
  schema.columns = {
      {"id", false, {}, ""},
      {"status", false, {"new", "paid"}, ""},
      {"total", false, {}, ""}};  // signedness from the map wins: total stays unsigned
  schema.primary_key = {"id"};
  ASSERT_TRUE(applyTableSchema(map, schema).isOk());
  auto with = decodeRowsEvent(kWriteV1, event, map);
  ASSERT_TRUE(with.has_value()) << with.error().toString();
  EXPECT_EQ(*with->rows[0].after,
            (Row{{"id", 7}, {"status", "paid"}, {"total", "18446744073709551615"}}));
  auto pk = primaryKeyText(map, *with->rows[0].after);
  ASSERT_TRUE(pk.has_value());
  EXPECT_EQ(*pk, "7");

  // A schema of another table version is refused, not guessed at.
  TableSchema fewer;
  fewer.columns = {{"id", false, {}, ""}};
  TableMap again = map;
  Status drift = applyTableSchema(again, fewer);
  EXPECT_EQ(drift.category(), ErrorCategory::kSourceLost);
  EXPECT_THAT(drift.message(), HasSubstr("lists 1 columns, the binlog's TABLE_MAP has 3"));
  TableSchema renamed = schema;
  renamed.columns[1].name = "state";
  drift = applyTableSchema(again, renamed);
  EXPECT_EQ(drift.category(), ErrorCategory::kSourceLost);
  EXPECT_THAT(drift.message(), HasSubstr("'status' in the binlog but 'state'"));
  // Without names in the map, a changed type is what gives an altered table away.
  TableMap unnamed = map;
  unnamed.has_names = false;
  TableSchema retyped = schema;
  retyped.columns[0].data_type = "varchar";
  drift = applyTableSchema(unnamed, retyped);
  EXPECT_EQ(drift.category(), ErrorCategory::kSourceLost);
  EXPECT_THAT(drift.message(), HasSubstr("column 1 ('id') is"));
  EXPECT_THAT(drift.message(), HasSubstr("but varchar in information_schema"));
}

TEST(BinlogSchemaTest, DataTypesMatchTheirBinlogTypes) {
  EXPECT_TRUE(dataTypeMatches(ColumnType::kLong, "int"));
  EXPECT_TRUE(dataTypeMatches(ColumnType::kLong, "INT"));
  EXPECT_FALSE(dataTypeMatches(ColumnType::kLong, "bigint"));
  EXPECT_FALSE(dataTypeMatches(ColumnType::kVarchar, "int"));
  EXPECT_TRUE(dataTypeMatches(ColumnType::kBlob, "longtext"));
  EXPECT_TRUE(dataTypeMatches(ColumnType::kBlob, "json"));  // MariaDB JSON
  EXPECT_TRUE(dataTypeMatches(ColumnType::kJson, "json"));  // MySQL JSON
  EXPECT_TRUE(dataTypeMatches(ColumnType::kEnum, "enum"));
  EXPECT_FALSE(dataTypeMatches(ColumnType::kString, "enum"));
  EXPECT_TRUE(dataTypeMatches(ColumnType::kDatetime2, "datetime"));
  EXPECT_TRUE(dataTypeMatches(ColumnType::kString, "inet6"));  // a type we do not know
}

TEST(BinlogSchemaTest, ParsesEnumAndSetMembers) {
  EXPECT_EQ(parseColumnMembers("enum('new','it''s','a,b')"),
            (std::vector<std::string>{"new", "it's", "a,b"}));
  EXPECT_EQ(parseColumnMembers("set('x')"), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(parseColumnMembers("varchar(20)").empty());
}

// ---- Values ---------------------------------------------------------------------------------

TEST(BinlogValueTest, Integers) {
  EXPECT_EQ(mustDecodeOne({1, {}, ""}, ByteBuilder{0xff}), Value(-1));
  EXPECT_EQ(mustDecodeOne({1, {}, ""}, ByteBuilder{0xff}, kUnsigned), Value(255));
  EXPECT_EQ(mustDecodeOne({2, {}, ""}, ByteBuilder{0x00, 0x80}), Value(-32768));
  EXPECT_EQ(mustDecodeOne({2, {}, ""}, ByteBuilder{0xff, 0xff}, kUnsigned), Value(65535));
  EXPECT_EQ(mustDecodeOne({9, {}, ""}, ByteBuilder{0xfe, 0xff, 0xff}), Value(-2));
  EXPECT_EQ(mustDecodeOne({9, {}, ""}, ByteBuilder{0xff, 0xff, 0xff}, kUnsigned), Value(16777215));
  EXPECT_EQ(mustDecodeOne({3, {}, ""}, ByteBuilder().le(0x80000000, 4)),
            Value(std::int64_t{-2147483648LL}));
  EXPECT_EQ(mustDecodeOne({3, {}, ""}, ByteBuilder().le(0xffffffff, 4), kUnsigned),
            Value(std::int64_t{4294967295LL}));
  EXPECT_EQ(mustDecodeOne({8, {}, ""}, ByteBuilder().le(0x8000000000000000, 8)),
            Value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(mustDecodeOne({8, {}, ""}, ByteBuilder().le(0x7fffffffffffffff, 8), kUnsigned),
            Value(std::numeric_limits<std::int64_t>::max()));
  EXPECT_EQ(mustDecodeOne({8, {}, ""}, ByteBuilder().le(0x8000000000000000, 8), kUnsigned),
            Value("9223372036854775808"));
}

TEST(BinlogValueTest, Decimals) {
  const ColumnSpec d14_4{246, ByteBuilder{14, 4}, ""};
  // The server's own example (decimal.c): 1234567890.1234 and its negation.
  EXPECT_EQ(mustDecodeOne(d14_4, ByteBuilder{0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2}),
            Value("1234567890.1234"));
  EXPECT_EQ(mustDecodeOne(d14_4, ByteBuilder{0x7e, 0xf2, 0x04, 0xc7, 0x2d, 0xfb, 0x2d}),
            Value("-1234567890.1234"));
  // DECIMAL(4,2) 0.05, DECIMAL(5,0) -7, DECIMAL(10,2) 12.50 (real bytes).
  EXPECT_EQ(mustDecodeOne({246, ByteBuilder{4, 2}, ""}, ByteBuilder{0x80, 0x05}), Value("0.05"));
  EXPECT_EQ(mustDecodeOne({246, ByteBuilder{5, 0}, ""}, ByteBuilder{0x7f, 0xff, 0xf8}),
            Value("-7"));
  EXPECT_EQ(mustDecodeOne({246, ByteBuilder{10, 2}, ""}, ByteBuilder{0x80, 0, 0, 0x0c, 0x32}),
            Value("12.50"));
  // A group holding more than its digits is malformed.
  auto bad = decodeOne({246, ByteBuilder{4, 2}, ""}, ByteBuilder{0x80 | 100, 0x05});
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("group 100 does not fit 2 digits"));
}

TEST(BinlogValueTest, FloatsReadAsTheirShortestDecimal) {
  EXPECT_EQ(mustDecodeOne({4, ByteBuilder{4}, ""}, ByteBuilder{0xcd, 0xcc, 0x8c, 0x3f}),
            Value(1.1));
  EXPECT_EQ(mustDecodeOne({5, ByteBuilder{8}, ""}, ByteBuilder().le(0x4004000000000000, 8)),
            Value(2.5));
}

TEST(BinlogValueTest, Strings) {
  EXPECT_EQ(mustDecodeOne({15, ByteBuilder{0x50, 0x00}, ""}, ByteBuilder{2}.str("ok")),
            Value("ok"));
  EXPECT_EQ(mustDecodeOne({15, ByteBuilder{0x2c, 0x01}, ""}, ByteBuilder{2, 0}.str("zz")),
            Value("zz"));
  EXPECT_EQ(mustDecodeOne({253, ByteBuilder{0x10, 0x00}, ""}, ByteBuilder{1}.str("x")), Value("x"));
  EXPECT_EQ(mustDecodeOne({254, ByteBuilder{0xfe, 0x0c}, ""}, ByteBuilder{2}.str("ab")),
            Value("ab"));
  // CHAR(200) utf8mb4 = 800 bytes: 0xce = 0xfe ^ (0x300 >> 4), then a 2-byte length.
  EXPECT_EQ(mustDecodeOne({254, ByteBuilder{0xce, 0x20}, ""}, ByteBuilder{3, 0}.str("abc")),
            Value("abc"));
  for (unsigned bytes : {1u, 2u, 3u, 4u}) {
    EXPECT_EQ(mustDecodeOne({252, ByteBuilder{bytes}, ""}, ByteBuilder().le(2, bytes).str("hi")),
              Value("hi"));
  }
  // Longer than the column can hold.
  auto bad = decodeOne({15, ByteBuilder{0x05, 0x00}, ""}, ByteBuilder{6}.str("sixsix"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("VARCHAR value is 6 bytes long"));
}

TEST(BinlogValueTest, BinaryGetsItsTrailingZerosBack) {
  // MariaDB logs BINARY(4) 'a ' (stored 'a \0\0') as the 2 bytes "a "; SELECT returns all 4.
  const ColumnSpec binary{254, ByteBuilder{0xfe, 0x04}, ""};
  EXPECT_EQ(mustDecodeOne(binary, ByteBuilder{2}.str("a "), ByteBuilder().tlv(3, {63})),
            Value(std::string("a \0\0", 4)));
  // A CHAR in a text charset keeps what the binlog says; so does a column of unknown charset.
  EXPECT_EQ(mustDecodeOne(binary, ByteBuilder{2}.str("a "), ByteBuilder().tlv(3, {224})),
            Value("a "));
  EXPECT_EQ(mustDecodeOne(binary, ByteBuilder{2}.str("a ")), Value("a "));
}

TEST(BinlogValueTest, EnumAndSet) {
  const ColumnSpec enum_col{254, ByteBuilder{0xf7, 0x01}, ""};
  const ByteBuilder members =
      ByteBuilder().tlv(6, ByteBuilder{2, 3}.str("new").le(4, 1).str("paid"));
  EXPECT_EQ(mustDecodeOne(enum_col, ByteBuilder{2}, members), Value("paid"));
  EXPECT_EQ(mustDecodeOne(enum_col, ByteBuilder{0}, members), Value(""));
  EXPECT_EQ(mustDecodeOne(enum_col, ByteBuilder{2}), Value(2));  // no member names
  EXPECT_EQ(mustDecodeOne({254, ByteBuilder{0xf7, 0x02}, ""}, ByteBuilder{1, 0}, members),
            Value("new"));
  auto bad = decodeOne(enum_col, ByteBuilder{3}, members);
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("ENUM index 3 but the column has 2 members"));

  const ColumnSpec set_col{254, ByteBuilder{0xf8, 0x01}, ""};
  const ByteBuilder set_members =
      ByteBuilder().tlv(5, ByteBuilder{3, 1}.str("a").le(1, 1).str("b").le(1, 1).str("c"));
  EXPECT_EQ(mustDecodeOne(set_col, ByteBuilder{0b101}, set_members), Value("a,c"));
  EXPECT_EQ(mustDecodeOne(set_col, ByteBuilder{0}, set_members), Value(""));
  EXPECT_EQ(mustDecodeOne(set_col, ByteBuilder{0b101}), Value(5));
  auto extra_bit = decodeOne(set_col, ByteBuilder{0b1000}, set_members);
  ASSERT_FALSE(extra_bit.has_value());
  EXPECT_THAT(extra_bit.error().message(), HasSubstr("has bit 3 but the column has 3 members"));
}

TEST(BinlogValueTest, Temporal) {
  // DATE 2024-05-06 and the zero date.
  EXPECT_EQ(mustDecodeOne({10, {}, ""}, ByteBuilder().le(2024 << 9 | 5 << 5 | 6, 3)),
            Value("2024-05-06"));
  EXPECT_EQ(mustDecodeOne({10, {}, ""}, ByteBuilder{0, 0, 0}), Value("0000-00-00"));
  // TIMESTAMP2: seconds big-endian, UTC; fsp 3 keeps 3 digits; 0 is the zero timestamp.
  EXPECT_EQ(mustDecodeOne({17, ByteBuilder{0}, ""}, ByteBuilder{0x65, 0x53, 0xf1, 0x00}),
            Value("2023-11-14 22:13:20"));
  EXPECT_EQ(
      mustDecodeOne({17, ByteBuilder{3}, ""}, ByteBuilder{0x38, 0xbb, 0x0c, 0x00}.be(1230, 2)),
      Value("2000-02-29 00:00:00.123"));
  EXPECT_EQ(mustDecodeOne({17, ByteBuilder{1}, ""}, ByteBuilder{0, 0, 0, 0, 0}),
            Value("0000-00-00 00:00:00.0"));
  // DATETIME2 zero and fsp 1 (.5 is stored as 50 hundredths).
  EXPECT_EQ(mustDecodeOne({18, ByteBuilder{0}, ""}, ByteBuilder().be(0x8000000000, 5)),
            Value("0000-00-00 00:00:00"));
  const std::uint64_t ymdhms =
      ((std::uint64_t{2024 * 13 + 5} << 5 | 6) << 17) | (7 << 12 | 8 << 6 | 9);
  EXPECT_EQ(
      mustDecodeOne({18, ByteBuilder{1}, ""}, ByteBuilder().be(0x8000000000 + ymdhms, 5).be(50, 1)),
      Value("2024-05-06 07:08:09.5"));
  // TIME2 fsp 0, 12:34:56 and -12:34:56.
  const std::uint64_t hms = 12 << 12 | 34 << 6 | 56;
  EXPECT_EQ(mustDecodeOne({19, ByteBuilder{0}, ""}, ByteBuilder().be(0x800000 + hms, 3)),
            Value("12:34:56"));
  EXPECT_EQ(mustDecodeOne({19, ByteBuilder{0}, ""}, ByteBuilder().be(0x800000 - hms, 3)),
            Value("-12:34:56"));
  // TIME2 fsp 4: 00:00:01.2345.
  EXPECT_EQ(mustDecodeOne({19, ByteBuilder{4}, ""}, ByteBuilder().be(0x800001, 3).be(2345, 2)),
            Value("00:00:01.2345"));
  // Legacy TIMESTAMP, DATETIME, TIME (pre-5.6 tables).
  EXPECT_EQ(mustDecodeOne({7, {}, ""}, ByteBuilder{0x00, 0xf1, 0x53, 0x65}),
            Value("2023-11-14 22:13:20"));
  EXPECT_EQ(mustDecodeOne({12, {}, ""}, ByteBuilder().le(20240506070809, 8)),
            Value("2024-05-06 07:08:09"));
  EXPECT_EQ(mustDecodeOne({11, {}, ""}, ByteBuilder{0xc0, 0x1d, 0xfe}), Value("-12:34:56"));
  // YEAR.
  EXPECT_EQ(mustDecodeOne({13, {}, ""}, ByteBuilder{124}), Value(2024));
  EXPECT_EQ(mustDecodeOne({13, {}, ""}, ByteBuilder{0}), Value(0));

  // Out-of-range fields are malformed, not rendered.
  auto bad_month = decodeOne({10, {}, ""}, ByteBuilder().le(2024 << 9 | 13 << 5 | 1, 3));
  ASSERT_FALSE(bad_month.has_value());
  EXPECT_THAT(bad_month.error().message(), HasSubstr("month 13"));
  auto bad_fraction = decodeOne({17, ByteBuilder{2}, ""}, ByteBuilder{0x65, 0x53, 0xf1, 0x00, 100});
  ASSERT_FALSE(bad_fraction.has_value());
  EXPECT_THAT(bad_fraction.error().message(), HasSubstr("fractional seconds 100"));
}

TEST(BinlogValueTest, BitsAndGeometry) {
  EXPECT_EQ(mustDecodeOne({16, ByteBuilder{2, 1}, ""}, ByteBuilder{0x02, 0xaa}), Value(682));
  EXPECT_EQ(mustDecodeOne({16, ByteBuilder{1, 0}, ""}, ByteBuilder{0x01}), Value(1));
  EXPECT_EQ(mustDecodeOne({16, ByteBuilder{0, 8}, ""}, ByteBuilder().le(~0ull, 8)),
            Value("18446744073709551615"));
  const std::string point("\0\0\0\0\x01\x01\0\0\0", 9);
  EXPECT_EQ(mustDecodeOne({255, ByteBuilder{4}, ""}, ByteBuilder().le(9, 4).str(point)),
            Value(point));
  EXPECT_TRUE(mustDecodeOne({6, {}, ""}, {}).isNull());
}

TEST(BinlogValueTest, OldDecimalIsRefused) {
  auto v = decodeOne({0, {}, ""}, ByteBuilder{1});
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().category(), ErrorCategory::kConfig);
  EXPECT_THAT(v.error().message(), HasSubstr("column 1 'v' (DECIMAL)"));
  EXPECT_THAT(v.error().message(), HasSubstr("cannot decode DECIMAL values"));
}

// ---- MySQL binary JSON ----------------------------------------------------------------------

// {"k": [1, "two", null, true, 2.5]}: a small object holding a small array.
const ByteBuilder kJsonNested =
    ByteBuilder{0x00, 0x01, 0x00, 0x2b, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x02, 0x0c, 0x00, 'k',
                // the array at offset 12
                0x05, 0x00, 0x1f, 0x00, 0x05, 0x01, 0x00, 0x0c, 0x13, 0x00, 0x04, 0x00, 0x00, 0x04,
                0x01, 0x00, 0x0b, 0x17, 0x00, 0x03, 't', 'w', 'o'}
        .le(0x4004000000000000, 8);

std::string jsonText(const ByteBuilder& doc) {
  auto text = jsonBinaryToText(doc);
  EXPECT_TRUE(text.has_value()) << text.error().toString();
  return text.has_value() ? *text : "";
}

TEST(BinlogJsonTest, ObjectsArraysAndScalars) {
  EXPECT_EQ(jsonText(kJsonNested), R"({"k": [1, "two", null, true, 2.5]})");
  EXPECT_EQ(jsonText(ByteBuilder{0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x05, 0x01,
                                 0x00, 'a'}),
            R"({"a": 1})");
  // [true, null, "x", 2.5, -70000, 4294967295]: int32/uint32 are not inlined in small arrays.
  EXPECT_EQ(jsonText(ByteBuilder{0x02, 0x06, 0x00, 0x28, 0x00, 0x04, 0x01, 0x00, 0x04,
                                 0x00, 0x00, 0x0c, 0x16, 0x00, 0x0b, 0x18, 0x00, 0x07,
                                 0x20, 0x00, 0x08, 0x24, 0x00, 0x01, 'x'}
                         .le(0x4004000000000000, 8)
                         .le(0xfffeee90, 4)
                         .le(0xffffffff, 4)),
            R"([true, null, "x", 2.5, -70000, 4294967295])");
  // A large object, with an int32 inlined in its value entry.
  EXPECT_EQ(jsonText(ByteBuilder{0x01}
                         .le(1, 4)
                         .le(22, 4)
                         .le(19, 4)
                         .le(3, 2)
                         .raw({0x07, 0x03, 0x00, 0x00, 0x00})
                         .str("big")),
            R"({"big": 3})");
  EXPECT_EQ(jsonText(ByteBuilder{0x02, 0x00, 0x00, 0x04, 0x00}), "[]");
  EXPECT_EQ(jsonText(ByteBuilder{0x04, 0x02}), "false");
  EXPECT_EQ(jsonText(ByteBuilder{0x09}.le(0x8000000000000000, 8)), "-9223372036854775808");
  EXPECT_EQ(jsonText(ByteBuilder{0x0a}.le(~0ull, 8)), "18446744073709551615");
  EXPECT_EQ(jsonText(ByteBuilder{0x0b}.le(0x4008000000000000, 8)), "3.0");
  EXPECT_EQ(jsonText(ByteBuilder{0x0b}.le(0x4415af1d78b58c40, 8)), "1e20");
  EXPECT_EQ(jsonText(ByteBuilder{0x0c, 0x06}.str("a\"b\\\n\x01")), R"("a\"b\\\n\u0001")");
  EXPECT_EQ(jsonText({}), "null");
}

TEST(BinlogJsonTest, LongStringsUseMultiByteLengths) {
  const std::string text(200, 'y');
  EXPECT_EQ(jsonText(ByteBuilder{0x0c, 0xc8, 0x01}.str(text)), "\"" + text + "\"");
}

TEST(BinlogJsonTest, OpaqueValues) {
  // DECIMAL(5,2) 123.45.
  EXPECT_EQ(jsonText(ByteBuilder{0x0f, 0xf6, 0x05, 0x05, 0x02, 0x80, 0x7b, 0x2d}), "123.45");
  // DATETIME 2015-01-15 23:24:25 and DATE 2015-01-15, as MySQL prints them.
  EXPECT_EQ(jsonText(ByteBuilder{0x0f, 0x0c, 0x08}.le(0x19951f7619000000, 8)),
            R"("2015-01-15 23:24:25.000000")");
  EXPECT_EQ(jsonText(ByteBuilder{0x0f, 0x0a, 0x08}.le(0x19951f7619000000 & ~0xffffffffffll, 8)),
            R"("2015-01-15")");
  // TIME -12:00:01.5.
  EXPECT_EQ(jsonText(ByteBuilder{0x0f, 0x0b, 0x08}.le(0xffffff3ffef85ee0, 8)),
            R"("-12:00:01.500000")");
  // Anything else as MySQL's base64 form.
  EXPECT_EQ(jsonText(ByteBuilder{0x0f, 0xfc, 0x02}.str("ab")), R"("base64:type252:YWI=")");
}

TEST(BinlogJsonTest, MalformedDocumentsFail) {
  for (const ByteBuilder& doc : {
           ByteBuilder{0x0d, 0x00},                                      // unknown type
           ByteBuilder{0x04, 0x03},                                      // unknown literal
           ByteBuilder{0x00, 0x01, 0x00, 0x40, 0x00},                    // size past the end
           ByteBuilder{0x02, 0x01, 0x00, 0x07, 0x00, 0x0c, 0x09, 0x00},  // value past the end
           ByteBuilder{0x00, 0x01, 0x00, 0x0b, 0x00, 0x0b, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00},
           ByteBuilder{0x02, 0xff, 0x00, 0x07, 0x00, 0x04, 0x01, 0x00},  // too many elements
           ByteBuilder{0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},        // 6-byte length
       }) {
    auto text = jsonBinaryToText(doc);
    EXPECT_FALSE(text.has_value()) << (text ? *text : "");
    if (!text) {
      EXPECT_EQ(text.error().category(), ErrorCategory::kInternal);
    }
  }
  // Every proper prefix of a valid document fails.
  const auto& full = kJsonNested.data();
  for (std::size_t n = 1; n < full.size(); ++n) {
    EXPECT_FALSE(jsonBinaryToText(std::span(full).first(n)).has_value()) << n;
  }
}

TEST(BinlogJsonTest, NestingIsBounded) {
  auto nested = [](int depth) {
    std::vector<std::uint8_t> inner = {0x00, 0x00, 0x04, 0x00};  // []
    for (int i = 0; i < depth; ++i) {
      ByteBuilder level;
      level.le(1, 2).le(7 + inner.size(), 2).raw({0x02, 0x07, 0x00}).raw(inner);
      inner = level.data();
    }
    return ByteBuilder{0x02}.raw(inner);
  };
  EXPECT_EQ(jsonText(nested(3)), "[[[[]]]]");
  auto deep = jsonBinaryToText(nested(150));
  ASSERT_FALSE(deep.has_value());
  EXPECT_THAT(deep.error().message(), HasSubstr("deeper than 100"));
}

TEST(BinlogJsonTest, JsonColumnInARow) {
  EXPECT_EQ(mustDecodeOne({245, ByteBuilder{4}, ""},
                          ByteBuilder().le(kJsonNested.size(), 4).raw(kJsonNested)),
            Value(R"({"k": [1, "two", null, true, 2.5]})"));
  EXPECT_EQ(mustDecodeOne({245, ByteBuilder{4}, ""}, ByteBuilder().le(0, 4)), Value("null"));
}

// ---- Rows events ----------------------------------------------------------------------------

const std::vector<ColumnSpec> kOrders = {
    {3, {}, "id", false}, {15, ByteBuilder{0x14, 0x00}, "status"}, {3, {}, "qty"}};

TableMap ordersMap(ServerFlavor flavor = ServerFlavor::kMySql) {
  return mustParse(tableMapBody(kOrders, namesField(kOrders).tlv(8, ByteBuilder{0})), flavor);
}

ByteBuilder orderImage(unsigned nulls, std::int32_t id, std::string_view status, std::int32_t qty) {
  ByteBuilder b{nulls};
  b.le(static_cast<std::uint32_t>(id), 4).le(status.size(), 1).str(status);
  b.le(static_cast<std::uint32_t>(qty), 4);
  return b;
}

TEST(BinlogRowsTest, V2WriteWithExtraDataAndSeveralRows) {
  const TableMap map = ordersMap();
  ByteBuilder rows;
  rows.raw(orderImage(0, 1, "new", 2)).raw(orderImage(0, 2, "paid", -1));
  // MySQL 8 extra row info: type 0 (NDB) with 3 bytes of payload, then partition info.
  const ByteBuilder extra{0x00, 0x03, 0x01, 0x02, 0x01, 0x00};
  auto decoded = decodeRowsEvent(kWriteV2, rowsBody(kWriteV2, 3, {0x07}, rows, {}, extra), map);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_EQ(decoded->header.version, 2);
  EXPECT_EQ(decoded->header.table_id, kTableId);
  ASSERT_EQ(decoded->rows.size(), 2u);
  EXPECT_EQ(*decoded->rows[1].after, (Row{{"id", 2}, {"status", "paid"}, {"qty", -1}}));
}

TEST(BinlogRowsTest, V2UpdateUsesTheSecondBitmap) {
  const TableMap map = ordersMap();
  // Before: all columns; after: id and status only (MINIMAL-like), status changes.
  ByteBuilder rows;
  rows.raw(orderImage(0, 5, "new", 1));
  rows.raw({0x00}).le(5, 4).le(4, 1).str("paid");
  auto decoded = decodeRowsEvent(kUpdateV2, rowsBody(kUpdateV2, 3, {0x07}, rows, {{0x03}}), map);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  ASSERT_EQ(decoded->rows.size(), 1u);
  EXPECT_EQ(*decoded->rows[0].before, (Row{{"id", 5}, {"status", "new"}, {"qty", 1}}));
  EXPECT_EQ(*decoded->rows[0].after,
            (Row{{"id", 5}, {"status", "paid"}, {"qty", UnavailableValue{}}}));

  ChangeContext context{"erp", "mysql-bin.000003:1234", {}, ""};
  auto events = toChangeEvents(map, *decoded, context);
  ASSERT_TRUE(events.has_value()) << events.error().toString();
  EXPECT_EQ((*events)[0].event.op, Op::kUpdate);
  EXPECT_EQ((*events)[0].event.pk, "5");
  EXPECT_EQ((*events)[0].schema, "shop");
  EXPECT_EQ((*events)[0].event.table, "orders");
}

TEST(BinlogRowsTest, V1UpdateAndDelete) {
  const TableMap map = ordersMap();
  // The after image's null bitmap marks qty NULL, so its value bytes are absent.
  ByteBuilder update;
  update.raw(orderImage(0, 9, "new", 1));
  update.raw({0b100}).le(9, 4).le(3, 1).str("new");
  auto decoded = decodeRowsEvent(kUpdateV1, rowsBody(kUpdateV1, 3, {0x07}, update, {{0x07}}), map);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_TRUE(decoded->rows[0].after->find("qty")->isNull());

  auto deleted =
      decodeRowsEvent(kDeleteV2, rowsBody(kDeleteV2, 3, {0x07}, orderImage(0, 9, "x", 3)), map);
  ASSERT_TRUE(deleted.has_value()) << deleted.error().toString();
  auto events = toChangeEvents(map, *deleted, {});
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ((*events)[0].event.op, Op::kDelete);
  EXPECT_EQ((*events)[0].event.pk, "9");
  EXPECT_FALSE((*events)[0].event.after.has_value());

  auto v1_delete =
      decodeRowsEvent(kDeleteV1, rowsBody(kDeleteV1, 3, {0x07}, orderImage(0, 9, "x", 3)), map);
  ASSERT_TRUE(v1_delete.has_value()) << v1_delete.error().toString();
  EXPECT_EQ(v1_delete->header.kind, RowsKind::kDelete);
}

TEST(BinlogRowsTest, PartialPresentBitmapOnWrite) {
  const TableMap map = ordersMap();
  ByteBuilder rows;
  rows.raw({0x00}).le(3, 4).le(7, 4);  // id and qty present, status absent
  auto decoded = decodeRowsEvent(kWriteV1, rowsBody(kWriteV1, 3, {0x05}, rows), map);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().toString();
  EXPECT_EQ(*decoded->rows[0].after, (Row{{"id", 3}, {"status", UnavailableValue{}}, {"qty", 7}}));
}

TEST(BinlogRowsTest, MismatchesAreErrors) {
  const TableMap map = ordersMap();
  const ByteBuilder row = orderImage(0, 1, "a", 1);

  auto count = decodeRowsEvent(kWriteV1, rowsBody(kWriteV1, 4, {0x0f}, row), map);
  ASSERT_FALSE(count.has_value());
  EXPECT_THAT(count.error().message(), HasSubstr("the event has 4 columns, its TABLE_MAP has 3"));

  TableMap other = map;
  other.table_id = 7;
  auto id = decodeRowsEvent(kWriteV1, rowsBody(kWriteV1, 3, {0x07}, row), other);
  ASSERT_FALSE(id.has_value());
  EXPECT_THAT(id.error().message(), HasSubstr("table id 1108152157446"));

  ByteBuilder bad_extra;
  bad_extra.le(kTableId, 6).le(0, 2).le(1, 2);
  auto extra = decodeRowsEvent(kWriteV2, bad_extra, map);
  ASSERT_FALSE(extra.has_value());
  EXPECT_THAT(extra.error().message(), HasSubstr("extra data length 1"));

  // A value cut short names the table, row, image and column.
  const ByteBuilder whole = rowsBody(kWriteV1, 3, {0x07}, row);
  auto truncated = decodeRowsEvent(kWriteV1, std::span(whole.data()).first(whole.size() - 2), map);
  ASSERT_FALSE(truncated.has_value());
  EXPECT_EQ(truncated.error().message(),
            "rows event for shop.orders: row 1 (after image), column 3 'qty' (LONG): integer "
            "needs 4 bytes at offset 17, only 2 remain");
}

TEST(BinlogRowsTest, UnsupportedEventTypesSayWhatToChange) {
  const TableMap map = ordersMap();
  auto compressed = decodeRowsEvent(166, ByteBuilder{}, map);
  ASSERT_FALSE(compressed.has_value());
  EXPECT_EQ(compressed.error().category(), ErrorCategory::kConfig);
  EXPECT_THAT(compressed.error().message(), HasSubstr("log_bin_compress=OFF"));
  auto partial = decodeRowsEvent(39, ByteBuilder{}, map);
  ASSERT_FALSE(partial.has_value());
  EXPECT_THAT(partial.error().message(), HasSubstr("binlog_row_value_options"));
  auto query = peekRowsEvent(2, ByteBuilder{});
  ASSERT_FALSE(query.has_value());
  EXPECT_EQ(query.error().category(), ErrorCategory::kInternal);
  EXPECT_TRUE(isRowsEventType(kWriteV1));
  EXPECT_TRUE(isRowsEventType(kDeleteV2));
  EXPECT_FALSE(isRowsEventType(19));
}

TEST(BinlogRowsTest, EveryPrefixOfASingleRowEventFails) {
  // Every type in one row, V2, so that each prefix cuts some value.
  const std::vector<ColumnSpec> columns = {{1, {}, "a"},
                                           {2, {}, "b"},
                                           {9, {}, "c"},
                                           {3, {}, "d"},
                                           {8, {}, "e"},
                                           {246, ByteBuilder{14, 4}, "f"},
                                           {4, ByteBuilder{4}, "g"},
                                           {5, ByteBuilder{8}, "h"},
                                           {15, ByteBuilder{0x2c, 0x01}, "i"},
                                           {254, ByteBuilder{0xfe, 0x08}, "j"},
                                           {252, ByteBuilder{2}, "k"},
                                           {245, ByteBuilder{4}, "l"},
                                           {10, {}, "m"},
                                           {19, ByteBuilder{3}, "n"},
                                           {18, ByteBuilder{6}, "o"},
                                           {17, ByteBuilder{2}, "p"},
                                           {13, {}, "q"},
                                           {16, ByteBuilder{4, 1}, "r"}};
  const TableMap map = mustParse(tableMapBody(columns, namesField(columns)));
  ByteBuilder row{0x00, 0x00, 0x00};
  row.le(1, 1).le(2, 2).le(3, 3).le(4, 4).le(5, 8);
  row.raw({0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2});
  row.le(0x3f8ccccd, 4).le(0x4004000000000000, 8);
  row.le(3, 2).str("abc").le(2, 1).str("xy").le(1, 2).str("z");
  row.le(kJsonNested.size(), 4).raw(kJsonNested);
  row.le(2024 << 9 | 5 << 5 | 6, 3).be(0x800001, 3).be(1, 2);
  row.be(0x8000000000, 5).be(1, 3).be(1, 4).be(1, 1).le(1, 1).be(0x0fff, 2);
  const ByteBuilder body = rowsBody(kWriteV2, columns.size(), {0xff, 0xff, 0x03}, row);
  auto whole = decodeRowsEvent(kWriteV2, body, map);
  ASSERT_TRUE(whole.has_value()) << whole.error().toString();
  ASSERT_EQ(whole->rows.size(), 1u);
  EXPECT_EQ(*whole->rows[0].after->find("r"), Value(0x0fff));
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto cut = decodeRowsEvent(kWriteV2, std::span(body.data()).first(n), map);
    if (cut.has_value()) {
      // Only the cut right after the bitmaps is a (row-less) valid event.
      EXPECT_TRUE(cut->rows.empty()) << n;
    }
  }
}

// ---- Framing and helpers --------------------------------------------------------------------

TEST(BinlogFramingTest, SplitEventChecksLengthAndDropsChecksum) {
  ByteBuilder event;
  event.le(1700000000, 4).le(16, 1).le(1, 4).le(19 + 8 + 4, 4).le(999, 4).le(0, 2);
  event.le(42, 8).raw({0xaa, 0xbb, 0xcc, 0xdd});
  auto view = splitEvent(event, true);
  ASSERT_TRUE(view.has_value()) << view.error().toString();
  EXPECT_EQ(view->header.type, 16);
  EXPECT_EQ(view->header.next_position, 999u);
  EXPECT_EQ(view->body.size(), 8u);
  auto no_checksum = splitEvent(event, false);
  ASSERT_TRUE(no_checksum.has_value());
  EXPECT_EQ(no_checksum->body.size(), 12u);

  std::vector<std::uint8_t> longer = event.data();
  longer.push_back(0);
  auto mismatch = splitEvent(longer, true);
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_THAT(mismatch.error().message(), HasSubstr("says it has 31 bytes, 32 arrived"));
}

TEST(BinlogFramingTest, FlavorFromServerVersion) {
  EXPECT_EQ(flavorFromServerVersion("10.11.19-MariaDB-0+deb12u1-log"), ServerFlavor::kMariaDb);
  EXPECT_EQ(flavorFromServerVersion("11.4.2-mariadb"), ServerFlavor::kMariaDb);
  EXPECT_EQ(flavorFromServerVersion("8.0.36"), ServerFlavor::kMySql);
  EXPECT_EQ(flavorFromServerVersion("8.4.0-log"), ServerFlavor::kMySql);
}

TEST(BinlogChangeEventTest, TableWithoutPrimaryKeyIsRefused) {
  const std::vector<ColumnSpec> columns = {{3, {}, "n"}};
  const TableMap map = mustParse(tableMapBody(columns, namesField(columns)));
  auto rows =
      decodeRowsEvent(kWriteV1, rowsBody(kWriteV1, 1, {0x01}, ByteBuilder{0x00}.le(1, 4)), map);
  ASSERT_TRUE(rows.has_value());
  auto events = toChangeEvents(map, *rows, {});
  ASSERT_FALSE(events.has_value());
  EXPECT_EQ(events.error().category(), ErrorCategory::kConfig);
  EXPECT_THAT(events.error().message(), HasSubstr("shop.orders has no primary key"));
}

TEST(BinlogChangeEventTest, CompositeKeyAndContext) {
  const std::vector<ColumnSpec> columns = {{3, {}, "product"},
                                           {254, ByteBuilder{0xfe, 0x08}, "lang"},
                                           {15, ByteBuilder{0x40, 0x00}, "title"}};
  const TableMap map =
      mustParse(tableMapBody(columns, namesField(columns).tlv(8, ByteBuilder{0, 1})));
  ByteBuilder row{0x00};
  row.le(3, 4).le(2, 1).str("en").le(4, 1).str("Mug!");
  auto rows = decodeRowsEvent(kWriteV1, rowsBody(kWriteV1, 3, {0x07}, row), map);
  ASSERT_TRUE(rows.has_value()) << rows.error().toString();
  const auto ts = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  auto events = toChangeEvents(map, *rows, {"shop", "f:1", ts, "0-1-5"});
  ASSERT_TRUE(events.has_value()) << events.error().toString();
  const ChangeEvent& e = (*events)[0].event;
  EXPECT_EQ(e.op, Op::kInsert);
  EXPECT_EQ(e.pk, "3|en");
  EXPECT_EQ(e.commit_ts, ts);
  EXPECT_EQ(e.txid, "0-1-5");
  EXPECT_FALSE(e.before.has_value());
  EXPECT_EQ(*e.current()->find("title"), Value("Mug!"));
}

}  // namespace
}  // namespace smsbridge::mysql
