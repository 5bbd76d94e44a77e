#pragma once

// A deliberately plain HTTP/1.1 client over a POSIX socket, for e2e tests that talk to the
// bridge's server the way providers and broken clients do: any bytes, including truncated or
// stalled requests, and every answer read as raw text until the server closes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace smsbridge::testing {

// A port nothing listens on right now, for a server the test starts a moment later (port 0
// would leave the test unable to find it).
inline unsigned short freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  socklen_t length = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct HttpAnswer {
  int status = 0;    // 0: no answer (refused, closed without one, or the wait ran out)
  std::string raw;   // everything the server sent
  std::string body;  // after the blank line
};

inline HttpAnswer parseAnswer(std::string raw) {
  HttpAnswer answer;
  if (raw.rfind("HTTP/1.1 ", 0) == 0 && raw.size() >= 12) answer.status = std::atoi(&raw[9]);
  std::size_t end = raw.find("\r\n\r\n");
  if (end != std::string::npos) answer.body = raw.substr(end + 4);
  answer.raw = std::move(raw);
  return answer;
}

// One connection to 127.0.0.1:port. Sends what it is given, when it is given it, so a test can
// stop halfway through a request.
class RawConnection {
 public:
  explicit RawConnection(unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  bool send(const std::string& bytes) {
    std::size_t sent = 0;
    while (connected_ && sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return connected_;
  }

  // Reads until the server closes the connection or `limit` passes without it doing so. A
  // deadline for a broken test, not a measurement.
  HttpAnswer readUntilClosed(std::chrono::seconds limit) {
    std::string raw;
    if (!connected_) return {};
    auto deadline = std::chrono::steady_clock::now() + limit;
    timeval tick{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n > 0) {
        raw.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        closed_ = true;
        break;
      }
    }
    return parseAnswer(std::move(raw));
  }

  // Whether the last readUntilClosed() ended because the server closed the connection.
  bool closedByServer() const { return closed_; }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
};

// One whole request with `Connection: close`, its answer read to the end.
inline HttpAnswer httpRequest(
    unsigned short port, const std::string& method, const std::string& target,
    const std::string& content_type = "", const std::string& body = "",
    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n";
  if (!content_type.empty()) request += "Content-Type: " + content_type + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (method != "GET" || !body.empty()) {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  RawConnection connection(port);
  if (!connection.send(request)) return {};
  return connection.readUntilClosed(std::chrono::seconds(30));
}

}  // namespace smsbridge::testing
