#pragma once

// Turns a source's YAML section into its factory the way the bridge does, keeping the
// diagnostics as text for the connector tests to search.

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "config/document.h"
#include "config/section.h"
#include "connectors/registry.h"

namespace smsbridge::testing {

struct ParsedSource {
  std::optional<SourceFactory> factory;
  std::string diagnostics;
};

using SourceParser = std::optional<SourceFactory> (*)(const std::string& name,
                                                      const config::Section& section,
                                                      config::Diagnostics& diagnostics);

// `yaml` is the body of `sources.shop`.
inline ParsedSource parseSourceYaml(const std::string& yaml, const config::Schema& schema,
                                    SourceParser parse) {
  auto doc = config::Document::loadString(yaml, "shop.yaml");
  EXPECT_TRUE(doc) << doc.error().toString();
  ParsedSource out;
  if (!doc) return out;
  config::Diagnostics diagnostics;
  out.factory = parse("shop", config::Section::root(*doc, schema), diagnostics);
  out.diagnostics = diagnostics.toString();
  return out;
}

}  // namespace smsbridge::testing
