#pragma once

// MessageFlow (Vercom) transactional SMS, API v2.1: POST {base}/v2.1/sms with a JSON body and
// the raw `Authorization` and `Application-Key` headers. Wire contract and its open questions:
// reference/providers.md §1.

#include <optional>
#include <string>
#include <vector>

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

class MessageFlowApi final : public HttpApi {
 public:
  explicit MessageFlowApi(MessageFlowConfig config) : config_(std::move(config)) {}

  Result<HttpClientRequest> buildSendRequest(const OutgoingSms& sms, TimePoint now) const override;
  SendResult classifySendResponse(const HttpClientResponse& response,
                                  const OutgoingSms& sms) const override;

 private:
  MessageFlowConfig config_;
};

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
