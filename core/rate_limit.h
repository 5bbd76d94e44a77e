#pragma once

// Provider send limits: how many messages (or segments) may start in any one-second window,
// and a circuit breaker that stops sending to a provider that keeps failing.
//
// Providers state their limits per second ("100 SMS/s"). A token bucket with burst B admits
// up to B + rate messages in some one-second windows; RateWindow counts what started in the
// last second instead, so the stated rate is never exceeded in ANY one-second window — the
// guarantee the provider's own limiter checks. It remembers one entry per message started in
// the last second, so its memory is bounded by the limit itself.
//
// Not thread-safe: the dispatcher uses both from its one io_context thread.

#include <chrono>
#include <deque>
#include <string_view>

#include "core/sms_job.h"

namespace smsbridge {

class RateWindow {
 public:
  // 0 means unlimited.
  explicit RateWindow(double per_second = 0) : limit_(per_second) {}

  bool unlimited() const { return limit_ <= 0; }
  // Whether `weight` more can start at `now`. A weight above the limit is admitted only into
  // an empty window, so one long message still goes out (alone) under a small segment limit.
  bool admits(double weight, TimePoint now);
  void take(double weight, TimePoint now);
  // The earliest time admits(weight) can become true; `now` when it already is.
  TimePoint availableAt(double weight, TimePoint now);

 private:
  void expire(TimePoint now);

  double limit_;
  double used_ = 0;
  std::deque<std::pair<TimePoint, double>> started_;
};

struct BreakerSettings {
  int failure_threshold = 5;                   // consecutive failures that open it; 0: never
  std::chrono::milliseconds open_for{30'000};  // before a half-open probe is let through
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view breakerStateName(BreakerState state);

// Closed: everything passes. After `failure_threshold` consecutive failures (transport errors,
// 5xx, FailOver) it opens: nothing passes until `open_for` has elapsed; then one probe passes
// (half-open). The probe's success closes it; its failure opens it again for `open_for`.
class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerSettings settings = {}) : settings_(settings) {}

  // Whether a send may start now. In half-open state it admits one probe at a time.
  bool allows(TimePoint now) const;
  // A send is starting (after allows() said yes).
  void onStart(TimePoint now);
  // Returns true when this call changed the state (for logs and metrics).
  bool onSuccess();
  bool onFailure(TimePoint now);
  // A send that started but ended neither way (e.g. Rejected: the provider works) frees the
  // half-open probe slot without changing the state.
  void onNeutral();

  BreakerState state(TimePoint now) const;
  // When an open breaker lets its next probe through.
  TimePoint reopensAt() const { return open_until_; }
  int consecutiveFailures() const { return failures_; }

 private:
  BreakerSettings settings_;
  bool open_ = false;
  bool probing_ = false;
  int failures_ = 0;
  TimePoint open_until_{};
};

}  // namespace smsbridge
