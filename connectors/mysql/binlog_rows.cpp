#include "connectors/mysql/binlog_rows.h"

#include "core/json_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

// Byte layouts follow the server sources (sql/log_event*.cc, sql/field.cc, json_binary.cc) as
// documented at https://mariadb.com/kb/en/rows_event_v1v2/ and in MySQL's libbinlogevents;
// where MariaDB and MySQL differ, the difference was checked against bytes from a real server
// (tests/integration/binlog_rows_integration_test.cpp).

namespace smsbridge::mysql {
namespace {

using Bytes = std::span<const std::uint8_t>;

constexpr std::size_t kTableIdSize = 6;
constexpr std::size_t kCommonHeaderSize = 19;
constexpr std::size_t kChecksumSize = 4;
constexpr int kMaxJsonDepth = 100;  // MySQL refuses deeper documents
constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::uint32_t kBinaryCollation = 63;

// Optional TABLE_MAP metadata field types (MySQL Table_map_event::Optional_metadata_field_type).
enum class OptionalField : std::uint8_t {
  kSignedness = 1,
  kDefaultCharset = 2,
  kColumnCharset = 3,
  kColumnName = 4,
  kSetStrValue = 5,
  kEnumStrValue = 6,
  kGeometryType = 7,
  kSimplePrimaryKey = 8,
  kPrimaryKeyWithPrefix = 9,
  kEnumAndSetDefaultCharset = 10,
  kEnumAndSetColumnCharset = 11,
};

Status malformed(std::string message) { return internalError(std::move(message)); }

// Bounds-checked little/big-endian reads over one event body. Offsets in messages are from the
// start of that body.
class Reader {
 public:
  explicit Reader(Bytes data, std::size_t base = 0) : data_(data), base_(base) {}

  std::size_t offset() const { return base_ + pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  bool atEnd() const { return pos_ == data_.size(); }

  Status need(std::size_t n, std::string_view what) const {
    if (n <= remaining()) return Status::ok();
    return malformed(fmt::format("{} needs {} byte{} at offset {}, only {} remain", what, n,
                                 n == 1 ? "" : "s", offset(), remaining()));
  }

  Result<Bytes> bytes(std::size_t n, std::string_view what) {
    SMSBRIDGE_RETURN_IF_ERROR(need(n, what));
    Bytes out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  Result<std::uint64_t> le(std::size_t n, std::string_view what) {
    auto b = bytes(n, what);
    if (!b) return b.error();
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | (*b)[i];
    return v;
  }

  Result<std::uint64_t> be(std::size_t n, std::string_view what) {
    auto b = bytes(n, what);
    if (!b) return b.error();
    std::uint64_t v = 0;
    for (std::uint8_t byte : *b) v = (v << 8) | byte;
    return v;
  }

  // Length-encoded integer (MySQL "packed integer").
  Result<std::uint64_t> lenenc(std::string_view what) {
    auto first = le(1, what);
    if (!first) return first;
    switch (*first) {
      case 0xfb:
      case 0xff:
        return malformed(
            fmt::format("{} at offset {} starts with 0x{:02x}, which is not a length-encoded "
                        "integer",
                        what, offset() - 1, *first));
      case 0xfc:
        return le(2, what);
      case 0xfd:
        return le(3, what);
      case 0xfe:
        return le(8, what);
      default:
        return *first;
    }
  }

  // A length-encoded count of things that each take at least one more byte: a count larger
  // than what is left is malformed, and refusing it keeps allocations bounded.
  Result<std::size_t> count(std::string_view what) {
    const std::size_t at = offset();
    auto n = lenenc(what);
    if (!n) return n.error();
    if (*n > remaining()) {
      return malformed(fmt::format("{} at offset {} is {}, more than the {} bytes left can hold",
                                   what, at, *n, remaining()));
    }
    return static_cast<std::size_t>(*n);
  }

  Result<std::string> lenencString(std::string_view what) {
    auto n = count(what);
    if (!n) return n.error();
    auto b = bytes(*n, what);
    if (!b) return b.error();
    return std::string(b->begin(), b->end());
  }

 private:
  Bytes data_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

std::size_t bitmapSize(std::size_t bits) { return (bits + 7) / 8; }

// Row-event bitmaps: bit i is bit (i % 8) of byte i / 8.
bool bitSet(Bytes bitmap, std::size_t i) { return (bitmap[i / 8] >> (i % 8)) & 1; }

std::int64_t signExtend(std::uint64_t v, std::size_t bytes) {
  if (bytes >= 8) return static_cast<std::int64_t>(v);
  const std::uint64_t sign = std::uint64_t{1} << (bytes * 8 - 1);
  return static_cast<std::int64_t>((v ^ sign) - sign);
}

Value unsignedValue(std::uint64_t v) {
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return Value(std::to_string(v));
  }
  return Value(static_cast<std::int64_t>(v));
}

std::int64_t pow10(int n) {
  std::int64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// ---- Temporal values ---------------------------------------------------------------------

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
CivilDate civilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

void appendFraction(std::string& out, std::int64_t micros, int fsp) {
  if (fsp <= 0) return;
  fmt::format_to(std::back_inserter(out), ".{:0{}}", micros / pow10(6 - fsp), fsp);
}

Result<std::string> formatDatetime(std::int64_t year, std::int64_t month, std::int64_t day,
                                   std::int64_t hour, std::int64_t minute, std::int64_t second,
                                   std::int64_t micros, int fsp, bool with_time) {
  if (year > 9999 || month > 12 || day > 31 || hour > 23 || minute > 59 || second > 59 ||
      micros >= kMicrosPerSecond || year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 ||
      second < 0 || micros < 0) {
    return malformed(fmt::format(
        "date/time fields out of range: year {} month {} day {} {:02}:{:02}:{:02}.{:06}", year,
        month, day, hour, minute, second, micros));
  }
  std::string out = fmt::format("{:04}-{:02}-{:02}", year, month, day);
  if (with_time) {
    fmt::format_to(std::back_inserter(out), " {:02}:{:02}:{:02}", hour, minute, second);
    appendFraction(out, micros, fsp);
  }
  return out;
}

// MySQL's "packed" datetime: ((year*13+month) << 22 | day << 17 | h << 12 | m << 6 | s) << 24
// | microseconds. Used by DATETIME2 and by DATE/DATETIME/TIMESTAMP inside binary JSON.
Result<std::string> formatPackedDatetime(std::int64_t packed, int fsp, bool with_time) {
  if (packed < 0) return malformed(fmt::format("negative packed datetime {}", packed));
  const std::int64_t micros = packed % (std::int64_t{1} << 24);
  const std::int64_t ymdhms = packed >> 24;
  const std::int64_t ymd = ymdhms >> 17;
  const std::int64_t ym = ymd >> 5;
  const std::int64_t hms = ymdhms % (1 << 17);
  return formatDatetime(ym / 13, ym % 13, ymd % (1 << 5), hms >> 12, (hms >> 6) % (1 << 6),
                        hms % (1 << 6), micros, fsp, with_time);
}

// MySQL's packed time: (h << 12 | m << 6 | s) << 24 | microseconds, negated for negative times.
Result<std::string> formatPackedTime(std::int64_t packed, int fsp) {
  const bool negative = packed < 0;
  if (packed == std::numeric_limits<std::int64_t>::min()) {
    return malformed("packed time out of range");
  }
  if (negative) packed = -packed;
  const std::int64_t micros = packed % (std::int64_t{1} << 24);
  const std::int64_t hms = packed >> 24;
  const std::int64_t hour = (hms >> 12) % (1 << 10);
  const std::int64_t minute = (hms >> 6) % (1 << 6);
  const std::int64_t second = hms % (1 << 6);
  if (minute > 59 || second > 59 || micros >= kMicrosPerSecond) {
    return malformed(
        fmt::format("time fields out of range: {}:{}:{}.{}", hour, minute, second, micros));
  }
  std::string out = fmt::format("{}{:02}:{:02}:{:02}", negative ? "-" : "", hour, minute, second);
  appendFraction(out, micros, fsp);
  return out;
}

Result<std::string> formatEpoch(std::int64_t seconds, std::int64_t micros, int fsp) {
  if (seconds == 0 && micros == 0) {
    std::string out = "0000-00-00 00:00:00";
    appendFraction(out, 0, fsp);
    return out;
  }
  const std::int64_t days = seconds / 86400;
  const std::int64_t rest = seconds % 86400;
  const CivilDate date = civilFromDays(days);
  return formatDatetime(date.year, date.month, date.day, rest / 3600, rest / 60 % 60, rest % 60,
                        micros, fsp, true);
}

// Fractional seconds of TIME2/DATETIME2/TIMESTAMP2: (fsp + 1) / 2 big-endian bytes holding
// the fraction in units of 10^-2, 10^-4 or 10^-6 s. Returns microseconds.
Result<std::int64_t> readFraction(Reader& r, int fsp) {
  const std::size_t n = static_cast<std::size_t>((fsp + 1) / 2);
  if (n == 0) return std::int64_t{0};
  auto v = r.be(n, "fractional seconds");
  if (!v) return v.error();
  const std::int64_t limit = pow10(static_cast<int>(n) * 2);
  if (static_cast<std::int64_t>(*v) >= limit) {
    return malformed(fmt::format("fractional seconds {} at offset {} exceed {} digits", *v,
                                 r.offset() - n, n * 2));
  }
  return static_cast<std::int64_t>(*v) * pow10(6 - static_cast<int>(n) * 2);
}

// ---- DECIMAL -----------------------------------------------------------------------------

constexpr std::array<int, 10> kDigitBytes = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr int kDigitsPerGroup = 9;

std::size_t decimalSize(int precision, int scale) {
  const int intg = precision - scale;
  return static_cast<std::size_t>(intg / kDigitsPerGroup * 4 + kDigitBytes[intg % 9] +
                                  scale / kDigitsPerGroup * 4 + kDigitBytes[scale % 9]);
}

// The server's binary DECIMAL: big-endian base-10^9 groups, a partial group at each end, the
// sign in the top bit of the first byte (set = positive) and all bytes inverted when negative.
Result<std::string> decodeDecimal(Reader& r, int precision, int scale) {
  if (precision < 1 || precision > 65 || scale > precision) {
    return malformed(
        fmt::format("DECIMAL({},{}) is not a valid precision and scale", precision, scale));
  }
  auto raw = r.bytes(decimalSize(precision, scale), "DECIMAL value");
  if (!raw) return raw.error();
  std::vector<std::uint8_t> buf(raw->begin(), raw->end());
  const bool negative = (buf[0] & 0x80) == 0;
  buf[0] ^= 0x80;
  if (negative) {
    for (auto& b : buf) b = static_cast<std::uint8_t>(~b);
  }
  std::size_t pos = 0;
  bool nonzero = false;
  Status bad;
  auto group = [&](int digits) -> std::uint64_t {
    const auto n = static_cast<std::size_t>(digits == kDigitsPerGroup ? 4 : kDigitBytes[digits]);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | buf[pos + i];
    pos += n;
    if (v >= static_cast<std::uint64_t>(pow10(digits)) && bad.isOk()) {
      bad = malformed(fmt::format("DECIMAL({},{}) group {} does not fit {} digits", precision,
                                  scale, v, digits));
    }
    if (v != 0) nonzero = true;
    return v;
  };

  const int intg = precision - scale;
  std::string integer;
  if (intg % 9 != 0) integer += std::to_string(group(intg % 9));
  for (int i = 0; i < intg / 9; ++i) integer += fmt::format("{:09}", group(kDigitsPerGroup));
  std::string fraction;
  for (int i = 0; i < scale / 9; ++i) fraction += fmt::format("{:09}", group(kDigitsPerGroup));
  if (scale % 9 != 0) fraction += fmt::format("{:0{}}", group(scale % 9), scale % 9);
  if (!bad.isOk()) return bad;

  const std::size_t first = integer.find_first_not_of('0');
  integer = first == std::string::npos ? "0" : integer.substr(first);
  std::string out = negative && nonzero ? "-" : "";
  out += integer;
  if (scale > 0) out += "." + fraction;
  return out;
}

// ---- JSON --------------------------------------------------------------------------------

// Shortest text that reads back as `d`, the way MySQL prints JSON doubles: "2.5", "3.0",
// "1e20".
std::string jsonDouble(double d) {
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  std::string s(buf.data(), ec == std::errc() ? end : buf.data());
  const auto e = s.find('e');
  if (e != std::string::npos) {
    std::string exponent = s.substr(e + 1);
    std::string sign;
    if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) {
      if (exponent[0] == '-') sign = "-";
      exponent.erase(0, 1);
    }
    exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
    s = s.substr(0, e) + "e" + sign + exponent;
  } else if (s.find_first_of(".ni") == std::string::npos) {
    s += ".0";
  }
  return s;
}

std::string base64(Bytes data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == data.size()) {
    const std::uint32_t v = data[i] << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

enum JsonType : std::uint8_t {
  kJsonSmallObject = 0x00,
  kJsonLargeObject = 0x01,
  kJsonSmallArray = 0x02,
  kJsonLargeArray = 0x03,
  kJsonLiteral = 0x04,
  kJsonInt16 = 0x05,
  kJsonUint16 = 0x06,
  kJsonInt32 = 0x07,
  kJsonUint32 = 0x08,
  kJsonInt64 = 0x09,
  kJsonUint64 = 0x0a,
  kJsonDouble = 0x0b,
  kJsonString = 0x0c,
  kJsonOpaque = 0x0f,
};

class JsonWriter {
 public:
  Status value(std::uint8_t type, Bytes data, std::size_t base, int depth) {
    Reader r(data, base);
    switch (type) {
      case kJsonSmallObject:
      case kJsonLargeObject:
      case kJsonSmallArray:
      case kJsonLargeArray:
        return container(type, data, base, depth);
      case kJsonLiteral: {
        auto v = r.le(1, "JSON literal");
        if (!v) return v.error();
        if (*v > 2) return malformed(fmt::format("JSON literal {} at offset {}", *v, base));
        out_ += *v == 0 ? "null" : *v == 1 ? "true" : "false";
        return Status::ok();
      }
      case kJsonInt16:
      case kJsonInt32:
      case kJsonInt64: {
        const std::size_t n = type == kJsonInt16 ? 2 : type == kJsonInt32 ? 4 : 8;
        auto v = r.le(n, "JSON integer");
        if (!v) return v.error();
        out_ += std::to_string(signExtend(*v, n));
        return Status::ok();
      }
      case kJsonUint16:
      case kJsonUint32:
      case kJsonUint64: {
        const std::size_t n = type == kJsonUint16 ? 2 : type == kJsonUint32 ? 4 : 8;
        auto v = r.le(n, "JSON integer");
        if (!v) return v.error();
        out_ += std::to_string(*v);
        return Status::ok();
      }
      case kJsonDouble: {
        auto v = r.le(8, "JSON double");
        if (!v) return v.error();
        out_ += jsonDouble(std::bit_cast<double>(*v));
        return Status::ok();
      }
      case kJsonString: {
        auto s = varString(r, "JSON string");
        if (!s) return s.error();
        appendJsonString(out_, *s);
        return Status::ok();
      }
      case kJsonOpaque:
        return opaque(r);
      default:
        return malformed(fmt::format("unknown JSON value type 0x{:02x} at offset {}", type, base));
    }
  }

  std::string take() { return std::move(out_); }

 private:
  // Length prefix of JSON strings and opaque values: 7 bits per byte, low groups first, the
  // top bit set on every byte but the last; at most 5 bytes.
  static Result<std::string> varString(Reader& r, std::string_view what) {
    std::uint64_t length = 0;
    for (int i = 0;; ++i) {
      if (i == 5) {
        return malformed(
            fmt::format("{} length at offset {} is longer than 5 bytes", what, r.offset() - 5));
      }
      auto b = r.le(1, what);
      if (!b) return b.error();
      length |= (*b & 0x7f) << (7 * i);
      if ((*b & 0x80) == 0) break;
    }
    if (length > r.remaining()) {
      return malformed(fmt::format("{} of {} bytes at offset {}, only {} remain", what, length,
                                   r.offset(), r.remaining()));
    }
    auto b = r.bytes(static_cast<std::size_t>(length), what);
    if (!b) return b.error();
    return std::string(b->begin(), b->end());
  }

  Status container(std::uint8_t type, Bytes data, std::size_t base, int depth) {
    if (depth > kMaxJsonDepth) {
      return malformed(fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth));
    }
    const bool large = type == kJsonLargeObject || type == kJsonLargeArray;
    const bool object = type == kJsonSmallObject || type == kJsonLargeObject;
    const std::size_t word = large ? 4 : 2;
    Reader r(data, base);
    auto count = r.le(word, "JSON element count");
    if (!count) return count.error();
    auto size = r.le(word, "JSON container size");
    if (!size) return size.error();
    if (*size > data.size()) {
      return malformed(fmt::format("JSON container at offset {} claims {} bytes, only {} remain",
                                   base, *size, data.size()));
    }
    const std::size_t key_entry = word + 2;
    const std::size_t value_entry = 1 + word;
    const std::uint64_t header = 2 * word + *count * ((object ? key_entry : 0) + value_entry);
    if (*count > *size || header > *size) {
      return malformed(
          fmt::format("JSON container at offset {} has {} elements, too many for its {} bytes",
                      base, *count, *size));
    }
    const Bytes body = data.first(static_cast<std::size_t>(*size));
    const auto n = static_cast<std::size_t>(*count);
    const std::size_t values_at = 2 * word + (object ? n * key_entry : 0);

    out_ += object ? '{' : '[';
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) out_ += ", ";
      if (object) {
        Reader k(body.subspan(2 * word + i * key_entry), base + 2 * word + i * key_entry);
        auto key_offset = k.le(word, "JSON key offset");
        if (!key_offset) return key_offset.error();
        auto key_length = k.le(2, "JSON key length");
        if (!key_length) return key_length.error();
        if (*key_offset > body.size() || *key_length > body.size() - *key_offset) {
          return malformed(
              fmt::format("JSON key {} of the object at offset {} lies outside it ({}+{} > {})", i,
                          base, *key_offset, *key_length, body.size()));
        }
        const Bytes key = body.subspan(static_cast<std::size_t>(*key_offset),
                                       static_cast<std::size_t>(*key_length));
        appendJsonString(out_,
                         std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
        out_ += ": ";
      }
      const std::size_t entry_at = values_at + i * value_entry;
      const Bytes entry = body.subspan(entry_at, value_entry);
      const std::uint8_t value_type = entry[0];
      const bool inlined = value_type == kJsonLiteral || value_type == kJsonInt16 ||
                           value_type == kJsonUint16 ||
                           (large && (value_type == kJsonInt32 || value_type == kJsonUint32));
      if (inlined) {
        SMSBRIDGE_RETURN_IF_ERROR(value(value_type, entry.subspan(1), base + entry_at + 1, depth));
        continue;
      }
      Reader e(entry.subspan(1), base + entry_at + 1);
      auto value_offset = e.le(word, "JSON value offset");
      if (!value_offset) return value_offset.error();
      if (*value_offset >= body.size()) {
        return malformed(fmt::format(
            "JSON value {} of the container at offset {} starts at {}, past its {} bytes", i, base,
            *value_offset, body.size()));
      }
      const auto at = static_cast<std::size_t>(*value_offset);
      SMSBRIDGE_RETURN_IF_ERROR(value(value_type, body.subspan(at), base + at, depth + 1));
    }
    out_ += object ? '}' : ']';
    return Status::ok();
  }

  // Values MySQL keeps in their column format inside JSON: DECIMAL and the temporal types are
  // rendered as MySQL prints them, anything else as MySQL's "base64:type<N>:…".
  Status opaque(Reader& r) {
    auto field_type = r.le(1, "JSON opaque type");
    if (!field_type) return field_type.error();
    const std::size_t data_at = r.offset();
    auto data = varString(r, "JSON opaque value");
    if (!data) return data.error();
    const Bytes bytes(reinterpret_cast<const std::uint8_t*>(data->data()), data->size());
    Reader d(bytes, data_at);
    switch (static_cast<ColumnType>(*field_type)) {
      case ColumnType::kNewDecimal: {
        auto precision = d.le(1, "JSON decimal precision");
        if (!precision) return precision.error();
        auto scale = d.le(1, "JSON decimal scale");
        if (!scale) return scale.error();
        auto text = decodeDecimal(d, static_cast<int>(*precision), static_cast<int>(*scale));
        if (!text) return text.error();
        out_ += *text;
        return Status::ok();
      }
      case ColumnType::kDate:
      case ColumnType::kDatetime:
      case ColumnType::kTimestamp:
      case ColumnType::kTime: {
        if (bytes.size() != 8) break;
        const auto packed = static_cast<std::int64_t>(*d.le(8, "JSON temporal value"));
        auto text = static_cast<ColumnType>(*field_type) == ColumnType::kTime
                        ? formatPackedTime(packed, 6)
                        : formatPackedDatetime(
                              packed, 6, static_cast<ColumnType>(*field_type) != ColumnType::kDate);
        if (!text) return text.error();
        appendJsonString(out_, *text);
        return Status::ok();
      }
      default:
        break;
    }
    appendJsonString(out_, fmt::format("base64:type{}:{}", *field_type, base64(bytes)));
    return Status::ok();
  }

  std::string out_;
};

// ---- TABLE_MAP ---------------------------------------------------------------------------

Result<TableMapHead> readHead(Reader& r) {
  TableMapHead head;
  auto id = r.le(kTableIdSize, "table id");
  if (!id) return id.error();
  head.table_id = *id;
  auto flags = r.le(2, "table map flags");
  if (!flags) return flags.error();
  head.flags = static_cast<std::uint16_t>(*flags);
  for (auto [name, what] :
       {std::pair{&head.schema, "schema name"}, std::pair{&head.table, "table name"}}) {
    auto length = r.le(1, what);
    if (!length) return length.error();
    auto text = r.bytes(static_cast<std::size_t>(*length), what);
    if (!text) return text.error();
    name->assign(text->begin(), text->end());
    auto nul = r.le(1, what);
    if (!nul) return nul.error();
    if (*nul != 0) {
      return malformed(fmt::format("{} at offset {} is not NUL-terminated", what, r.offset() - 1));
    }
  }
  return head;
}

bool isNumeric(const Column& c, ServerFlavor flavor) {
  switch (c.type) {
    case ColumnType::kTiny:
    case ColumnType::kShort:
    case ColumnType::kInt24:
    case ColumnType::kLong:
    case ColumnType::kLongLong:
    case ColumnType::kNewDecimal:
    case ColumnType::kFloat:
    case ColumnType::kDouble:
      return true;
    case ColumnType::kYear:
      return flavor == ServerFlavor::kMariaDb;
    default:
      return false;
  }
}

bool isCharacter(const Column& c, ServerFlavor flavor) {
  switch (c.type) {
    case ColumnType::kString:
    case ColumnType::kVarString:
    case ColumnType::kVarchar:
    case ColumnType::kBlob:
      return true;
    case ColumnType::kGeometry:
      return flavor == ServerFlavor::kMariaDb;
    default:
      return false;
  }
}

bool isEnumOrSet(const Column& c) {
  return c.type == ColumnType::kEnum || c.type == ColumnType::kSet;
}

// Reads the per-column metadata of column `index` of `table` from the metadata block.
Status readColumnMeta(Reader& r, Column& c, std::size_t index, const std::string& table) {
  auto what = [&](std::string_view field) {
    return fmt::format("metadata of column {} ({}) of {}: {}", index + 1,
                       columnTypeName(c.binlog_type), table, field);
  };
  auto byte = [&](std::string_view field) -> Result<std::uint8_t> {
    auto v = r.le(1, what(field));
    if (!v) return v.error();
    return static_cast<std::uint8_t>(*v);
  };

  switch (static_cast<ColumnType>(c.binlog_type)) {
    case ColumnType::kDecimal:
    case ColumnType::kTiny:
    case ColumnType::kShort:
    case ColumnType::kInt24:
    case ColumnType::kLong:
    case ColumnType::kLongLong:
    case ColumnType::kNull:
    case ColumnType::kDate:
    case ColumnType::kNewDate:
    case ColumnType::kTime:
    case ColumnType::kDatetime:
    case ColumnType::kTimestamp:
    case ColumnType::kYear:
      return Status::ok();
    case ColumnType::kFloat:
    case ColumnType::kDouble: {
      auto v = byte("pack length");
      if (!v) return v.error();
      const std::uint8_t expected = c.type == ColumnType::kFloat ? 4 : 8;
      if (*v != expected) {
        return malformed(fmt::format("{} is {}, expected {}", what("pack length"), *v, expected));
      }
      c.pack_length = *v;
      return Status::ok();
    }
    case ColumnType::kBlob:
    case ColumnType::kGeometry:
    case ColumnType::kJson: {
      auto v = byte("length bytes");
      if (!v) return v.error();
      if (*v < 1 || *v > 4) {
        return malformed(fmt::format("{} is {}, expected 1–4", what("length bytes"), *v));
      }
      c.length_bytes = *v;
      return Status::ok();
    }
    case ColumnType::kVarchar:
    case ColumnType::kVarString: {
      auto v = r.le(2, what("max length"));
      if (!v) return v.error();
      c.max_length = static_cast<std::uint32_t>(*v);
      return Status::ok();
    }
    case ColumnType::kBit: {
      auto bits = byte("bits");
      if (!bits) return bits.error();
      auto bytes = byte("bytes");
      if (!bytes) return bytes.error();
      c.bits = static_cast<std::uint16_t>(*bytes * 8 + *bits);
      if (*bits > 7 || c.bits < 1 || c.bits > 64) {
        return malformed(fmt::format("{} gives BIT({}) ({} bytes + {} bits)", what("bit length"),
                                     c.bits, *bytes, *bits));
      }
      return Status::ok();
    }
    case ColumnType::kNewDecimal: {
      auto precision = byte("precision");
      if (!precision) return precision.error();
      auto scale = byte("scale");
      if (!scale) return scale.error();
      if (*precision < 1 || *precision > 65 || *scale > *precision) {
        return malformed(
            fmt::format("{} is DECIMAL({},{})", what("precision and scale"), *precision, *scale));
      }
      c.precision = *precision;
      c.scale = *scale;
      return Status::ok();
    }
    case ColumnType::kTime2:
    case ColumnType::kDatetime2:
    case ColumnType::kTimestamp2: {
      auto v = byte("fractional digits");
      if (!v) return v.error();
      if (*v > 6) {
        return malformed(fmt::format("{} is {}, expected 0–6", what("fractional digits"), *v));
      }
      c.fsp = *v;
      return Status::ok();
    }
    case ColumnType::kString:
    case ColumnType::kEnum:
    case ColumnType::kSet: {
      // Two bytes: real type and length; a STRING longer than 255 bytes keeps bits 8–9 of its
      // length in bits 4–5 of the real type, inverted (Field_string::save_field_metadata).
      auto b0 = byte("real type");
      if (!b0) return b0.error();
      auto b1 = byte("length");
      if (!b1) return b1.error();
      std::uint8_t real = *b0;
      std::uint32_t length = *b1;
      if ((real & 0x30) != 0x30) {
        length |= static_cast<std::uint32_t>((real & 0x30) ^ 0x30) << 4;
        real |= 0x30;
      }
      switch (static_cast<ColumnType>(real)) {
        case ColumnType::kString:
          c.type = ColumnType::kString;
          c.max_length = length;
          return Status::ok();
        case ColumnType::kEnum:
          c.type = ColumnType::kEnum;
          if (length < 1 || length > 2) {
            return malformed(
                fmt::format("{} is {}, expected 1–2", what("ENUM pack length"), length));
          }
          c.pack_length = static_cast<std::uint8_t>(length);
          return Status::ok();
        case ColumnType::kSet:
          c.type = ColumnType::kSet;
          if (length < 1 || length > 8) {
            return malformed(
                fmt::format("{} is {}, expected 1–8", what("SET pack length"), length));
          }
          c.pack_length = static_cast<std::uint8_t>(length);
          return Status::ok();
        default:
          return malformed(fmt::format("{} is {}, not STRING, ENUM or SET", what("real type"),
                                       columnTypeName(real)));
      }
    }
    default:
      return configError(fmt::format(
          "TABLE_MAP of {}: column {} has type {}, which smsbridge cannot decode; exclude the "
          "table from capture or change the column type",
          table, index + 1, columnTypeName(c.binlog_type)));
  }
}

// Applies a DEFAULT_CHARSET/COLUMN_CHARSET style field to the columns `include` selects, if it
// fits them; otherwise leaves their collations unset (see Column::collation).
template <typename Include>
Status applyCharsets(Bytes value, bool per_column, std::vector<Column>& columns, Include include,
                     std::size_t base) {
  std::vector<Column*> targets;
  for (Column& c : columns) {
    if (include(c)) targets.push_back(&c);
  }
  Reader r(value, base);
  std::vector<std::uint32_t> collations;
  if (per_column) {
    while (!r.atEnd()) {
      auto v = r.lenenc("column charset");
      if (!v) return v.error();
      collations.push_back(static_cast<std::uint32_t>(*v));
    }
    if (collations.size() != targets.size()) return Status::ok();
  } else {
    auto fallback = r.lenenc("default charset");
    if (!fallback) return fallback.error();
    collations.assign(targets.size(), static_cast<std::uint32_t>(*fallback));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> exceptions;
    while (!r.atEnd()) {
      auto index = r.lenenc("charset column index");
      if (!index) return index.error();
      auto collation = r.lenenc("charset collation");
      if (!collation) return collation.error();
      exceptions.emplace_back(*index, *collation);
    }
    for (auto [index, collation] : exceptions) {
      if (index >= targets.size()) return Status::ok();
      collations[static_cast<std::size_t>(index)] = static_cast<std::uint32_t>(collation);
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i]->collation = collations[i];
  return Status::ok();
}

Status readMembers(Reader& r, std::vector<Column>& columns, ColumnType type) {
  const char* kind = type == ColumnType::kEnum ? "ENUM" : "SET";
  std::size_t index = 0;
  for (Column& c : columns) {
    if (c.type != type) continue;
    if (r.atEnd()) {
      return malformed(fmt::format("{} member names end before column {}", kind, index + 1));
    }
    auto n = r.count(fmt::format("{} member count of column {}", kind, index + 1));
    if (!n) return n.error();
    if (type == ColumnType::kSet && *n > 64) {
      return malformed(fmt::format("SET column {} has {} members, at most 64", index + 1, *n));
    }
    c.members.clear();
    for (std::size_t m = 0; m < *n; ++m) {
      auto name = r.lenencString(fmt::format("{} member {} of column {}", kind, m + 1, index + 1));
      if (!name) return name.error();
      c.members.push_back(std::move(*name));
    }
    ++index;
  }
  if (!r.atEnd()) {
    return malformed(fmt::format("{} member names list more columns than the table's {} {} columns",
                                 kind, index, kind));
  }
  return Status::ok();
}

Status readOptionalMetadata(Reader& r, TableMap& map, ServerFlavor flavor) {
  const std::size_t n = map.columns.size();
  while (!r.atEnd()) {
    auto field = r.le(1, "optional metadata type");
    if (!field) return field.error();
    auto length = r.count(fmt::format("length of optional metadata field {}", *field));
    if (!length) return length.error();
    const std::size_t base = r.offset();
    auto value = r.bytes(*length, "optional metadata value");
    if (!value) return value.error();
    Reader v(*value, base);

    switch (static_cast<OptionalField>(*field)) {
      case OptionalField::kSignedness: {
        std::vector<Column*> numeric;
        for (Column& c : map.columns) {
          if (isNumeric(c, flavor)) numeric.push_back(&c);
        }
        if (value->size() != bitmapSize(numeric.size())) {
          return malformed(
              fmt::format("signedness field has {} bytes for {} numeric columns (is the "
                          "server flavour right?)",
                          value->size(), numeric.size()));
        }
        // Most significant bit first, unlike the row-event bitmaps.
        for (std::size_t i = 0; i < numeric.size(); ++i) {
          numeric[i]->is_unsigned = ((*value)[i / 8] & (0x80 >> (i % 8))) != 0;
        }
        map.has_signedness = true;
        break;
      }
      case OptionalField::kDefaultCharset:
      case OptionalField::kColumnCharset:
        SMSBRIDGE_RETURN_IF_ERROR(applyCharsets(
            *value, static_cast<OptionalField>(*field) == OptionalField::kColumnCharset,
            map.columns, [flavor](const Column& c) { return isCharacter(c, flavor); }, base));
        break;
      case OptionalField::kEnumAndSetDefaultCharset:
      case OptionalField::kEnumAndSetColumnCharset:
        SMSBRIDGE_RETURN_IF_ERROR(applyCharsets(
            *value, static_cast<OptionalField>(*field) == OptionalField::kEnumAndSetColumnCharset,
            map.columns, isEnumOrSet, base));
        break;
      case OptionalField::kColumnName: {
        for (std::size_t i = 0; i < n; ++i) {
          if (v.atEnd()) {
            return malformed(fmt::format("{} column names for {} columns", i, n));
          }
          auto name = v.lenencString(fmt::format("name of column {}", i + 1));
          if (!name) return name.error();
          map.columns[i].name = std::move(*name);
        }
        if (!v.atEnd()) {
          return malformed(
              fmt::format("column names continue past the {} columns (offset {})", n, v.offset()));
        }
        map.has_names = true;
        break;
      }
      case OptionalField::kSetStrValue:
        SMSBRIDGE_RETURN_IF_ERROR(readMembers(v, map.columns, ColumnType::kSet));
        map.has_members = true;
        break;
      case OptionalField::kEnumStrValue:
        SMSBRIDGE_RETURN_IF_ERROR(readMembers(v, map.columns, ColumnType::kEnum));
        map.has_members = true;
        break;
      case OptionalField::kSimplePrimaryKey:
      case OptionalField::kPrimaryKeyWithPrefix: {
        const bool with_prefix =
            static_cast<OptionalField>(*field) == OptionalField::kPrimaryKeyWithPrefix;
        map.primary_key.clear();
        while (!v.atEnd()) {
          PrimaryKeyPart part;
          auto column = v.lenenc("primary key column");
          if (!column) return column.error();
          if (*column >= n) {
            return malformed(fmt::format(
                "primary key names column index {}, the table has {} columns", *column, n));
          }
          part.column = static_cast<std::size_t>(*column);
          if (with_prefix) {
            auto prefix = v.lenenc("primary key prefix length");
            if (!prefix) return prefix.error();
            part.prefix = static_cast<std::uint32_t>(*prefix);
          }
          map.primary_key.push_back(part);
        }
        map.has_primary_key = true;
        break;
      }
      case OptionalField::kGeometryType:
      default:
        // GEOMETRY subtypes, MySQL's column visibility and later additions: each field is
        // self-delimiting, and an unknown one is skipped by design of the format.
        break;
    }
  }
  return Status::ok();
}

// ---- Rows --------------------------------------------------------------------------------

struct ValueSite {
  const Column& column;
  std::size_t index;
};

std::string describe(const ValueSite& site) {
  return fmt::format("column {} '{}' ({})", site.index + 1, site.column.name,
                     columnTypeName(static_cast<std::uint8_t>(site.column.type)));
}

Result<Value> decodeString(Reader& r, std::size_t length_bytes, std::uint64_t max_length,
                           std::string_view what) {
  auto length = r.le(length_bytes, what);
  if (!length) return length.error();
  if (max_length != 0 && *length > max_length) {
    return malformed(
        fmt::format("{} is {} bytes long, the column holds at most {}", what, *length, max_length));
  }
  auto text = r.bytes(static_cast<std::size_t>(*length), what);
  if (!text) return text.error();
  return Value(std::string(text->begin(), text->end()));
}

Result<Value> decodeValue(Reader& r, const ValueSite& site) {
  const Column& c = site.column;
  auto integer = [&](std::size_t n) -> Result<Value> {
    auto v = r.le(n, "integer");
    if (!v) return v.error();
    if (c.is_unsigned) return unsignedValue(*v);
    return Value(signExtend(*v, n));
  };

  switch (c.type) {
    case ColumnType::kTiny:
      return integer(1);
    case ColumnType::kShort:
      return integer(2);
    case ColumnType::kInt24:
      return integer(3);
    case ColumnType::kLong:
      return integer(4);
    case ColumnType::kLongLong:
      return integer(8);
    case ColumnType::kYear: {
      auto v = r.le(1, "YEAR");
      if (!v) return v.error();
      return Value(static_cast<std::int64_t>(*v == 0 ? 0 : 1900 + *v));
    }
    case ColumnType::kFloat: {
      auto v = r.le(4, "FLOAT");
      if (!v) return v.error();
      const float f = std::bit_cast<float>(static_cast<std::uint32_t>(*v));
      if (!std::isfinite(f)) return Value(static_cast<double>(f));
      // Widen through the float's shortest decimal form so 1.1f reads as 1.1, not
      // 1.100000023841858 — what the user typed and what SELECT shows.
      std::array<char, 32> buf{};
      auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), f);
      double d = f;
      if (ec == std::errc()) {
        auto parsed = std::from_chars(buf.data(), end, d);
        if (parsed.ec != std::errc()) d = f;
      }
      return Value(d);
    }
    case ColumnType::kDouble: {
      auto v = r.le(8, "DOUBLE");
      if (!v) return v.error();
      return Value(std::bit_cast<double>(*v));
    }
    case ColumnType::kNewDecimal: {
      auto text = decodeDecimal(r, c.precision, c.scale);
      if (!text) return text.error();
      return Value(std::move(*text));
    }
    case ColumnType::kBit: {
      auto v = r.be((c.bits + 7u) / 8u, "BIT");
      if (!v) return v.error();
      return unsignedValue(*v);
    }
    case ColumnType::kString: {
      auto value = decodeString(r, c.max_length > 255 ? 2 : 1, c.max_length, "CHAR value");
      // The server strips the trailing pad bytes of BINARY(n) values in the binlog (0x00 for
      // the binary charset); SELECT returns them, so put them back. CHAR's trailing spaces are
      // stripped by SELECT too and stay stripped.
      if (value && c.collation == kBinaryCollation && value->asString().size() < c.max_length) {
        std::string padded = value->asString();
        padded.resize(c.max_length, '\0');
        return Value(std::move(padded));
      }
      return value;
    }
    case ColumnType::kVarchar:
    case ColumnType::kVarString:
      return decodeString(r, c.max_length > 255 ? 2 : 1, c.max_length, "VARCHAR value");
    case ColumnType::kBlob:
    case ColumnType::kGeometry:
      return decodeString(r, c.length_bytes, 0, "BLOB value");
    case ColumnType::kJson: {
      auto length = r.le(c.length_bytes, "JSON length");
      if (!length) return length.error();
      const std::size_t at = r.offset();
      auto data = r.bytes(static_cast<std::size_t>(*length), "JSON value");
      if (!data) return data.error();
      if (data->empty()) return Value("null");
      JsonWriter json;
      SMSBRIDGE_RETURN_IF_ERROR(json.value((*data)[0], data->subspan(1), at + 1, 0));
      return Value(json.take());
    }
    case ColumnType::kEnum: {
      auto index = r.le(c.pack_length, "ENUM index");
      if (!index) return index.error();
      if (c.members.empty()) return Value(static_cast<std::int64_t>(*index));
      if (*index == 0) return Value("");
      if (*index > c.members.size()) {
        return malformed(
            fmt::format("ENUM index {} but the column has {} members", *index, c.members.size()));
      }
      return Value(c.members[static_cast<std::size_t>(*index - 1)]);
    }
    case ColumnType::kSet: {
      auto bits = r.le(c.pack_length, "SET bits");
      if (!bits) return bits.error();
      if (c.members.empty()) return unsignedValue(*bits);
      std::string out;
      for (std::size_t i = 0; i < 64; ++i) {
        if (((*bits >> i) & 1) == 0) continue;
        if (i >= c.members.size()) {
          return malformed(fmt::format("SET value 0x{:x} has bit {} but the column has {} members",
                                       *bits, i, c.members.size()));
        }
        if (!out.empty()) out += ',';
        out += c.members[i];
      }
      return Value(std::move(out));
    }
    case ColumnType::kDate:
    case ColumnType::kNewDate: {
      auto v = r.le(3, "DATE");
      if (!v) return v.error();
      auto text = formatDatetime(*v >> 9, (*v >> 5) & 15, *v & 31, 0, 0, 0, 0, 0, false);
      if (!text) return text.error();
      return Value(std::move(*text));
    }
    case ColumnType::kTime: {
      auto v = r.le(3, "TIME");
      if (!v) return v.error();
      std::int64_t hhmmss = signExtend(*v, 3);
      const bool negative = hhmmss < 0;
      if (negative) hhmmss = -hhmmss;
      if (hhmmss / 100 % 100 > 59 || hhmmss % 100 > 59) {
        return malformed(fmt::format("TIME value {} is not HHMMSS", signExtend(*v, 3)));
      }
      return Value(fmt::format("{}{:02}:{:02}:{:02}", negative ? "-" : "", hhmmss / 10000,
                               hhmmss / 100 % 100, hhmmss % 100));
    }
    case ColumnType::kTime2: {
      // 3 bytes of h/m/s plus the fraction, offset so that the bytes compare as numbers
      // (my_time_packed_from_binary).
      std::int64_t packed = 0;
      if (c.fsp >= 5) {
        auto v = r.be(6, "TIME2");
        if (!v) return v.error();
        packed = static_cast<std::int64_t>(*v) - 0x800000000000LL;
      } else {
        auto v = r.be(3, "TIME2");
        if (!v) return v.error();
        std::int64_t intpart = static_cast<std::int64_t>(*v) - 0x800000LL;
        std::int64_t frac = 0;
        if (c.fsp >= 1) {
          const std::size_t n = c.fsp >= 3 ? 2 : 1;
          auto f = r.be(n, "TIME2 fractional seconds");
          if (!f) return f.error();
          frac = static_cast<std::int64_t>(*f);
          if (intpart < 0 && frac != 0) {
            intpart += 1;
            frac -= n == 1 ? 0x100 : 0x10000;
          }
          frac *= n == 1 ? 10000 : 100;
        }
        packed = intpart * (std::int64_t{1} << 24) + frac;
      }
      auto text = formatPackedTime(packed, c.fsp);
      if (!text) return text.error();
      return Value(std::move(*text));
    }
    case ColumnType::kDatetime: {
      auto v = r.le(8, "DATETIME");
      if (!v) return v.error();
      const auto date = static_cast<std::int64_t>(*v / 1000000);
      const auto time = static_cast<std::int64_t>(*v % 1000000);
      auto text = formatDatetime(date / 10000, date / 100 % 100, date % 100, time / 10000,
                                 time / 100 % 100, time % 100, 0, 0, true);
      if (!text) return text.error();
      return Value(std::move(*text));
    }
    case ColumnType::kDatetime2: {
      auto v = r.be(5, "DATETIME2");
      if (!v) return v.error();
      auto micros = readFraction(r, c.fsp);
      if (!micros) return micros.error();
      const std::int64_t intpart = static_cast<std::int64_t>(*v) - 0x8000000000LL;
      if (intpart < 0) {
        return malformed(fmt::format("DATETIME2 value 0x{:010x} is below the zero date", *v));
      }
      auto text = formatPackedDatetime(intpart * (std::int64_t{1} << 24) + *micros, c.fsp, true);
      if (!text) return text.error();
      return Value(std::move(*text));
    }
    case ColumnType::kTimestamp: {
      auto v = r.le(4, "TIMESTAMP");
      if (!v) return v.error();
      auto text = formatEpoch(static_cast<std::int64_t>(*v), 0, 0);
      if (!text) return text.error();
      return Value(std::move(*text));
    }
    case ColumnType::kTimestamp2: {
      auto v = r.be(4, "TIMESTAMP2");
      if (!v) return v.error();
      auto micros = readFraction(r, c.fsp);
      if (!micros) return micros.error();
      auto text = formatEpoch(static_cast<std::int64_t>(*v), *micros, c.fsp);
      if (!text) return text.error();
      return Value(std::move(*text));
    }
    case ColumnType::kNull:
      return Value(NullValue{});
    default:
      return configError(fmt::format("smsbridge cannot decode {} values",
                                     columnTypeName(static_cast<std::uint8_t>(c.type))));
  }
}

// One row image: the null bitmap over the present columns, then their values.
Result<Row> decodeImage(Reader& r, const TableMap& map, Bytes present, std::size_t row,
                        std::string_view image) {
  const std::size_t n = map.columns.size();
  std::size_t present_count = 0;
  for (std::size_t i = 0; i < n; ++i) present_count += bitSet(present, i) ? 1 : 0;
  const std::string where =
      fmt::format("rows event for {}: row {} ({} image)", map.qualifiedName(), row, image);
  auto nulls = r.bytes(bitmapSize(present_count), fmt::format("{}: null bitmap", where));
  if (!nulls) return nulls.error();

  Row out;
  std::size_t null_index = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Column& column = map.columns[i];
    if (!bitSet(present, i)) {
      out.set(column.name, Value(UnavailableValue{}));
      continue;
    }
    if (bitSet(*nulls, null_index++)) {
      out.set(column.name, Value(NullValue{}));
      continue;
    }
    const ValueSite site{column, i};
    auto value = decodeValue(r, site);
    if (!value) return value.error().withContext(fmt::format("{}, {}", where, describe(site)));
    out.set(column.name, std::move(*value));
  }
  return out;
}

struct RowsLayout {
  RowsKind kind;
  int version;
};

Result<RowsLayout> rowsLayout(std::uint8_t event_type) {
  switch (event_type) {
    case 23:
      return RowsLayout{RowsKind::kWrite, 1};
    case 24:
      return RowsLayout{RowsKind::kUpdate, 1};
    case 25:
      return RowsLayout{RowsKind::kDelete, 1};
    case 30:
      return RowsLayout{RowsKind::kWrite, 2};
    case 31:
      return RowsLayout{RowsKind::kUpdate, 2};
    case 32:
      return RowsLayout{RowsKind::kDelete, 2};
    case 20:
    case 21:
    case 22:
      return configError(fmt::format(
          "binlog event type {} is a pre-GA MySQL 5.1 rows event, which smsbridge does not decode",
          event_type));
    case 39:
      return configError(
          "binlog event type 39 (PARTIAL_UPDATE_ROWS_EVENT) carries partial JSON updates, which "
          "smsbridge does not decode; set binlog_row_value_options='' on the server");
    case 166:
    case 167:
    case 168:
    case 169:
    case 170:
    case 171:
      return configError(fmt::format(
          "binlog event type {} is a compressed MariaDB rows event, which smsbridge does not "
          "decode; set log_bin_compress=OFF on the server",
          event_type));
    default:
      return internalError(fmt::format("binlog event type {} is not a rows event", event_type));
  }
}

Result<RowsHeader> readRowsHeader(std::uint8_t event_type, Reader& r) {
  auto layout = rowsLayout(event_type);
  if (!layout) return layout.error();
  RowsHeader header;
  header.kind = layout->kind;
  header.version = layout->version;
  auto id = r.le(kTableIdSize, "rows event table id");
  if (!id) return id.error();
  header.table_id = *id;
  auto flags = r.le(2, "rows event flags");
  if (!flags) return flags.error();
  header.flags = static_cast<std::uint16_t>(*flags);
  if (header.version == 2) {
    // The extra-row-info length counts its own two bytes.
    auto extra = r.le(2, "rows event extra data length");
    if (!extra) return extra.error();
    if (*extra < 2) {
      return malformed(
          fmt::format("rows event extra data length {} is below its own 2 bytes", *extra));
    }
    auto skipped = r.bytes(static_cast<std::size_t>(*extra - 2), "rows event extra data");
    if (!skipped) return skipped.error();
  }
  return header;
}

bool sameName(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch; };
    return lower(x) == lower(y);
  });
}

}  // namespace

ServerFlavor flavorFromServerVersion(std::string_view server_version) {
  static constexpr std::string_view kMariaDb = "mariadb";
  for (std::size_t i = 0; i + kMariaDb.size() <= server_version.size(); ++i) {
    if (sameName(server_version.substr(i, kMariaDb.size()), kMariaDb)) {
      return ServerFlavor::kMariaDb;
    }
  }
  return ServerFlavor::kMySql;
}

std::string columnTypeName(std::uint8_t type_code) {
  switch (type_code) {
    case 0:
      return "DECIMAL";
    case 1:
      return "TINY";
    case 2:
      return "SHORT";
    case 3:
      return "LONG";
    case 4:
      return "FLOAT";
    case 5:
      return "DOUBLE";
    case 6:
      return "NULL";
    case 7:
      return "TIMESTAMP";
    case 8:
      return "LONGLONG";
    case 9:
      return "INT24";
    case 10:
      return "DATE";
    case 11:
      return "TIME";
    case 12:
      return "DATETIME";
    case 13:
      return "YEAR";
    case 14:
      return "NEWDATE";
    case 15:
      return "VARCHAR";
    case 16:
      return "BIT";
    case 17:
      return "TIMESTAMP2";
    case 18:
      return "DATETIME2";
    case 19:
      return "TIME2";
    case 140:
      return "type 140 (MariaDB compressed VARCHAR)";
    case 141:
      return "type 141 (MariaDB compressed BLOB)";
    case 242:
      return "type 242 (MySQL VECTOR)";
    case 245:
      return "JSON";
    case 246:
      return "NEWDECIMAL";
    case 247:
      return "ENUM";
    case 248:
      return "SET";
    case 249:
      return "TINY_BLOB";
    case 250:
      return "MEDIUM_BLOB";
    case 251:
      return "LONG_BLOB";
    case 252:
      return "BLOB";
    case 253:
      return "VAR_STRING";
    case 254:
      return "STRING";
    case 255:
      return "GEOMETRY";
    default:
      return fmt::format("type {}", type_code);
  }
}

std::string TableMap::qualifiedName() const { return schema + "." + table; }

Result<TableMapHead> peekTableMap(std::span<const std::uint8_t> body) {
  Reader r(body);
  auto head = readHead(r);
  if (!head) return head.error().withContext("TABLE_MAP event");
  return head;
}

Result<TableMap> parseTableMap(std::span<const std::uint8_t> body, ServerFlavor flavor) {
  Reader r(body);
  auto head = readHead(r);
  if (!head) return head.error().withContext("TABLE_MAP event");
  TableMap map;
  map.table_id = head->table_id;
  map.flags = head->flags;
  map.schema = std::move(head->schema);
  map.table = std::move(head->table);
  const std::string table = map.qualifiedName();
  const std::string context = "TABLE_MAP of " + table;

  auto count = r.count("column count");
  if (!count) return count.error().withContext(context);
  if (*count == 0) return malformed(context + ": the table has no columns");
  auto types = r.bytes(*count, "column types");
  if (!types) return types.error().withContext(context);
  map.columns.resize(*count);
  for (std::size_t i = 0; i < *count; ++i) {
    map.columns[i].binlog_type = (*types)[i];
    map.columns[i].type = static_cast<ColumnType>((*types)[i]);
  }

  auto meta_length = r.count("metadata length");
  if (!meta_length) return meta_length.error().withContext(context);
  const std::size_t meta_at = r.offset();
  auto meta = r.bytes(*meta_length, "metadata block");
  if (!meta) return meta.error().withContext(context);
  Reader m(*meta, meta_at);
  for (std::size_t i = 0; i < *count; ++i) {
    SMSBRIDGE_RETURN_IF_ERROR(readColumnMeta(m, map.columns[i], i, table));
  }
  if (!m.atEnd()) {
    return malformed(fmt::format("{}: metadata block has {} bytes, the column types use {}",
                                 context, *meta_length, *meta_length - m.remaining()));
  }

  auto nulls = r.bytes(bitmapSize(*count), "null bitmap");
  if (!nulls) return nulls.error().withContext(context);
  for (std::size_t i = 0; i < *count; ++i) map.columns[i].nullable = bitSet(*nulls, i);

  Status optional = readOptionalMetadata(r, map, flavor);
  if (!optional.isOk()) return optional.withContext(context);
  return map;
}

std::vector<std::string> parseColumnMembers(std::string_view column_type) {
  std::vector<std::string> out;
  if (!column_type.starts_with("enum(") && !column_type.starts_with("set(")) return out;
  const std::size_t open = column_type.find('(');
  std::string current;
  bool quoted = false;
  for (std::size_t i = open + 1; i < column_type.size(); ++i) {
    const char c = column_type[i];
    if (!quoted) {
      if (c == '\'') quoted = true;
      continue;
    }
    // A quote inside a member is doubled; MariaDB may also escape with a backslash.
    if (c == '\'' && i + 1 < column_type.size() && column_type[i + 1] == '\'') {
      current += '\'';
      ++i;
    } else if (c == '\\' && i + 1 < column_type.size()) {
      current += column_type[++i];
    } else if (c == '\'') {
      out.push_back(std::move(current));
      current.clear();
      quoted = false;
    } else {
      current += c;
    }
  }
  return out;
}

bool dataTypeMatches(ColumnType type, std::string_view data_type) {
  using T = ColumnType;
  struct Entry {
    std::string_view data_type;
    std::initializer_list<ColumnType> types;
  };
  static const Entry kEntries[] = {
      {"tinyint", {T::kTiny}},
      {"smallint", {T::kShort}},
      {"mediumint", {T::kInt24}},
      {"int", {T::kLong}},
      {"bigint", {T::kLongLong}},
      {"float", {T::kFloat}},
      {"double", {T::kDouble}},
      {"decimal", {T::kNewDecimal, T::kDecimal}},
      {"year", {T::kYear}},
      {"date", {T::kDate, T::kNewDate}},
      {"time", {T::kTime, T::kTime2}},
      {"datetime", {T::kDatetime, T::kDatetime2}},
      {"timestamp", {T::kTimestamp, T::kTimestamp2}},
      {"bit", {T::kBit}},
      {"char", {T::kString}},
      {"binary", {T::kString}},
      {"varchar", {T::kVarchar, T::kVarString}},
      {"varbinary", {T::kVarchar, T::kVarString}},
      {"enum", {T::kEnum}},
      {"set", {T::kSet}},
      {"tinytext", {T::kBlob, T::kTinyBlob}},
      {"text", {T::kBlob}},
      {"mediumtext", {T::kBlob, T::kMediumBlob}},
      {"longtext", {T::kBlob, T::kLongBlob}},
      {"tinyblob", {T::kBlob, T::kTinyBlob}},
      {"blob", {T::kBlob}},
      {"mediumblob", {T::kBlob, T::kMediumBlob}},
      {"longblob", {T::kBlob, T::kLongBlob}},
      {"json", {T::kJson, T::kBlob}},  // MySQL binary JSON; MariaDB's is LONGTEXT
  };
  for (const Entry& e : kEntries) {
    if (!sameName(e.data_type, data_type)) continue;
    return std::find(e.types.begin(), e.types.end(), type) != e.types.end();
  }
  return true;
}

Status applyTableSchema(TableMap& map, const TableSchema& schema) {
  const std::string table = map.qualifiedName();
  if (schema.columns.size() != map.columns.size()) {
    return sourceLostError(fmt::format(
        "{}: information_schema lists {} columns, the binlog's TABLE_MAP has {}; the table was "
        "altered after these events were written",
        table, schema.columns.size(), map.columns.size()));
  }
  for (std::size_t i = 0; i < map.columns.size(); ++i) {
    const ColumnSchema& source = schema.columns[i];
    Column& column = map.columns[i];
    if (source.name.empty()) {
      return configError(
          fmt::format("{}: column {} has an empty name in the given schema", table, i + 1));
    }
    if (map.has_names && !sameName(column.name, source.name)) {
      return sourceLostError(fmt::format(
          "{}: column {} is '{}' in the binlog but '{}' in information_schema; the table was "
          "altered after these events were written",
          table, i + 1, column.name, source.name));
    }
    if (!source.data_type.empty() && !dataTypeMatches(column.type, source.data_type)) {
      return sourceLostError(fmt::format(
          "{}: column {} ('{}') is {} in the binlog but {} in information_schema; the table "
          "was altered after these events were written",
          table, i + 1, source.name, columnTypeName(static_cast<std::uint8_t>(column.type)),
          source.data_type));
    }
  }
  for (std::size_t i = 0; i < map.columns.size(); ++i) {
    const ColumnSchema& source = schema.columns[i];
    Column& column = map.columns[i];
    if (!map.has_names) column.name = source.name;
    if (!map.has_signedness) column.is_unsigned = source.is_unsigned;
    if (!map.has_members && isEnumOrSet(column)) column.members = source.members;
  }
  map.has_names = true;
  map.has_signedness = true;
  map.has_members = true;
  if (!map.has_primary_key) {
    std::vector<PrimaryKeyPart> key;
    for (const std::string& name : schema.primary_key) {
      auto it = std::find_if(map.columns.begin(), map.columns.end(),
                             [&](const Column& c) { return sameName(c.name, name); });
      if (it == map.columns.end()) {
        return configError(
            fmt::format("{}: primary key column '{}' is not a column of the table", table, name));
      }
      key.push_back({static_cast<std::size_t>(it - map.columns.begin()), 0});
    }
    map.primary_key = std::move(key);
    map.has_primary_key = true;
  }
  return Status::ok();
}

bool isRowsEventType(std::uint8_t event_type) {
  return (event_type >= 23 && event_type <= 25) || (event_type >= 30 && event_type <= 32);
}

Result<RowsHeader> peekRowsEvent(std::uint8_t event_type, std::span<const std::uint8_t> body) {
  Reader r(body);
  return readRowsHeader(event_type, r);
}

Result<RowsEvent> decodeRowsEvent(std::uint8_t event_type, std::span<const std::uint8_t> body,
                                  const TableMap& map) {
  Reader r(body);
  auto header = readRowsHeader(event_type, r);
  if (!header) return header.error();
  const std::string table = map.qualifiedName();
  if (header->table_id != map.table_id) {
    return internalError(
        fmt::format("rows event for table id {} decoded with the TABLE_MAP of {} (table id {})",
                    header->table_id, table, map.table_id));
  }
  if (!map.has_names) {
    return configError(fmt::format(
        "TABLE_MAP of {} carries no column names (the server's binlog_row_metadata is not "
        "FULL); set binlog_row_metadata=FULL, or read the names from information_schema.COLUMNS "
        "and pass them in with applyTableSchema()",
        table));
  }
  const std::string context = "rows event for " + table;
  auto count = r.lenenc("column count");
  if (!count) return count.error().withContext(context);
  if (*count != map.columns.size()) {
    return malformed(fmt::format("{}: the event has {} columns, its TABLE_MAP has {}", context,
                                 *count, map.columns.size()));
  }
  const std::size_t bitmap_bytes = bitmapSize(map.columns.size());
  auto before_columns = r.bytes(bitmap_bytes, "present-columns bitmap");
  if (!before_columns) return before_columns.error().withContext(context);
  Bytes after_columns = *before_columns;
  if (header->kind == RowsKind::kUpdate) {
    auto second = r.bytes(bitmap_bytes, "after-image present-columns bitmap");
    if (!second) return second.error().withContext(context);
    after_columns = *second;
  }

  RowsEvent out;
  out.header = *header;
  for (std::size_t row = 1; !r.atEnd(); ++row) {
    RowChange change;
    if (header->kind != RowsKind::kWrite) {
      auto before = decodeImage(r, map, *before_columns, row, "before");
      if (!before) return before.error();
      change.before = std::move(*before);
    }
    if (header->kind != RowsKind::kDelete) {
      auto after =
          decodeImage(r, map, header->kind == RowsKind::kUpdate ? after_columns : *before_columns,
                      row, "after");
      if (!after) return after.error();
      change.after = std::move(*after);
    }
    out.rows.push_back(std::move(change));
  }
  return out;
}

Result<std::string> jsonBinaryToText(std::span<const std::uint8_t> data) {
  if (data.empty()) return std::string("null");
  JsonWriter json;
  SMSBRIDGE_RETURN_IF_ERROR(json.value(data[0], data.subspan(1), 1, 0));
  return json.take();
}

Result<EventView> splitEvent(std::span<const std::uint8_t> event, bool has_checksum) {
  Reader r(event);
  EventView view;
  auto timestamp = r.le(4, "event timestamp");
  if (!timestamp) return timestamp.error();
  auto type = r.le(1, "event type");
  if (!type) return type.error();
  auto server_id = r.le(4, "event server id");
  if (!server_id) return server_id.error();
  auto length = r.le(4, "event length");
  if (!length) return length.error();
  auto next = r.le(4, "event next position");
  if (!next) return next.error();
  auto flags = r.le(2, "event flags");
  if (!flags) return flags.error();
  view.header = {static_cast<std::uint32_t>(*timestamp), static_cast<std::uint8_t>(*type),
                 static_cast<std::uint32_t>(*server_id), static_cast<std::uint32_t>(*length),
                 static_cast<std::uint32_t>(*next),      static_cast<std::uint16_t>(*flags)};
  const std::size_t trailer = has_checksum ? kChecksumSize : 0;
  if (*length != event.size()) {
    return malformed(fmt::format("binlog event of type {} says it has {} bytes, {} arrived", *type,
                                 *length, event.size()));
  }
  if (event.size() < kCommonHeaderSize + trailer) {
    return malformed(fmt::format("binlog event of type {} has {} bytes, too short for its {}",
                                 *type, event.size(),
                                 has_checksum ? "header and checksum" : "header"));
  }
  view.body = event.subspan(kCommonHeaderSize, event.size() - kCommonHeaderSize - trailer);
  return view;
}

Result<std::string> primaryKeyText(const TableMap& map, const Row& row) {
  if (map.primary_key.empty()) {
    return configError(fmt::format(
        "{} has no primary key in its TABLE_MAP (binlog_row_metadata=FULL sends it for tables "
        "that have one); without a key its changes cannot be told apart",
        map.qualifiedName()));
  }
  std::string out;
  for (std::size_t i = 0; i < map.primary_key.size(); ++i) {
    const std::size_t index = map.primary_key[i].column;
    if (index >= map.columns.size()) {
      return internalError(fmt::format("{}: primary key names column index {} of {}",
                                       map.qualifiedName(), index, map.columns.size()));
    }
    const std::string& name = map.columns[index].name;
    const Value* value = row.find(name);
    if (value == nullptr || value->isUnavailable()) {
      return configError(fmt::format(
          "{}: primary key column '{}' is not in the row image (binlog_row_image must include "
          "the key)",
          map.qualifiedName(), name));
    }
    if (i > 0) out += '|';
    out += value->toText();
  }
  return out;
}

Result<std::vector<BinlogChange>> toChangeEvents(const TableMap& map, const RowsEvent& rows,
                                                 const ChangeContext& context) {
  std::vector<BinlogChange> out;
  out.reserve(rows.rows.size());
  for (const RowChange& change : rows.rows) {
    BinlogChange item;
    item.schema = map.schema;
    ChangeEvent& event = item.event;
    event.source = context.source;
    event.table = map.table;
    event.position = context.position;
    event.commit_ts = context.commit_ts;
    event.txid = context.txid;
    event.before = change.before;
    event.after = change.after;
    switch (rows.header.kind) {
      case RowsKind::kWrite:
        event.op = Op::kInsert;
        break;
      case RowsKind::kUpdate:
        event.op = Op::kUpdate;
        break;
      case RowsKind::kDelete:
        event.op = Op::kDelete;
        break;
    }
    const Row* key_row = event.after ? &*event.after : event.before ? &*event.before : nullptr;
    if (key_row == nullptr) {
      return internalError(fmt::format("{}: a decoded row has neither image", map.qualifiedName()));
    }
    auto pk = primaryKeyText(map, *key_row);
    if (!pk) return pk.error();
    event.pk = std::move(*pk);
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace smsbridge::mysql
