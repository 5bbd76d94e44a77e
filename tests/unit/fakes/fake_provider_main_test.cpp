// The fake_provider program as e2e tests and benchmarks use it: start, read the port, send,
// stop with SIGTERM.

// Boost 1.74's asio headers need <utility> first.
#include <utility>

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge::testing {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

// Polls for the port file, bounded so a program that never starts fails the test.
uint16_t waitForPort(const std::string& path, ChildProcess& child) {
  for (int i = 0; i < 1000 && child.running(); ++i) {
    std::ifstream in(path);
    int port = 0;
    if (in >> port && port > 0) return static_cast<uint16_t>(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

http::response<http::string_body> post(uint16_t port, const std::string& target,
                                       const std::string& authorization, const std::string& body) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, authorization);
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return res;
}

TEST(FakeProviderProgramTest, ServesWithFlagsAndStopsOnSigterm) {
  TempDir dir;
  ChildProcess child({SMSBRIDGE_FAKE_PROVIDER_BINARY, "--listen", "127.0.0.1:0", "--port-file",
                      dir.file("port"), "--ledger", dir.file("ledger.jsonl"), "--fault",
                      "smsapi=503,count=1", "--credentials", "smsapi=secret", "--threads", "2"},
                     dir.file("out.txt"));
  uint16_t port = waitForPort(dir.file("port"), child);
  ASSERT_NE(port, 0) << child.output();

  std::string body = "format=json&to=48500100200&message=hi&idx=k1&check_idx=1";
  EXPECT_EQ(post(port, "/sms.do", "Bearer secret", body).result_int(), 503u);
  EXPECT_EQ(json::parse(post(port, "/sms.do", "Bearer smsapi-token", body).body())["error"], 101);
  EXPECT_TRUE(json::parse(post(port, "/sms.do", "Bearer secret", body).body()).contains("list"));
  EXPECT_EQ(json::parse(post(port, "/sms.do", "Bearer secret", body).body())["error"], 53);

  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(std::chrono::seconds(10)), 0) << child.output();
  // The port is the first line on stdout.
  EXPECT_EQ(child.output().substr(0, child.output().find('\n')), std::to_string(port));

  std::ifstream ledger(dir.file("ledger.jsonl"));
  std::vector<std::string> outcomes;
  for (std::string line; std::getline(ledger, line);) {
    outcomes.push_back(json::parse(line)["outcome"]);
  }
  EXPECT_EQ(outcomes,
            (std::vector<std::string>{"fault_503", "auth_failed", "accepted", "duplicate_idx"}));
}

TEST(FakeProviderProgramTest, RejectsABadFaultSpec) {
  TempDir dir;
  ChildProcess child({SMSBRIDGE_FAKE_PROVIDER_BINARY, "--fault", "twilio=teapot"},
                     dir.file("out.txt"));
  EXPECT_EQ(child.wait(std::chrono::seconds(10)), 2);
  EXPECT_NE(child.output().find("unknown fault 'teapot'"), std::string::npos) << child.output();
}

}  // namespace
}  // namespace smsbridge::testing
