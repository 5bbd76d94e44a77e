#pragma once

// Requests and responses as the HTTP server (core/server) hands them to the code behind a path:
// webhooks, /healthz, /readyz, /metrics. Plain values, independent of Beast, so handlers are
// tested without a socket.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smsbridge {

struct HttpRequest {
  std::string method;  // "GET", "POST"
  std::string target;  // as received: "/webhooks/smsapi/status?token=abc"
  std::string path;    // target before '?', not decoded
  std::string query;   // target after '?', not decoded; empty when there is none
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  std::string remote_address;

  // The first header with that (lower-case) name, or nullptr.
  const std::string* header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return &value;
    }
    return nullptr;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Answers exactly once through `respond`, inline or later from any thread (a webhook answers
// after its batch is durable in the store).
using HttpResponder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest& request, HttpResponder respond)>;

}  // namespace smsbridge
