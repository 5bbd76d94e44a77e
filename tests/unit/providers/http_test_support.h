#pragma once

// What the provider tests share: a scripted HttpTransport, golden fixtures from
// tests/unit/providers/data/<type>/, and building a provider's spec from YAML the way the
// bridge does (validate against the type's schema, then its registered parser).

#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config/document.h"
#include "config/validate.h"
#include "core/http_client.h"
#include "providers/registry.h"

namespace smsbridge::testing {

// Records requests and holds their callbacks until the test answers them, as the real client
// never calls back inline from execute().
class FakeHttpTransport final : public HttpTransport {
 public:
  void execute(HttpClientRequest request, HttpCallback done) override {
    requests.push_back(std::move(request));
    if (!shut_down) pending_.push_back(std::move(done));
  }
  void shutdown() override {
    shut_down = true;
    pending_.clear();
  }

  // Completes the oldest request in flight with `response`.
  void respond(HttpClientResponse response) {
    ASSERT_FALSE(pending_.empty()) << "no request in flight";
    HttpCallback done = std::move(pending_.front());
    pending_.pop_front();
    done(std::move(response));
  }
  std::size_t inFlight() const { return pending_.size(); }

  std::vector<HttpClientRequest> requests;
  bool shut_down = false;

 private:
  std::deque<HttpCallback> pending_;
};

inline HttpClientResponse httpResponse(int status, std::string body, HttpHeaders headers = {}) {
  HttpClientResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

inline HttpClientResponse transportFailure(HttpError error) {
  HttpClientResponse response;
  response.error = error;
  response.error_message = "scripted failure";
  return response;
}

// The fixture's text with trailing newlines trimmed (editors add one; the wire has none).
inline std::string fixture(const std::string& type, const std::string& file) {
  std::ifstream in(std::string(SMSBRIDGE_SOURCE_DIR) + "/tests/unit/providers/data/" + type + "/" +
                   file);
  EXPECT_TRUE(in) << "missing fixture " << type << "/" << file;
  std::ostringstream text;
  text << in.rdbuf();
  std::string out = text.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Parses `yaml` (the provider's own mapping, without `type:`) as the bridge would. Secrets
// given as ${VAR} resolve from `env`. Fails the test on any diagnostic.
inline std::optional<HttpProviderSpec> parseSpec(const std::string& type, const std::string& yaml,
                                                 std::map<std::string, std::string> env = {}) {
  const ProviderEntry* entry = findProvider(type);
  EXPECT_NE(entry, nullptr) << type;
  if (!entry || !entry->parse_http) return std::nullopt;
  config::LoadOptions options;
  options.env = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto document = config::Document::loadString(yaml, "provider.yaml", options);
  EXPECT_TRUE(document.has_value());
  if (!document) return std::nullopt;
  config::Diagnostics diagnostics;
  config::validate(*document, *entry->schema, diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.toString();
  auto spec =
      entry->parse_http(type, config::Section::root(*document, *entry->schema), diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.toString();
  return spec;
}

// The diagnostics of parsing `yaml` (validation and parser), for tests of bad configs.
inline std::string parseErrors(const std::string& type, const std::string& yaml) {
  const ProviderEntry* entry = findProvider(type);
  if (!entry || !entry->parse_http) return "no such HTTP provider";
  config::LoadOptions options;
  options.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  auto document = config::Document::loadString(yaml, "provider.yaml", options);
  if (!document) return document.error().message();
  config::Diagnostics diagnostics;
  config::validate(*document, *entry->schema, diagnostics);
  if (diagnostics.empty()) {
    (void)entry->parse_http(type, config::Section::root(*document, *entry->schema), diagnostics);
  }
  return diagnostics.toString();
}

inline std::string header(const HttpClientRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace smsbridge::testing
