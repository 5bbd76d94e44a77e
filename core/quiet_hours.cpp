#include "core/quiet_hours.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/cron.h"

namespace smsbridge {
namespace {

constexpr int kMinutesPerDay = 24 * 60;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// "H:MM" or "HH:MM" as minutes after midnight, up to 24:00; nullopt when malformed.
std::optional<int> parseClock(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) {
    return std::nullopt;
  }
  int hours = 0;
  for (char c : text.substr(0, colon)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hours = hours * 10 + (c - '0');
  }
  int minutes = 0;
  for (char c : text.substr(colon + 1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    minutes = minutes * 10 + (c - '0');
  }
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) return std::nullopt;
  return hours * 60 + minutes;
}

std::string formatClock(int minute_of_day) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute_of_day / 60, minute_of_day % 60);
  return buf;
}

Weekday previousDay(Weekday day) { return static_cast<Weekday>((static_cast<int>(day) + 6) % 7); }

}  // namespace

Result<QuietHours> QuietHours::parse(std::string_view window, std::string_view tz_name,
                                     std::string_view weekdays) {
  const std::string context = "quiet hours \"" + std::string(window) + "\": ";
  const std::string_view text = trim(window);
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    return configError(context + "expected HH:MM-HH:MM, e.g. 21:00-08:00");
  }
  const std::string_view start_text = trim(text.substr(0, dash));
  const std::string_view end_text = trim(text.substr(dash + 1));
  std::optional<int> start = parseClock(start_text);
  if (!start || *start == kMinutesPerDay) {
    return configError(context + "start must be a time 00:00-23:59, got \"" +
                       std::string(start_text) + "\"");
  }
  std::optional<int> end = parseClock(end_text);
  if (!end) {
    return configError(context + "end must be a time 00:00-24:00, got \"" + std::string(end_text) +
                       "\"");
  }
  if (*start == *end) {
    return configError(context + "start and end are the same; for a whole day use 00:00-24:00");
  }

  WeekdaySet days;
  days.set();
  const std::string_view weekday_text = trim(weekdays);
  if (!weekday_text.empty()) {
    auto parsed = parseCronWeekdays(weekday_text);
    if (auto* diagnostics = std::get_if<std::vector<CronDiagnostic>>(&parsed)) {
      const CronDiagnostic& first = diagnostics->front();
      return configError("quiet hours days \"" + std::string(weekday_text) + "\": " +
                         first.message + " (at offset " + std::to_string(first.offset) + ")");
    }
    days = std::get<WeekdaySet>(parsed);
  }
  if (*start == 0 && *end == kMinutesPerDay && days.all()) {
    return configError(context + "quiet all day every day would never let a message out");
  }

  Result<TimeZone> tz = TimeZone::load(tz_name);
  if (!tz) return tz.error().withContext("quiet hours");

  std::string description = formatClock(*start) + "-" + formatClock(*end);
  if (!weekday_text.empty()) description += " on " + std::string(weekday_text);
  description += " " + tz->name();
  return QuietHours(*start, *end, days, std::move(*tz), std::move(description));
}

bool QuietHours::contains(TimePoint t) const {
  const CivilTime local = tz_.toLocal(t);
  const int minute = local.hour * 60 + local.minute;
  const auto on = [this](Weekday day) { return weekdays_[static_cast<int>(day)]; };
  if (start_minute_ < end_minute_) {
    return start_minute_ <= minute && minute < end_minute_ && on(local.weekday);
  }
  // Wrapping: the evening part belongs to today, the morning part to the day before.
  if (minute >= start_minute_) return on(local.weekday);
  if (minute < end_minute_) return on(previousDay(local.weekday));
  return false;
}

TimePoint QuietHours::endOfOccurrence(TimePoint t) const {
  using namespace std::chrono;
  const CivilTime local = tz_.toLocal(t);
  const int minute = local.hour * 60 + local.minute;
  const bool ends_tomorrow =
      end_minute_ == kMinutesPerDay || (end_minute_ < start_minute_ && minute >= start_minute_);
  year_month_day date{std::chrono::year(local.year), std::chrono::month(local.month),
                      std::chrono::day(local.day)};
  if (ends_tomorrow) date = year_month_day(sys_days(date) + days(1));
  const int end = end_minute_ % kMinutesPerDay;
  const CivilTime end_local{static_cast<int>(date.year()),
                            static_cast<int>(static_cast<unsigned>(date.month())),
                            static_cast<int>(static_cast<unsigned>(date.day())),
                            end / 60,
                            end % 60,
                            0};
  // `t` may be in the second pass of a repeated hour, after the first pass of the end time.
  TimePoint result = tz_.toUtc(end_local, RepeatedTime::kFirst);
  if (result <= t) result = tz_.toUtc(end_local, RepeatedTime::kLast);
  if (result <= t) result = t + minutes(1);  // cannot happen; guarantees progress regardless
  return result;
}

TimePoint QuietHours::endOf(TimePoint t) const {
  // Windows touch end to start only for 00:00-24:00 on consecutive days (at most six, as all
  // seven are refused) or when clocks going forward swallow the gap between two; nine steps
  // always suffice.
  constexpr int kMaxWindows = 9;
  for (int i = 0; i < kMaxWindows && contains(t); ++i) t = endOfOccurrence(t);
  return t;
}

std::string QuietHours::describe() const { return description_; }

}  // namespace smsbridge
