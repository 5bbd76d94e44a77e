#pragma once

// Twilio Programmable Messaging: POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json,
// form-encoded, HTTP Basic auth; 201 with the message `sid` on success, 4xx/5xx with
// {code, message, more_info, status} otherwise. Twilio has no idempotency key: a resend after
// an ambiguous failure may duplicate. Wire contract: reference/providers.md §3.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status_poller.h"
#include "providers/callbacks.h"
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
  explicit TwilioApi(TwilioConfig config)
      : config_(std::move(config)),
        authorization_(basicAuthorization(config_.auth_user, config_.auth_password)) {}

  Result<HttpClientRequest> buildSendRequest(const OutgoingSms& sms, TimePoint now) const override;
  SendResult classifySendResponse(const HttpClientResponse& response,
                                  const OutgoingSms& sms) const override;

  // Status polling: one GET per message.
  int maxJobsPerQuery() const override { return 1; }
  Result<HttpClientRequest> buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                             TimePoint now) const override;
  Result<std::vector<DeliveryReport>> parseStatusResponse(
      const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) const override;

 private:
  TwilioConfig config_;
  std::string authorization_;  // the Basic header of every request, built once
};

// What a Twilio error code means for this send, when it settles it; nullopt leaves the
// decision to the HTTP status.
std::optional<SendResultKind> classifyTwilioError(int code);

// --- Delivery status (status callbacks and status polling) ---

// Our status for a Twilio message status (§3.2 enum) and its error code, the one mapping both
// status callbacks and status queries use: queued, accepted, scheduled, sending, sent → sent;
// delivered, read, partially_delivered → delivered; undelivered → undelivered; failed,
// canceled → failed; error 30036 (validity period over) makes either of the last two expired.
// nullopt for the inbound statuses.
std::optional<JobStatus> mapTwilioStatus(std::string_view status, int error_code);

// GET {base}/2010-04-01/Accounts/{AccountSid}/Messages/{sid}.json with Basic auth [spec].
HttpClientRequest buildTwilioStatusQuery(const TwilioConfig& config, std::string_view sid);

// The message resource a status query returns: a report when its status maps to more than
// "sent", nullopt when it says nothing new; an error for anything that is not that resource
// (4xx/5xx, unreadable, another sid).
Result<std::optional<DeliveryReport>> parseTwilioStatusResponse(const HttpClientResponse& response,
                                                                const StatusPollCandidate& job);

// --- Webhooks (reference/providers.md §3.4, §3.5) ---

// The X-Twilio-Signature of a request to `url` with POST `params`: HMAC-SHA1 keyed with the
// auth token over the URL followed by every name and value, sorted by name (equal names by
// value, exact duplicates once), base64-encoded.
std::string twilioSignature(std::string_view auth_token, std::string_view url, FormParams params);

// Whether `signature` is Twilio's for a request to `url` (the public URL exactly as Twilio
// requested it, query included) with POST `params`. As Twilio's SDKs do, the URL is also tried
// with its default port (:443, :80) added or removed, since proxies differ in what they pass
// on. The comparison is constant-time.
bool verifyTwilioSignature(std::string_view auth_token, std::string_view url,
                           const FormParams& params, std::string_view signature);

// A status callback (form POST: MessageSid, MessageStatus, ErrorCode...) as one report, its
// status mapped by mapTwilioStatus.
Result<std::vector<DeliveryReport>> parseTwilioStatusCallback(const HttpRequest& request);
// An incoming SMS (form POST, or GET with the same parameters in the query).
Result<InboundSms> parseTwilioInbound(const HttpRequest& request);
// Signature-checked form callbacks; inbound messages are answered with empty TwiML.
ProviderCallbacks twilioCallbacks();

// Config schema and parser of `type: twilio` providers (listed in providers/registry.cpp).
const config::Schema& twilioSchema();
std::optional<HttpProviderSpec> parseTwilio(const std::string& name, const config::Section& section,
                                            config::Diagnostics& diagnostics);
// The secrets its webhooks are checked with: the auth token signs them (also when sends use an
// API key), and webhook_token, when given, must be in the URL as well.
std::optional<WebhookSecrets> parseTwilioWebhookSecrets(const config::Section& section,
                                                        config::Diagnostics& diagnostics);

}  // namespace smsbridge
