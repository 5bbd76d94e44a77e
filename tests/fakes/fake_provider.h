#pragma once

// A provider whose answers a test scripts in advance. Completes sends inline.

#include <deque>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/provider.h"

namespace smsbridge::testing {

class FakeProvider final : public Provider {
 public:
  explicit FakeProvider(std::string name) : name_(std::move(name)) {}

  // Answers for the next sends, in order; when they run out, every send is accepted.
  void script(SendResult result) { script_.push_back(std::move(result)); }

  const std::string& name() const override { return name_; }
  void send(const OutgoingSms& sms, SendCallback done) override {
    sent.push_back(sms);
    if (clock_) sent_at.push_back(clock_->now());
    if (defer) {
      // The test completes it later through complete().
      pending.push_back(std::move(done));
      return;
    }
    SendResult result;
    if (!script_.empty()) {
      result = std::move(script_.front());
      script_.pop_front();
    } else {
      result.kind = SendResultKind::kAccepted;
      result.provider_message_id = name_ + "-" + std::to_string(sent.size());
      result.segments = sms.segments;
      result.http_status = 200;
    }
    done(std::move(result));
  }
  void setDeliveryReportSink(DeliveryReportSink sink) override { sink_ = std::move(sink); }
  void shutdown() override {}

  void report(const DeliveryReport& r) { sink_(r); }
  // Records the clock's time of every send in sent_at.
  void recordTimes(const Clock* clock) { clock_ = clock; }
  // Completes the oldest deferred send as accepted.
  void complete() {
    SendCallback done = std::move(pending.front());
    pending.pop_front();
    SendResult result;
    result.kind = SendResultKind::kAccepted;
    result.provider_message_id = name_ + "-deferred-" + std::to_string(++completed_);
    done(std::move(result));
  }

  std::vector<OutgoingSms> sent;
  std::vector<TimePoint> sent_at;
  bool defer = false;  // keep sends pending instead of answering inline
  std::deque<SendCallback> pending;

 private:
  std::string name_;
  std::deque<SendResult> script_;
  DeliveryReportSink sink_;
  const Clock* clock_ = nullptr;
  int completed_ = 0;
};

}  // namespace smsbridge::testing
