#pragma once

// The bridge's HTTP/1.1 server (Boost.Beast): delivery-report and inbound webhooks, /healthz,
// /readyz, /metrics. It runs on its own thread with its own io_context, so a slow client or a
// scrape never delays the dispatcher.
//
// Requests are read whole (up to max_body_bytes) and handed to the handler of the matching route
// as an HttpRequest (core/http_message.h). A handler answers exactly once, inline or later from
// any thread; the answer is written on the connection's own thread. A connection that closed
// before its answer simply drops it.
//
// Limits: a request's header must arrive within header_timeout and its body within body_timeout
// of the header, or the client gets 408 and the connection is closed (over TLS it is only
// closed); a connection that sends nothing for header_timeout is closed without an answer; a
// body over max_body_bytes gets 413 and the connection is closed (its rest is never read);
// beyond max_connections new connections are closed at once.
//
// Threading: handle() before start(); start(), port() and stop() from one controlling thread.
// Handlers run on the server thread and must not block it: work that waits for a database
// answers later from another thread.

#include <memory>
#include <string>
#include <vector>

#include "core/http_message.h"
#include "core/result.h"
#include "core/server_config.h"

namespace smsbridge {

class Server {
 public:
  // Checks the TLS files (readable, key matching the certificate); binds nothing yet.
  static Result<std::unique_ptr<Server>> create(ServerConfig config);
  ~Server();  // stops when still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes `path` exactly, or — when `path` ends in '/' — every path under it ("/webhooks/");
  // an exact route wins over a prefix, a longer prefix over a shorter one. `methods` ("GET",
  // "POST"): others get 405 with an Allow header; empty: any method. Unrouted paths get 404.
  void handle(std::string path, std::vector<std::string> methods, HttpHandler handler);

  // Binds, listens and starts the server thread. kConfig error when the address is unusable
  // (taken, not local); nothing runs then.
  Status start();
  // The bound port (the actual one when configured as 0); 0 before start().
  unsigned short port() const;
  // Stops accepting, closes idle keep-alive connections, lets requests in progress finish for
  // up to shutdown_grace, then closes the rest and joins the thread. Idempotent.
  void stop();

  struct Impl;  // public only so the connection code in server.cpp can reach it

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace smsbridge
