#pragma once

// The `sandbox` provider: accepts every message, assigns an id, and reports delivery after a
// configurable delay through the same DeliveryReportSink a real provider's webhook feeds. The
// quickstart and dry runs use it; nothing leaves the machine.

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/provider.h"
#include "providers/registry.h"

namespace smsbridge {

struct SandboxConfig {
  std::string name = "sandbox";
  std::chrono::milliseconds delivery_delay{1000};
  // Numbers (E.164) that the sandbox reports as undelivered, to try failure handling.
  std::set<std::string> undelivered_numbers;
  // Numbers the sandbox rejects at send time, as a provider rejects an invalid number.
  std::set<std::string> rejected_numbers;
};

class SandboxProvider final : public Provider {
 public:
  SandboxProvider(SandboxConfig config, boost::asio::io_context& io);

  const std::string& name() const override { return config_.name; }
  void send(const OutgoingSms& sms, SendCallback done) override;
  void setDeliveryReportSink(DeliveryReportSink sink) override { sink_ = std::move(sink); }
  void shutdown() override;

 private:
  SandboxConfig config_;
  boost::asio::io_context& io_;
  DeliveryReportSink sink_;
  // Ids are "<name>-<run>-<n>": `run` differs between processes, so after a restart a report
  // can never name a job of the previous run (a real provider's ids are unique too).
  std::string run_;
  std::atomic<std::uint64_t> next_id_{1};
  std::set<std::shared_ptr<boost::asio::steady_timer>> timers_;
  bool shut_down_ = false;
};

// Config schema and parser of `type: sandbox` providers (listed in providers/registry.cpp).
const config::Schema& sandboxSchema();
std::optional<ProviderFactory> parseSandbox(const std::string& name, const config::Section& section,
                                            config::Diagnostics& diagnostics);

}  // namespace smsbridge
