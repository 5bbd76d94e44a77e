#pragma once

// The engine's view of an SMS provider. A provider translates between one API and the engine:
// it does not retry, fail over or batch (the dispatcher's job).
//
// Threading: send() is called on the dispatcher's thread and must not block; it completes
// `done` exactly once, inline or later on the io_context the provider was created with.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/job_store.h"
#include "core/sms_job.h"

namespace smsbridge {

struct OutgoingSms {
  std::int64_t job_id = 0;
  std::string recipient;  // E.164
  std::string sender;
  std::string body;
  Lane lane = Lane::kTransactional;
  int segments = 1;
  std::optional<TimePoint> expires_at;
  int attempt = 1;  // 1 for the first try of this job at any provider; providers may pass it on
};

enum class SendResultKind {
  kAccepted,    // the provider took it: id, segments, price
  kRetryLater,  // network, 408, 429, 5xx: try this provider again after `retry_after`
  kFailOver,    // this provider cannot take it (auth, credit, destination): next on the route
  kRejected,    // the message is unusable anywhere: no failover
  kDuplicate,   // the provider already has it (idempotency hit): treat as accepted
};

struct SendResult {
  SendResultKind kind = SendResultKind::kAccepted;
  std::string provider_message_id;
  int segments = 0;
  std::optional<double> price;
  std::string currency;
  std::optional<std::chrono::milliseconds> retry_after;
  int http_status = 0;
  std::string error_code;
  std::string reason;  // human-readable, for status_reason and logs
  // The provider may have taken the message although no acceptance arrived (timeout or reset
  // after the request left). A resend after this can duplicate the SMS; it is counted.
  bool ambiguous = false;
};

std::string_view sendResultName(SendResultKind kind);

using SendCallback = std::function<void(SendResult)>;
// Where a provider hands delivery reports: the same path a webhook takes.
using DeliveryReportSink = std::function<void(const DeliveryReport&)>;

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const std::string& name() const = 0;
  virtual void send(const OutgoingSms& sms, SendCallback done) = 0;
  // Called once before the first send. Reports the provider produces go to `sink`.
  virtual void setDeliveryReportSink(DeliveryReportSink sink) = 0;
  // Stops timers and pending work; after it returns, no callback runs.
  virtual void shutdown() = 0;
};

}  // namespace smsbridge
