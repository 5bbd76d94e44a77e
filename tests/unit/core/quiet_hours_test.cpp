#include "core/quiet_hours.h"

#include <gtest/gtest.h>

#include <string>

#include "core/clock.h"

namespace smsbridge {
namespace {

TimePoint utc(const char* iso) { return parseTimestamp(iso).value(); }

QuietHours quiet(const char* window, const char* tz, const char* weekdays = "") {
  Result<QuietHours> parsed = QuietHours::parse(window, tz, weekdays);
  EXPECT_TRUE(parsed.has_value()) << window << ": " << parsed.status().toString();
  if (!parsed) return QuietHours::parse("21:00-08:00", "UTC").value();
  return std::move(parsed).value();
}

std::string endOf(const QuietHours& q, const char* iso) {
  return formatTimestamp(q.endOf(utc(iso)));
}

// Warsaw is on CET (UTC+1) in January; 2025-01-15 is a Wednesday.
TEST(QuietHoursTest, WindowWrapsMidnight) {
  const QuietHours q = quiet("21:00-08:00", "Europe/Warsaw");
  EXPECT_FALSE(q.contains(utc("2025-01-15T19:59:59Z")));  // 20:59:59
  EXPECT_TRUE(q.contains(utc("2025-01-15T20:00:00Z")));   // 21:00
  EXPECT_TRUE(q.contains(utc("2025-01-15T23:30:00Z")));   // 00:30
  EXPECT_TRUE(q.contains(utc("2025-01-16T06:59:59Z")));   // 07:59:59
  EXPECT_FALSE(q.contains(utc("2025-01-16T07:00:00Z")));  // 08:00
  EXPECT_FALSE(q.contains(utc("2025-01-16T12:00:00Z")));
}

TEST(QuietHoursTest, EndOfIsTheFirstInstantOutside) {
  const QuietHours q = quiet("21:00-08:00", "Europe/Warsaw");
  EXPECT_EQ(endOf(q, "2025-01-15T20:00:00Z"), "2025-01-16T07:00:00.000Z");
  EXPECT_EQ(endOf(q, "2025-01-15T23:30:00Z"), "2025-01-16T07:00:00.000Z");
  EXPECT_EQ(endOf(q, "2025-01-16T06:59:59Z"), "2025-01-16T07:00:00.000Z");
  // Outside the window, endOf is the instant itself.
  EXPECT_EQ(endOf(q, "2025-01-16T12:34:56.789Z"), "2025-01-16T12:34:56.789Z");
}

TEST(QuietHoursTest, WindowWithinOneDay) {
  const QuietHours q = quiet("12:00-14:00", "UTC");
  EXPECT_FALSE(q.contains(utc("2025-01-15T11:59:59Z")));
  EXPECT_TRUE(q.contains(utc("2025-01-15T12:00:00Z")));
  EXPECT_TRUE(q.contains(utc("2025-01-15T13:59:59Z")));
  EXPECT_FALSE(q.contains(utc("2025-01-15T14:00:00Z")));
  EXPECT_EQ(endOf(q, "2025-01-15T13:00:00Z"), "2025-01-15T14:00:00.000Z");
}

TEST(QuietHoursTest, WindowEndingAtMidnight) {
  for (const char* window : {"20:00-24:00", "20:00-00:00"}) {
    const QuietHours q = quiet(window, "UTC");
    EXPECT_TRUE(q.contains(utc("2025-01-15T23:59:59Z"))) << window;
    EXPECT_FALSE(q.contains(utc("2025-01-16T00:00:00Z"))) << window;
    EXPECT_EQ(endOf(q, "2025-01-15T21:00:00Z"), "2025-01-16T00:00:00.000Z") << window;
  }
}

// Warsaw, 2025-03-30: 02:00 CET becomes 03:00 CEST; 2025-10-26: 03:00 CEST becomes 02:00 CET.
TEST(QuietHoursTest, WarsawNightsWhenTheClocksChange) {
  const QuietHours q = quiet("21:00-08:00", "Europe/Warsaw");
  EXPECT_EQ(endOf(q, "2025-03-29T21:00:00Z"), "2025-03-30T06:00:00.000Z");  // 08:00 CEST
  EXPECT_TRUE(q.contains(utc("2025-03-30T05:59:00Z")));
  EXPECT_FALSE(q.contains(utc("2025-03-30T06:00:00Z")));
  EXPECT_EQ(endOf(q, "2025-10-25T20:00:00Z"), "2025-10-26T07:00:00.000Z");  // 08:00 CET
  EXPECT_TRUE(q.contains(utc("2025-10-26T06:30:00Z")));
  // Starts at 21:00 CEST, which is 19:00 UTC in October and 20:00 UTC in November.
  EXPECT_TRUE(q.contains(utc("2025-10-25T19:00:00Z")));
  EXPECT_FALSE(q.contains(utc("2025-11-01T19:00:00Z")));
}

// New York, 2025-03-09: 02:00 EST becomes 03:00 EDT; 2025-11-02: 02:00 EDT becomes 01:00 EST.
TEST(QuietHoursTest, NewYorkNightsWhenTheClocksChange) {
  const QuietHours q = quiet("21:00-08:00", "America/New_York");
  EXPECT_EQ(endOf(q, "2025-03-09T02:00:00Z"), "2025-03-09T12:00:00.000Z");  // 08:00 EDT
  EXPECT_EQ(endOf(q, "2025-11-02T02:00:00Z"), "2025-11-02T13:00:00.000Z");  // 08:00 EST
}

TEST(QuietHoursTest, EndSkippedByTheClocksEndsWhereTheGapEnds) {
  const QuietHours q = quiet("22:00-02:30", "Europe/Warsaw");
  EXPECT_TRUE(q.contains(utc("2025-03-30T00:59:59Z")));                     // 01:59:59 CET
  EXPECT_EQ(endOf(q, "2025-03-29T22:00:00Z"), "2025-03-30T01:00:00.000Z");  // 03:00 CEST
  EXPECT_FALSE(q.contains(utc("2025-03-30T01:00:00Z")));
}

TEST(QuietHoursTest, StartSkippedByTheClocksStartsWhereTheGapEnds) {
  const QuietHours q = quiet("02:30-05:00", "Europe/Warsaw");
  EXPECT_FALSE(q.contains(utc("2025-03-30T00:59:59Z")));  // 01:59:59 CET
  EXPECT_TRUE(q.contains(utc("2025-03-30T01:00:00Z")));   // 03:00 CEST
}

TEST(QuietHoursTest, EndInTheRepeatedHourIsCrossedTwice) {
  const QuietHours q = quiet("22:00-02:30", "Europe/Warsaw");
  EXPECT_EQ(endOf(q, "2025-10-25T21:00:00Z"), "2025-10-26T00:30:00.000Z");  // 02:30 CEST
  EXPECT_FALSE(q.contains(utc("2025-10-26T00:30:00Z")));
  // 02:10 CET: the wall clock reads inside the window again until 02:30 CET.
  EXPECT_TRUE(q.contains(utc("2025-10-26T01:10:00Z")));
  EXPECT_EQ(endOf(q, "2025-10-26T01:10:00Z"), "2025-10-26T01:30:00.000Z");
  EXPECT_FALSE(q.contains(utc("2025-10-26T01:30:00Z")));
}

// 2025-01-17 is a Friday.
TEST(QuietHoursTest, WeekdaysNameTheDayTheWindowStarts) {
  const QuietHours q = quiet("21:00-08:00", "Europe/Warsaw", "FRI");
  EXPECT_TRUE(q.contains(utc("2025-01-17T21:00:00Z")));   // Friday 22:00
  EXPECT_TRUE(q.contains(utc("2025-01-18T06:00:00Z")));   // Saturday 07:00, Friday's night
  EXPECT_FALSE(q.contains(utc("2025-01-18T21:00:00Z")));  // Saturday 22:00
  EXPECT_FALSE(q.contains(utc("2025-01-17T06:00:00Z")));  // Friday 07:00, Thursday's night
  EXPECT_EQ(endOf(q, "2025-01-17T21:00:00Z"), "2025-01-18T07:00:00.000Z");
}

TEST(QuietHoursTest, WholeDaysChainIntoOneWindow) {
  const QuietHours q = quiet("00:00-24:00", "Europe/Warsaw", "SAT,SUN");
  EXPECT_FALSE(q.contains(utc("2025-01-17T22:59:59Z")));                    // Friday 23:59:59
  EXPECT_TRUE(q.contains(utc("2025-01-17T23:00:00Z")));                     // Saturday 00:00
  EXPECT_EQ(endOf(q, "2025-01-18T09:00:00Z"), "2025-01-19T23:00:00.000Z");  // Monday 00:00
}

TEST(QuietHoursTest, LenientSpellingAndDescribe) {
  EXPECT_EQ(quiet(" 21:00 - 08:00 ", "Europe/Warsaw").describe(), "21:00-08:00 Europe/Warsaw");
  const QuietHours q = quiet("9:00-17:30", "UTC", "MON-FRI");
  EXPECT_EQ(q.describe(), "09:00-17:30 on MON-FRI UTC");
  EXPECT_EQ(q.startMinute(), 9 * 60);
  EXPECT_EQ(q.endMinute(), 17 * 60 + 30);
  EXPECT_EQ(q.weekdays(), WeekdaySet("0111110"));
  EXPECT_EQ(q.timeZone().name(), "UTC");
}

TEST(QuietHoursTest, BadConfigIsRefused) {
  struct Bad {
    const char* window;
    const char* tz;
    const char* weekdays;
    const char* message;
  };
  for (const Bad& bad : {
           Bad{"21:00", "UTC", "", "quiet hours \"21:00\": expected HH:MM-HH:MM, e.g. 21:00-08:00"},
           Bad{"25:00-08:00", "UTC", "",
               "quiet hours \"25:00-08:00\": start must be a time 00:00-23:59, got \"25:00\""},
           Bad{"24:00-08:00", "UTC", "",
               "quiet hours \"24:00-08:00\": start must be a time 00:00-23:59, got \"24:00\""},
           Bad{"21:60-08:00", "UTC", "",
               "quiet hours \"21:60-08:00\": start must be a time 00:00-23:59, got \"21:60\""},
           Bad{"21:00-24:30", "UTC", "",
               "quiet hours \"21:00-24:30\": end must be a time 00:00-24:00, got \"24:30\""},
           Bad{"21:00-8", "UTC", "",
               "quiet hours \"21:00-8\": end must be a time 00:00-24:00, got \"8\""},
           Bad{"21:00-08:00-09:00", "UTC", "",
               "quiet hours \"21:00-08:00-09:00\": end must be a time 00:00-24:00, got "
               "\"08:00-09:00\""},
           Bad{"08:00-08:00", "UTC", "",
               "quiet hours \"08:00-08:00\": start and end are the same; for a whole day use "
               "00:00-24:00"},
           Bad{"00:00-24:00", "UTC", "",
               "quiet hours \"00:00-24:00\": quiet all day every day would never let a message "
               "out"},
           Bad{"21:00-08:00", "UTC", "MON-FUN",
               "quiet hours days \"MON-FUN\": day-of-week must be 0-7 or SUN-SAT, got FUN (at "
               "offset 4)"},
           Bad{"21:00-08:00", "Mars/Olympus", "",
               "quiet hours: unknown time zone \"Mars/Olympus\": use a tz database name such as "
               "Europe/Warsaw or UTC (names are case-sensitive)"},
       }) {
    Result<QuietHours> parsed = QuietHours::parse(bad.window, bad.tz, bad.weekdays);
    ASSERT_FALSE(parsed.has_value()) << bad.window;
    EXPECT_EQ(parsed.error().category(), ErrorCategory::kConfig) << bad.window;
    EXPECT_EQ(parsed.error().message(), bad.message);
  }
}

}  // namespace
}  // namespace smsbridge
