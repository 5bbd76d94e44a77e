#pragma once

// Twilio Programmable Messaging: POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json,
// form-encoded, HTTP Basic auth; 201 with the message `sid` on success, 4xx/5xx with
// {code, message, more_info, status} otherwise. Twilio has no idempotency key: a resend after
// an ambiguous failure may duplicate. Wire contract: reference/providers.md §3.

#include <optional>
#include <string>

#include "core/status_poller.h"
#include "providers/http_provider.h"

namespace smsbridge {

struct TwilioConfig {
  std::string base_url = "https://api.twilio.com";
  std::string account_sid;
  // Basic credentials: the account SID and auth token, or an API key SID and secret.
  std::string auth_user;
  std::string auth_password;
  std::string from;  // used when the job has no sender
  std::string messaging_service_sid;
  std::string status_callback_url;  // sent as StatusCallback when set
  bool smart_encoded = false;
};

class TwilioApi final : public HttpApi, public StatusQueryApi {
 public:
  explicit TwilioApi(TwilioConfig config) : config_(std::move(config)) {}

  Result<HttpRequest> buildSendRequest(const OutgoingSms& sms, TimePoint now) const override;
  SendResult classifySendResponse(const HttpResponse& response,
                                  const OutgoingSms& sms) const override;

  // Status polling: one GET per message.
  int maxJobsPerQuery() const override { return 1; }
  Result<HttpRequest> buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                       TimePoint now) const override;
  Result<std::vector<DeliveryReport>> parseStatusResponse(
      const HttpResponse& response, std::span<const StatusPollCandidate> jobs) const override;

 private:
  TwilioConfig config_;
};

// What a Twilio error code means for this send, when it settles it; nullopt leaves the
// decision to the HTTP status.
std::optional<SendResultKind> classifyTwilioError(int code);

// --- Delivery status (status polling; usable by status callbacks too) ---

// Our status for a Twilio message status (§3.2 enum) and its error code: delivered and read →
// delivered; undelivered → undelivered, or expired for 30036 (validity period over); failed and
// canceled → failed; sent → sent. nullopt for statuses that say nothing new (queued, accepted,
// scheduled, sending) and for inbound ones.
std::optional<JobStatus> mapTwilioStatus(std::string_view status, int error_code);

// GET {base}/2010-04-01/Accounts/{AccountSid}/Messages/{sid}.json with Basic auth [spec].
HttpRequest buildTwilioStatusQuery(const TwilioConfig& config, std::string_view sid);

// The message resource a status query returns: a report when its status maps, nullopt when
// it says nothing new; an error for anything that is not that resource (4xx/5xx, unreadable,
// another sid).
Result<std::optional<DeliveryReport>> parseTwilioStatusResponse(const HttpResponse& response,
                                                                const StatusPollCandidate& job);

// Config schema and parser of `type: twilio` providers (listed in providers/registry.cpp).
const config::Schema& twilioSchema();
std::optional<HttpProviderSpec> parseTwilio(const std::string& name, const config::Section& section,
                                            config::Diagnostics& diagnostics);

}  // namespace smsbridge
