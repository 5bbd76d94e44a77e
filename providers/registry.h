#pragma once

// The table of provider adapters: `type:` values, config schemas, and constructors.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "config/diagnostics.h"
#include "config/schema.h"
#include "config/section.h"
#include "core/provider.h"
#include "providers/http_provider.h"

namespace smsbridge {

using ProviderFactory = std::function<Result<std::unique_ptr<Provider>>(boost::asio::io_context&)>;

struct ProviderEntry {
  std::string_view type;
  const config::Schema* schema;
  std::function<std::optional<ProviderFactory>(
      const std::string& name, const config::Section& section, config::Diagnostics& diagnostics)>
      parse;
  // HTTP providers only (null for others): the same parse, yielding the API and client options
  // instead of a factory, so tests can run every HTTP provider over a scripted transport.
  HttpProviderParser parse_http;
  // Its webhooks (providers/webhooks.h): how callbacks are authenticated, parsed and answered;
  // no parsers for a provider without webhooks.
  ProviderCallbacks callbacks = {};
  // Reads the secrets its webhooks are checked with from its config section; null when it has
  // no webhooks.
  std::function<std::optional<WebhookSecrets>(const config::Section& section,
                                              config::Diagnostics& diagnostics)>
      parse_webhook_secrets = nullptr;
};

const std::vector<ProviderEntry>& providerRegistry();
const ProviderEntry* findProvider(std::string_view type);

}  // namespace smsbridge
