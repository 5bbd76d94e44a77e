#pragma once

// An in-process HTTP/1.1 server for client tests: Boost.Beast on its own thread, bound to an
// ephemeral loopback port. It answers with whatever the test scripts, counts TCP connections
// and records requests, and can misbehave on purpose (stall, cut a response short). With a
// TlsIdentity it speaks HTTPS.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smsbridge::testing {

struct RecordedRequest {
  std::string method;
  std::string target;  // as on the request line: "/path?q" or, through a proxy, "http://host/path"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string header(std::string_view name) const;  // lower-case name; empty when absent
};

struct CannedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;  // no Content-Length: the client learns the size only by reading
};

// A certificate and its private key, both PEM.
struct TlsIdentity {
  std::string certificate_pem;
  std::string private_key_pem;
};

// A fresh self-signed certificate (OpenSSL API, no files) for the given subjectAltName list.
TlsIdentity makeSelfSignedIdentity(const std::string& names = "DNS:localhost,IP:127.0.0.1");

class TestHttpServer {
 public:
  enum class Behaviour {
    kRespond,            // answer every request with the responder's reply
    kStallOnAccept,      // accept the connection, never read from it (nor handshake TLS)
    kStallAfterRequest,  // read the request, never answer
    kCloseMidResponse,   // send the headers and part of the body, then close
    kCloseAfterRequest,  // read the request, then close without a byte of answer
  };

  TestHttpServer();                               // plain HTTP
  explicit TestHttpServer(TlsIdentity identity);  // HTTPS
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  unsigned short port() const { return port_; }
  // "http://127.0.0.1:<port><path>" (https for a TLS server).
  std::string url(std::string_view path = "/") const;

  void setBehaviour(Behaviour behaviour);
  // Replaces the default reply (200, body "ok"); runs on the server thread.
  void respondWith(std::function<CannedResponse(const RecordedRequest&)> responder);

  std::size_t connectionsAccepted() const;
  std::size_t requestCount() const;
  std::vector<RecordedRequest> requests() const;

  struct Impl;  // the Asio side; public only so the sessions in the .cpp can reach it

 private:
  std::unique_ptr<Impl> impl_;
  unsigned short port_ = 0;
};

}  // namespace smsbridge::testing
