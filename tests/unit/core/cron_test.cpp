#include "core/cron.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;

TimePoint utc(const char* iso) { return parseTimestamp(iso).value(); }

TimeZone zone(const char* name) {
  Result<TimeZone> tz = TimeZone::load(name);
  EXPECT_TRUE(tz.has_value()) << name;
  return std::move(tz).value();
}

CronSchedule compiled(std::string_view text) {
  auto result = CronSchedule::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<CronDiagnostic>>(&result)) {
    ADD_FAILURE() << text << ": " << diagnostics->front().offset << ": "
                  << diagnostics->front().message;
    return std::get<CronSchedule>(CronSchedule::compile("* * * * *"));
  }
  return std::get<CronSchedule>(std::move(result));
}

std::vector<CronDiagnostic> diagnosticsOf(std::string_view text) {
  auto result = CronSchedule::compile(text);
  if (std::holds_alternative<CronSchedule>(result)) {
    ADD_FAILURE() << text << " compiled";
    return {};
  }
  return std::get<std::vector<CronDiagnostic>>(std::move(result));
}

// The next `count` fire times after `after`, as ISO-8601 UTC.
std::vector<std::string> fires(std::string_view text, const char* after, int count,
                               const char* tz_name = "UTC") {
  const CronSchedule schedule = compiled(text);
  const TimeZone tz = zone(tz_name);
  std::vector<std::string> out;
  TimePoint t = utc(after);
  for (int i = 0; i < count; ++i) {
    std::optional<TimePoint> next = schedule.next(t, tz);
    if (!next) {
      out.push_back("never");
      break;
    }
    out.push_back(formatTimestamp(*next));
    t = *next;
  }
  return out;
}

using Fires = std::vector<std::string>;

// --- syntax ---------------------------------------------------------------------------------

TEST(CronSyntaxTest, StarFiresEveryMinute) {
  EXPECT_EQ(
      fires("* * * * *", "2025-01-01T00:00:30Z", 3),
      (Fires{"2025-01-01T00:01:00.000Z", "2025-01-01T00:02:00.000Z", "2025-01-01T00:03:00.000Z"}));
}

TEST(CronSyntaxTest, ValuesListsRangesAndSteps) {
  EXPECT_EQ(fires("5 * * * *", "2025-01-01T00:00:00Z", 2),
            (Fires{"2025-01-01T00:05:00.000Z", "2025-01-01T01:05:00.000Z"}));
  EXPECT_EQ(
      fires("5,40 * * * *", "2025-01-01T00:00:00Z", 3),
      (Fires{"2025-01-01T00:05:00.000Z", "2025-01-01T00:40:00.000Z", "2025-01-01T01:05:00.000Z"}));
  EXPECT_EQ(
      fires("58-59 * * * *", "2025-01-01T00:00:00Z", 3),
      (Fires{"2025-01-01T00:58:00.000Z", "2025-01-01T00:59:00.000Z", "2025-01-01T01:58:00.000Z"}));
  EXPECT_EQ(fires("*/20 * * * *", "2025-01-01T00:00:00Z", 4),
            (Fires{"2025-01-01T00:20:00.000Z", "2025-01-01T00:40:00.000Z",
                   "2025-01-01T01:00:00.000Z", "2025-01-01T01:20:00.000Z"}));
  EXPECT_EQ(fires("10-30/10 * * * *", "2025-01-01T00:00:00Z", 4),
            (Fires{"2025-01-01T00:10:00.000Z", "2025-01-01T00:20:00.000Z",
                   "2025-01-01T00:30:00.000Z", "2025-01-01T01:10:00.000Z"}));
  EXPECT_EQ(
      fires("0 9-17/4,22 * * *", "2025-01-01T00:00:00Z", 5),
      (Fires{"2025-01-01T09:00:00.000Z", "2025-01-01T13:00:00.000Z", "2025-01-01T17:00:00.000Z",
             "2025-01-01T22:00:00.000Z", "2025-01-02T09:00:00.000Z"}));
}

TEST(CronSyntaxTest, MonthNamesAnyCase) {
  EXPECT_EQ(
      fires("0 0 1 jan-Mar,OCT *", "2025-02-15T00:00:00Z", 3),
      (Fires{"2025-03-01T00:00:00.000Z", "2025-10-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"}));
  EXPECT_EQ(
      fires("0 0 1 */4 *", "2025-01-15T00:00:00Z", 3),
      (Fires{"2025-05-01T00:00:00.000Z", "2025-09-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"}));
}

// 2025-06-01 is a Sunday.
TEST(CronSyntaxTest, WeekdayNamesAndBothSundays) {
  const Fires sundays{"2025-06-01T00:00:00.000Z", "2025-06-08T00:00:00.000Z"};
  EXPECT_EQ(fires("0 0 * * 0", "2025-05-31T12:00:00Z", 2), sundays);
  EXPECT_EQ(fires("0 0 * * 7", "2025-05-31T12:00:00Z", 2), sundays);
  EXPECT_EQ(fires("0 0 * * sun", "2025-05-31T12:00:00Z", 2), sundays);
  EXPECT_EQ(fires("0 0 * * Mon-wed", "2025-06-01T12:00:00Z", 4),
            (Fires{"2025-06-02T00:00:00.000Z", "2025-06-03T00:00:00.000Z",
                   "2025-06-04T00:00:00.000Z", "2025-06-09T00:00:00.000Z"}));
  // 5-7 runs Friday to the second Sunday.
  EXPECT_EQ(fires("0 0 * * 5-7", "2025-06-01T12:00:00Z", 4),
            (Fires{"2025-06-06T00:00:00.000Z", "2025-06-07T00:00:00.000Z",
                   "2025-06-08T00:00:00.000Z", "2025-06-13T00:00:00.000Z"}));
  EXPECT_EQ(fires("0 0 * * */7", "2025-05-31T12:00:00Z", 2), sundays);
}

TEST(CronSyntaxTest, BlanksSeparateFieldsAndDescribeNormalisesThem) {
  EXPECT_EQ(compiled("  0\t10  * *   FRI ").describe(), "0 10 * * FRI");
  EXPECT_EQ(compiled("*/5 9-17 1,15 JAN-jun mon-FRI").describe(), "*/5 9-17 1,15 JAN-jun mon-FRI");
}

struct BadCron {
  const char* text;
  std::size_t offset;
  const char* message;
};

class CronDiagnosticTest : public ::testing::TestWithParam<BadCron> {};

TEST_P(CronDiagnosticTest, PointsAtTheProblem) {
  const BadCron& bad = GetParam();
  const std::vector<CronDiagnostic> diagnostics = diagnosticsOf(bad.text);
  ASSERT_EQ(diagnostics.size(), 1u) << bad.text;
  EXPECT_EQ(diagnostics[0], (CronDiagnostic{bad.offset, bad.message})) << bad.text;
}

INSTANTIATE_TEST_SUITE_P(
    Cron, CronDiagnosticTest,
    ::testing::Values(
        BadCron{"", 0, "expected 5 fields, got 0 (minute hour day-of-month month day-of-week)"},
        BadCron{"* * * *", 7,
                "expected 5 fields, got 4 (minute hour day-of-month month day-of-week)"},
        BadCron{"0 0 * * * 2025", 10,
                "expected 5 fields, got 6 (minute hour day-of-month month day-of-week)"},
        BadCron{"61 * * * *", 0, "minute must be 0-59, got 61"},
        BadCron{"  1,61 * * * *", 4, "minute must be 0-59, got 61"},
        BadCron{"99999999999 * * * *", 0, "minute must be 0-59, got 99999999999"},
        BadCron{"MON * * * *", 0, "minute must be 0-59, got MON"},
        BadCron{"0 24 * * *", 2, "hour must be 0-23, got 24"},
        BadCron{"0 0 0 * *", 4, "day-of-month must be 1-31, got 0"},
        BadCron{"0 0 1-32 * *", 6, "day-of-month must be 1-31, got 32"},
        BadCron{"0 0 * 13 *", 6, "month must be 1-12 or JAN-DEC, got 13"},
        BadCron{"0 0 * JANUARY *", 6, "month must be 1-12 or JAN-DEC, got JANUARY"},
        BadCron{"0 0 * * 8", 8, "day-of-week must be 0-7 or SUN-SAT, got 8"},
        BadCron{"0 0 * * MON-FUN", 12, "day-of-week must be 0-7 or SUN-SAT, got FUN"},
        BadCron{"0 0 * * JAN", 8, "day-of-week must be 0-7 or SUN-SAT, got JAN"},
        BadCron{"1,,2 * * * *", 2, "minute: empty list element"},
        BadCron{"1, * * * *", 2, "minute: empty list element"},
        BadCron{",1 * * * *", 0, "minute: empty list element"},
        BadCron{"*/0 * * * *", 2, "minute step must be 1-59, got 0"},
        BadCron{"*/60 * * * *", 2, "minute step must be 1-59, got 60"},
        BadCron{"*/x * * * *", 2, "minute step must be 1-59, got x"},
        BadCron{"0 0 * * */8", 10, "day-of-week step must be 1-7, got 8"},
        BadCron{"5/10 * * * *", 1, "minute: a step needs * or a range, e.g. */10 or 5-59/10"},
        BadCron{"30-10 * * * *", 0, "minute range 30-10 runs backwards"},
        BadCron{"0 0 * * FRI-MON", 8, "day-of-week range FRI-MON runs backwards"},
        BadCron{"1- * * * *", 2, "minute: unexpected end of field"},
        BadCron{"1-5/ * * * *", 4, "minute: unexpected end of field"},
        BadCron{"*x * * * *", 1, "minute: unexpected 'x'"},
        BadCron{"0 ? * * *", 2, "hour: unexpected '?'"},
        BadCron{"0 1-2-3 * * *", 5, "hour: unexpected '-'"},
        BadCron{"0 0 L * *", 4, "day-of-month must be 1-31, got L"}));

TEST(CronCompileTest, EveryBadFieldIsReportedAtOnce) {
  EXPECT_EQ(diagnosticsOf("61 24 0 13 8"),
            (std::vector<CronDiagnostic>{{0, "minute must be 0-59, got 61"},
                                         {3, "hour must be 0-23, got 24"},
                                         {6, "day-of-month must be 1-31, got 0"},
                                         {8, "month must be 1-12 or JAN-DEC, got 13"},
                                         {11, "day-of-week must be 0-7 or SUN-SAT, got 8"}}));
}

TEST(CronCompileTest, WeekdayListsShareTheSyntax) {
  auto parsed = parseCronWeekdays("MON-FRI");
  ASSERT_TRUE(std::holds_alternative<WeekdaySet>(parsed));
  EXPECT_EQ(std::get<WeekdaySet>(parsed), WeekdaySet("0111110"));
  parsed = parseCronWeekdays("sat,7");
  ASSERT_TRUE(std::holds_alternative<WeekdaySet>(parsed));
  EXPECT_EQ(std::get<WeekdaySet>(parsed), WeekdaySet("1000001"));
  parsed = parseCronWeekdays("MON,XYZ");
  ASSERT_TRUE(std::holds_alternative<std::vector<CronDiagnostic>>(parsed));
  EXPECT_EQ(std::get<std::vector<CronDiagnostic>>(parsed),
            (std::vector<CronDiagnostic>{{4, "day-of-week must be 0-7 or SUN-SAT, got XYZ"}}));
}

// --- next() ---------------------------------------------------------------------------------

TEST(CronNextTest, StrictlyAfter) {
  const CronSchedule schedule = compiled("0 12 * * *");
  const TimeZone tz = zone("UTC");
  EXPECT_EQ(schedule.next(utc("2025-01-01T12:00:00Z"), tz), utc("2025-01-02T12:00:00Z"));
  EXPECT_EQ(schedule.next(utc("2025-01-01T11:59:59.999Z"), tz), utc("2025-01-01T12:00:00Z"));
  EXPECT_EQ(schedule.next(utc("2025-01-01T12:00:00Z") + milliseconds(1), tz),
            utc("2025-01-02T12:00:00Z"));
}

TEST(CronNextTest, MonthAndYearEnds) {
  EXPECT_EQ(
      fires("0 0 31 * *", "2025-04-01T00:00:00Z", 3),
      (Fires{"2025-05-31T00:00:00.000Z", "2025-07-31T00:00:00.000Z", "2025-08-31T00:00:00.000Z"}));
  EXPECT_EQ(fires("0 12 1 * *", "2025-01-31T13:00:00Z", 1), (Fires{"2025-02-01T12:00:00.000Z"}));
  EXPECT_EQ(fires("0 0 1 1 *", "2025-12-31T23:59:59Z", 1), (Fires{"2026-01-01T00:00:00.000Z"}));
  EXPECT_EQ(fires("59 23 31 12 *", "2025-06-01T00:00:00Z", 2),
            (Fires{"2025-12-31T23:59:00.000Z", "2026-12-31T23:59:00.000Z"}));
}

TEST(CronNextTest, LeapDays) {
  EXPECT_EQ(
      fires("0 0 29 2 *", "2025-01-01T00:00:00Z", 3),
      (Fires{"2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z", "2036-02-29T00:00:00.000Z"}));
  // 2100 is not a leap year: eight years between two February 29ths.
  EXPECT_EQ(fires("0 0 29 2 *", "2096-03-01T00:00:00Z", 1), (Fires{"2104-02-29T00:00:00.000Z"}));
  // A leap day that is also a Sunday (day-of-week starts with *, so both must match): 40 years
  // apart around 2100.
  EXPECT_EQ(fires("0 0 29 2 */7", "2088-03-01T00:00:00Z", 1), (Fires{"2128-02-29T00:00:00.000Z"}));
  // Beyond what a TimePoint can hold there is no next time, not an overflow.
  EXPECT_EQ(fires("0 0 29 2 *", "2260-03-01T00:00:00Z", 1), (Fires{"never"}));
}

TEST(CronNextTest, ImpossibleSchedulesNeverFire) {
  const TimeZone tz = zone("Europe/Warsaw");
  for (const char* text : {"0 0 30 2 *", "0 0 31 2,4,6,9,11 *", "0 0 31 FEB *", "0 0 30 2 */2"}) {
    EXPECT_EQ(compiled(text).next(utc("2025-01-01T00:00:00Z"), tz), std::nullopt) << text;
  }
}

TEST(CronNextTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // 2025-06-01 is a Sunday: the 13th or any Friday.
  EXPECT_EQ(
      fires("0 0 13 * FRI", "2025-06-01T00:00:00Z", 7),
      (Fires{"2025-06-06T00:00:00.000Z", "2025-06-13T00:00:00.000Z", "2025-06-20T00:00:00.000Z",
             "2025-06-27T00:00:00.000Z", "2025-07-04T00:00:00.000Z", "2025-07-11T00:00:00.000Z",
             "2025-07-13T00:00:00.000Z"}));
  // February 31st never exists, but Mondays in February do.
  EXPECT_EQ(fires("0 0 31 2 MON", "2025-01-01T00:00:00Z", 2),
            (Fires{"2025-02-03T00:00:00.000Z", "2025-02-10T00:00:00.000Z"}));
  // A range written out restricts the field: odd days or Mondays.
  EXPECT_EQ(
      fires("0 0 1-31/2 * MON", "2025-06-01T00:00:00Z", 3),
      (Fires{"2025-06-02T00:00:00.000Z", "2025-06-03T00:00:00.000Z", "2025-06-05T00:00:00.000Z"}));
}

TEST(CronNextTest, AFieldStartingWithStarIsUnrestrictedAsInVixieCron) {
  // Odd days that are also Mondays.
  EXPECT_EQ(
      fires("0 0 */2 * MON", "2025-06-01T00:00:00Z", 3),
      (Fires{"2025-06-09T00:00:00.000Z", "2025-06-23T00:00:00.000Z", "2025-07-07T00:00:00.000Z"}));
  // Weekends in June only when day-of-month is *.
  EXPECT_EQ(
      fires("0 0 * 6 SAT,SUN", "2025-06-01T00:00:00Z", 3),
      (Fires{"2025-06-07T00:00:00.000Z", "2025-06-08T00:00:00.000Z", "2025-06-14T00:00:00.000Z"}));
}

TEST(CronNextTest, FridayTenInWarsawAsUtc) {
  // 2025-11-17 is a Monday; Warsaw is on CET (+1) in November and CEST (+2) in June.
  EXPECT_EQ(fires("0 10 * * FRI", "2025-11-17T00:00:00Z", 2, "Europe/Warsaw"),
            (Fires{"2025-11-21T09:00:00.000Z", "2025-11-28T09:00:00.000Z"}));
  EXPECT_EQ(fires("0 10 * * FRI", "2025-06-02T00:00:00Z", 1, "Europe/Warsaw"),
            (Fires{"2025-06-06T08:00:00.000Z"}));
  // Friday 09:30 UTC is 10:30 in Warsaw: the next one is a week later.
  EXPECT_EQ(fires("0 10 * * FRI", "2025-11-21T09:30:00Z", 1, "Europe/Warsaw"),
            (Fires{"2025-11-28T09:00:00.000Z"}));
}

TEST(CronNextTest, LocalDayDiffersFromUtcDay) {
  // 23:30 on the 31st in New York is already the 1st in UTC, and 2025-01-01T00:00Z is still
  // December 31st there.
  EXPECT_EQ(
      fires("30 23 31 * *", "2025-01-01T00:00:00Z", 3, "America/New_York"),
      (Fires{"2025-01-01T04:30:00.000Z", "2025-02-01T04:30:00.000Z", "2025-04-01T03:30:00.000Z"}));
}

// --- summer time ----------------------------------------------------------------------------

// Warsaw, 2025-03-30: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
TEST(CronDstTest, WarsawSkippedTimeFiresWhenTheGapEnds) {
  EXPECT_EQ(
      fires("30 2 * * *", "2025-03-29T12:00:00Z", 3, "Europe/Warsaw"),
      (Fires{"2025-03-30T01:00:00.000Z", "2025-03-31T00:30:00.000Z", "2025-04-01T00:30:00.000Z"}));
  // Every minute of the skipped hour collapses into a single fire.
  EXPECT_EQ(fires("* 2 * * *", "2025-03-30T00:00:00Z", 2, "Europe/Warsaw"),
            (Fires{"2025-03-30T01:00:00.000Z", "2025-03-31T00:00:00.000Z"}));
  // A schedule at 02:30 and 03:00 fires once at 03:00.
  EXPECT_EQ(
      fires("0,30 2,3 * * *", "2025-03-30T00:00:00Z", 3, "Europe/Warsaw"),
      (Fires{"2025-03-30T01:00:00.000Z", "2025-03-30T01:30:00.000Z", "2025-03-31T00:00:00.000Z"}));
}

// Warsaw, 2025-10-26: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
TEST(CronDstTest, WarsawRepeatedTimeFiresOnce) {
  EXPECT_EQ(fires("30 2 * * *", "2025-10-25T12:00:00Z", 2, "Europe/Warsaw"),
            (Fires{"2025-10-26T00:30:00.000Z", "2025-10-27T01:30:00.000Z"}));
  EXPECT_EQ(fires("*/30 * * * *", "2025-10-25T23:50:00Z", 4, "Europe/Warsaw"),
            (Fires{"2025-10-26T00:00:00.000Z", "2025-10-26T00:30:00.000Z",
                   "2025-10-26T02:00:00.000Z", "2025-10-26T02:30:00.000Z"}));
  // Asked from inside the second pass of 02:xx, the day's 02:45 has already fired.
  EXPECT_EQ(fires("45 2 * * *", "2025-10-26T01:10:00Z", 1, "Europe/Warsaw"),
            (Fires{"2025-10-27T01:45:00.000Z"}));
}

// New York, 2025-03-09: 02:00 EST becomes 03:00 EDT at 07:00 UTC; 2025-11-02: 02:00 EDT becomes
// 01:00 EST at 06:00 UTC.
TEST(CronDstTest, NewYorkSpringForward) {
  EXPECT_EQ(fires("30 2 * * *", "2025-03-08T12:00:00Z", 2, "America/New_York"),
            (Fires{"2025-03-09T07:00:00.000Z", "2025-03-10T06:30:00.000Z"}));
  EXPECT_EQ(fires("0 * * * *", "2025-03-09T06:30:00Z", 2, "America/New_York"),
            (Fires{"2025-03-09T07:00:00.000Z", "2025-03-09T08:00:00.000Z"}));
}

TEST(CronDstTest, NewYorkFallBack) {
  EXPECT_EQ(fires("30 1 * * *", "2025-11-01T12:00:00Z", 2, "America/New_York"),
            (Fires{"2025-11-02T05:30:00.000Z", "2025-11-03T06:30:00.000Z"}));
  // Hourly: 01:00 EDT fires, 01:00 EST does not, 02:00 EST does.
  EXPECT_EQ(fires("0 * * * *", "2025-11-02T04:30:00Z", 2, "America/New_York"),
            (Fires{"2025-11-02T05:00:00.000Z", "2025-11-02T07:00:00.000Z"}));
}

}  // namespace
}  // namespace smsbridge
