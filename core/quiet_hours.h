#pragma once

// Quiet hours of a lane: a daily wall-clock window ("21:00-08:00" in Europe/Warsaw) during which
// the dispatcher holds marketing messages back, optionally only on some weekdays.
//
// The window is read on the wall clock of its zone, minute by minute, as the recipients' clocks
// show it: [start, end), wrapping midnight when end < start. A window on restricted weekdays
// belongs to the day it starts on: "21:00-08:00" on FRI is Friday 21:00 to Saturday 08:00.
// Summer time follows from reading the wall clock: a window ends at 08:00 local whether that
// is 07:00 or 06:00 UTC; wall-clock minutes skipped when clocks go forward are never inside;
// a wall-clock minute that happens twice is inside both times (so an edge that falls in the
// repeated hour is crossed twice).
//
// Thread-safety: an immutable value; const methods are safe from any thread.

#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "core/time_zone.h"

namespace smsbridge {

class QuietHours {
 public:
  // `window` is "HH:MM-HH:MM" (blanks around the parts are ignored, hours may have one digit,
  // the end may be 24:00), `tz_name` a tz database name, and `weekdays` the days the window
  // starts on in cron day-of-week syntax ("MON-FRI", "SAT,SUN"); empty means every day.
  // kConfig errors: a malformed or empty window (start == end), an unknown zone, a bad weekday
  // list, or a window covering the whole week (nothing could ever be sent).
  static Result<QuietHours> parse(std::string_view window, std::string_view tz_name,
                                  std::string_view weekdays = {});

  // Whether `t` falls inside a quiet window.
  bool contains(TimePoint t) const;

  // The first instant at or after `t` outside every quiet window: `t` itself when it is not
  // quiet. When the end time does not exist that day (clocks went forward over it), the window
  // ends where the gap ends.
  TimePoint endOf(TimePoint t) const;

  // "21:00-08:00 Europe/Warsaw", or "21:00-08:00 on MON-FRI Europe/Warsaw", for logs.
  std::string describe() const;

  int startMinute() const { return start_minute_; }  // minutes after local midnight, 0-1439
  int endMinute() const { return end_minute_; }      // 0-1440; below start when it wraps
  const WeekdaySet& weekdays() const { return weekdays_; }
  const TimeZone& timeZone() const { return tz_; }

 private:
  QuietHours(int start_minute, int end_minute, WeekdaySet weekdays, TimeZone tz,
             std::string description)
      : start_minute_(start_minute),
        end_minute_(end_minute),
        weekdays_(weekdays),
        tz_(std::move(tz)),
        description_(std::move(description)) {}

  // The end of the window occurrence that contains `t`.
  TimePoint endOfOccurrence(TimePoint t) const;

  int start_minute_;
  int end_minute_;
  WeekdaySet weekdays_;
  TimeZone tz_;
  std::string description_;
};

}  // namespace smsbridge
