#pragma once

// Providers that speak HTTP. Each API is a pair of pure functions (HttpApi): build the request
// for one SMS, classify the response. One Provider implementation, HttpProvider, runs them
// over an HttpTransport, so everything an API gets wrong can be tested without a network, and
// the handling every API shares — transport errors, Retry-After, status codes nobody
// documents — is written once, here.
//
// Also here: the config keys every HTTP provider has (base_url, timeouts, CA, response limit,
// status_callback_url) and the wire helpers the APIs share (form encoding, Basic auth).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "config/diagnostics.h"
#include "config/schema.h"
#include "config/section.h"
#include "core/clock.h"
#include "core/http_client.h"
#include "core/provider.h"
#include "core/result.h"
#include "core/status_poller.h"
#include "providers/callbacks.h"

namespace smsbridge {

// The pure half of one provider's API. Implementations hold only their parsed config and are
// immutable, so one instance may serve any number of sends.
class HttpApi {
 public:
  virtual ~HttpApi() = default;

  // The request that sends `sms`. `now` is the send time, for fields relative to it (validity).
  // An error says this provider cannot take the message as configured (kProviderPermanent →
  // FailOver, e.g. no sender) or nobody can (kRejected → Rejected); nothing is sent then.
  virtual Result<HttpClientRequest> buildSendRequest(const OutgoingSms& sms,
                                                     TimePoint now) const = 0;

  // Classifies a response that arrived completely (response.error == kNone), whatever its
  // status. classifyHttpResponse() fills in http_status and a Retry-After the API left unset.
  virtual SendResult classifySendResponse(const HttpClientResponse& response,
                                          const OutgoingSms& sms) const = 0;
};

// What an HTTP provider's config parses into: enough to build the provider over any transport.
struct HttpProviderSpec {
  std::string name;
  std::shared_ptr<const HttpApi> api;
  HttpClientOptions client;
  // Status polling (core/status_poller.h): the API's status queries, when it has them, and the
  // provider's `status_poll` settings.
  std::shared_ptr<const StatusQueryApi> status_query = nullptr;
  StatusPollSettings status_poll = {};
};

using HttpProviderParser = std::function<std::optional<HttpProviderSpec>(
    const std::string& name, const config::Section& section, config::Diagnostics& diagnostics)>;

// The whole classification of one attempt: a transport error by classifyTransportError(),
// anything else by the API; then http_status and Retry-After (relative to `now`) are filled in.
SendResult classifyHttpResponse(const HttpApi& api, const HttpClientResponse& response,
                                const OutgoingSms& sms, TimePoint now);

// kConnect, kConnectTimeout, kTls: the request never left, so RetryLater is safe. kTimeout,
// kOther: it may have arrived, so RetryLater marked ambiguous. kTooLarge: the server answered
// something we did not read, which may have been an acceptance: ambiguous too.
SendResult classifyTransportError(const HttpClientResponse& response);

// What a status code alone says, for responses whose body names no known error: 401/403 →
// FailOver; 408, 429 → RetryLater; 5xx → RetryLater (ambiguous for 500/502/504, where the
// request may have been processed before the failure); other 4xx → FailOver, since a request
// this provider refuses for reasons we cannot tell may still go through another; 2xx/3xx →
// RetryLater, ambiguous (a success we cannot read). `reason` becomes SendResult::reason.
SendResult classifyHttpStatus(int status, std::string reason);

// Retry-After as delta-seconds ("120") or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT");
// a date in the past gives 0. nullopt for anything else.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value, TimePoint now);

class HttpProvider final : public Provider {
 public:
  HttpProvider(std::string name, std::shared_ptr<const HttpApi> api,
               std::shared_ptr<HttpTransport> transport, const Clock& clock);
  ~HttpProvider() override;

  const std::string& name() const override { return name_; }
  void send(const OutgoingSms& sms, SendCallback done) override;
  // Delivery reports of HTTP providers arrive by webhook, not from here; the sink is kept for
  // the contract only.
  void setDeliveryReportSink(DeliveryReportSink sink) override { sink_ = std::move(sink); }
  void shutdown() override;

 private:
  std::string name_;
  std::shared_ptr<const HttpApi> api_;
  std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  DeliveryReportSink sink_;
  // Shared with callbacks in flight, so none reaches `done` after shutdown() even if a
  // transport were to call back late.
  std::shared_ptr<bool> shut_down_ = std::make_shared<bool>(false);
};

// The factory providers/registry.cpp keeps for an HTTP provider: a libcurl client
// (makeHttpClient) on the given io_context, wall-clock time.
std::function<Result<std::unique_ptr<Provider>>(boost::asio::io_context&)> httpProviderFactory(
    HttpProviderSpec spec);

// --- Config every HTTP provider shares ---

// base_url, connect_timeout, timeout, ca_file, ca_path, max_response_bytes,
// status_callback_url, webhook_token and status_poll, to append to a provider's own fields.
std::vector<config::Field> httpProviderFields();

struct HttpEndpointConfig {
  std::string base_url;  // without a trailing '/'
  std::string status_callback_url;
  HttpClientOptions client;
  StatusPollSettings status_poll;
};

// Reads the shared keys; `default_base_url` applies when base_url is not given. Adds a
// diagnostic and returns nullopt when a URL is not http(s) or a limit is out of range.
std::optional<HttpEndpointConfig> parseHttpEndpoint(const config::Section& section,
                                                    std::string default_base_url,
                                                    config::Diagnostics& diagnostics);

// Reads a secret for a provider, adding the diagnostic when it cannot be read. nullopt then.
std::optional<std::string> readSecret(const config::Section& section, std::string_view key,
                                      config::Diagnostics& diagnostics);

// The webhook secrets of a provider whose callbacks carry webhook_token in the URL.
std::optional<WebhookSecrets> parseUrlTokenSecrets(const config::Section& section,
                                                   config::Diagnostics& diagnostics);

// --- Wire helpers ---

using FormFields = std::vector<std::pair<std::string, std::string>>;

// RFC 3986 percent-encoding: everything but ALPHA / DIGIT / "-" / "." / "_" / "~" becomes %XX
// (so '+' and ' ' survive as %2B and %20 in a form body).
// Lenient readers of provider JSON. jsonString: a string member as is, another non-null value as
// its JSON text, "" when absent or null. jsonNumber: a number, or a string holding exactly one
// (providers send prices and part counts as strings too).
std::string jsonString(const nlohmann::json& object, const char* key);
// A JSON object with only the named top-level members (and everything under them), or a
// discarded value (is_discarded()) when `text` is not JSON. Provider answers carry many fields
// nobody reads; building them costs more than reading past them.
nlohmann::json parseJsonMembers(std::string_view text,
                                std::initializer_list<std::string_view> keys);
std::optional<double> jsonNumber(const nlohmann::json& object, const char* key);
// The digits of a phone number ("+48 600" → "48600").
std::string digitsOnly(std::string_view phone);

std::string percentEncode(std::string_view text);
// application/x-www-form-urlencoded: name=value pairs joined by '&', in the given order.
std::string formEncode(const FormFields& fields);
// "Basic base64(user:password)", RFC 7617.
std::string basicAuthorization(std::string_view user, std::string_view password);

// Whole seconds from `now` until `expires_at`, rounded down so a provider never holds a
// message past its expiry; 0 when it has passed.
std::int64_t secondsUntil(TimePoint expires_at, TimePoint now);

}  // namespace smsbridge
