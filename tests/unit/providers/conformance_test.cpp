// The behaviour every HTTP provider owes the dispatcher, checked for each one in the provider
// registry over a scripted transport: what a 2xx error body, a 429 with Retry-After, a 5xx, a
// 401, an invalid number, a timeout and a failed connection become. A provider added to the
// registry is picked up here; it must add its profile below or ProfileExists fails.

#include <gtest/gtest.h>

#include <map>

#include "providers/registry.h"
#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using namespace std::chrono_literals;
using testing::FakeHttpTransport;
using testing::httpResponse;
using testing::transportFailure;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));  // Fri, 15 Jan 2027 08:00

// What the suite needs to know about one API that the registry cannot tell it.
struct Profile {
  std::string minimal_config;  // the provider's mapping, without `type:`
  HttpClientResponse invalid_number;
  HttpClientResponse ok_with_error_body;  // a 2xx that is not an acceptance
  SendResultKind ok_with_error_body_kind;
};

const std::map<std::string, Profile>& profiles() {
  static const std::map<std::string, Profile> table = {
      {"messageflow",
       {"authorization: a\napplication_key: k\nsender: ShopPL\n",
        httpResponse(400, testing::fixture("messageflow", "invalid_number.json")),
        httpResponse(200, testing::fixture("messageflow", "ok_with_sender_error.json")),
        SendResultKind::kFailOver}},
      {"smsapi",
       {"token: t\n", httpResponse(200, testing::fixture("smsapi", "invalid_number.json")),
        httpResponse(200, testing::fixture("smsapi", "no_points.json")),
        SendResultKind::kFailOver}},
      {"twilio",
       {"account_sid: AC0123456789abcdef0123456789abcdef\nauth_token: t\nfrom: \"+14155552345\"\n",
        httpResponse(400, testing::fixture("twilio", "invalid_to.json")),
        httpResponse(200, testing::fixture("twilio", "invalid_to.json")),
        SendResultKind::kRejected}},
  };
  return table;
}

std::vector<std::string> httpProviderTypes() {
  std::vector<std::string> types;
  for (const auto& entry : providerRegistry()) {
    if (entry.parse_http) types.emplace_back(entry.type);
  }
  return types;
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto it = profiles().find(GetParam());
    ASSERT_NE(it, profiles().end()) << "add a Profile for '" << GetParam() << "'";
    profile_ = &it->second;
    auto spec = testing::parseSpec(GetParam(), profile_->minimal_config);
    ASSERT_TRUE(spec);
    transport_ = std::make_shared<FakeHttpTransport>();
    provider_ = std::make_unique<HttpProvider>(spec->name, spec->api, transport_, clock_);
  }

  static OutgoingSms sms() {
    OutgoingSms out;
    out.job_id = 77;
    out.recipient = "+48500100200";
    out.body = "Your code is 123456";
    out.lane = Lane::kOtp;
    out.expires_at = kNow + 5min;
    return out;
  }

  // Sends one SMS, answers it with `response`, and returns the one result.
  SendResult sendAndAnswer(HttpClientResponse response) {
    std::vector<SendResult> results;
    provider_->send(sms(), [&](SendResult r) { results.push_back(std::move(r)); });
    EXPECT_TRUE(results.empty()) << "the result must wait for the answer";
    EXPECT_EQ(transport_->inFlight(), 1u);
    transport_->respond(std::move(response));
    EXPECT_EQ(results.size(), 1u) << "done must run exactly once";
    return results.empty() ? SendResult{} : results.front();
  }

  const Profile* profile_ = nullptr;
  ManualClock clock_{kNow};
  std::shared_ptr<FakeHttpTransport> transport_;
  std::unique_ptr<HttpProvider> provider_;
};

TEST(ConformanceRegistryTest, ProfileExistsForEveryHttpProvider) {
  ASSERT_FALSE(httpProviderTypes().empty());
  for (const auto& type : httpProviderTypes()) {
    EXPECT_TRUE(profiles().count(type)) << "add a Profile for '" << type << "'";
  }
}

TEST_P(ConformanceTest, SendsOnePostOverHttpsNamingTheRecipient) {
  sendAndAnswer(httpResponse(503, ""));
  ASSERT_EQ(transport_->requests.size(), 1u);
  const HttpClientRequest& request = transport_->requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url.rfind("https://", 0), 0u) << request.url;
  EXPECT_FALSE(testing::header(request, "Content-Type").empty());
  EXPECT_FALSE(testing::header(request, "Authorization").empty());
  EXPECT_NE(request.body.find("48500100200"), std::string::npos) << request.body;
}

TEST_P(ConformanceTest, A2xxWithAnErrorBodyIsNoAcceptance) {
  SendResult result = sendAndAnswer(profile_->ok_with_error_body);
  EXPECT_EQ(result.kind, profile_->ok_with_error_body_kind) << sendResultName(result.kind);
  EXPECT_FALSE(result.reason.empty());
}

TEST_P(ConformanceTest, A2xxWithAnUnreadableBodyIsAnAmbiguousRetry) {
  SendResult result = sendAndAnswer(httpResponse(200, "<html>gateway says hi</html>"));
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_TRUE(result.ambiguous);
}

TEST_P(ConformanceTest, RateLimitHonoursRetryAfterSeconds) {
  SendResult result = sendAndAnswer(httpResponse(429, "", {{"retry-after", "30"}}));
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_EQ(result.retry_after, std::chrono::milliseconds(30s));
  EXPECT_FALSE(result.ambiguous);
  EXPECT_EQ(result.http_status, 429);
}

TEST_P(ConformanceTest, UnavailableHonoursRetryAfterDate) {
  SendResult result =
      sendAndAnswer(httpResponse(503, "", {{"retry-after", "Fri, 15 Jan 2027 08:02:00 GMT"}}));
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_EQ(result.retry_after, std::chrono::milliseconds(120s));
}

TEST_P(ConformanceTest, ServerErrorsAreRetried) {
  for (int status : {500, 502, 503, 504}) {
    SendResult result = sendAndAnswer(httpResponse(status, "<html>Bad Gateway</html>"));
    EXPECT_EQ(result.kind, SendResultKind::kRetryLater) << status;
    EXPECT_EQ(result.http_status, status);
  }
}

TEST_P(ConformanceTest, RefusedCredentialsFailOver) {
  for (int status : {401, 403}) {
    SendResult result = sendAndAnswer(httpResponse(status, ""));
    EXPECT_EQ(result.kind, SendResultKind::kFailOver) << status;
  }
}

TEST_P(ConformanceTest, AnInvalidNumberIsRejected) {
  SendResult result = sendAndAnswer(profile_->invalid_number);
  EXPECT_EQ(result.kind, SendResultKind::kRejected) << sendResultName(result.kind);
  EXPECT_FALSE(result.ambiguous);
}

TEST_P(ConformanceTest, ATimeoutIsAnAmbiguousRetry) {
  SendResult result = sendAndAnswer(transportFailure(HttpError::kTimeout));
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_TRUE(result.ambiguous);
}

TEST_P(ConformanceTest, AFailedConnectionIsAPlainRetry) {
  for (HttpError error : {HttpError::kConnect, HttpError::kConnectTimeout, HttpError::kTls}) {
    SendResult result = sendAndAnswer(transportFailure(error));
    EXPECT_EQ(result.kind, SendResultKind::kRetryLater) << httpErrorName(error);
    EXPECT_FALSE(result.ambiguous) << httpErrorName(error);
  }
}

TEST_P(ConformanceTest, NoCallbackAfterShutdown) {
  bool called = false;
  provider_->send(sms(), [&](SendResult) { called = true; });
  provider_->shutdown();
  EXPECT_TRUE(transport_->shut_down);
  EXPECT_EQ(transport_->inFlight(), 0u);
  EXPECT_FALSE(called);
}

INSTANTIATE_TEST_SUITE_P(Registry, ConformanceTest, ::testing::ValuesIn(httpProviderTypes()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace smsbridge
