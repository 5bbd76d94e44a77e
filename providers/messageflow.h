#pragma once

// MessageFlow (Vercom) transactional SMS, API v2.1: POST {base}/v2.1/sms with a JSON body and
// the raw `Authorization` and `Application-Key` headers. Wire contract and its open questions:
// reference/providers.md §1.

#include <optional>
#include <string>

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

// Config schema and parser of `type: messageflow` providers (listed in providers/registry.cpp).
const config::Schema& messageFlowSchema();
std::optional<HttpProviderSpec> parseMessageFlow(const std::string& name,
                                                 const config::Section& section,
                                                 config::Diagnostics& diagnostics);

}  // namespace smsbridge
