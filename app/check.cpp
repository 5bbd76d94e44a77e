#include <cstdio>
#include <string>

#include "app/bridge_config.h"
#include "app/commands.h"
#include "config/markdown.h"

namespace smsbridge {

int checkCommand(const CheckOptions& options) {
  config::Diagnostics diagnostics;
  config::LoadOptions load;
  load.read_secret_files = false;  // check is pure: no file besides the config is read
  auto cfg = loadBridgeConfig(options.config, load, diagnostics);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", diagnostics.toString().c_str());
    std::fprintf(stderr, "%s: %zu problem%s found\n", options.config.c_str(),
                 diagnostics.all().size(), diagnostics.all().size() == 1 ? "" : "s");
    return 1;
  }
  if (!options.quiet) {
    // Schedules are named only when there are some, so the line stays as it was without them.
    std::string schedules;
    if (!cfg->schedules.empty()) {
      schedules = ", " + std::to_string(cfg->schedules.size()) + " schedule" +
                  (cfg->schedules.size() == 1 ? "" : "s");
    }
    std::printf("%s: OK (%zu source%s, %zu provider%s, %zu route%s, %zu mapping%s%s)\n",
                options.config.c_str(), cfg->sources.size(), cfg->sources.size() == 1 ? "" : "s",
                cfg->providers.size(), cfg->providers.size() == 1 ? "" : "s", cfg->routes.size(),
                cfg->routes.size() == 1 ? "" : "s", cfg->mappings->mappings().size(),
                cfg->mappings->mappings().size() == 1 ? "" : "s", schedules.c_str());
  }
  return 0;
}

int configSchemaCommand() {
  std::fputs(config::renderSchemaMarkdown(bridgeSchema()).c_str(), stdout);
  return 0;
}

}  // namespace smsbridge
