#include "core/rate_limit.h"

namespace smsbridge {

namespace {
constexpr std::chrono::seconds kWindow{1};
}

void RateWindow::expire(TimePoint now) {
  // An entry started at t counts for windows containing t: [t, t + 1s).
  while (!started_.empty() && started_.front().first + kWindow <= now) {
    used_ -= started_.front().second;
    started_.pop_front();
  }
  if (started_.empty()) used_ = 0;  // no drift from floating-point sums
}

bool RateWindow::admits(double weight, TimePoint now) {
  if (unlimited()) return true;
  expire(now);
  if (started_.empty()) return true;
  return used_ + weight <= limit_ + 1e-9;
}

void RateWindow::take(double weight, TimePoint now) {
  if (unlimited()) return;
  expire(now);
  started_.emplace_back(now, weight);
  used_ += weight;
}

TimePoint RateWindow::availableAt(double weight, TimePoint now) {
  if (admits(weight, now)) return now;
  // Walk the entries oldest first until enough has left the window.
  double used = used_;
  for (const auto& [started, w] : started_) {
    used -= w;
    if (used <= 1e-9 || used + weight <= limit_ + 1e-9) return started + kWindow;
  }
  return started_.back().first + kWindow;
}

std::string_view breakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

BreakerState CircuitBreaker::state(TimePoint now) const {
  if (!open_) return BreakerState::kClosed;
  return now >= open_until_ ? BreakerState::kHalfOpen : BreakerState::kOpen;
}

bool CircuitBreaker::allows(TimePoint now) const {
  switch (state(now)) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      return false;
    case BreakerState::kHalfOpen:
      return !probing_;
  }
  return true;
}

void CircuitBreaker::onStart(TimePoint now) {
  if (state(now) == BreakerState::kHalfOpen) probing_ = true;
}

bool CircuitBreaker::onSuccess() {
  failures_ = 0;
  probing_ = false;
  bool changed = open_;
  open_ = false;
  return changed;
}

bool CircuitBreaker::onFailure(TimePoint now) {
  ++failures_;
  bool was_probe = probing_;
  probing_ = false;
  if (settings_.failure_threshold <= 0) return false;
  if (was_probe || (!open_ && failures_ >= settings_.failure_threshold)) {
    bool changed = !open_ || was_probe;
    open_ = true;
    open_until_ = now + settings_.open_for;
    return changed;
  }
  return false;
}

void CircuitBreaker::onNeutral() { probing_ = false; }

}  // namespace smsbridge
