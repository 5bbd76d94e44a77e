#pragma once

// MessageFlow (Vercom) transactional SMS, API v2.1: POST {base}/v2.1/sms with a JSON body and
// the raw `Authorization` and `Application-Key` headers. Wire contract and its open questions:
// reference/providers.md §1.

#include <optional>
#include <string>
#include <vector>

#include "core/status_poller.h"
#include "providers/callbacks.h"
#include "providers/http_provider.h"

namespace smsbridge {

struct MessageFlowConfig {
  std::string base_url = "https://api.messageflow.com";
  std::string authorization;
  std::string application_key;
  std::string sender;               // used when the job has none
  std::string status_callback_url;  // sent as webhookUrl when set
  int message_type = 0;             // `type`; its values are not publicly documented
  bool short_link = false;
};

// Jobs one listing asks about; their sent_at span the listed window.
inline constexpr int kMessageFlowStatusJobsPerQuery = 50;

class MessageFlowApi final : public HttpApi, public StatusQueryApi {
 public:
  explicit MessageFlowApi(MessageFlowConfig config) : config_(std::move(config)) {}

  Result<HttpClientRequest> buildSendRequest(const OutgoingSms& sms, TimePoint now) const override;
  SendResult classifySendResponse(const HttpClientResponse& response,
                                  const OutgoingSms& sms) const override;

  // Status polling: one listing covers the time window of several jobs.
  int maxJobsPerQuery() const override { return kMessageFlowStatusJobsPerQuery; }
  Result<HttpClientRequest> buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                             TimePoint now) const override;
  Result<std::vector<DeliveryReport>> parseStatusResponse(
      const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) const override;

 private:
  MessageFlowConfig config_;
};

// --- Delivery status (webhooks and status polling) ---

// Our status for a MessageFlow status name, case-insensitively, the one mapping webhooks and
// status queries use: the documented Delivered, Undelivered, Expired [doc], and Sent → sent,
// Failed and Rejected → failed ([inference], the send response's vocabulary). nullopt for
// anything else — in particular the numeric data[].status of the API, whose values are not
// publicly documented (providers.md §1.2).
std::optional<JobStatus> mapMessageFlowStatus(std::string_view status);

// The API's largest page [doc].
inline constexpr int kMessageFlowListLimit = 1000;

// MessageFlow has no lookup by id: GET {base}/v2.1/sms lists the account's messages of a time
// window [doc] (dateFrom/dateTo in RFC 3339 UTC, limit up to 1000). The window runs from a
// minute before the oldest job's sent_at to a minute after the newest's. Known limit: a busy
// account may have more than 1000 messages in it, and later pages are not read, so those jobs
// wait for a later poll or a webhook.
HttpClientRequest buildMessageFlowStatusQuery(const MessageFlowConfig& config,
                                              std::span<const StatusPollCandidate> jobs);
// Matches listed messages to jobs by externalId (our job id, sent with every message) and
// reports those whose status maps to more than "sent". 404 ("processed but no results" [doc]) gives
// no reports; 401/403 are kConfig errors; other non-2xx and unreadable bodies kTransient.
Result<std::vector<DeliveryReport>> parseMessageFlowStatusResponse(
    const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs);

// --- Webhooks (reference/providers.md §1.4, §1.5) ---
//
// [inference] MessageFlow does not publish its webhook field names. We read the send
// response's vocabulary, which the fake provider uses too: an event object (or an array of
// them) with `status` (Delivered, Undelivered, Expired; also Sent, Failed, Rejected), `uniqId`
// (the id the send answered with, our provider_message_id) and/or `externalId` (our job id),
// and `statusTime` (unix seconds). JSON that parses but has no event of that shape is a
// kProviderPermanent error: the webhook logs it verbatim and answers 200.

Result<std::vector<DeliveryReport>> parseMessageFlowStatusCallback(const HttpRequest& request);
// [inference] An incoming SMS: the sender in `from`, `phoneNumber` or `msisdn`; our number in
// `to`, `recipient` or `shortCode`; the text in `message`, `text` or `content`; the id in
// `id`, `messageId` or `uniqId`; the time (unix seconds) in `receivedTime` or `createTime`.
Result<InboundSms> parseMessageFlowInbound(const HttpRequest& request);
// Token-authenticated JSON callbacks, answered with 200.
ProviderCallbacks messageFlowCallbacks();

// Config schema and parser of `type: messageflow` providers (listed in providers/registry.cpp).
const config::Schema& messageFlowSchema();
std::optional<HttpProviderSpec> parseMessageFlow(const std::string& name,
                                                 const config::Section& section,
                                                 config::Diagnostics& diagnostics);

}  // namespace smsbridge
