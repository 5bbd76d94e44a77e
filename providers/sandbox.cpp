#include "providers/sandbox.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/clock.h"

namespace smsbridge {

SandboxProvider::SandboxProvider(SandboxConfig config, boost::asio::io_context& io)
    : config_(std::move(config)), io_(io) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  run_ = fmt::format("{:x}{:x}", now.count(), static_cast<unsigned>(getpid()));
}

void SandboxProvider::send(const OutgoingSms& sms, SendCallback done) {
  SendResult result;
  if (config_.rejected_numbers.count(sms.recipient)) {
    result.kind = SendResultKind::kRejected;
    result.http_status = 400;
    result.error_code = "invalid_number";
    result.reason = "sandbox rejects " + sms.recipient + " (rejected_numbers)";
    done(std::move(result));
    return;
  }
  result.kind = SendResultKind::kAccepted;
  result.provider_message_id = config_.name + "-" + run_ + "-" + std::to_string(next_id_++);
  result.segments = sms.segments;
  result.http_status = 200;

  // The report is scheduled before `done` runs but fires only after it returns (same
  // io_context thread), so the dispatcher has recorded `sent` by the time it arrives.
  if (!shut_down_) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, config_.delivery_delay);
    timers_.insert(timer);
    DeliveryReport report;
    report.provider = config_.name;
    report.provider_message_id = result.provider_message_id;
    bool undelivered = config_.undelivered_numbers.count(sms.recipient) > 0;
    report.status = undelivered ? JobStatus::kUndelivered : JobStatus::kDelivered;
    report.reason = undelivered ? "sandbox: number listed in undelivered_numbers" : "";
    timer->async_wait([this, timer, report](const boost::system::error_code& ec) mutable {
      timers_.erase(timer);
      if (ec || shut_down_ || !sink_) return;
      report.reported_at = std::chrono::system_clock::now();
      sink_(report);
    });
  }
  done(std::move(result));
}

void SandboxProvider::shutdown() {
  shut_down_ = true;
  if (!timers_.empty()) {
    spdlog::info(
        "Sandbox stops with delivery reports still pending; those jobs stay `sent`. "
        "provider={} pending={}",
        config_.name, timers_.size());
  }
  for (const auto& timer : timers_) timer->cancel();
}

const config::Schema& sandboxSchema() {
  using namespace config;
  static const Schema schema{
      "sandbox provider",
      "Accepts every message without sending it and reports delivery after a delay. For the "
      "quickstart, dry runs and tests.",
      {
          duration("delivery_delay", "1s", "Delay before the sandbox reports `delivered`."),
          stringList("undelivered_numbers", {},
                     "E.164 numbers the sandbox reports as `undelivered` instead."),
          stringList("rejected_numbers", {},
                     "E.164 numbers the sandbox rejects at send time (like an invalid number)."),
      },
      "",
      {}};
  return schema;
}

std::optional<ProviderFactory> parseSandbox(const std::string& name, const config::Section& section,
                                            config::Diagnostics& /*diagnostics*/) {
  SandboxConfig config;
  config.name = name;
  config.delivery_delay = section.duration("delivery_delay");
  for (auto& n : section.strings("undelivered_numbers")) config.undelivered_numbers.insert(n);
  for (auto& n : section.strings("rejected_numbers")) config.rejected_numbers.insert(n);
  return ProviderFactory(
      [config](boost::asio::io_context& io) -> Result<std::unique_ptr<Provider>> {
        return std::unique_ptr<Provider>(std::make_unique<SandboxProvider>(config, io));
      });
}

}  // namespace smsbridge
