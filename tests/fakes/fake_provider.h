#pragma once

// A provider whose answers a test scripts in advance. Completes sends inline.

#include <deque>
#include <string>
#include <vector>

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

  std::vector<OutgoingSms> sent;

 private:
  std::string name_;
  std::deque<SendResult> script_;
  DeliveryReportSink sink_;
};

}  // namespace smsbridge::testing
