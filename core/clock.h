#pragma once

// Time as the bridge sees it. Everything that schedules, leases or expires takes a Clock, so
// tests drive time with ManualClock instead of sleeping.

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace smsbridge {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time; thread-safe.
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  static SystemClock& instance();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(
      std::chrono::system_clock::time_point start =
          std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)))
      : now_(start.time_since_epoch().count()) {}

  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(now_.load()));
  }
  void advance(std::chrono::system_clock::duration d) { now_ += d.count(); }
  void set(std::chrono::system_clock::time_point t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::chrono::system_clock::rep> now_;
};

// ISO-8601 UTC with milliseconds ("2026-11-22T10:15:00.123Z"), the form every store writes.
std::string formatTimestamp(std::chrono::system_clock::time_point t);
// Parses what formatTimestamp writes (and "YYYY-MM-DD HH:MM:SS" as SQLite's datetime() gives).
std::optional<std::chrono::system_clock::time_point> parseTimestamp(std::string_view text);

}  // namespace smsbridge
