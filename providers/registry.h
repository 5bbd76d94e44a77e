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
};

const std::vector<ProviderEntry>& providerRegistry();
const ProviderEntry* findProvider(std::string_view type);

}  // namespace smsbridge
