#include "providers/smsapi.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

namespace smsbridge {
namespace {

using nlohmann::json;

// The expiration_date window SMSAPI accepts: 15 min to 72 h after the send.
constexpr std::chrono::minutes kMinExpiry{15};
constexpr std::chrono::hours kMaxExpiry{72};

SendResult legacyError(const json& body, int status, const OutgoingSms& sms) {
  SendResult result;
  result.http_status = status;
  const int code = body["error"].get<int>();
  result.error_code = std::to_string(code);
  result.kind = classifySmsApiError(code);
  result.reason = "SMSAPI error " + result.error_code + ": " + jsonString(body, "message");
  const json& invalid = body.contains("invalid_numbers") ? body["invalid_numbers"] : json();
  if (invalid.is_array() && !invalid.empty()) {
    result.reason += " (" + jsonString(invalid.front(), "number") + ": " +
                     jsonString(invalid.front(), "message") + ")";
  }
  if (result.kind == SendResultKind::kDuplicate) {
    result.reason = "SMSAPI already has a message with idx " + std::to_string(sms.job_id) +
                    " from the last 24 h (error 53): an earlier attempt went through";
  }
  return result;
}

}  // namespace

SendResultKind classifySmsApiError(int code) {
  switch (code) {
    case 53:  // idx already used within 24 h (check_idx=1): our earlier attempt was taken
      return SendResultKind::kDuplicate;
    case 8:    // error in the request, server side per the SDKs
    case 201:  // internal system error
    case 202:  // too many requests
    case 203:  // too many requests
    case 666:  // internal system error
    case 999:  // internal system error
      return SendResultKind::kRetryLater;
    case 11:  // message too long, empty, or special characters with nounicode
    case 12:  // more parts than max_parts
    case 13:  // no correct phone numbers
    case 17:  // flash with special characters
    case 57:  // number blacklisted
      return SendResultKind::kRejected;
    default:  // account, sender, limits, unknown: another provider may take it
      return SendResultKind::kFailOver;
  }
}

Result<HttpRequest> SmsApiApi::buildSendRequest(const OutgoingSms& sms, TimePoint now) const {
  FormFields form = {{"format", "json"}, {"encoding", "utf-8"}, {"to", digitsOnly(sms.recipient)}};
  const std::string& from = sms.sender.empty() ? config_.from : sms.sender;
  if (!from.empty()) form.emplace_back("from", from);
  form.emplace_back("message", sms.body);
  form.emplace_back("idx", std::to_string(sms.job_id));
  form.emplace_back("check_idx", "1");
  if (!config_.status_callback_url.empty()) {
    form.emplace_back("notify_url", config_.status_callback_url);
  }
  if (config_.normalize) form.emplace_back("normalize", "1");
  if (config_.max_parts > 0) form.emplace_back("max_parts", std::to_string(config_.max_parts));
  if (sms.expires_at && *sms.expires_at - now <= kMaxExpiry) {
    // Sooner than 15 min is refused; holding the message a little past its expiry beats
    // holding it for the provider's default validity. Beyond 72 h the default is shorter.
    TimePoint expiry = std::max<TimePoint>(*sms.expires_at, now + kMinExpiry);
    auto unix_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(expiry.time_since_epoch()).count();
    form.emplace_back("expiration_date", std::to_string(unix_seconds));
  }
  if (config_.test) form.emplace_back("test", "1");
  if (config_.fast_otp && sms.lane == Lane::kOtp) form.emplace_back("fast", "1");

  HttpRequest request;
  request.method = "POST";
  request.url = config_.base_url + "/sms.do";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"},
                     {"Authorization", "Bearer " + config_.token}};
  request.body = formEncode(form);
  return request;
}

SendResult SmsApiApi::classifySendResponse(const HttpResponse& response,
                                           const OutgoingSms& sms) const {
  const int status = response.status;
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return classifyHttpStatus(
        status, "SMSAPI answered HTTP " + std::to_string(status) + " without a readable JSON body");
  }
  // The legacy endpoint reports errors with HTTP 200; honour an error code on any status.
  if (body.contains("error") && body["error"].is_number_integer()) {
    return legacyError(body, status, sms);
  }
  if (status == 200 && body.contains("list") && body["list"].is_array() && !body["list"].empty()) {
    const json& list = body["list"];
    const std::string ours = digitsOnly(sms.recipient);
    const json* entry = &list.front();
    for (const auto& candidate : list) {
      if (jsonString(candidate, "number") == ours) entry = &candidate;
    }
    SendResult result;
    result.kind = SendResultKind::kAccepted;
    result.http_status = status;
    result.provider_message_id = jsonString(*entry, "id");
    result.segments = static_cast<int>(jsonNumber(*entry, "parts").value_or(0));
    if (result.segments <= 0) result.segments = sms.segments;
    result.price = jsonNumber(*entry, "points");
    if (result.price) result.currency = "points";
    return result;
  }
  // REST-style errors: {"message", "error": "<tag>", ...} with a 4xx status.
  std::string reason = "SMSAPI answered HTTP " + std::to_string(status);
  if (std::string message = jsonString(body, "message"); !message.empty()) {
    reason += ": " + message;
  }
  return classifyHttpStatus(status, std::move(reason));
}

// --- Delivery status ---

std::optional<JobStatus> mapSmsApiStatus(std::string_view status) {
  // The numeric codes of legacy callbacks, in the order of their names [recall].
  static constexpr std::pair<std::string_view, std::string_view> kCodes[] = {
      {"401", "NOT_FOUND"},   {"402", "EXPIRED"},  {"403", "SENT"},     {"404", "DELIVERED"},
      {"405", "UNDELIVERED"}, {"406", "FAILED"},   {"407", "REJECTED"}, {"408", "UNKNOWN"},
      {"409", "QUEUE"},       {"410", "ACCEPTED"}, {"411", "RENEWAL"},  {"412", "STOP"}};
  for (const auto& [code, name] : kCodes) {
    if (status == code) status = name;
  }
  if (status == "DELIVERED") return JobStatus::kDelivered;
  if (status == "UNDELIVERED") return JobStatus::kUndelivered;
  if (status == "EXPIRED") return JobStatus::kExpired;
  if (status == "FAILED" || status == "REJECTED" || status == "STOP") return JobStatus::kFailed;
  if (status == "SENT") return JobStatus::kSent;
  return std::nullopt;
}

HttpRequest buildSmsApiStatusQuery(const SmsApiConfig& config,
                                   std::span<const StatusPollCandidate> jobs) {
  std::string ids;
  for (const StatusPollCandidate& job : jobs) {
    if (!ids.empty()) ids += '|';
    ids += job.provider_message_id;
  }
  HttpRequest request;
  request.method = "GET";
  request.url = config.base_url + "/sms.do?" + formEncode({{"status", ids}, {"format", "json"}});
  request.headers = {{"Accept", "application/json"}, {"Authorization", "Bearer " + config.token}};
  return request;
}

Result<std::vector<DeliveryReport>> parseSmsApiStatusResponse(
    const HttpResponse& response, std::span<const StatusPollCandidate> jobs) {
  const int status = response.status;
  std::string what = "SMSAPI status query answered HTTP " + std::to_string(status);
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (status == 401 || status == 403) return configError(what);
  if (status < 200 || status >= 300 || body.is_discarded() || !body.is_object()) {
    return transientError(what + (body.is_object() ? "" : " without a readable JSON body"));
  }
  std::vector<DeliveryReport> reports;
  if (body.contains("error") && body["error"].is_number_integer()) {
    const int code = body["error"].get<int>();
    if (code == 301) return reports;  // none of the ids is known (any more)
    what += ", error " + std::to_string(code) + ": " + jsonString(body, "message");
    return code >= 101 && code <= 105 ? configError(what) : transientError(what);
  }
  const json list = body.value("list", json::array());
  for (const auto& entry : list.is_array() ? list : json::array()) {
    const std::string id = jsonString(entry, "id");
    auto job = std::find_if(jobs.begin(), jobs.end(), [&](const StatusPollCandidate& candidate) {
      return candidate.provider_message_id == id;
    });
    if (job == jobs.end()) continue;
    const std::string provider_status = jsonString(entry, "status");
    auto mapped = mapSmsApiStatus(provider_status);
    if (!mapped) continue;
    DeliveryReport report;
    report.provider = job->provider;
    report.provider_message_id = id;
    report.job_id = job->job_id;
    report.status = *mapped;
    report.provider_status = provider_status;
    reports.push_back(std::move(report));
  }
  return reports;
}

Result<HttpRequest> SmsApiApi::buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                                TimePoint /*now*/) const {
  return buildSmsApiStatusQuery(config_, jobs);
}

Result<std::vector<DeliveryReport>> SmsApiApi::parseStatusResponse(
    const HttpResponse& response, std::span<const StatusPollCandidate> jobs) const {
  return parseSmsApiStatusResponse(response, jobs);
}

const config::Schema& smsApiSchema() {
  using namespace config;
  static const Schema schema = [] {
    std::vector<Field> fields = {
        required(secret("token", "OAuth token from the SMSAPI panel, sent as a Bearer token.")),
        oneOf("region", {"pl", "com"}, "pl",
              "`pl`: https://api.smsapi.pl (Polish accounts); `com`: https://api.smsapi.com "
              "(international accounts). base_url overrides it."),
        str("from", "",
            "Sender name verified in the panel, used when a job has no sender of its own. "
            "Empty: the account's default sender."),
        boolean("normalize", false,
                "Let SMSAPI replace special characters with plain ones (ę→e), keeping the "
                "message in the cheaper GSM-7 encoding."),
        integer("max_parts", 0,
                "Refuse messages longer than this many parts (SMSAPI error 12). 0: the "
                "account's limit."),
        boolean("test", false,
                "Validate only: SMSAPI checks and answers but sends and charges nothing."),
        boolean("fast_otp", false,
                "Send the otp lane with `fast=1`: highest priority at a 50% higher price."),
    };
    for (auto& field : httpProviderFields()) fields.push_back(std::move(field));
    return Schema{"smsapi provider",
                  "Sends through SMSAPI (smsapi.pl / smsapi.com). The job id goes out as "
                  "`idx` with `check_idx=1`, so SMSAPI refuses a second copy within 24 h.",
                  std::move(fields),
                  "",
                  {}};
  }();
  return schema;
}

std::optional<HttpProviderSpec> parseSmsApi(const std::string& name, const config::Section& section,
                                            config::Diagnostics& diagnostics) {
  std::string default_base =
      section.str("region") == "com" ? "https://api.smsapi.com" : "https://api.smsapi.pl";
  auto endpoint = parseHttpEndpoint(section, default_base, diagnostics);
  auto token = readSecret(section, "token", diagnostics);
  std::int64_t max_parts = section.integer("max_parts");
  if (max_parts < 0 || max_parts > 10) {
    diagnostics.add(section.at("max_parts", "must be between 0 and 10"));
    return std::nullopt;
  }
  if (!endpoint || !token) return std::nullopt;
  SmsApiConfig config;
  config.base_url = endpoint->base_url;
  config.token = *token;
  config.from = section.str("from");
  config.status_callback_url = endpoint->status_callback_url;
  config.normalize = section.boolean("normalize");
  config.max_parts = static_cast<int>(max_parts);
  config.test = section.boolean("test");
  config.fast_otp = section.boolean("fast_otp");
  auto api = std::make_shared<SmsApiApi>(std::move(config));
  return HttpProviderSpec{name, api, endpoint->client, api, endpoint->status_poll};
}

}  // namespace smsbridge
