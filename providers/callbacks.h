#pragma once

// What the providers' callback parsers share: their signatures, how a provider's webhooks are
// authenticated and answered, and the wire helpers they read requests with. The parsers
// themselves live beside each provider's send functions (providers/<name>.h); the handlers
// that run them are in providers/webhooks.h.
//
// A parser is a pure function of the request. Its errors say what the webhook answers:
//   - kRejected: the body is not what it claims to be (bad form, truncated JSON, a required
//     field missing or garbled): 400, nothing written;
//   - kProviderPermanent: a well-formed request whose shape or status we do not know (fields
//     are partly undocumented): logged verbatim at warning level and answered as a success,
//     so the provider does not retry it forever.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/http_message.h"
#include "core/job_store.h"
#include "core/result.h"
#include "core/sms_text.h"  // isValidUtf8

namespace smsbridge {

using StatusCallbackParser = std::function<Result<std::vector<DeliveryReport>>(const HttpRequest&)>;
using InboundParser = std::function<Result<InboundSms>(const HttpRequest&)>;

// How a provider proves that a callback comes from it.
enum class CallbackAuth {
  kUrlToken,         // `?token=<webhook_token>` in the URL we gave it (SMSAPI, MessageFlow)
  kTwilioSignature,  // X-Twilio-Signature over the public URL and the POST parameters
};

// One provider type's webhooks, as its registry entry lists them.
struct ProviderCallbacks {
  CallbackAuth auth = CallbackAuth::kUrlToken;
  StatusCallbackParser parse_status;  // null: no delivery-report webhook
  InboundParser parse_inbound;        // null: no inbound webhook
  // Media types a POST body may have ("application/json"). GET requests carry their
  // parameters in the query and are accepted only when `allow_get`.
  std::vector<std::string> media_types;
  bool allow_get = false;
  // What the provider expects back when a callback was taken: SMSAPI wants "OK", Twilio an
  // empty TwiML document for inbound messages.
  HttpResponse status_ok;
  HttpResponse inbound_ok;
};

// The secrets a configured provider's webhooks are checked with.
struct WebhookSecrets {
  std::string token;        // webhook_token; empty: none configured
  std::string signing_key;  // Twilio: the auth token that signs callbacks; empty otherwise
};

// A 200 answer with `body` (for ProviderCallbacks::status_ok and inbound_ok).
HttpResponse callbackAnswer(std::string body,
                            std::string content_type = "text/plain; charset=utf-8");

// --- Wire helpers ---

using FormParams = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded (also a URL's query): '&'-separated name=value pairs, '+'
// meaning a space and %XX a byte. Empty pairs are skipped. A malformed escape ("%4", "%zz") is
// a kRejected error.
Result<FormParams> decodeForm(std::string_view text);
// The first value of `name`, or nullptr.
const std::string* formValue(const FormParams& params, std::string_view name);

// The request's Content-Type without parameters, lower-cased ("application/json"); empty when
// there is none.
std::string mediaType(const HttpRequest& request);

// The parameters of a callback that may come as a GET query or a POST form (SMSAPI): the
// query's parameters followed by the form body's. Malformed escapes and invalid UTF-8 are
// kRejected.
Result<FormParams> callbackParams(const HttpRequest& request);

// Compares two secrets in time independent of where they differ (OpenSSL CRYPTO_memcmp).
bool constantTimeEquals(std::string_view a, std::string_view b);

// Unix seconds as given by a provider ("1700000000"); nullopt when not a plain number.
std::optional<TimePoint> parseUnixSeconds(std::string_view text);

// A sender as providers give it, made E.164 where that is plain: "48500100200" →
// "+48500100200"; "+48500100200" stays; anything else (a short code, a name) is returned as is.
std::string senderAsE164(std::string_view sender);

}  // namespace smsbridge
