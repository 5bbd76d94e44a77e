#include "core/template.h"

#include <unicode/locid.h>
#include <unicode/stringpiece.h>
#include <unicode/timezone.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

// Placeholders are located by a quote-aware scan for the matching `}}`; the expression and
// each filter argument inside are parsed by Expression::compileEmbedded, which stops at the
// '|', ',' or ')' that the small filter grammar here consumes. New filters are one row of
// kFilters.

namespace smsbridge {
namespace {

using Evaluate = Result<Value> (*)(const Expression& expression, const EvalContext& context,
                                   bool missing_as_null);

// ---------------------------------------------------------------------------------------------
// Filters

struct FilterSpec {
  std::string_view name;
  std::size_t min_args;
  std::size_t max_args;
  // Validates one argument value: at compile time when the argument reads no field, at render
  // time otherwise. Returns why it is unusable.
  std::optional<std::string> (*check_arg)(std::size_t index, const Value& arg);
  // `subject` is the placeholder's expression text, for messages.
  Result<Value> (*apply)(const Value& input, std::span<const Value> args, std::string_view subject);
};

std::optional<std::int64_t> wholeNumber(const Value& v, std::int64_t min, std::int64_t max) {
  if (v.isBool()) return std::nullopt;
  const auto n = v.toNumber();
  if (!n || !std::isfinite(*n) || *n != std::floor(*n) || *n < static_cast<double>(min) ||
      *n > static_cast<double>(max)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*n);
}

std::optional<std::string> noArgCheck(std::size_t, const Value&) { return std::nullopt; }

constexpr std::int64_t kMaxTruncate = 1'000'000;
constexpr std::int64_t kMaxRoundDigits = 10;

std::optional<std::string> checkTruncateArg(std::size_t, const Value& arg) {
  if (wholeNumber(arg, 0, kMaxTruncate)) return std::nullopt;
  return "the length must be a whole number from 0 to " + std::to_string(kMaxTruncate) + ", got " +
         arg.toDebugString();
}

std::optional<std::string> checkRoundArg(std::size_t, const Value& arg) {
  if (wholeNumber(arg, 0, kMaxRoundDigits)) return std::nullopt;
  return "the number of decimals must be a whole number from 0 to " +
         std::to_string(kMaxRoundDigits) + ", got " + arg.toDebugString();
}

std::optional<std::string> checkReplaceArg(std::size_t index, const Value& arg) {
  if (index == 0 && arg.toText().empty()) return "the text to replace must not be empty";
  return std::nullopt;
}

Result<Value> applyDefault(const Value& input, std::span<const Value> args, std::string_view) {
  if (input.isNull() || (input.isString() && input.asString().empty())) return args[0];
  return input;
}

enum class CaseMapping { kUpper, kLower, kCapitalize };

// ICU with the root locale: the result must not depend on the locale of the host the bridge
// happens to run on (Turkish dotless i).
std::string mapCase(const std::string& text, CaseMapping mapping) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  const icu::Locale& root = icu::Locale::getRoot();
  if (mapping == CaseMapping::kUpper) {
    u.toUpper(root);
  } else {
    u.toLower(root);
  }
  if (mapping == CaseMapping::kCapitalize && !u.isEmpty()) {
    const UChar32 first = u.char32At(0);
    u.replace(0, U16_LENGTH(first), static_cast<UChar32>(u_totitle(first)));
  }
  std::string out;
  u.toUTF8String(out);
  return out;
}

template <CaseMapping kMapping>
Result<Value> applyCase(const Value& input, std::span<const Value>, std::string_view) {
  if (input.isNull()) return input;
  return Value(mapCase(input.toText(), kMapping));
}

Result<Value> applyTruncate(const Value& input, std::span<const Value> args, std::string_view) {
  if (input.isNull()) return input;
  const auto limit = static_cast<std::size_t>(*wholeNumber(args[0], 0, kMaxTruncate));
  std::string text = input.toText();
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    // Counting lead bytes counts code points and never cuts one in half.
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == limit) {
        text.resize(i);
        break;
      }
      ++chars;
    }
  }
  return Value(std::move(text));
}

Result<Value> applyReplace(const Value& input, std::span<const Value> args, std::string_view) {
  if (input.isNull()) return input;
  const std::string text = input.toText();
  const std::string from = args[0].toText();
  const std::string to = args[1].toText();
  std::string out;
  std::size_t pos = 0;
  for (std::size_t found; (found = text.find(from, pos)) != std::string::npos;) {
    out.append(text, pos, found - pos);
    out += to;
    pos = found + from.size();
  }
  out.append(text, pos, std::string::npos);
  return Value(std::move(out));
}

// "[-+]digits[.digits]": numeric text from a database, rounded as written rather than through
// a binary double (2.675 rounds to 2.68, as on the invoice).
bool isPlainDecimal(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  const std::size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  const auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !digits(whole) || !digits(fraction)) return false;
  return dot == std::string_view::npos || !fraction.empty();
}

// Rounds a plain decimal half away from zero and writes exactly `decimals` decimals.
std::string roundDecimalText(std::string_view s, std::size_t decimals) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const std::size_t dot = s.find('.');
  std::string whole(s.substr(0, dot));
  std::string fraction(dot == std::string_view::npos ? "" : s.substr(dot + 1));
  const std::size_t first_digit = whole.find_first_not_of('0');
  whole = first_digit == std::string::npos ? "0" : whole.substr(first_digit);
  const bool round_up = fraction.size() > decimals && fraction[decimals] >= '5';
  fraction.resize(decimals, '0');
  std::string digits = whole + fraction;
  if (round_up) {
    std::size_t i = digits.size();
    while (i > 0 && digits[i - 1] == '9') digits[--i] = '0';
    if (i == 0) {
      digits.insert(digits.begin(), '1');
    } else {
      ++digits[i - 1];
    }
  }
  if (digits.find_first_not_of('0') == std::string::npos) negative = false;  // no "-0.00"
  std::string out = negative ? "-" : "";
  out.append(digits, 0, digits.size() - decimals);
  if (decimals > 0) out += "." + digits.substr(digits.size() - decimals);
  return out;
}

// "word is 'abc'," or, when the placeholder is the value itself, "'abc' is": what a runtime
// error says about the input of a filter.
std::string describeInput(std::string_view subject, const Value& input) {
  const std::string shown = input.toDebugString();
  return subject == shown ? shown + " is" : std::string(subject) + " is " + shown + ",";
}

// `input` rounded half away from zero and written with exactly `decimals` decimals, for the
// filters `round` and `money`.
Result<Value> roundNumber(std::string_view filter, const Value& input, std::size_t decimals,
                          std::string_view subject) {
  const std::string error_prefix = "template filter '" + std::string(filter) + "': ";
  if (input.isInt()) return Value(roundDecimalText(std::to_string(input.asInt()), decimals));
  if (input.isString() && isPlainDecimal(input.asString())) {
    return Value(roundDecimalText(input.asString(), decimals));
  }
  const auto number = input.isBool() ? std::nullopt : input.toNumber();
  if (!number || !std::isfinite(*number)) {
    return rejectedError(error_prefix + describeInput(subject, input) + " not a number");
  }
  // The shortest text that reads back as the same double: 0.1 + 0.2 stays 0.30000000000000004
  // but 2.675 stays 2.675, which is what the database held.
  char buf[512];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *number, std::chars_format::fixed);
  if (ec != std::errc()) return rejectedError(error_prefix + "number out of range");
  return Value(roundDecimalText(std::string_view(buf, end - buf), decimals));
}

Result<Value> applyRound(const Value& input, std::span<const Value> args,
                         std::string_view subject) {
  if (input.isNull()) return input;
  const std::size_t decimals =
      args.empty() ? 0 : static_cast<std::size_t>(*wholeNumber(args[0], 0, kMaxRoundDigits));
  return roundNumber("round", input, decimals, subject);
}

Result<Value> applyMoney(const Value& input, std::span<const Value> args,
                         std::string_view subject) {
  if (input.isNull()) return input;
  const auto decimals = static_cast<std::size_t>(*wholeNumber(args[0], 0, kMaxRoundDigits));
  return roundNumber("money", input, decimals, subject);
}

// ---------------------------------------------------------------------------------------------
// join(sep)

// The elements of a JSON array, read without building a document: each top-level element is
// kept as the text a message shows, null elements are dropped, and a nested array or object
// stops the parse (a list of lists has no obvious rendering). Anything but one array fails.
class JoinElements final : public nlohmann::json::json_sax_t {
 public:
  std::vector<std::string> elements;
  bool nested = false;

  bool null() override { return inArray(); }
  bool boolean(bool v) override { return add(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return add(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(std::to_string(v)); }
  // As written in the column: 2.50 stays "2.50".
  bool number_float(number_float_t, const string_t& text) override { return add(text); }
  bool string(string_t& v) override { return add(std::move(v)); }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return enter(); }
  bool key(string_t&) override { return false; }
  bool end_object() override { return false; }
  bool start_array(std::size_t) override { return enter(); }
  bool end_array() override { return --depth_ == 0; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception&) override {
    return false;
  }

 private:
  bool inArray() const { return depth_ == 1; }
  bool add(std::string text) {
    if (!inArray()) return false;
    elements.push_back(std::move(text));
    return true;
  }
  bool enter() {
    if (depth_ == 1) nested = true;
    return ++depth_ == 1;
  }

  int depth_ = 0;
};

bool looksLikeList(const Value& input) {
  if (!input.isString()) return false;
  const std::string& text = input.asString();
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '[';
}

Result<Value> applyJoin(const Value& input, std::span<const Value> args, std::string_view subject) {
  if (input.isNull()) return input;
  // A single value is a list of one: a column that sometimes holds one item needs no special
  // case in the template.
  if (!looksLikeList(input)) return Value(input.toText());
  JoinElements list;
  const bool parsed =
      nlohmann::json::sax_parse(input.asString(), &list, nlohmann::json::input_format_t::json,
                                /*strict=*/true, /*ignore_comments=*/false);
  if (!parsed) {
    return rejectedError(
        "template filter 'join': " + describeInput(subject, input) +
        (list.nested ? " a list holding a list or an object" : " not a JSON array"));
  }
  // Nothing to show is null, so `| default('none')` can say so.
  if (list.elements.empty()) return Value();
  const std::string separator = args[0].toText();
  std::string out;
  for (std::size_t i = 0; i < list.elements.size(); ++i) {
    if (i > 0) out += separator;
    out += list.elements[i];
  }
  return Value(std::move(out));
}

// ---------------------------------------------------------------------------------------------
// date(fmt, tz)

using std::chrono::sys_seconds;

// Timestamps from year 1 to 9999, the years %Y writes in four digits. Epoch milliseconds (a
// common mix-up) land far outside and are refused rather than shown as the year 56000.
constexpr std::int64_t kMinEpochSeconds = -62'135'596'800;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kMaxEpochSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

constexpr std::string_view kDateConversions = "YmdHMSybaejpI%";
constexpr std::string_view kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::string_view kWeekdayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// Reads exactly `width` digits at `pos` and advances past them.
std::optional<int> readDigits(std::string_view s, std::size_t& pos, std::size_t width) {
  if (pos + width > s.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

// A timestamp as databases and APIs write it: "2024-05-01", "2024-05-01 10:00:00" (MySQL),
// "2024-05-01 10:00:00.123456+02" (PostgreSQL timestamptz), "2024-05-01T10:00:00Z",
// "2024-05-01T10:00:00.5+05:30". Without an offset it is UTC: the bridge cannot know which
// zone a naive column was written in, and UTC is what servers usually store.
std::optional<sys_seconds> parseTimestampText(std::string_view s) {
  using namespace std::chrono;
  std::size_t pos = 0;
  const auto expect = [&](char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
  };
  const auto y = readDigits(s, pos, 4);
  if (!y || !expect('-')) return std::nullopt;
  const auto mo = readDigits(s, pos, 2);
  if (!mo || !expect('-')) return std::nullopt;
  const auto d = readDigits(s, pos, 2);
  if (!d) return std::nullopt;
  const year_month_day date{year{*y}, month{static_cast<unsigned>(*mo)},
                            day{static_cast<unsigned>(*d)}};
  if (!date.ok() || *y == 0) return std::nullopt;
  sys_seconds t = sys_days{date};
  if (pos == s.size()) return t;

  if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
  ++pos;
  const auto h = readDigits(s, pos, 2);
  if (!h || *h > 23 || !expect(':')) return std::nullopt;
  const auto mi = readDigits(s, pos, 2);
  if (!mi || *mi > 59) return std::nullopt;
  int sec = 0;
  if (expect(':')) {
    const auto parsed = readDigits(s, pos, 2);
    if (!parsed || *parsed > 59) return std::nullopt;
    sec = *parsed;
    if (expect('.')) {
      const std::size_t digits = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == digits) return std::nullopt;  // formats print whole seconds: dropped
    }
  }
  t += hours{*h} + minutes{*mi} + seconds{sec};
  if (pos == s.size()) return t;

  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return t;
  if (s[pos] != '+' && s[pos] != '-') return std::nullopt;
  const bool east = s[pos++] == '+';
  const auto oh = readDigits(s, pos, 2);
  if (!oh || *oh > 23) return std::nullopt;
  int om = 0;
  if (pos < s.size()) {
    expect(':');
    const auto parsed = readDigits(s, pos, 2);
    if (!parsed || *parsed > 59) return std::nullopt;
    om = *parsed;
  }
  if (pos != s.size()) return std::nullopt;
  const seconds offset = hours{*oh} + minutes{om};
  return east ? t - offset : t + offset;
}

// The instant a filter input names: a whole number (or text of digits) is Unix epoch seconds,
// text otherwise a timestamp as parseTimestampText reads it.
std::optional<sys_seconds> timestampOf(const Value& input) {
  std::optional<std::int64_t> epoch;
  if (input.isInt()) epoch = input.asInt();
  if (input.isDouble()) {
    epoch = wholeNumber(input, kMinEpochSeconds, kMaxEpochSeconds);
    if (!epoch) return std::nullopt;
  }
  if (input.isString()) {
    const std::string& text = input.asString();
    std::int64_t parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) epoch = parsed;
  }
  std::optional<sys_seconds> t;
  if (epoch) {
    t = sys_seconds{std::chrono::seconds{*epoch}};
  } else if (input.isString()) {
    t = parseTimestampText(input.asString());
  }
  if (!t) return std::nullopt;
  const std::int64_t s = t->time_since_epoch().count();
  if (s < kMinEpochSeconds || s > kMaxEpochSeconds) return std::nullopt;
  return t;
}

// An IANA zone that ICU knows ("Europe/Warsaw", "UTC"), or null. ICU also accepts custom
// "GMT+3" forms; they are refused, because a fixed offset ignores the summer time that the
// user most likely wanted.
std::unique_ptr<icu::TimeZone> findTimeZone(std::string_view name) {
  const icu::UnicodeString id = icu::UnicodeString::fromUTF8(
      icu::StringPiece(name.data(), static_cast<int32_t>(name.size())));
  icu::UnicodeString canonical;
  UBool is_system_id = false;
  UErrorCode status = U_ZERO_ERROR;
  icu::TimeZone::getCanonicalID(id, canonical, is_system_id, status);
  if (U_FAILURE(status) || !is_system_id) return nullptr;
  return std::unique_ptr<icu::TimeZone>(icu::TimeZone::createTimeZone(id));
}

std::optional<std::string> checkDateArg(std::size_t index, const Value& arg) {
  if (!arg.isString()) {
    return std::string(index == 0 ? "the format" : "the time zone") + " must be text, got " +
           arg.toDebugString();
  }
  const std::string& text = arg.asString();
  if (index == 1) {
    if (findTimeZone(text)) return std::nullopt;
    return "unknown time zone " + arg.toDebugString() +
           " (use an IANA name like 'Europe/Warsaw' or 'UTC')";
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 1 == text.size()) return std::string("the format ends in a lone '%' (write %% for %)");
    if (kDateConversions.find(text[i + 1]) == std::string_view::npos) {
      return "unknown conversion '%" + std::string(1, text[i + 1]) +
             "' in the format (known: %Y %m %d %H %M %S %y %b %a %e %j %p %I %%)";
    }
    ++i;
  }
  return std::nullopt;
}

void appendNumber(std::string& out, int value, int width, char pad) {
  const std::string digits = std::to_string(value);
  if (static_cast<int>(digits.size()) < width) out.append(width - digits.size(), pad);
  out += digits;
}

// strftime's conversions, done here so the output depends on neither the C locale nor the
// host's time zone. `local` is the wall-clock time in the target zone, as if it were UTC.
std::string formatDate(std::string_view format, sys_seconds local) {
  using namespace std::chrono;
  const sys_days date = floor<days>(local);
  const year_month_day ymd{date};
  const hh_mm_ss<seconds> time{local - date};
  const int year_number = static_cast<int>(ymd.year());
  const int hour = static_cast<int>(time.hours().count());
  std::string out;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      out += format[i];
      continue;
    }
    switch (format[++i]) {
      case 'Y':
        appendNumber(out, year_number, 4, '0');
        break;
      case 'y':
        appendNumber(out, year_number % 100, 2, '0');
        break;
      case 'm':
        appendNumber(out, static_cast<int>(static_cast<unsigned>(ymd.month())), 2, '0');
        break;
      case 'd':
        appendNumber(out, static_cast<int>(static_cast<unsigned>(ymd.day())), 2, '0');
        break;
      case 'e':
        appendNumber(out, static_cast<int>(static_cast<unsigned>(ymd.day())), 2, ' ');
        break;
      case 'H':
        appendNumber(out, hour, 2, '0');
        break;
      case 'I':
        appendNumber(out, hour % 12 == 0 ? 12 : hour % 12, 2, '0');
        break;
      case 'M':
        appendNumber(out, static_cast<int>(time.minutes().count()), 2, '0');
        break;
      case 'S':
        appendNumber(out, static_cast<int>(time.seconds().count()), 2, '0');
        break;
      case 'p':
        out += hour < 12 ? "AM" : "PM";
        break;
      case 'b':
        out += kMonthNames[static_cast<unsigned>(ymd.month()) - 1];
        break;
      case 'a':
        out += kWeekdayNames[weekday{date}.c_encoding()];
        break;
      case 'j':
        appendNumber(out, static_cast<int>((date - sys_days{ymd.year() / 1 / 1}).count()) + 1, 3,
                     '0');
        break;
      default:  // '%%'; checkDateArg has refused every other conversion
        out += format[i];
        break;
    }
  }
  return out;
}

Result<Value> applyDate(const Value& input, std::span<const Value> args, std::string_view subject) {
  if (input.isNull()) return input;
  const auto instant = timestampOf(input);
  if (!instant) {
    return rejectedError("template filter 'date': " + describeInput(subject, input) +
                         " not a timestamp (expected ISO-8601 like 2024-05-01T10:00:00Z, or "
                         "Unix epoch seconds, from year 1 to 9999)");
  }
  std::int32_t offset_ms = 0;
  if (args.size() > 1) {
    const auto zone = findTimeZone(args[1].asString());
    if (!zone) return rejectedError("template filter 'date': unknown time zone");
    std::int32_t raw = 0;
    std::int32_t dst = 0;
    UErrorCode status = U_ZERO_ERROR;
    const auto epoch_ms = static_cast<UDate>(instant->time_since_epoch().count()) * 1000.0;
    zone->getOffset(epoch_ms, false, raw, dst, status);
    if (U_FAILURE(status)) {
      return rejectedError("template filter 'date': no UTC offset for " + args[1].toDebugString() +
                           ": " + u_errorName(status));
    }
    offset_ms = raw + dst;
  }
  // tzdata offsets are whole seconds (even the historical local mean times).
  const auto offset =
      std::chrono::floor<std::chrono::seconds>(std::chrono::milliseconds(offset_ms));
  return Value(formatDate(args[0].asString(), *instant + offset));
}

// Sorted by name: the list doubles as the "known filters" of a diagnostic.
const std::array<FilterSpec, 10> kFilters = {{
    {"capitalize", 0, 0, noArgCheck, applyCase<CaseMapping::kCapitalize>},
    {"date", 1, 2, checkDateArg, applyDate},
    {"default", 1, 1, noArgCheck, applyDefault},
    {"join", 1, 1, noArgCheck, applyJoin},
    {"lower", 0, 0, noArgCheck, applyCase<CaseMapping::kLower>},
    {"money", 1, 1, checkRoundArg, applyMoney},
    {"replace", 2, 2, checkReplaceArg, applyReplace},
    {"round", 0, 1, checkRoundArg, applyRound},
    {"truncate", 1, 1, checkTruncateArg, applyTruncate},
    {"upper", 0, 0, noArgCheck, applyCase<CaseMapping::kUpper>},
}};

const FilterSpec* findFilter(std::string_view name) {
  for (const FilterSpec& f : kFilters) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string knownFilterNames() {
  std::string names;
  for (const FilterSpec& f : kFilters) {
    if (!names.empty()) names += ", ";
    names += f.name;
  }
  return names;
}

std::string argumentCount(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " argument" : " arguments");
}

// ---------------------------------------------------------------------------------------------
// Compiled form

struct FilterCall {
  const FilterSpec* spec;
  std::vector<Expression> args;
};

struct Placeholder {
  Expression expression;
  std::vector<FilterCall> filters;
  // A placeholder with `default` reads missing fields as null, so the fallback can apply.
  bool missing_as_null = false;
};

// Literal text, or a placeholder.
struct Segment {
  std::string literal;
  std::optional<Placeholder> placeholder;
};

// Resolves nothing: what a placeholder that reads no field is evaluated against at compile time.
class NoFields final : public EvalContext {
 public:
  const Value* resolve(std::span<const std::string>) const override { return nullptr; }
};

Result<std::string> renderPlaceholder(const Placeholder& placeholder, const EvalContext& context,
                                      Evaluate evaluate) {
  auto value = evaluate(placeholder.expression, context, placeholder.missing_as_null);
  if (!value) return value.error();
  Value current = std::move(*value);
  for (const FilterCall& filter : placeholder.filters) {
    std::vector<Value> args;
    args.reserve(filter.args.size());
    for (std::size_t i = 0; i < filter.args.size(); ++i) {
      auto arg = evaluate(filter.args[i], context, false);
      if (!arg) return arg.error();
      if (auto problem = filter.spec->check_arg(i, *arg)) {
        return rejectedError("template filter '" + std::string(filter.spec->name) +
                             "': " + *problem);
      }
      args.push_back(std::move(*arg));
    }
    auto next = filter.spec->apply(current, args, placeholder.expression.text());
    if (!next) return next.error();
    current = std::move(*next);
  }
  return current.toText();
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool isNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }

class TemplateCompiler {
 public:
  TemplateCompiler(std::string_view text, Evaluate evaluate) : text_(text), evaluate_(evaluate) {}

  void run() {
    std::size_t pos = 0;
    while (pos < text_.size()) {
      const std::size_t open = text_.find("{{", pos);
      if (open == std::string_view::npos) {
        appendLiteral(text_.substr(pos));
        break;
      }
      appendLiteral(text_.substr(pos, open - pos));
      std::optional<std::size_t> open_quote;
      const auto close = findClose(open + 2, &open_quote);
      if (!close) {
        report(open, "unclosed '{{': no matching '}}'");
        if (open_quote) report(*open_quote, "unterminated string in a placeholder");
        break;
      }
      compilePlaceholder(open + 2, *close);
      pos = *close + 2;
    }
  }

  std::vector<Segment>& segments() { return segments_; }
  std::vector<ExprDiagnostic>& diagnostics() { return diagnostics_; }
  std::vector<std::string>& fields() { return fields_; }

 private:
  void report(std::size_t offset, std::string message) {
    diagnostics_.push_back({offset, std::move(message)});
  }

  void appendLiteral(std::string_view text) {
    if (text.empty()) return;
    if (segments_.empty() || segments_.back().placeholder) segments_.emplace_back();
    segments_.back().literal.append(text);
  }

  void addFields(const Expression& expression) {
    for (std::string& field : expression.referencedFields()) {
      if (std::find(fields_.begin(), fields_.end(), field) == fields_.end()) {
        fields_.push_back(std::move(field));
      }
    }
  }

  // The `}}` closing a placeholder, skipping quoted strings (with the lexer's backslash
  // escapes), so {{ '}}' }} is one placeholder.
  std::optional<std::size_t> findClose(std::size_t from, std::optional<std::size_t>* open_quote) {
    for (std::size_t i = from; i < text_.size(); ++i) {
      const char c = text_[i];
      if (c == '\'' || c == '"') {
        const std::size_t quote = i;
        for (++i; i < text_.size() && text_[i] != c; ++i) {
          if (text_[i] == '\\') ++i;
        }
        if (i >= text_.size()) {
          *open_quote = quote;
          return std::nullopt;
        }
      } else if (c == '}' && i + 1 < text_.size() && text_[i + 1] == '}') {
        return i;
      }
    }
    return std::nullopt;
  }

  std::size_t skipSpace(std::size_t pos, std::size_t end) const {
    while (pos < end && isSpace(text_[pos])) ++pos;
    return pos;
  }

  std::string describeAt(std::size_t pos, std::size_t end) const {
    if (pos >= end) return "'}}'";
    std::size_t stop = pos + 1;
    while (stop < end && !isSpace(text_[stop]) && stop - pos < 20) ++stop;
    return "'" + std::string(text_.substr(pos, stop - pos)) + "'";
  }

  // Compiles the placeholder whose contents are [begin, end). After the first problem the
  // rest of that placeholder is skipped: its positions could no longer be trusted.
  void compilePlaceholder(std::size_t begin, std::size_t end) {
    EmbeddedExpression main = Expression::compileEmbedded(text_, begin, end);
    if (!main.diagnostics.empty()) {
      for (auto& d : main.diagnostics) diagnostics_.push_back(std::move(d));
      return;
    }
    Placeholder placeholder{std::move(*main.expression), {}, false};
    bool usable = true;
    bool constant = placeholder.expression.isConstant();
    std::size_t pos = main.end;
    while (pos < end) {
      if (text_[pos] != '|') {
        report(pos, "expected '|' or '}}' after the expression, got " + describeAt(pos, end));
        return;
      }
      pos = skipSpace(pos + 1, end);
      const std::size_t name_begin = pos;
      if (pos < end && isNameStart(text_[pos])) {
        while (pos < end && isNameChar(text_[pos])) ++pos;
      }
      if (pos == name_begin) {
        report(name_begin, "expected a filter name after '|', got " + describeAt(pos, end));
        return;
      }
      const std::string_view name = text_.substr(name_begin, pos - name_begin);
      const FilterSpec* spec = findFilter(name);
      if (spec == nullptr) {
        report(name_begin, "unknown filter '" + std::string(name) +
                               "' (known filters: " + knownFilterNames() + ")");
        usable = false;
      }
      FilterCall call{spec, {}};
      std::vector<std::size_t> arg_offsets;
      pos = skipSpace(pos, end);
      if (pos < end && text_[pos] == '(') {
        pos = skipSpace(pos + 1, end);
        if (pos < end && text_[pos] == ')') {
          ++pos;
        } else {
          while (true) {
            EmbeddedExpression arg = Expression::compileEmbedded(text_, pos, end);
            if (!arg.diagnostics.empty()) {
              for (auto& d : arg.diagnostics) diagnostics_.push_back(std::move(d));
              return;
            }
            arg_offsets.push_back(arg.begin);
            call.args.push_back(std::move(*arg.expression));
            pos = arg.end;
            if (pos < end && text_[pos] == ',') {
              ++pos;
              continue;
            }
            if (pos < end && text_[pos] == ')') {
              ++pos;
              break;
            }
            report(pos, "expected ',' or ')' after an argument of filter '" + std::string(name) +
                            "', got " + describeAt(pos, end));
            return;
          }
        }
        pos = skipSpace(pos, end);
      }
      if (spec != nullptr) {
        const std::size_t n = call.args.size();
        if (n < spec->min_args || n > spec->max_args) {
          const std::string expected = spec->min_args == spec->max_args
                                           ? argumentCount(spec->min_args)
                                           : std::to_string(spec->min_args) + " to " +
                                                 std::to_string(spec->max_args) + " arguments";
          report(name_begin, "filter '" + std::string(name) + "' takes " + expected + ", got " +
                                 std::to_string(n));
          usable = false;
        } else {
          usable = checkConstantArgs(call, arg_offsets) && usable;
        }
        if (spec->name == "default") placeholder.missing_as_null = true;
      }
      for (const Expression& arg : call.args) constant = constant && arg.isConstant();
      placeholder.filters.push_back(std::move(call));
    }
    if (!usable) return;
    addFields(placeholder.expression);
    for (const FilterCall& filter : placeholder.filters) {
      for (const Expression& arg : filter.args) addFields(arg);
    }
    if (constant) {
      // Folded now: an error here would otherwise reject every single message at run time.
      auto text = renderPlaceholder(placeholder, NoFields(), evaluate_);
      if (!text) {
        report(main.begin, text.error().message());
        return;
      }
      appendLiteral(*text);
      return;
    }
    segments_.push_back(Segment{"", std::move(placeholder)});
  }

  // Arguments that read no field are checked now rather than on every render.
  bool checkConstantArgs(const FilterCall& call, const std::vector<std::size_t>& offsets) {
    bool ok = true;
    for (std::size_t i = 0; i < call.args.size(); ++i) {
      if (!call.args[i].isConstant()) continue;
      auto value = evaluate_(call.args[i], NoFields(), false);
      if (!value) {
        report(offsets[i], value.error().message());
        ok = false;
      } else if (auto problem = call.spec->check_arg(i, *value)) {
        report(offsets[i], "filter '" + std::string(call.spec->name) + "': " + *problem);
        ok = false;
      }
    }
    return ok;
  }

  std::string_view text_;
  Evaluate evaluate_;
  std::vector<Segment> segments_;
  std::vector<ExprDiagnostic> diagnostics_;
  std::vector<std::string> fields_;
};

}  // namespace

struct Template::Compiled {
  std::string text;
  std::vector<Segment> segments;
  std::vector<std::string> fields;
};

Template::Template(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}

Result<Value> Template::evaluateExpression(const Expression& expression, const EvalContext& context,
                                           bool missing_as_null) {
  Expression::EvalOptions options;
  options.missing_as_null = missing_as_null;
  options.field_noun = "template field";
  return expression.evaluateWith(context, options);
}

std::variant<Template, std::vector<ExprDiagnostic>> Template::compile(std::string_view text) {
  TemplateCompiler compiler(text, &Template::evaluateExpression);
  compiler.run();
  if (!compiler.diagnostics().empty()) {
    std::vector<ExprDiagnostic> diagnostics = std::move(compiler.diagnostics());
    std::stable_sort(
        diagnostics.begin(), diagnostics.end(),
        [](const ExprDiagnostic& a, const ExprDiagnostic& b) { return a.offset < b.offset; });
    return diagnostics;
  }
  auto compiled = std::make_shared<Compiled>();
  compiled->text = std::string(text);
  compiled->segments = std::move(compiler.segments());
  compiled->fields = std::move(compiler.fields());
  return Template(std::move(compiled));
}

Result<std::string> Template::render(const EvalContext& context) const {
  std::string out;
  for (const Segment& segment : compiled_->segments) {
    if (!segment.placeholder) {
      out += segment.literal;
      continue;
    }
    auto text = renderPlaceholder(*segment.placeholder, context, &Template::evaluateExpression);
    if (!text) return text.error();
    out += *text;
  }
  return out;
}

bool Template::isConstant() const {
  return std::none_of(compiled_->segments.begin(), compiled_->segments.end(),
                      [](const Segment& s) { return s.placeholder.has_value(); });
}

std::vector<std::string> Template::referencedFields() const { return compiled_->fields; }

const std::string& Template::text() const { return compiled_->text; }

}  // namespace smsbridge
