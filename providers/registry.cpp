#include "providers/registry.h"

#include "providers/sandbox.h"

namespace smsbridge {

const std::vector<ProviderEntry>& providerRegistry() {
  static const std::vector<ProviderEntry> entries = {
      {"sandbox", &sandboxSchema(), &parseSandbox},
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
