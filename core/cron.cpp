#include "core/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace smsbridge {
namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"SUN", "MON", "TUE", "WED",
                                                           "THU", "FRI", "SAT"};

struct FieldSpec {
  std::string_view name;     // as diagnostics say it
  int min = 0;               // lowest value, also the value of names[0]
  int max = 0;               // highest value
  std::string_view allowed;  // "0-59", "1-12 or JAN-DEC"
  std::span<const std::string_view> names;
};

constexpr FieldSpec kMinute{"minute", 0, 59, "0-59", {}};
constexpr FieldSpec kHour{"hour", 0, 23, "0-23", {}};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, "1-31", {}};
constexpr FieldSpec kMonth{"month", 1, 12, "1-12 or JAN-DEC", kMonthNames};
// 7 is a second Sunday; names map SUN to 0.
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7, "0-7 or SUN-SAT", kWeekdayNames};

constexpr std::size_t kFieldCount = 5;

bool isBlank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool isAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// Digits as a number, saturating so that "99999999999" reports as out of range, not garbage.
int digitsValue(std::string_view digits) {
  long long value = 0;
  for (char c : digits) {
    value = std::min<long long>(value * 10 + (c - '0'), 1'000'000'000);
  }
  return static_cast<int>(value);
}

// Parses one field into a bit mask of values spec.min..spec.max. `base` is the field's offset in
// the whole expression, so diagnostics point into what the operator wrote.
class FieldParser {
 public:
  FieldParser(std::string_view text, std::size_t base, const FieldSpec& spec)
      : text_(text), base_(base), spec_(spec) {}

  std::variant<std::uint64_t, CronDiagnostic> parse() {
    std::uint64_t bits = 0;
    while (true) {
      if (atEnd() || peek() == ',') {
        return fail(pos_, std::string(spec_.name) + ": empty list element");
      }
      const std::size_t element_start = pos_;
      int low = spec_.min;
      int high = spec_.max;
      bool steppable = false;
      if (peek() == '*') {
        ++pos_;
        steppable = true;
      } else {
        std::optional<int> first = value();
        if (!first) return *error_;
        low = high = *first;
        if (!atEnd() && peek() == '-') {
          ++pos_;
          std::optional<int> last = value();
          if (!last) return *error_;
          high = *last;
          if (high < low) {
            return fail(element_start,
                        std::string(spec_.name) + " range " +
                            std::string(text_.substr(element_start, pos_ - element_start)) +
                            " runs backwards");
          }
          steppable = true;
        }
      }
      int step = 1;
      if (!atEnd() && peek() == '/') {
        if (!steppable) {
          return fail(
              pos_, std::string(spec_.name) + ": a step needs * or a range, e.g. */10 or 5-59/10");
        }
        ++pos_;
        const std::size_t step_start = pos_;
        std::string_view token = alnumRun();
        if (token.empty()) return unexpected();
        step = isDigits(token) ? digitsValue(token) : 0;
        if (step < 1 || step > spec_.max) {
          return fail(step_start, std::string(spec_.name) + " step must be 1-" +
                                      std::to_string(spec_.max) + ", got " + std::string(token));
        }
      }
      for (int v = low; v <= high; v += step) bits |= std::uint64_t{1} << v;
      if (atEnd()) return bits;
      if (peek() != ',') return unexpected();
      ++pos_;
    }
  }

 private:
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  std::string_view alnumRun() {
    const std::size_t start = pos_;
    while (!atEnd() && isAlnum(peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  CronDiagnostic fail(std::size_t offset, std::string message) {
    return CronDiagnostic{base_ + offset, std::move(message)};
  }

  CronDiagnostic unexpected() {
    if (atEnd()) return fail(pos_, std::string(spec_.name) + ": unexpected end of field");
    return fail(pos_, std::string(spec_.name) + ": unexpected '" + std::string(1, peek()) + "'");
  }

  // A number or a name; on failure sets error_.
  std::optional<int> value() {
    const std::size_t start = pos_;
    std::string_view token = alnumRun();
    if (token.empty()) {
      error_ = unexpected();
      return std::nullopt;
    }
    if (isDigits(token)) {
      int v = digitsValue(token);
      if (v >= spec_.min && v <= spec_.max) return v;
    } else {
      std::string upper(token);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (std::size_t i = 0; i < spec_.names.size(); ++i) {
        if (spec_.names[i] == upper) return spec_.min + static_cast<int>(i);
      }
    }
    error_ = fail(start, std::string(spec_.name) + " must be " + std::string(spec_.allowed) +
                             ", got " + std::string(token));
    return std::nullopt;
  }

  std::string_view text_;
  std::size_t base_;
  const FieldSpec& spec_;
  std::size_t pos_ = 0;
  std::optional<CronDiagnostic> error_;
};

// Folds day-of-week bit 7 (the second Sunday) into bit 0.
WeekdaySet toWeekdaySet(std::uint64_t bits) {
  if (bits & (std::uint64_t{1} << 7)) bits |= 1;
  return WeekdaySet(bits & 0x7f);
}

struct Field {
  std::string_view text;
  std::size_t offset;
};

int daysInMonthAtMost(int month) {
  constexpr std::array<int, 13> kDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[month];
}

// The last year whose every instant a TimePoint (int64 nanoseconds) can hold.
int lastSearchYear() {
  using namespace std::chrono;
  static const int kYear =
      static_cast<int>(year_month_day(floor<days>(TimePoint::max())).year()) - 1;
  return kYear;
}

}  // namespace

std::variant<CronSchedule, std::vector<CronDiagnostic>> CronSchedule::compile(
    std::string_view text) {
  std::vector<Field> fields;
  for (std::size_t i = 0; i < text.size();) {
    if (isBlank(text[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && !isBlank(text[i])) ++i;
    fields.push_back({text.substr(start, i - start), start});
  }
  if (fields.size() != kFieldCount) {
    // Too few: point where the missing field belongs; too many: at the first extra one.
    const std::size_t offset =
        fields.size() < kFieldCount ? text.size() : fields[kFieldCount].offset;
    return std::vector<CronDiagnostic>{
        {offset, "expected 5 fields, got " + std::to_string(fields.size()) +
                     " (minute hour day-of-month month day-of-week)"}};
  }

  const FieldSpec* specs[kFieldCount] = {&kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  std::uint64_t bits[kFieldCount] = {};
  std::vector<CronDiagnostic> diagnostics;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    auto parsed = FieldParser(fields[i].text, fields[i].offset, *specs[i]).parse();
    if (auto* error = std::get_if<CronDiagnostic>(&parsed)) {
      diagnostics.push_back(std::move(*error));
    } else {
      bits[i] = std::get<std::uint64_t>(parsed);
    }
  }
  if (!diagnostics.empty()) return diagnostics;

  CronSchedule schedule;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (i > 0) schedule.text_ += ' ';
    schedule.text_ += fields[i].text;
  }
  schedule.minutes_ = std::bitset<60>(bits[0]);
  schedule.hours_ = std::bitset<24>(bits[1]);
  schedule.days_of_month_ = std::bitset<32>(bits[2]);
  schedule.months_ = std::bitset<13>(bits[3]);
  schedule.weekdays_ = toWeekdaySet(bits[4]);
  schedule.day_of_month_star_ = fields[2].text.front() == '*';
  schedule.day_of_week_star_ = fields[4].text.front() == '*';
  return schedule;
}

bool CronSchedule::matchesDay(int year, int month, int day) const {
  using namespace std::chrono;
  if (!months_[month]) return false;
  const bool dom = days_of_month_[day];
  const bool dow = weekdays_[weekday(sys_days(std::chrono::year(year) / std::chrono::month(month) /
                                              std::chrono::day(day)))
                                 .c_encoding()];
  if (day_of_month_star_ || day_of_week_star_) return dom && dow;
  return dom || dow;
}

bool CronSchedule::canEverFire() const {
  // Either way round, a month holds every weekday, and over a 400-year cycle every date (even
  // February 29) falls on every weekday: only a day-of-month that no chosen month has can
  // make a schedule impossible.
  if (!day_of_month_star_ && !day_of_week_star_) return months_.any();
  for (int month = 1; month <= 12; ++month) {
    if (!months_[month]) continue;
    for (int day = 1; day <= daysInMonthAtMost(month); ++day) {
      if (days_of_month_[day]) return true;
    }
  }
  return false;
}

std::optional<TimePoint> CronSchedule::next(TimePoint after, const TimeZone& tz) const {
  using namespace std::chrono;
  if (!canEverFire()) return std::nullopt;

  // Candidates are walked in wall-clock order. With repeated times resolved to their first
  // occurrence and skipped ones to the end of the gap, wall-clock order never runs against
  // UTC order, so the first candidate after `after` is the answer. Candidates before the wall
  // clock's reading at `after` all map to instants at or before it and are not tried.
  const CivilTime start = tz.toLocal(after);
  const int last_year = std::min(start.year + 401, lastSearchYear());
  year_month_day date{std::chrono::year(start.year), std::chrono::month(start.month),
                      std::chrono::day(start.day)};
  bool first_day = true;
  while (static_cast<int>(date.year()) <= last_year) {
    const int y = static_cast<int>(date.year());
    const int mo = static_cast<int>(static_cast<unsigned>(date.month()));
    const int d = static_cast<int>(static_cast<unsigned>(date.day()));
    if (!months_[mo]) {
      date = (date.year() / date.month() + months(1)) / std::chrono::day(1);
      first_day = false;
      continue;
    }
    if (matchesDay(y, mo, d)) {
      for (int hour = first_day ? start.hour : 0; hour < 24; ++hour) {
        if (!hours_[hour]) continue;
        const int first_minute = first_day && hour == start.hour ? start.minute : 0;
        for (int minute = first_minute; minute < 60; ++minute) {
          if (!minutes_[minute]) continue;
          TimePoint fire = tz.toUtc(CivilTime{y, mo, d, hour, minute, 0});
          if (fire > after) return fire;
        }
      }
    }
    date = year_month_day(sys_days(date) + days(1));
    first_day = false;
  }
  return std::nullopt;
}

std::string CronSchedule::describe() const { return text_; }

std::variant<WeekdaySet, std::vector<CronDiagnostic>> parseCronWeekdays(std::string_view field) {
  auto parsed = FieldParser(field, 0, kDayOfWeek).parse();
  if (auto* error = std::get_if<CronDiagnostic>(&parsed)) {
    return std::vector<CronDiagnostic>{std::move(*error)};
  }
  return toWeekdaySet(std::get<std::uint64_t>(parsed));
}

}  // namespace smsbridge
