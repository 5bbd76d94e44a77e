#include "core/time_zone.h"

#include <unicode/calendar.h>
#include <unicode/gregocal.h>
#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace smsbridge {

// icu::Calendar computes fields in place even to read them, so a shared one needs a lock; one
// calendar per zone keeps the locale and rule lookups out of every conversion.
struct TimeZone::Calendar {
  std::mutex mu;
  std::unique_ptr<icu::Calendar> calendar;  // guarded by mu
};

namespace {

using Millis = std::chrono::duration<std::int64_t, std::milli>;

UDate toUDate(TimePoint t) {
  return static_cast<UDate>(std::chrono::floor<Millis>(t.time_since_epoch()).count());
}

TimePoint fromUDate(UDate date) {
  // TimePoint counts nanoseconds in an int64: about ±292 years around 1970.
  constexpr double kMaxMillis = static_cast<double>(
      std::chrono::duration_cast<Millis>(TimePoint::duration::max()).count() - 1);
  if (date >= kMaxMillis) return TimePoint::max();
  if (date <= -kMaxMillis) return TimePoint::min();
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      Millis(static_cast<std::int64_t>(std::llround(date)))));
}

}  // namespace

std::string_view weekdayName(Weekday day) {
  switch (day) {
    case Weekday::kSunday:
      return "Sun";
    case Weekday::kMonday:
      return "Mon";
    case Weekday::kTuesday:
      return "Tue";
    case Weekday::kWednesday:
      return "Wed";
    case Weekday::kThursday:
      return "Thu";
    case Weekday::kFriday:
      return "Fri";
    case Weekday::kSaturday:
      return "Sat";
  }
  return "?";
}

Result<TimeZone> TimeZone::load(std::string_view iana_name) {
  std::string name(iana_name);
  icu::UnicodeString id = icu::UnicodeString::fromUTF8(icu::StringPiece(name.data(), name.size()));
  icu::UnicodeString canonical;
  UBool is_system_id = false;
  UErrorCode status = U_ZERO_ERROR;
  icu::TimeZone::getCanonicalID(id, canonical, is_system_id, status);
  if (U_FAILURE(status) || !is_system_id) {
    return configError("unknown time zone \"" + name +
                       "\": use a tz database name such as Europe/Warsaw or UTC (names are "
                       "case-sensitive)");
  }

  status = U_ZERO_ERROR;
  auto calendar = std::make_unique<icu::GregorianCalendar>(icu::TimeZone::createTimeZone(id),
                                                           icu::Locale::getRoot(), status);
  if (U_FAILURE(status)) {
    return internalError("time zone \"" + name +
                         "\": ICU cannot build a calendar: " + u_errorName(status));
  }
  // Proleptic Gregorian, as std::chrono's calendar and cron are: no Julian dates before 1582.
  calendar->setGregorianChange(U_DATE_MIN, status);
  calendar->setSkippedWallTimeOption(UCAL_WALLTIME_NEXT_VALID);
  calendar->setLenient(true);
  if (U_FAILURE(status)) {
    return internalError("time zone \"" + name + "\": " + u_errorName(status));
  }

  auto shared = std::make_shared<Calendar>();
  shared->calendar = std::move(calendar);
  return TimeZone(std::move(name), std::move(shared));
}

CivilTime TimeZone::toLocal(TimePoint t) const {
  std::lock_guard lock(calendar_->mu);
  icu::Calendar& cal = *calendar_->calendar;
  UErrorCode status = U_ZERO_ERROR;
  cal.setTime(toUDate(t), status);
  CivilTime local;
  local.year = cal.get(UCAL_EXTENDED_YEAR, status);
  local.month = cal.get(UCAL_MONTH, status) + 1;
  local.day = cal.get(UCAL_DATE, status);
  local.hour = cal.get(UCAL_HOUR_OF_DAY, status);
  local.minute = cal.get(UCAL_MINUTE, status);
  local.second = cal.get(UCAL_SECOND, status);
  local.weekday = static_cast<Weekday>(cal.get(UCAL_DAY_OF_WEEK, status) - UCAL_SUNDAY);
  // Every UDate a TimePoint can hold is within ICU's range, so status cannot fail here.
  return local;
}

TimePoint TimeZone::toUtc(const CivilTime& local, RepeatedTime repeated) const {
  std::lock_guard lock(calendar_->mu);
  icu::Calendar& cal = *calendar_->calendar;
  cal.setRepeatedWallTimeOption(repeated == RepeatedTime::kFirst ? UCAL_WALLTIME_FIRST
                                                                 : UCAL_WALLTIME_LAST);
  cal.clear();
  cal.set(UCAL_EXTENDED_YEAR, local.year);
  cal.set(UCAL_MONTH, local.month - 1);
  cal.set(UCAL_DATE, local.day);
  cal.set(UCAL_HOUR_OF_DAY, local.hour);
  cal.set(UCAL_MINUTE, local.minute);
  cal.set(UCAL_SECOND, local.second);
  UErrorCode status = U_ZERO_ERROR;
  UDate date = cal.getTime(status);
  if (U_FAILURE(status)) {
    // Only fields far outside any calendar get here; saturate as documented.
    return local.year < 1970 ? TimePoint::min() : TimePoint::max();
  }
  return fromUDate(date);
}

std::chrono::seconds TimeZone::utcOffset(TimePoint t) const {
  std::lock_guard lock(calendar_->mu);
  const icu::TimeZone& zone = calendar_->calendar->getTimeZone();
  std::int32_t raw = 0;
  std::int32_t dst = 0;
  UErrorCode status = U_ZERO_ERROR;
  zone.getOffset(toUDate(t), /*local=*/false, raw, dst, status);
  return std::chrono::duration_cast<std::chrono::seconds>(Millis(raw + dst));
}

}  // namespace smsbridge
