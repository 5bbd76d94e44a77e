#include "providers/registry.h"

#include "providers/messageflow.h"
#include "providers/sandbox.h"
#include "providers/smsapi.h"
#include "providers/twilio.h"

namespace smsbridge {
namespace {

// An HTTP provider's registry entry: its parser yields the spec, the factory wraps it.
ProviderEntry httpEntry(std::string_view type, const config::Schema& schema,
                        HttpProviderParser parse_http, ProviderCallbacks callbacks,
                        decltype(ProviderEntry::parse_webhook_secrets) parse_secrets) {
  auto parse = [parse_http](const std::string& name, const config::Section& section,
                            config::Diagnostics& diagnostics) -> std::optional<ProviderFactory> {
    auto spec = parse_http(name, section, diagnostics);
    if (!spec) return std::nullopt;
    return httpProviderFactory(std::move(*spec));
  };
  return {type, &schema, parse, parse_http, std::move(callbacks), std::move(parse_secrets)};
}

}  // namespace

const std::vector<ProviderEntry>& providerRegistry() {
  static const std::vector<ProviderEntry> entries = {
      {"sandbox", &sandboxSchema(), &parseSandbox, nullptr, {}, nullptr},
      httpEntry("messageflow", messageFlowSchema(), &parseMessageFlow, messageFlowCallbacks(),
                &parseUrlTokenSecrets),
      httpEntry("smsapi", smsApiSchema(), &parseSmsApi, smsApiCallbacks(), &parseUrlTokenSecrets),
      httpEntry("twilio", twilioSchema(), &parseTwilio, twilioCallbacks(),
                &parseTwilioWebhookSecrets),
  };
  return entries;
}

const ProviderEntry* findProvider(std::string_view type) {
  for (const auto& entry : providerRegistry()) {
    if (entry.type == type) return &entry;
  }
  return nullptr;
}

}  // namespace smsbridge
