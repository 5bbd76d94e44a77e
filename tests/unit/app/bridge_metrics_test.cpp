#include "app/bridge_metrics.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "connectors/sqlite/sqlite_store.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::pair<int, std::string> get(unsigned short port, const std::string& target) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return {static_cast<int>(response.result_int()), response.body()};
}

class OperationalServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = sqlite::SqliteStore::create(dir_.file("s.db"), "smsbridge_",
                                             std::chrono::milliseconds(500));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
    SmsJob job;
    job.dedup_key = "k";
    job.source = "shop";
    job.mapping = "m";
    job.recipient = "+48600700800";
    job.body = "Hi";
    job.lane = Lane::kOtp;
    job.route = "default";
    std::vector<SmsJob> jobs{job};
    ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  }

  testing::TempDir dir_;
  std::unique_ptr<sqlite::SqliteStore> store_;
};

TEST_F(OperationalServerTest, ReadyOnlyWhileEverySourceCapturesAndMetricsShowTheStore) {
  MetricsRegistry registry;
  BridgeMetrics metrics(registry);
  Readiness readiness;
  readiness.expectSource("shop");
  ServerConfig config;
  config.port = 0;
  auto server = OperationalServer::create(config, registry, *store_, readiness);
  ASSERT_TRUE(server) << server.error().toString();
  ASSERT_TRUE((*server)->start().isOk());
  unsigned short port = (*server)->port();

  EXPECT_EQ(get(port, "/healthz"), std::make_pair(200, std::string("ok\n")));
  EXPECT_EQ(get(port, "/readyz"), std::make_pair(503, std::string("source shop: not capturing\n")));
  readiness.setCapturing("shop", true);
  EXPECT_EQ(get(port, "/readyz"), std::make_pair(200, std::string("ready\n")));

  SourceMetrics shop = metrics.forSource("shop");
  ChangeBatch batch;
  batch.events.resize(3);
  batch.events[0].commit_ts = std::chrono::system_clock::now() - std::chrono::milliseconds(30);
  BridgeMetrics::enqueued(shop, batch, EnqueueResult{1, 2}, std::chrono::system_clock::now());
  metrics.onBreakerState("twilio", BreakerState::kHalfOpen);

  auto [status, body] = get(port, "/metrics");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("smsbridge_jobs{status=\"queued\",lane=\"otp\"} 1\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("smsbridge_jobs{status=\"sent\",lane=\"otp\"} 0\n"), std::string::npos);
  EXPECT_NE(body.find("smsbridge_events_captured_total{source=\"shop\"} 3\n"), std::string::npos);
  EXPECT_NE(body.find("smsbridge_jobs_enqueued_total{source=\"shop\"} 1\n"), std::string::npos);
  EXPECT_NE(body.find("smsbridge_dedup_hits_total{source=\"shop\"} 2\n"), std::string::npos);
  // Only the event with a commit time is observed.
  EXPECT_NE(body.find("smsbridge_commit_to_enqueued_seconds_count{source=\"shop\"} 1\n"),
            std::string::npos);
  EXPECT_NE(body.find("smsbridge_breaker_state{provider=\"twilio\"} 2\n"), std::string::npos);

  readiness.setStopping();
  auto stopping = get(port, "/readyz");
  EXPECT_EQ(stopping.first, 503);
  EXPECT_NE(stopping.second.find("bridge: shutting down"), std::string::npos);
  (*server)->stop();
}

TEST(ReadinessTest, AStoreThatDoesNotAnswerIsNotReady) {
  Readiness readiness;
  StoreStats::Reading failed;
  failed.error = "transient: database is locked";
  EXPECT_EQ(readiness.problems(failed),
            std::vector<std::string>{"store: transient: database is locked"});
  StoreStats::Reading ok;
  ok.ok = true;
  EXPECT_TRUE(readiness.problems(ok).empty());
}

}  // namespace
}  // namespace smsbridge
