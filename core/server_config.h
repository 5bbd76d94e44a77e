#pragma once

// Settings of the HTTP server (core/server.h), apart from the server itself: the config loader
// needs them without the server's request types, whose names the HTTP client's types share
// (core/http_client.h).

#include <chrono>
#include <cstddef>
#include <string>

#include "core/result.h"

namespace smsbridge {

struct ServerConfig {
  std::string host = "127.0.0.1";
  unsigned short port = 8787;  // 0: any free port; port() tells which
  // PEM files; both set: HTTPS only.
  std::string cert_file;
  std::string key_file;
  std::size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  int max_connections = 256;
  // How long stop() lets requests in progress finish before closing their connections.
  std::chrono::milliseconds shutdown_grace{5'000};
};

// "127.0.0.1:8787", "[::1]:8787", "0.0.0.0:0" → host and port. kConfig error when malformed.
Status parseListenAddress(const std::string& text, std::string& host, unsigned short& port);

}  // namespace smsbridge
