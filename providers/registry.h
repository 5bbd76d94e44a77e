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

namespace smsbridge {

using ProviderFactory = std::function<Result<std::unique_ptr<Provider>>(boost::asio::io_context&)>;

struct ProviderEntry {
  std::string_view type;
  const config::Schema* schema;
  std::function<std::optional<ProviderFactory>(
      const std::string& name, const config::Section& section, config::Diagnostics& diagnostics)>
      parse;
};

const std::vector<ProviderEntry>& providerRegistry();
const ProviderEntry* findProvider(std::string_view type);

}  // namespace smsbridge
