#pragma once

// SMSAPI (smsapi.pl / smsapi.com, LINK Mobility), the legacy send endpoint: POST {base}/sms.do,
// form-encoded, Bearer token, `format=json`. Errors come back as HTTP 200 with {"error":N}.
// Our job id goes out as `idx` with `check_idx=1`, so a resend within 24 h is refused with
// error 53 instead of sending twice. Wire contract: reference/providers.md §2.

#include <optional>
#include <string>
#include <vector>

#include "core/status_poller.h"
#include "providers/callbacks.h"
#include "providers/http_provider.h"

namespace smsbridge {

struct SmsApiConfig {
  std::string base_url = "https://api.smsapi.pl";
  std::string token;
  std::string from;                 // used when the job has no sender; empty: account default
  std::string status_callback_url;  // sent as notify_url when set
  bool normalize = false;
  int max_parts = 0;  // 0: not sent (account default)
  bool test = false;
  bool fast_otp = false;  // fast=1 for the otp lane
};

// [inference] How many ids one status query carries: keeps the URL short.
inline constexpr int kSmsApiStatusIdsPerQuery = 20;

class SmsApiApi final : public HttpApi, public StatusQueryApi {
 public:
  explicit SmsApiApi(SmsApiConfig config) : config_(std::move(config)) {}

  Result<HttpClientRequest> buildSendRequest(const OutgoingSms& sms, TimePoint now) const override;
  SendResult classifySendResponse(const HttpClientResponse& response,
                                  const OutgoingSms& sms) const override;

  // Status polling: several ids per request.
  int maxJobsPerQuery() const override { return kSmsApiStatusIdsPerQuery; }
  Result<HttpClientRequest> buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                             TimePoint now) const override;
  Result<std::vector<DeliveryReport>> parseStatusResponse(
      const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) const override;

 private:
  SmsApiConfig config_;
};

// What a legacy error code means for this send (§2.3): 53 → Duplicate; 8, 201-203, 666, 999
// → RetryLater; account errors → FailOver; bad number or content → Rejected; unknown →
// FailOver.
SendResultKind classifySmsApiError(int code);

// --- Delivery status (callbacks and status polling) ---

// Our status for an SMSAPI status, by name (DELIVERED; the SDKs' enum [sdk]) or by the numeric
// code callbacks carry (404; [recall]), the one mapping callbacks and status queries use:
// 402 EXPIRED → expired; 403 SENT, 408 UNKNOWN, 409 QUEUE, 410 ACCEPTED, 411 RENEWAL → sent;
// 404 DELIVERED → delivered; 405 UNDELIVERED → undelivered; 401 NOT_FOUND, 406 FAILED,
// 407 REJECTED, 412 STOP → failed. nullopt for anything else.
std::optional<JobStatus> mapSmsApiStatus(std::string_view status);

// [recall — verify against "Checking message status" in the SMSAPI docs] The legacy endpoint
// looks messages up by id: GET {base}/sms.do?status=<id>|<id>...&format=json, Bearer token,
// answered like a send ({"count", "list": [{"id", "status", "idx", ...}]}) or with
// {"error": N, "message"} (301: no message with that id).
HttpClientRequest buildSmsApiStatusQuery(const SmsApiConfig& config,
                                         std::span<const StatusPollCandidate> jobs);
// Reports for the listed messages whose status maps to more than "sent". Error 301 (unknown id)
// gives no reports; other errors, non-2xx answers and unreadable bodies are errors (kConfig for
// 101-105 and 401/403, kTransient otherwise).
Result<std::vector<DeliveryReport>> parseSmsApiStatusResponse(
    const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs);

// --- Webhooks (reference/providers.md §2.4, §2.5; the parameter names are [recall]) ---

// A delivery-report callback: GET query or POST form with MsgId, status (401-412 or its name),
// idx, donedate... Several reports may come in one call as comma-separated values per
// parameter; each becomes a report, with `job_id` from its idx and its status mapped by
// mapSmsApiStatus. A report with another status is left out.
Result<std::vector<DeliveryReport>> parseSmsApiStatusCallback(const HttpRequest& request);
// An incoming SMS: sms_from, sms_to, sms_text, sms_date, MsgId.
Result<InboundSms> parseSmsApiInbound(const HttpRequest& request);
// Token-authenticated GET or form callbacks, answered with "OK".
ProviderCallbacks smsApiCallbacks();

// Config schema and parser of `type: smsapi` providers (listed in providers/registry.cpp).
const config::Schema& smsApiSchema();
std::optional<HttpProviderSpec> parseSmsApi(const std::string& name, const config::Section& section,
                                            config::Diagnostics& diagnostics);

}  // namespace smsbridge
