#pragma once

// Five-field cron expressions for mapping `schedules:` ("0 10 * * FRI": Friday 10:00), evaluated
// in the wall-clock time of a configured zone.
//
// Syntax, per field (minute 0-59, hour 0-23, day-of-month 1-31, month 1-12, day-of-week 0-7):
// `*`, a value, a list `a,b`, a range `a-b`, a step over everything `*/n` or over a range
// `a-b/n`. Months may be written JAN-DEC and weekdays SUN-SAT, in any case; 0 and 7 are both
// Sunday. A step needs `*` or a range ("5/10" is an error, as in Vixie cron) and may be at most
// the field's highest value ("*/60" in the minute field is an error).
//
// Day matching follows Vixie cron: when both day-of-month and day-of-week are restricted, a day
// matches if EITHER does ("0 0 1 * MON": the 1st and every Monday); when either is
// unrestricted, both must match. As in Vixie cron, a field counts as unrestricted when its text
// starts with `*`, so "0 0 */2 * MON" means odd days that are also Mondays, while
// "0 0 1-31/2 * MON" means odd days or Mondays.
//
// Thread-safety: a CronSchedule is an immutable value; const methods are safe from any thread.

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/time_zone.h"

namespace smsbridge {

// One problem in a cron expression: `offset` is the 0-based byte offset into the text given to
// compile() of the offending field, value or character.
struct CronDiagnostic {
  std::size_t offset = 0;
  std::string message;  // "minute must be 0-59, got 61"

  friend bool operator==(const CronDiagnostic&, const CronDiagnostic&) = default;
};

class CronSchedule {
 public:
  // Every problem of the expression at once, or the schedule. Fields are separated by spaces
  // or tabs; leading and trailing blanks are ignored.
  static std::variant<CronSchedule, std::vector<CronDiagnostic>> compile(std::string_view text);

  // The first fire time strictly after `after`, read on the wall clock of `tz`; nullopt when the
  // schedule can never fire ("0 0 30 2 *"), which is known without searching. A schedule that
  // can fire is found within one 400-year Gregorian cycle, scanning only the days of its months,
  // so a call costs at most a few thousand cheap day checks.
  //
  // Summer-time transitions, decided so that a job neither runs twice nor silently never:
  // - A wall-clock minute skipped when the clocks go forward fires at the first instant after
  //   the gap ("30 2 * * *" on the last Sunday of March in Warsaw fires at 03:00 CEST). Several
  //   skipped minutes collapse into that one fire.
  // - A wall-clock minute that happens twice when the clocks go back fires once, at its first
  //   occurrence; during the repeated hour nothing fires again ("*/15 * * * *" runs 02:00-02:45
  //   CEST, then 03:00 CET).
  std::optional<TimePoint> next(TimePoint after, const TimeZone& tz) const;

  // The expression with its fields separated by single spaces ("0 10 * * FRI"), for logs.
  std::string describe() const;

 private:
  CronSchedule() = default;

  // Whether the date (proleptic Gregorian) matches the month, day-of-month and day-of-week.
  bool matchesDay(int year, int month, int day) const;
  // Whether any date at all matches; the date pattern repeats every 400 years.
  bool canEverFire() const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bit 0 unused
  std::bitset<13> months_;         // bit 0 unused
  WeekdaySet weekdays_;
  bool day_of_month_star_ = false;
  bool day_of_week_star_ = false;
};

// Parses a weekday list in the syntax of the cron day-of-week field ("MON-FRI", "SAT,SUN",
// "1-5", "*"), so that quiet hours and schedules name days alike. Offsets are into `field`.
std::variant<WeekdaySet, std::vector<CronDiagnostic>> parseCronWeekdays(std::string_view field);

}  // namespace smsbridge
