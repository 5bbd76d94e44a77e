#include "providers/messageflow.h"

#include "core/json_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>

namespace smsbridge {
namespace {

using nlohmann::json;

// An integer given as a number or a numeric string; 0 otherwise.
int intField(const json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<int>();
  if (it->is_string()) return std::atoi(it->get<std::string>().c_str());
  return 0;
}

// A member of `object`, or null when there is none: a reference, where json::value() copies
// the whole subtree.
const json& memberOf(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The errors[] entry that concerns this message: one naming our number, else the first.
const json* relevantError(const json& errors, const OutgoingSms& sms) {
  if (!errors.is_array() || errors.empty()) return nullptr;
  for (const auto& error : errors) {
    std::string value = jsonString(memberOf(error, "meta"), "value");
    if (!value.empty() && digitsOnly(value) == digitsOnly(sms.recipient)) return &error;
  }
  return &errors.front();
}

bool mentions(std::string text, std::string_view word) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text.find(word) != std::string::npos;
}

// MessageFlow documents the error envelope but no code table, so the field an error points at
// decides: a bad number fails everywhere (Rejected); anything else — sender, keys, account,
// something we cannot tell — may go through another provider (FailOver).
SendResult classifyError(const json& error, int status) {
  SendResult result;
  result.http_status = status;
  result.error_code = jsonString(error, "code");
  std::string parameter = jsonString(memberOf(error, "meta"), "parameter");
  result.reason = jsonString(error, "title");
  std::string message = jsonString(error, "message");
  if (!message.empty()) result.reason += (result.reason.empty() ? "" : ": ") + message;
  if (!parameter.empty()) result.reason += " (" + parameter + ")";
  bool about_number = mentions(parameter, "phone");
  result.kind = about_number ? SendResultKind::kRejected : SendResultKind::kFailOver;
  if (status == 401 || status == 403) result.kind = SendResultKind::kFailOver;
  return result;
}

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The first of `keys` that holds a non-empty value, as text.
std::string firstOf(const json& object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (std::string value = jsonString(object, key); !value.empty()) return value;
  }
  return {};
}

std::int64_t jobIdOf(const std::string& external_id) {
  char* end = nullptr;
  long long id = std::strtoll(external_id.c_str(), &end, 10);
  if (external_id.empty() || *end != '\0' || id <= 0) return 0;
  return id;
}

std::optional<TimePoint> timeOf(const json& object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (auto seconds = jsonNumber(object, key); seconds && *seconds > 0) {
      return TimePoint(std::chrono::seconds(static_cast<std::int64_t>(*seconds)));
    }
  }
  return std::nullopt;
}

// The request's JSON, or kRejected when the body is not JSON in UTF-8.
Result<json> jsonBody(const HttpRequest& request) {
  if (!isValidUtf8(request.body)) return rejectedError("the body is not valid UTF-8");
  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return rejectedError("the body is not valid JSON");
  return body;
}

}  // namespace

Result<HttpClientRequest> MessageFlowApi::buildSendRequest(const OutgoingSms& sms,
                                                           TimePoint now) const {
  const std::string& sender = sms.sender.empty() ? config_.sender : sms.sender;
  if (sender.empty()) {
    return Status(ErrorCategory::kProviderPermanent,
                  "MessageFlow needs a sender; neither the job nor the provider's `sender` "
                  "gives one");
  }
  // JSON carries UTF-8 only; a JSON document that is not would be refused everywhere.
  for (const std::string* text : {&sender, &sms.body, &sms.recipient}) {
    if (!isValidUtf8(*text)) return rejectedError("the message is not valid UTF-8");
  }
  // Written out directly rather than through a JSON DOM: the document is small and fixed, and
  // building and dumping one per send showed in the dispatch profile.
  std::string body;
  body.reserve(160 + sms.body.size() + config_.status_callback_url.size());
  body += "{\"sender\":";
  appendJsonString(body, sender);
  body += ",\"message\":";
  appendJsonString(body, sms.body);
  body += ",\"phoneNumbers\":[";
  appendJsonString(body, sms.recipient);
  body += "]";
  if (sms.expires_at) {
    // [inference] The unit of `validity` is undocumented; the samples' `1` reads as hours.
    // Rounded down so the provider gives up no later than we would, but at least one.
    body += ",\"validity\":";
    body += std::to_string(std::max<std::int64_t>(1, secondsUntil(*sms.expires_at, now) / 3600));
  }
  // No scheduleTime: the dispatcher sends a job only once it is due.
  body += ",\"type\":" + std::to_string(config_.message_type);
  body += config_.short_link ? ",\"shortLink\":true" : ",\"shortLink\":false";
  if (!config_.status_callback_url.empty()) {
    body += ",\"webhookUrl\":";
    appendJsonString(body, config_.status_callback_url);
  }
  body += ",\"externalId\":";
  appendJsonString(body, std::to_string(sms.job_id));
  body += "}";

  HttpClientRequest request;
  request.method = "POST";
  request.url = config_.base_url + "/v2.1/sms";
  request.headers = {{"Content-Type", "application/json"},
                     {"Accept", "application/json"},
                     {"Authorization", config_.authorization},
                     {"Application-Key", config_.application_key}};
  request.body = std::move(body);
  return request;
}

SendResult MessageFlowApi::classifySendResponse(const HttpClientResponse& response,
                                                const OutgoingSms& sms) const {
  const int status = response.status;
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return classifyHttpStatus(status, "MessageFlow answered HTTP " + std::to_string(status) +
                                          " without a readable JSON body");
  }
  const json& errors = memberOf(body, "errors");
  const json& meta = memberOf(body, "meta");

  if (status >= 200 && status < 300) {
    // One recipient per request, but the API is batch-shaped: acceptance is per number.
    const json& data = memberOf(body, "data");
    static const json::array_t kNoEntries;
    const json::array_t& entries =
        data.is_array() ? data.get_ref<const json::array_t&>() : kNoEntries;
    const std::string ours = digitsOnly(sms.recipient);
    for (const auto& entry : entries) {
      if (digitsOnly(jsonString(entry, "phoneNumber")) != ours) continue;
      SendResult result;
      result.kind = SendResultKind::kAccepted;
      result.http_status = status;
      // data[] carries no message id; the request's uniqId identifies this one-number send.
      result.provider_message_id = jsonString(meta, "uniqId");
      if (result.provider_message_id.empty())
        result.provider_message_id = jsonString(entry, "externalId");
      result.segments = intField(entry, "numberOfParts");
      if (result.segments <= 0) result.segments = sms.segments;
      return result;
    }
    if (const json* error = relevantError(errors, sms)) return classifyError(*error, status);
    return classifyHttpStatus(status, "MessageFlow answered HTTP " + std::to_string(status) +
                                          " without accepting or refusing " + sms.recipient);
  }
  if (status == 400 || status == 401 || status == 403 || status == 422) {
    if (const json* error = relevantError(errors, sms)) return classifyError(*error, status);
  }
  std::string reason = "MessageFlow answered HTTP " + std::to_string(status);
  if (const json* error = relevantError(errors, sms)) {
    reason += ": " + jsonString(*error, "title") + " " + jsonString(*error, "message");
  }
  return classifyHttpStatus(status, std::move(reason));
}

// --- Delivery status ---

std::optional<JobStatus> mapMessageFlowStatus(std::string_view status) {
  const std::string lower = lowerCase(std::string(status));
  if (lower == "delivered") return JobStatus::kDelivered;
  if (lower == "undelivered") return JobStatus::kUndelivered;
  if (lower == "expired") return JobStatus::kExpired;
  if (lower == "sent") return JobStatus::kSent;
  if (lower == "failed" || lower == "rejected") return JobStatus::kFailed;
  return std::nullopt;
}

namespace {

std::string rfc3339(TimePoint t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

HttpClientRequest buildMessageFlowStatusQuery(const MessageFlowConfig& config,
                                              std::span<const StatusPollCandidate> jobs) {
  TimePoint from = jobs.empty() ? TimePoint{} : jobs.front().sent_at;
  TimePoint to = from;
  for (const StatusPollCandidate& job : jobs) {
    from = std::min(from, job.sent_at);
    to = std::max(to, job.sent_at);
  }
  // A minute of slack: MessageFlow's createTime and our sent_at are taken on different clocks.
  from -= std::chrono::minutes(1);
  to += std::chrono::minutes(1);
  HttpClientRequest request;
  request.method = "GET";
  request.url = config.base_url + "/v2.1/sms?" +
                formEncode({{"dateFrom", rfc3339(from)},
                            {"dateTo", rfc3339(to)},
                            {"limit", std::to_string(kMessageFlowListLimit)}});
  request.headers = {{"Accept", "application/json"},
                     {"Authorization", config.authorization},
                     {"Application-Key", config.application_key}};
  return request;
}

Result<std::vector<DeliveryReport>> parseMessageFlowStatusResponse(
    const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) {
  const int status = response.status;
  std::string what = "MessageFlow status listing answered HTTP " + std::to_string(status);
  std::vector<DeliveryReport> reports;
  if (status == 404) return reports;
  if (status == 401 || status == 403) return configError(what);
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (status < 200 || status >= 300 || body.is_discarded() || !body.is_object()) {
    return transientError(what + (body.is_object() ? "" : " without a readable JSON body"));
  }
  const json data = body.value("data", json::array());
  for (const auto& entry : data.is_array() ? data : json::array()) {
    const std::string external_id = jsonString(entry, "externalId");
    auto job = std::find_if(jobs.begin(), jobs.end(), [&](const StatusPollCandidate& candidate) {
      return std::to_string(candidate.job_id) == external_id;
    });
    if (job == jobs.end()) continue;
    const std::string provider_status = jsonString(entry, "status");
    auto mapped = mapMessageFlowStatus(provider_status);
    // The job is sent already: "still on its way" is nothing new.
    if (!mapped || *mapped == JobStatus::kSent) continue;
    DeliveryReport report;
    report.provider = job->provider;
    report.provider_message_id = job->provider_message_id;
    report.job_id = job->job_id;
    report.status = *mapped;
    report.provider_status = provider_status;
    reports.push_back(std::move(report));
  }
  return reports;
}

Result<HttpClientRequest> MessageFlowApi::buildStatusQuery(
    std::span<const StatusPollCandidate> jobs, TimePoint /*now*/) const {
  return buildMessageFlowStatusQuery(config_, jobs);
}

Result<std::vector<DeliveryReport>> MessageFlowApi::parseStatusResponse(
    const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) const {
  return parseMessageFlowStatusResponse(response, jobs);
}

Result<std::vector<DeliveryReport>> parseMessageFlowStatusCallback(const HttpRequest& request) {
  auto body = jsonBody(request);
  if (!body) return body.error();
  const json events = body->is_array() ? *body : json::array({*body});
  std::vector<DeliveryReport> reports;
  for (const auto& event : events) {
    if (!event.is_object()) continue;
    std::string status = jsonString(event, "status");
    auto ours = mapMessageFlowStatus(status);
    std::string uniq_id = jsonString(event, "uniqId");
    std::int64_t job_id = jobIdOf(jsonString(event, "externalId"));
    if (!ours || (uniq_id.empty() && job_id == 0)) continue;
    DeliveryReport report;
    report.provider_message_id = std::move(uniq_id);
    report.job_id = job_id;
    report.status = *ours;
    report.provider_status = status;
    report.reason = "MessageFlow status " + status;
    if (auto time = timeOf(event, {"statusTime"})) report.reported_at = *time;
    reports.push_back(std::move(report));
  }
  if (reports.empty()) {
    return Status(ErrorCategory::kProviderPermanent,
                  "no MessageFlow delivery report of a known shape in the body");
  }
  return reports;
}

Result<InboundSms> parseMessageFlowInbound(const HttpRequest& request) {
  auto body = jsonBody(request);
  if (!body) return body.error();
  const json& event = body->is_array() && body->size() == 1 ? body->front() : *body;
  InboundSms sms;
  sms.sender = senderAsE164(firstOf(event, {"from", "phoneNumber", "msisdn"}));
  sms.recipient = firstOf(event, {"to", "recipient", "shortCode"});
  sms.body = firstOf(event, {"message", "text", "content"});
  sms.provider_message_id = firstOf(event, {"id", "messageId", "uniqId"});
  if (auto time = timeOf(event, {"receivedTime", "createTime"})) sms.received_at = *time;
  if (!event.is_object() || sms.sender.empty() || sms.body.empty()) {
    return Status(ErrorCategory::kProviderPermanent,
                  "no MessageFlow inbound message of a known shape in the body");
  }
  return sms;
}

ProviderCallbacks messageFlowCallbacks() {
  ProviderCallbacks callbacks;
  callbacks.auth = CallbackAuth::kUrlToken;
  callbacks.parse_status = &parseMessageFlowStatusCallback;
  callbacks.parse_inbound = &parseMessageFlowInbound;
  callbacks.media_types = {"application/json"};
  callbacks.status_ok = callbackAnswer("OK");
  callbacks.inbound_ok = callbackAnswer("OK");
  return callbacks;
}

const config::Schema& messageFlowSchema() {
  using namespace config;
  static const Schema schema = [] {
    std::vector<Field> fields = {
        required(secret("authorization",
                        "Authorization key of an API key with the \"Transactional SMS\" "
                        "permission (panel: Account → Settings → API), sent as is.")),
        required(secret("application_key", "Application key of the same API key.")),
        str("sender", "",
            "Sender ID registered in the panel (SMS → Common settings → Sender IDs), used "
            "when a job has no sender of its own."),
        integer("message_type", 0,
                "Value of the API's `type` field (its meaning is not publicly documented)."),
        boolean("short_link", false, "Let MessageFlow shorten links in the text."),
    };
    for (auto& field : httpProviderFields()) fields.push_back(std::move(field));
    return Schema{"messageflow provider",
                  "Sends through the MessageFlow (Vercom) SMS API v2.1. Default endpoint "
                  "`https://api.messageflow.com`.",
                  std::move(fields),
                  "",
                  {}};
  }();
  return schema;
}

std::optional<HttpProviderSpec> parseMessageFlow(const std::string& name,
                                                 const config::Section& section,
                                                 config::Diagnostics& diagnostics) {
  auto endpoint = parseHttpEndpoint(section, "https://api.messageflow.com", diagnostics);
  auto authorization = readSecret(section, "authorization", diagnostics);
  auto application_key = readSecret(section, "application_key", diagnostics);
  if (!endpoint || !authorization || !application_key) return std::nullopt;
  MessageFlowConfig config;
  config.base_url = endpoint->base_url;
  config.authorization = *authorization;
  config.application_key = *application_key;
  config.sender = section.str("sender");
  config.status_callback_url = endpoint->status_callback_url;
  config.message_type = static_cast<int>(section.integer("message_type"));
  config.short_link = section.boolean("short_link");
  auto api = std::make_shared<MessageFlowApi>(std::move(config));
  return HttpProviderSpec{name, api, endpoint->client, api, endpoint->status_poll};
}

}  // namespace smsbridge
