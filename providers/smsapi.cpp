#include "providers/smsapi.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
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

struct SmsApiStatus {
  int code;
  std::string_view name;
  JobStatus ours;
};

// providers.md §2.4 [recall]; the names match the SDK's MessageStatus enum.
constexpr SmsApiStatus kStatuses[] = {
    {401, "NOT_FOUND", JobStatus::kFailed},
    {402, "EXPIRED", JobStatus::kExpired},
    {403, "SENT", JobStatus::kSent},
    {404, "DELIVERED", JobStatus::kDelivered},
    {405, "UNDELIVERED", JobStatus::kUndelivered},
    {406, "FAILED", JobStatus::kFailed},
    {407, "REJECTED", JobStatus::kFailed},
    {408, "UNKNOWN", JobStatus::kSent},
    {409, "QUEUE", JobStatus::kSent},
    {410, "ACCEPTED", JobStatus::kSent},
    {411, "RENEWAL", JobStatus::kSent},
    {412, "STOP", JobStatus::kFailed},
};

const SmsApiStatus* findStatus(std::string_view value) {
  for (const auto& status : kStatuses) {
    if (value == status.name || value == std::to_string(status.code)) return &status;
  }
  return nullptr;
}

std::vector<std::string> splitCommas(std::string_view text) {
  std::vector<std::string> parts;
  while (true) {
    std::size_t comma = text.find(',');
    parts.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) return parts;
    text.remove_prefix(comma + 1);
  }
}

// The comma-separated values of an optional batch parameter: one per report, or none when the
// parameter is absent. A count that does not match would pair values with the wrong reports.
Result<std::vector<std::string>> batchValues(const FormParams& params, std::string_view name,
                                             std::size_t count) {
  const std::string* value = formValue(params, name);
  if (!value) return std::vector<std::string>(count);
  std::vector<std::string> values = splitCommas(*value);
  if (values.size() != count) {
    return rejectedError("SMSAPI callback has " + std::to_string(count) + " MsgId values but " +
                         std::to_string(values.size()) + " " + std::string(name) + " values");
  }
  return values;
}

std::int64_t jobIdOf(std::string_view idx) {
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), id);
  if (idx.empty() || ec != std::errc() || end != idx.data() + idx.size() || id <= 0) return 0;
  return id;
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

Result<HttpClientRequest> SmsApiApi::buildSendRequest(const OutgoingSms& sms, TimePoint now) const {
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

  HttpClientRequest request;
  request.method = "POST";
  request.url = config_.base_url + "/sms.do";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"},
                     {"Authorization", "Bearer " + config_.token}};
  request.body = formEncode(form);
  return request;
}

SendResult SmsApiApi::classifySendResponse(const HttpClientResponse& response,
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
  const SmsApiStatus* known = findStatus(status);
  if (!known) return std::nullopt;
  return known->ours;
}

HttpClientRequest buildSmsApiStatusQuery(const SmsApiConfig& config,
                                         std::span<const StatusPollCandidate> jobs) {
  std::string ids;
  for (const StatusPollCandidate& job : jobs) {
    if (!ids.empty()) ids += '|';
    ids += job.provider_message_id;
  }
  HttpClientRequest request;
  request.method = "GET";
  request.url = config.base_url + "/sms.do?" + formEncode({{"status", ids}, {"format", "json"}});
  request.headers = {{"Accept", "application/json"}, {"Authorization", "Bearer " + config.token}};
  return request;
}

Result<std::vector<DeliveryReport>> parseSmsApiStatusResponse(
    const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) {
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
    // The job is sent already: "still on its way" is nothing new.
    if (!mapped || *mapped == JobStatus::kSent) continue;
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

Result<HttpClientRequest> SmsApiApi::buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                                      TimePoint /*now*/) const {
  return buildSmsApiStatusQuery(config_, jobs);
}

Result<std::vector<DeliveryReport>> SmsApiApi::parseStatusResponse(
    const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) const {
  return parseSmsApiStatusResponse(response, jobs);
}

Result<std::vector<DeliveryReport>> parseSmsApiStatusCallback(const HttpRequest& request) {
  auto params = callbackParams(request);
  if (!params) return params.error();
  const std::string* ids = formValue(*params, "MsgId");
  const std::string* statuses = formValue(*params, "status");
  if (!ids || ids->empty() || !statuses || statuses->empty()) {
    return rejectedError("an SMSAPI callback needs MsgId and status");
  }
  std::vector<std::string> id_list = splitCommas(*ids);
  auto status_list = batchValues(*params, "status", id_list.size());
  if (!status_list) return status_list.error();
  auto idx_list = batchValues(*params, "idx", id_list.size());
  if (!idx_list) return idx_list.error();
  auto done_list = batchValues(*params, "donedate", id_list.size());
  if (!done_list) return done_list.error();

  std::vector<DeliveryReport> reports;
  std::string unknown;
  for (std::size_t i = 0; i < id_list.size(); ++i) {
    if (id_list[i].empty()) return rejectedError("an SMSAPI callback has an empty MsgId");
    const SmsApiStatus* status = findStatus((*status_list)[i]);
    if (!status) {
      unknown = (*status_list)[i];
      continue;
    }
    DeliveryReport report;
    report.provider_message_id = id_list[i];
    report.job_id = jobIdOf((*idx_list)[i]);
    report.status = status->ours;
    report.provider_status = (*status_list)[i];
    report.reason =
        "SMSAPI status " + std::to_string(status->code) + " " + std::string(status->name);
    if (auto done = parseUnixSeconds((*done_list)[i])) report.reported_at = *done;
    reports.push_back(std::move(report));
  }
  if (reports.empty()) {
    return Status(ErrorCategory::kProviderPermanent,
                  "SMSAPI status '" + unknown + "' is not one we know");
  }
  return reports;
}

Result<InboundSms> parseSmsApiInbound(const HttpRequest& request) {
  auto params = callbackParams(request);
  if (!params) return params.error();
  auto value = [&](std::string_view name) {
    const std::string* found = formValue(*params, name);
    return found ? *found : std::string();
  };
  InboundSms sms;
  sms.provider_message_id = value("MsgId");
  sms.sender = senderAsE164(value("sms_from"));
  sms.recipient = value("sms_to");
  sms.body = value("sms_text");
  if (auto date = parseUnixSeconds(value("sms_date"))) sms.received_at = *date;
  if (sms.sender.empty() || sms.recipient.empty()) {
    return rejectedError("an SMSAPI inbound message needs sms_from and sms_to");
  }
  return sms;
}

ProviderCallbacks smsApiCallbacks() {
  ProviderCallbacks callbacks;
  callbacks.auth = CallbackAuth::kUrlToken;
  callbacks.parse_status = &parseSmsApiStatusCallback;
  callbacks.parse_inbound = &parseSmsApiInbound;
  callbacks.media_types = {"application/x-www-form-urlencoded"};
  callbacks.allow_get = true;
  // providers.md §2.4 [recall]: the callback script must answer "OK".
  callbacks.status_ok = callbackAnswer("OK");
  callbacks.inbound_ok = callbackAnswer("OK");
  return callbacks;
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
