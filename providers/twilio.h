#pragma once

// Twilio Programmable Messaging: POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json,
// form-encoded, HTTP Basic auth; 201 with the message `sid` on success, 4xx/5xx with
// {code, message, more_info, status} otherwise. Twilio has no idempotency key: a resend after
// an ambiguous failure may duplicate. Wire contract: reference/providers.md §3.

#include <optional>
#include <string>

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

class TwilioApi final : public HttpApi {
 public:
  explicit TwilioApi(TwilioConfig config) : config_(std::move(config)) {}

  Result<HttpClientRequest> buildSendRequest(const OutgoingSms& sms, TimePoint now) const override;
  SendResult classifySendResponse(const HttpClientResponse& response,
                                  const OutgoingSms& sms) const override;

 private:
  TwilioConfig config_;
};

// What a Twilio error code means for this send, when it settles it; nullopt leaves the
// decision to the HTTP status.
std::optional<SendResultKind> classifyTwilioError(int code);

// Config schema and parser of `type: twilio` providers (listed in providers/registry.cpp).
const config::Schema& twilioSchema();
std::optional<HttpProviderSpec> parseTwilio(const std::string& name, const config::Section& section,
                                            config::Diagnostics& diagnostics);

}  // namespace smsbridge
