#pragma once

// One asynchronous HTTP/1.1 client for every provider: libcurl multi (multi_socket) driven by
// the Boost.Asio io_context it is created with. Connections are kept alive and reused; TLS
// peer and host verification are always on (only the CA file or directory can be chosen);
// the standard proxy environment variables (https_proxy, no_proxy, ...) are honoured.
//
// Providers see only HttpTransport, so their tests can run over a scripted fake.
//
// Threading: execute() and shutdown() are called on the io_context's thread; callbacks run
// there too, never inline from execute(). The io_context must outlive the client. Transfers in
// flight keep the client alive, so dropping the last reference does not abort them: call
// shutdown() for that.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace smsbridge {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Named apart from HttpRequest/HttpResponse (core/http_message.h, what the server receives),
// since code that answers a webhook also talks to providers and includes both.
struct HttpClientRequest {
  std::string method = "POST";
  std::string url;
  HttpHeaders headers;  // as sent; "Content-Type" among them when there is a body
  std::string body;
};

enum class HttpError {
  kNone,            // a complete response arrived (any status)
  kConnect,         // no connection: DNS, refused, unreachable; the request never left
  kConnectTimeout,  // no connection within connect_timeout; the request never left
  kTimeout,         // connected, but no complete response within the total timeout: ambiguous
  kTls,             // TLS handshake or certificate verification failed; the request never left
  kTooLarge,        // the response exceeded max_response_bytes
  kOther,           // anything else (reset mid-response, protocol error, a request that
                    // cannot be built): treat as ambiguous
};

std::string_view httpErrorName(HttpError error);

struct HttpClientResponse {
  HttpError error = HttpError::kNone;
  std::string error_message;  // libcurl's explanation when error != kNone
  int status = 0;             // 0 when no response arrived
  HttpHeaders headers;        // names lower-cased
  std::string body;
  std::chrono::milliseconds elapsed{0};  // from execute() to completion, queueing included

  // The first header with this (case-insensitive) name, or empty.
  std::string header(std::string_view name) const;
};

using HttpCallback = std::function<void(HttpClientResponse)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `request`; `done` runs exactly once, later, on the io_context thread, unless
  // shutdown() ran first.
  virtual void execute(HttpClientRequest request, HttpCallback done) = 0;
  // Aborts transfers in flight; their callbacks never run. Idempotent.
  virtual void shutdown() = 0;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{15000};  // the whole request, connect included
  // Trusted roots. Setting either replaces the system store (it does not add to it).
  std::string ca_file;  // PEM bundle; empty: the system default
  std::string ca_path;  // directory of hashed certificates; empty: default
  std::size_t max_response_bytes = 1 << 20;
  long max_connections_per_host = 0;  // 0: libcurl's default (no limit)
  // Idle keep-alive connections kept for reuse. libcurl's own default follows the number of
  // transfers currently added, and ours are added and removed one request at a time, so after
  // every lull it closed the connections the next burst then had to open again.
  long max_idle_connections = 256;
  std::string user_agent = "smsbridge";
};

std::shared_ptr<HttpTransport> makeHttpClient(boost::asio::io_context& io,
                                              HttpClientOptions options);

}  // namespace smsbridge
