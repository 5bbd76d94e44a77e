#pragma once

// The standalone fake_provider program (tests/fakes/fake_provider_main.cpp) run beside the
// bridge in e2e tests: started on a free port, steered through its control endpoint, and read
// through its JSON-lines ledger of every request it took.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge::testing {

// "2026-11-22T09:21:31.271Z" → milliseconds since the epoch.
inline std::int64_t ledgerMillis(const std::string& iso) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    throw std::runtime_error("bad ledger time " + iso);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + millis;
}

struct LedgerRequest {
  std::int64_t at_ms = 0;
  std::string api;
  std::string to;
  std::string ref;
  std::string outcome;
};

// The fake_provider program, bound to a free port, writing its ledger into `dir`.
class FakeProviderProcess {
 public:
  FakeProviderProcess(const TempDir& dir, std::vector<std::string> extra)
      : ledger_(dir.file("ledger.jsonl")) {
    std::string port_file = dir.file("fake.port");
    std::vector<std::string> args = {
        FAKE_PROVIDER_BINARY, "--port-file", port_file, "--ledger", ledger_, "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(args, dir.file("fake.log"));
    if (!waitUntil([&] { return std::filesystem::exists(port_file); }, std::chrono::seconds(30))) {
      throw std::runtime_error("fake_provider did not start: " + process_->output());
    }
    port_ = std::stoi(readFile(port_file));
  }

  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The control endpoint, e.g. control("/_fake/faults", "messageflow=none"). A plain socket:
  // one request, Connection: close.
  void control(const std::string& path, const std::string& body) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    std::string request = "POST " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                          "Content-Type: text/plain\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string response;
    char buf[512];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) response.append(buf, n);
    ::close(fd);
    ASSERT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  }

  std::vector<LedgerRequest> ledger() const {
    std::vector<LedgerRequest> out;
    std::istringstream lines(readFile(ledger_));
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;  // a line being written
      out.push_back({ledgerMillis(j.value("time", "")), j.value("api", ""), j.value("to", ""),
                     j.value("ref", ""), j.value("outcome", "")});
    }
    return out;
  }
  std::vector<LedgerRequest> ledger(const std::string& api) const {
    std::vector<LedgerRequest> out;
    for (auto& r : ledger()) {
      if (r.api == api) out.push_back(r);
    }
    return out;
  }
  int count(const std::string& api, const std::string& outcome) const {
    int n = 0;
    for (auto& r : ledger(api)) n += r.outcome == outcome;
    return n;
  }

 private:
  std::string ledger_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace smsbridge::testing
