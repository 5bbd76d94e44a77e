#include "core/time_zone.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace smsbridge {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

TimePoint utc(const char* iso) { return parseTimestamp(iso).value(); }

TimeZone zone(const char* name) {
  Result<TimeZone> tz = TimeZone::load(name);
  EXPECT_TRUE(tz.has_value()) << name;
  return std::move(tz).value();
}

CivilTime civil(int y, int mo, int d, int h, int mi, int s = 0) {
  return CivilTime{.year = y, .month = mo, .day = d, .hour = h, .minute = mi, .second = s};
}

TEST(TimeZoneTest, UtcLoadsAndReadsTheEpoch) {
  const TimeZone tz = zone("UTC");
  EXPECT_EQ(tz.name(), "UTC");
  const CivilTime epoch = tz.toLocal(TimePoint{});
  EXPECT_EQ(epoch, (CivilTime{1970, 1, 1, 0, 0, 0, Weekday::kThursday}));
  EXPECT_EQ(tz.toUtc(civil(1970, 1, 1, 0, 0)), TimePoint{});
  EXPECT_EQ(tz.utcOffset(utc("2025-07-01T00:00:00Z")), seconds(0));
}

TEST(TimeZoneTest, UnknownNamesAreConfigErrors) {
  // Lower case, ICU's custom "GMT+5" (opposite sign to Etc/GMT+5) and nonsense are refused.
  for (const char* name : {"Nowhere/City", "", "utc", "europe/warsaw", "GMT+5", "Etc/Unknown"}) {
    Result<TimeZone> tz = TimeZone::load(name);
    ASSERT_FALSE(tz.has_value()) << name;
    EXPECT_EQ(tz.error().category(), ErrorCategory::kConfig) << name;
    EXPECT_NE(tz.error().message().find(std::string("\"") + name + "\""), std::string::npos)
        << tz.error().message();
  }
}

TEST(TimeZoneTest, AliasesAndEtcZonesLoad) {
  EXPECT_EQ(zone("US/Eastern").utcOffset(utc("2025-01-15T12:00:00Z")), hours(-5));
  // The tz database's POSIX-style sign: Etc/GMT+5 is five hours behind UTC.
  EXPECT_EQ(zone("Etc/GMT+5").utcOffset(utc("2025-01-15T12:00:00Z")), hours(-5));
}

TEST(TimeZoneTest, WarsawWinterAndSummer) {
  const TimeZone tz = zone("Europe/Warsaw");
  EXPECT_EQ(tz.toLocal(utc("2025-01-15T12:00:00Z")),
            (CivilTime{2025, 1, 15, 13, 0, 0, Weekday::kWednesday}));
  EXPECT_EQ(tz.toLocal(utc("2025-07-15T12:00:00Z")),
            (CivilTime{2025, 7, 15, 14, 0, 0, Weekday::kTuesday}));
  EXPECT_EQ(tz.utcOffset(utc("2025-01-15T12:00:00Z")), hours(1));
  EXPECT_EQ(tz.utcOffset(utc("2025-07-15T12:00:00Z")), hours(2));
  EXPECT_EQ(tz.toUtc(civil(2025, 1, 15, 13, 0)), utc("2025-01-15T12:00:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 7, 15, 14, 0)), utc("2025-07-15T12:00:00Z"));
}

TEST(TimeZoneTest, LocalDateCrossesMidnightAndYearEnd) {
  const TimeZone tz = zone("Europe/Warsaw");
  EXPECT_EQ(tz.toLocal(utc("2024-12-31T23:30:00Z")),
            (CivilTime{2025, 1, 1, 0, 30, 0, Weekday::kWednesday}));
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(ny.toLocal(utc("2024-03-01T03:00:00Z")),
            (CivilTime{2024, 2, 29, 22, 0, 0, Weekday::kThursday}));
}

TEST(TimeZoneTest, SubSecondsAreFloored) {
  const TimeZone tz = zone("UTC");
  EXPECT_EQ(tz.toLocal(utc("2025-05-05T10:00:07.999Z")).second, 7);
  EXPECT_EQ(tz.toLocal(TimePoint{} - milliseconds(1)),
            (CivilTime{1969, 12, 31, 23, 59, 59, Weekday::kWednesday}));
}

// Warsaw, 2025-03-30: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
TEST(TimeZoneTest, WarsawSpringGapMovesForwardToTheEndOfTheGap) {
  const TimeZone tz = zone("Europe/Warsaw");
  EXPECT_EQ(tz.toUtc(civil(2025, 3, 30, 1, 59)), utc("2025-03-30T00:59:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 3, 30, 2, 0)), utc("2025-03-30T01:00:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 3, 30, 2, 30)), utc("2025-03-30T01:00:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 3, 30, 2, 59, 59)), utc("2025-03-30T01:00:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 3, 30, 3, 0)), utc("2025-03-30T01:00:00Z"));
  EXPECT_EQ(tz.toLocal(utc("2025-03-30T01:00:00Z")),
            (CivilTime{2025, 3, 30, 3, 0, 0, Weekday::kSunday}));
  EXPECT_EQ(tz.toLocal(utc("2025-03-30T00:59:59Z")),
            (CivilTime{2025, 3, 30, 1, 59, 59, Weekday::kSunday}));
}

// Warsaw, 2025-10-26: 03:00 CEST becomes 02:00 CET at 01:00 UTC, so 02:00-02:59 happens twice.
TEST(TimeZoneTest, WarsawFallBackOverlapTakesTheFirstOccurrence) {
  const TimeZone tz = zone("Europe/Warsaw");
  EXPECT_EQ(tz.toUtc(civil(2025, 10, 26, 2, 30)), utc("2025-10-26T00:30:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 10, 26, 2, 30), RepeatedTime::kLast), utc("2025-10-26T01:30:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 10, 26, 3, 0)), utc("2025-10-26T02:00:00Z"));
  EXPECT_EQ(tz.toLocal(utc("2025-10-26T00:30:00Z")), tz.toLocal(utc("2025-10-26T01:30:00Z")));
  EXPECT_EQ(tz.utcOffset(utc("2025-10-26T00:30:00Z")), hours(2));
  EXPECT_EQ(tz.utcOffset(utc("2025-10-26T01:30:00Z")), hours(1));
}

// New York, 2025-03-09: 02:00 EST becomes 03:00 EDT at 07:00 UTC; 2025-11-02: 02:00 EDT becomes
// 01:00 EST at 06:00 UTC.
TEST(TimeZoneTest, NewYorkGapAndOverlap) {
  const TimeZone tz = zone("America/New_York");
  EXPECT_EQ(tz.toUtc(civil(2025, 3, 9, 2, 30)), utc("2025-03-09T07:00:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 3, 9, 3, 30)), utc("2025-03-09T07:30:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 11, 2, 1, 30)), utc("2025-11-02T05:30:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2025, 11, 2, 1, 30), RepeatedTime::kLast), utc("2025-11-02T06:30:00Z"));
  EXPECT_EQ(tz.toLocal(utc("2025-11-02T06:30:00Z")),
            (CivilTime{2025, 11, 2, 1, 30, 0, Weekday::kSunday}));
}

TEST(TimeZoneTest, FieldsOutOfRangeRollOver) {
  const TimeZone tz = zone("UTC");
  EXPECT_EQ(tz.toUtc(civil(2025, 2, 30, 0, 0)), utc("2025-03-02T00:00:00Z"));
  EXPECT_EQ(tz.toUtc(civil(2024, 2, 30, 0, 0)), utc("2024-03-01T00:00:00Z"));
}

TEST(TimeZoneTest, CopiesAreUsableConcurrently) {
  const TimeZone tz = zone("Europe/Warsaw");
  const TimePoint winter = utc("2025-01-15T12:00:00Z");
  const TimePoint summer = utc("2025-07-15T12:00:00Z");
  std::vector<int> wrong(8, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i, copy = tz] {
      const TimeZone& use = i % 2 ? tz : copy;
      for (int n = 0; n < 2000; ++n) {
        const bool even = (n + i) % 2 == 0;
        const CivilTime local = use.toLocal(even ? winter : summer);
        if (local.hour != (even ? 13 : 14)) ++wrong[i];
        if (use.toUtc(local) != (even ? winter : summer)) ++wrong[i];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong, std::vector<int>(8, 0));
}

}  // namespace
}  // namespace smsbridge
