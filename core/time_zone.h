#pragma once

// Civil (wall-clock) time in a named IANA time zone, for the things an operator states in local
// time: schedules ("Friday 10:00 in Warsaw") and quiet hours ("21:00-08:00"). ICU holds the zone
// rules, so a zone follows the tz database ICU was built with, not the host's /etc/localtime.
//
// Thread-safety: a TimeZone is an immutable value; its const methods may be called from any
// number of threads at once (copies share one ICU calendar behind a mutex).

#include <bitset>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"

namespace smsbridge {

// The same alias as core/sms_job.h declares; repeated here so that time code does not depend on
// the job model.
using TimePoint = std::chrono::system_clock::time_point;

// Numbered as cron numbers them (and as tm_wday does): Sunday is 0.
enum class Weekday { kSunday = 0, kMonday, kTuesday, kWednesday, kThursday, kFriday, kSaturday };

// A set of weekdays, indexed by static_cast<int>(Weekday).
using WeekdaySet = std::bitset<7>;

std::string_view weekdayName(Weekday day);  // "Sun" | "Mon" | ...

// A wall-clock reading in some zone, in the proleptic Gregorian calendar.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
  int hour = 0;   // 0-23
  int minute = 0;
  int second = 0;
  Weekday weekday = Weekday::kThursday;  // filled by toLocal(); toUtc() ignores it

  friend bool operator==(const CivilTime&, const CivilTime&) = default;
};

// Which instant a wall-clock time means when the clocks go back and it happens twice.
enum class RepeatedTime {
  kFirst,  // the earlier instant (still on summer time): what an operator means by default
  kLast,   // the later instant
};

class TimeZone {
 public:
  // The zone named `iana_name` ("Europe/Warsaw", "America/New_York", "UTC"). Names are
  // case-sensitive as in the tz database; ICU's legacy aliases ("US/Eastern") are accepted.
  // Unknown names, and ICU's custom offsets such as "GMT+5" (whose sign is the opposite of the
  // tz database's "Etc/GMT+5"), are a kConfig error.
  static Result<TimeZone> load(std::string_view iana_name);

  // The name as the operator wrote it.
  const std::string& name() const { return name_; }

  // The wall-clock reading at `t`; sub-second parts are dropped (floored).
  CivilTime toLocal(TimePoint t) const;

  // The instant at which the wall clock reads `local` (its weekday is ignored). A reading that
  // does not exist because the clocks went forward over it (02:30 on a spring-forward night in
  // Europe) becomes the first instant after the gap (03:00 local). A reading that happens twice
  // because the clocks went back resolves as `repeated` says. Out-of-range fields roll over
  // (February 30 is March 1 or 2); results beyond TimePoint's range (years 1678-2261) saturate.
  TimePoint toUtc(const CivilTime& local, RepeatedTime repeated = RepeatedTime::kFirst) const;

  // The offset from UTC (including summer time) in effect at `t`.
  std::chrono::seconds utcOffset(TimePoint t) const;

 private:
  struct Calendar;
  TimeZone(std::string name, std::shared_ptr<Calendar> calendar)
      : name_(std::move(name)), calendar_(std::move(calendar)) {}

  std::string name_;
  std::shared_ptr<Calendar> calendar_;
};

}  // namespace smsbridge
