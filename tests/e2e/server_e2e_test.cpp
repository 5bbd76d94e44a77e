// End-to-end: `smsbridge run` with a `server:` section, scraped over HTTP like Prometheus and a
// load balancer would.

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "connectors/sqlite/sqlite_db.h"
#include "tests/e2e/bridge_process.h"
#include "tests/e2e/process.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using std::chrono::seconds;
using tcp = asio::ip::tcp;
using testing::readFile;

// A port nothing listens on right now. The bridge binds it a moment later; port 0 would leave
// the test unable to find it.
unsigned short freePort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

struct Answer {
  int status = 0;  // 0: no answer (not listening yet)
  std::string body;
};

Answer get(unsigned short port, const std::string& target) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request, ec);
  if (ec) return {};
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, ec);
  if (ec) return {};
  return {static_cast<int>(response.result_int()), response.body()};
}

// The value of one sample line of a scrape, or -1 when the line is missing.
double sample(const std::string& metrics, const std::string& series) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST(ServerE2eTest, RunServesHealthReadinessAndMetrics) {
  testing::TempDir dir;
  fs::path example = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "quickstart";
  std::string config = dir.file("smsbridge.yaml");
  unsigned short port = freePort();
  std::ofstream(config) << readFile(example / "smsbridge.yaml")
                        << "\nserver:\n  listen: 127.0.0.1:" << port << "\n";
  {
    auto db = sqlite::Database::open(dir.file("shop.db"),
                                     sqlite::Database::OpenMode::kCreateIfMissing, seconds(10));
    ASSERT_TRUE(db) << db.error().toString();
    ASSERT_TRUE((*db)->exec(readFile(example / "shop.sql")).isOk());
  }
  ASSERT_TRUE(testing::setupBridge(config, dir.file("setup.log")));

  testing::BridgeProcess bridge(config, dir.file("run.log"));
  ASSERT_TRUE(testing::waitUntil([&] { return get(port, "/readyz").status == 200; }, seconds(30)))
      << bridge.output();
  EXPECT_EQ(get(port, "/healthz").body, "ok\n");
  EXPECT_EQ(get(port, "/nothing-here").status, 404);

  auto shop = sqlite::Database::open(dir.file("shop.db"), sqlite::Database::OpenMode::kExisting,
                                     seconds(10));
  ASSERT_TRUE(shop);
  ASSERT_TRUE(
      (*shop)->exec("UPDATE orders SET status = 'shipped' WHERE id IN (1001, 1002)").isOk());
  ASSERT_TRUE((*shop)->exec("UPDATE orders SET status = 'shipped' WHERE id = 1001").isOk());

  std::string metrics;
  bool delivered = testing::waitUntil(
      [&] {
        metrics = get(port, "/metrics").body;
        return sample(metrics, "smsbridge_jobs{status=\"delivered\",lane=\"transactional\"}") == 2;
      },
      seconds(30));
  ASSERT_TRUE(delivered) << metrics << bridge.output();
  EXPECT_GE(sample(metrics, "smsbridge_events_captured_total{source=\"shop\"}"), 3);
  EXPECT_EQ(sample(metrics, "smsbridge_jobs_enqueued_total{source=\"shop\"}"), 2);
  EXPECT_EQ(sample(metrics, "smsbridge_jobs{status=\"queued\",lane=\"transactional\"}"), 0);
  EXPECT_EQ(sample(metrics,
                   "smsbridge_provider_attempts_total{provider=\"sandbox\",outcome=\"accepted\"}"),
            2);
  EXPECT_EQ(sample(metrics, "smsbridge_enqueued_to_sent_seconds_count{lane=\"transactional\"}"), 2);
  EXPECT_EQ(sample(metrics, "smsbridge_breaker_state{provider=\"sandbox\"}"), 0);
  EXPECT_EQ(sample(metrics, "smsbridge_source_capturing{source=\"shop\"}"), 1);
  EXPECT_NE(metrics.find("# TYPE smsbridge_commit_to_enqueued_seconds histogram"),
            std::string::npos);

  EXPECT_TRUE(bridge.stop());
  EXPECT_EQ(get(port, "/healthz").status, 0);  // the port is closed with the process
}

TEST(ServerE2eTest, BadListenAddressIsAConfigErrorWithItsPosition) {
  testing::TempDir dir;
  std::string config = dir.file("smsbridge.yaml");
  fs::path example = fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "quickstart";
  std::ofstream(config) << readFile(example / "smsbridge.yaml")
                        << "\nserver:\n  listen: nonsense\n";
  auto [code, out] = testing::runSmsbridge({"check", "-c", config}, dir.file("check.log"));
  EXPECT_NE(code, 0);
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(smsbridge\.yaml:\d+:\d+: server\.listen: )")))
      << out;
}

}  // namespace
}  // namespace smsbridge
