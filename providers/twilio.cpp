#include "providers/twilio.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace smsbridge {
namespace {

using nlohmann::json;

bool isSid(std::string_view sid, std::string_view prefix) {
  if (sid.size() != 34 || sid.substr(0, 2) != prefix) return false;
  return std::all_of(sid.begin() + 2, sid.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// ValidityPeriod is whole seconds, 1 to 36000 (error 90007 outside).
constexpr std::int64_t kMaxValiditySeconds = 36000;

// "https://host/x" ↔ "https://host:443/x" (and :80 for http): the other form of a URL whose
// port is the scheme's default, or nullopt when it has another port or scheme.
std::optional<std::string> toggledDefaultPort(std::string_view url) {
  std::string_view default_port;
  std::size_t host_start = 0;
  if (url.starts_with("https://")) {
    default_port = "443";
    host_start = 8;
  } else if (url.starts_with("http://")) {
    default_port = "80";
    host_start = 7;
  } else {
    return std::nullopt;
  }
  std::size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string_view::npos) host_end = url.size();
  std::string_view authority = url.substr(host_start, host_end - host_start);
  std::size_t colon = authority.rfind(':');
  bool has_port =
      colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos;
  std::string out(url.substr(0, host_start));
  if (has_port) {
    if (authority.substr(colon + 1) != default_port) return std::nullopt;
    out += authority.substr(0, colon);
  } else {
    out += authority;
    out += ":";
    out += default_port;
  }
  out += url.substr(host_end);
  return out;
}

// Wording for the asynchronous error codes a status callback carries (providers.md §3.3).
std::string errorReason(std::string_view code) {
  static const std::pair<std::string_view, std::string_view> kKnown[] = {
      {"30001", "queue overflow"},         {"30003", "unreachable handset"},
      {"30005", "unknown destination"},    {"30006", "landline or unreachable carrier"},
      {"30007", "carrier filtering"},      {"30008", "unknown error"},
      {"30036", "validity period expired"}};
  std::string reason = "Twilio error " + std::string(code);
  for (const auto& [known, meaning] : kKnown) {
    if (known == code) reason += ": " + std::string(meaning);
  }
  return reason;
}

// The form parameters of a POST, or the query's of a GET (Twilio may call inbound URLs either
// way). Twilio sends UTF-8; anything else is not from Twilio.
Result<FormParams> twilioParams(const HttpRequest& request) {
  auto params = decodeForm(request.method == "GET" ? request.query : request.body);
  if (!params) return params.error();
  for (const auto& [name, value] : *params) {
    if (!isValidUtf8(name) || !isValidUtf8(value)) {
      return rejectedError("a parameter is not valid UTF-8");
    }
  }
  return params;
}

// The first of `names` that is present and not empty.
std::string firstOf(const FormParams& params, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    if (const std::string* value = formValue(params, name); value && !value->empty()) {
      return *value;
    }
  }
  return {};
}

}  // namespace

std::string twilioSignature(std::string_view auth_token, std::string_view url, FormParams params) {
  std::sort(params.begin(), params.end());
  params.erase(std::unique(params.begin(), params.end()), params.end());
  std::string data(url);
  for (const auto& [name, value] : params) data += name + value;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_length = 0;
  HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(),
       &digest_length);
  std::string encoded(4 * ((digest_length + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), digest.data(),
                               static_cast<int>(digest_length));
  encoded.resize(static_cast<std::size_t>(std::max(length, 0)));
  return encoded;
}

bool verifyTwilioSignature(std::string_view auth_token, std::string_view url,
                           const FormParams& params, std::string_view signature) {
  if (auth_token.empty() || signature.empty()) return false;
  bool match = constantTimeEquals(twilioSignature(auth_token, url, params), signature);
  if (auto other = toggledDefaultPort(url)) {
    match = constantTimeEquals(twilioSignature(auth_token, *other, params), signature) || match;
  }
  return match;
}

Result<std::vector<DeliveryReport>> parseTwilioStatusCallback(const HttpRequest& request) {
  auto params = twilioParams(request);
  if (!params) return params.error();
  std::string sid = firstOf(*params, {"MessageSid", "SmsSid"});
  std::string status = firstOf(*params, {"MessageStatus", "SmsStatus"});
  if (sid.empty() || status.empty()) {
    return rejectedError("a Twilio status callback needs MessageSid and MessageStatus");
  }
  const std::string code = firstOf(*params, {"ErrorCode"});
  int error_code = 0;
  std::from_chars(code.data(), code.data() + code.size(), error_code);
  auto ours = mapTwilioStatus(status, error_code);
  if (!ours) {
    return Status(ErrorCategory::kProviderPermanent,
                  "Twilio status '" + status + "' is not a delivery status we know");
  }
  DeliveryReport report;
  report.provider_message_id = std::move(sid);
  report.status = *ours;
  report.provider_status = status;
  if (!code.empty()) {
    report.reason = errorReason(code);
  } else if (status == "canceled") {
    report.reason = "canceled at Twilio";
  }
  return std::vector<DeliveryReport>{std::move(report)};
}

Result<InboundSms> parseTwilioInbound(const HttpRequest& request) {
  auto params = twilioParams(request);
  if (!params) return params.error();
  InboundSms sms;
  sms.provider_message_id = firstOf(*params, {"MessageSid", "SmsMessageSid", "SmsSid"});
  sms.sender = senderAsE164(firstOf(*params, {"From"}));
  sms.recipient = firstOf(*params, {"To"});
  if (const std::string* body = formValue(*params, "Body")) sms.body = *body;
  if (sms.sender.empty() || sms.recipient.empty()) {
    return rejectedError("a Twilio inbound message needs From and To");
  }
  return sms;
}

ProviderCallbacks twilioCallbacks() {
  ProviderCallbacks callbacks;
  callbacks.auth = CallbackAuth::kTwilioSignature;
  callbacks.parse_status = &parseTwilioStatusCallback;
  callbacks.parse_inbound = &parseTwilioInbound;
  callbacks.media_types = {"application/x-www-form-urlencoded"};
  callbacks.allow_get = true;
  callbacks.status_ok = callbackAnswer("");
  // An empty TwiML document: Twilio sends nothing back (replies go through the dispatcher).
  callbacks.inbound_ok = callbackAnswer("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>",
                                        "text/xml; charset=utf-8");
  return callbacks;
}

std::optional<SendResultKind> classifyTwilioError(int code) {
  switch (code) {
    case 20429:  // too many requests: never processed, always safe to retry
      return SendResultKind::kRetryLater;
    case 21211:  // invalid To
    case 21614:  // To is not SMS-capable
    case 21610:  // the recipient replied STOP
      return SendResultKind::kRejected;
    case 20003:  // authentication failed
    case 21408:  // region not enabled on this account
    case 21606:  // From cannot send to this destination
    case 21401:  // invalid From
    case 21612:  // unroutable from this account's senders
    case 21611:  // the From queue is full (> 10 h)
      return SendResultKind::kFailOver;
    default:
      return std::nullopt;
  }
}

Result<HttpClientRequest> TwilioApi::buildSendRequest(const OutgoingSms& sms, TimePoint now) const {
  const std::string& from = sms.sender.empty() ? config_.from : sms.sender;
  if (from.empty() && config_.messaging_service_sid.empty()) {
    return Status(ErrorCategory::kProviderPermanent,
                  "Twilio needs a sender: the job has none and neither `from` nor "
                  "`messaging_service_sid` is configured");
  }
  FormFields form = {{"To", sms.recipient}};
  if (!from.empty()) form.emplace_back("From", from);
  if (!config_.messaging_service_sid.empty()) {
    form.emplace_back("MessagingServiceSid", config_.messaging_service_sid);
  }
  form.emplace_back("Body", sms.body);
  if (!config_.status_callback_url.empty()) {
    form.emplace_back("StatusCallback", config_.status_callback_url);
  }
  if (sms.expires_at) {
    std::int64_t seconds =
        std::clamp<std::int64_t>(secondsUntil(*sms.expires_at, now), 1, kMaxValiditySeconds);
    form.emplace_back("ValidityPeriod", std::to_string(seconds));
  }
  if (config_.smart_encoded) form.emplace_back("SmartEncoded", "true");
  form.emplace_back("Attempt", std::to_string(sms.attempt));

  HttpClientRequest request;
  request.method = "POST";
  request.url = config_.base_url + "/2010-04-01/Accounts/" + config_.account_sid + "/Messages.json";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"},
                     {"Authorization", authorization_}};
  request.body = formEncode(form);
  return request;
}

SendResult TwilioApi::classifySendResponse(const HttpClientResponse& response,
                                           const OutgoingSms& sms) const {
  const int status = response.status;
  // A message resource has some twenty members; these are the ones read here.
  json body = parseJsonMembers(response.body,
                               {"sid", "num_segments", "price", "price_unit", "code", "message"});
  if (body.is_discarded() || !body.is_object()) {
    return classifyHttpStatus(
        status, "Twilio answered HTTP " + std::to_string(status) + " without a readable JSON body");
  }
  std::string sid = jsonString(body, "sid");
  if (status >= 200 && status < 300 && !sid.empty()) {
    SendResult result;
    result.kind = SendResultKind::kAccepted;
    result.http_status = status;
    result.provider_message_id = std::move(sid);
    // "0" when a Messaging Service picks the sender: counted later, so keep ours.
    result.segments = static_cast<int>(jsonNumber(body, "num_segments").value_or(0));
    if (result.segments <= 0) result.segments = sms.segments;
    if (auto price = jsonNumber(body, "price")) {
      result.price = std::abs(*price);  // Twilio reports charges as negative amounts
      result.currency = jsonString(body, "price_unit");
    }
    return result;
  }

  std::optional<double> code = jsonNumber(body, "code");
  std::string reason = "Twilio answered HTTP " + std::to_string(status);
  if (code) reason += ", error " + std::to_string(static_cast<int>(*code));
  if (std::string message = jsonString(body, "message"); !message.empty()) {
    reason += ": " + message;
  }
  SendResult result = classifyHttpStatus(status, std::move(reason));
  if (code) {
    result.error_code = std::to_string(static_cast<int>(*code));
    if (auto kind = classifyTwilioError(static_cast<int>(*code))) {
      result.kind = *kind;
      // A refusal with a known code says the request was processed and not taken.
      result.ambiguous = false;
    }
  }
  return result;
}

// --- Delivery status ---

std::optional<JobStatus> mapTwilioStatus(std::string_view status, int error_code) {
  for (std::string_view sent : {"queued", "accepted", "scheduled", "sending", "sent"}) {
    if (status == sent) return JobStatus::kSent;
  }
  for (std::string_view delivered : {"delivered", "read", "partially_delivered"}) {
    if (status == delivered) return JobStatus::kDelivered;
  }
  // 30036: the validity period ran out before the handset took it [doc].
  const bool expired = error_code == 30036;
  if (status == "undelivered") return expired ? JobStatus::kExpired : JobStatus::kUndelivered;
  if (status == "failed" || status == "canceled") {
    return expired ? JobStatus::kExpired : JobStatus::kFailed;
  }
  return std::nullopt;
}

HttpClientRequest buildTwilioStatusQuery(const TwilioConfig& config, std::string_view sid) {
  HttpClientRequest request;
  request.method = "GET";
  request.url = config.base_url + "/2010-04-01/Accounts/" + config.account_sid + "/Messages/" +
                percentEncode(sid) + ".json";
  request.headers = {{"Accept", "application/json"},
                     {"Authorization", basicAuthorization(config.auth_user, config.auth_password)}};
  return request;
}

Result<std::optional<DeliveryReport>> parseTwilioStatusResponse(const HttpClientResponse& response,
                                                                const StatusPollCandidate& job) {
  const int status = response.status;
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  std::string what = "Twilio status query for " + job.provider_message_id + " answered HTTP " +
                     std::to_string(status);
  if (status < 200 || status >= 300 || body.is_discarded() || !body.is_object()) {
    if (body.is_object()) {
      if (auto code = jsonNumber(body, "code")) what += ", error " + std::to_string(int(*code));
      if (auto message = jsonString(body, "message"); !message.empty()) what += ": " + message;
    }
    ErrorCategory category =
        status == 401 || status == 403 ? ErrorCategory::kConfig : ErrorCategory::kTransient;
    return Status(category, what);
  }
  if (jsonString(body, "sid") != job.provider_message_id) {
    return Status(ErrorCategory::kTransient,
                  what + " about another message (sid '" + jsonString(body, "sid") + "')");
  }
  const std::string provider_status = jsonString(body, "status");
  const int error_code = static_cast<int>(jsonNumber(body, "error_code").value_or(0));
  auto mapped = mapTwilioStatus(provider_status, error_code);
  // The job is sent already: "still on its way" is nothing new.
  if (!mapped || *mapped == JobStatus::kSent) return std::optional<DeliveryReport>();
  DeliveryReport report;
  report.provider = job.provider;
  report.provider_message_id = job.provider_message_id;
  report.job_id = job.job_id;
  report.status = *mapped;
  report.provider_status = provider_status;
  if (error_code != 0) {
    report.reason = "Twilio error " + std::to_string(error_code);
    if (auto message = jsonString(body, "error_message"); !message.empty()) {
      report.reason += ": " + message;
    }
  }
  return std::optional<DeliveryReport>(std::move(report));
}

Result<HttpClientRequest> TwilioApi::buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                                      TimePoint /*now*/) const {
  if (jobs.size() != 1) return internalError("Twilio status queries ask about one message");
  return buildTwilioStatusQuery(config_, jobs.front().provider_message_id);
}

Result<std::vector<DeliveryReport>> TwilioApi::parseStatusResponse(
    const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) const {
  if (jobs.size() != 1) return internalError("Twilio status queries ask about one message");
  auto report = parseTwilioStatusResponse(response, jobs.front());
  if (!report) return report.error();
  std::vector<DeliveryReport> reports;
  if (*report) reports.push_back(std::move(**report));
  return reports;
}

const config::Schema& twilioSchema() {
  using namespace config;
  static const Schema schema = [] {
    std::vector<Field> fields = {
        required(str("account_sid", "Account SID (`AC` and 32 hex digits).")),
        secret("auth_token",
               "Auth token of the account. Needed unless an API key (api_key_sid, "
               "api_key_secret) is given."),
        str("api_key_sid", "",
            "API key SID (`SK…`) to authenticate with instead of the auth token."),
        secret("api_key_secret", "Secret of that API key."),
        str("from", "",
            "Sender: a Twilio number in E.164, an alphanumeric sender ID or a short code. "
            "Used when a job has no sender of its own."),
        str("messaging_service_sid", "",
            "Messaging Service (`MG…`) whose sender pool Twilio picks from. One of `from` "
            "and `messaging_service_sid` is required."),
        boolean("smart_encoded", false,
                "Let Twilio replace Unicode look-alikes with GSM-7 characters (SmartEncoded)."),
    };
    for (auto& field : httpProviderFields()) fields.push_back(std::move(field));
    return Schema{"twilio provider",
                  "Sends through the Twilio Messages API (one request per recipient). "
                  "Default endpoint `https://api.twilio.com`.",
                  std::move(fields),
                  "",
                  {}};
  }();
  return schema;
}

std::optional<HttpProviderSpec> parseTwilio(const std::string& name, const config::Section& section,
                                            config::Diagnostics& diagnostics) {
  bool ok = true;
  auto endpoint = parseHttpEndpoint(section, "https://api.twilio.com", diagnostics);
  TwilioConfig config;
  config.account_sid = section.str("account_sid");
  if (!isSid(config.account_sid, "AC")) {
    diagnostics.add(section.at("account_sid", "must be `AC` followed by 32 hex digits"));
    ok = false;
  }
  config.messaging_service_sid = section.str("messaging_service_sid");
  if (!config.messaging_service_sid.empty() && !isSid(config.messaging_service_sid, "MG")) {
    diagnostics.add(section.at("messaging_service_sid", "must be `MG` followed by 32 hex digits"));
    ok = false;
  }
  config.from = section.str("from");
  if (config.from.empty() && config.messaging_service_sid.empty()) {
    diagnostics.add(section.at("", "one of `from` and `messaging_service_sid` is required"));
    ok = false;
  }
  std::string api_key_sid = section.str("api_key_sid");
  if (!api_key_sid.empty()) {
    auto secret = readSecret(section, "api_key_secret", diagnostics);
    if (secret && secret->empty()) {
      diagnostics.add(section.at("api_key_secret", "required when api_key_sid is given"));
    }
    ok = ok && secret && !secret->empty();
    config.auth_user = api_key_sid;
    config.auth_password = secret.value_or("");
  } else {
    auto token = readSecret(section, "auth_token", diagnostics);
    if (token && token->empty()) {
      diagnostics.add(section.at("auth_token", "required unless api_key_sid is given"));
    }
    ok = ok && token && !token->empty();
    config.auth_user = config.account_sid;
    config.auth_password = token.value_or("");
  }
  if (!endpoint || !ok) return std::nullopt;
  config.base_url = endpoint->base_url;
  config.status_callback_url = endpoint->status_callback_url;
  config.smart_encoded = section.boolean("smart_encoded");
  auto api = std::make_shared<TwilioApi>(std::move(config));
  return HttpProviderSpec{name, api, endpoint->client, api, endpoint->status_poll};
}

std::optional<WebhookSecrets> parseTwilioWebhookSecrets(const config::Section& section,
                                                        config::Diagnostics& diagnostics) {
  auto token = readSecret(section, "webhook_token", diagnostics);
  auto auth_token = readSecret(section, "auth_token", diagnostics);
  if (!token || !auth_token) return std::nullopt;
  return WebhookSecrets{*token, *auth_token};
}

}  // namespace smsbridge
