#include "providers/http_provider.h"

#include <gtest/gtest.h>

#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using namespace std::chrono_literals;
using testing::FakeHttpTransport;
using testing::httpResponse;
using testing::transportFailure;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));  // 2027-01-15 08:00 UTC

// An API that sends a fixed request and accepts 200, leaving the rest to the shared rules.
class EchoApi final : public HttpApi {
 public:
  Result<HttpClientRequest> buildSendRequest(const OutgoingSms& sms, TimePoint) const override {
    if (sms.recipient.empty()) return rejectedError("no recipient");
    if (sms.sender == "unconfigured") {
      return Status(ErrorCategory::kProviderPermanent, "no sender configured");
    }
    HttpClientRequest request;
    request.url = "https://api.example/send";
    request.body = sms.recipient;
    return request;
  }
  SendResult classifySendResponse(const HttpClientResponse& response,
                                  const OutgoingSms&) const override {
    if (response.status == 200) {
      SendResult accepted;
      accepted.kind = SendResultKind::kAccepted;
      accepted.provider_message_id = response.body;
      return accepted;
    }
    return classifyHttpStatus(response.status, "status " + std::to_string(response.status));
  }
};

OutgoingSms sms() {
  OutgoingSms out;
  out.job_id = 7;
  out.recipient = "+48500100200";
  out.body = "hi";
  return out;
}

TEST(RetryAfterTest, ReadsDeltaSecondsAndImfDates) {
  EXPECT_EQ(parseRetryAfter("120", kNow), std::chrono::milliseconds(120s));
  EXPECT_EQ(parseRetryAfter(" 0 ", kNow), std::chrono::milliseconds(0));
  // kNow is Fri, 15 Jan 2027 08:00:00 GMT.
  EXPECT_EQ(parseRetryAfter("Fri, 15 Jan 2027 08:01:30 GMT", kNow), std::chrono::milliseconds(90s));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow), std::chrono::milliseconds(0));
}

TEST(RetryAfterTest, IgnoresWhatIsNeitherForm) {
  EXPECT_FALSE(parseRetryAfter("", kNow));
  EXPECT_FALSE(parseRetryAfter("-5", kNow));
  EXPECT_FALSE(parseRetryAfter("1.5", kNow));
  EXPECT_FALSE(parseRetryAfter("soon", kNow));
  EXPECT_FALSE(parseRetryAfter("Fri, 15 Foo 2027 08:01:30 GMT", kNow));
  EXPECT_FALSE(parseRetryAfter("Fri, 31 Feb 2027 08:01:30 GMT", kNow));
  EXPECT_FALSE(parseRetryAfter("Friday, 15-Jan-27 08:01:30 GMT", kNow));  // obsolete RFC 850
}

TEST(WireHelpersTest, PercentEncodesEverythingButUnreserved) {
  EXPECT_EQ(percentEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(percentEncode("+48 1&2=3/ż"), "%2B48%201%262%3D3%2F%C5%BC");
  EXPECT_EQ(formEncode({{"To", "+48500"}, {"Body", "a b"}}), "To=%2B48500&Body=a%20b");
}

TEST(WireHelpersTest, BasicAuthorizationFollowsRfc7617) {
  EXPECT_EQ(basicAuthorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(basicAuthorization("a", ""), "Basic YTo=");
  EXPECT_EQ(basicAuthorization("ab", "c"), "Basic YWI6Yw==");
}

TEST(WireHelpersTest, ParseJsonMembersKeepsOnlyTheNamedTopLevelMembers) {
  nlohmann::json body =
      parseJsonMembers(R"({"sid":"SM1","uri":"/x","price":null,"subresource_uris":{"media":"/m"},)"
                       R"("meta":{"sid":"nested","list":[1,{"a":2}]}})",
                       {"sid", "meta", "price"});

  EXPECT_EQ(body, nlohmann::json::parse(
                      R"({"sid":"SM1","price":null,"meta":{"sid":"nested","list":[1,{"a":2}]}})"));
  EXPECT_TRUE(parseJsonMembers(R"({"sid": "SM1",)", {"sid"}).is_discarded());
  EXPECT_TRUE(parseJsonMembers("not json", {"sid"}).is_discarded());
  EXPECT_EQ(parseJsonMembers("[1,2]", {"sid"}), nlohmann::json::array({1, 2}));
}

TEST(TransportErrorTest, RequestsThatNeverLeftAreNotAmbiguous) {
  for (HttpError error : {HttpError::kConnect, HttpError::kConnectTimeout, HttpError::kTls}) {
    SendResult result = classifyTransportError(transportFailure(error));
    EXPECT_EQ(result.kind, SendResultKind::kRetryLater) << httpErrorName(error);
    EXPECT_FALSE(result.ambiguous) << httpErrorName(error);
  }
}

TEST(TransportErrorTest, RequestsThatMayHaveArrivedAreAmbiguous) {
  for (HttpError error : {HttpError::kTimeout, HttpError::kOther, HttpError::kTooLarge}) {
    SendResult result = classifyTransportError(transportFailure(error));
    EXPECT_EQ(result.kind, SendResultKind::kRetryLater) << httpErrorName(error);
    EXPECT_TRUE(result.ambiguous) << httpErrorName(error);
    EXPECT_EQ(result.error_code, httpErrorName(error));
  }
}

TEST(HttpStatusTest, ClassifiesByStatusAlone) {
  EXPECT_EQ(classifyHttpStatus(401, "").kind, SendResultKind::kFailOver);
  EXPECT_EQ(classifyHttpStatus(403, "").kind, SendResultKind::kFailOver);
  EXPECT_EQ(classifyHttpStatus(404, "").kind, SendResultKind::kFailOver);
  EXPECT_EQ(classifyHttpStatus(408, "").kind, SendResultKind::kRetryLater);
  EXPECT_FALSE(classifyHttpStatus(429, "").ambiguous);
  EXPECT_FALSE(classifyHttpStatus(503, "").ambiguous);
  EXPECT_TRUE(classifyHttpStatus(500, "").ambiguous);
  EXPECT_TRUE(classifyHttpStatus(504, "").ambiguous);
  // A success we cannot read may still have been one.
  SendResult unreadable = classifyHttpStatus(200, "");
  EXPECT_EQ(unreadable.kind, SendResultKind::kRetryLater);
  EXPECT_TRUE(unreadable.ambiguous);
}

TEST(HttpResponseTest, RetryAfterIsTakenOnlyForRetries) {
  EchoApi api;
  auto limited = httpResponse(429, "", {{"retry-after", "30"}});
  SendResult result = classifyHttpResponse(api, limited, sms(), kNow);
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_EQ(result.retry_after, std::chrono::milliseconds(30s));
  EXPECT_EQ(result.http_status, 429);

  auto auth = httpResponse(401, "", {{"retry-after", "30"}});
  EXPECT_FALSE(classifyHttpResponse(api, auth, sms(), kNow).retry_after);
}

class HttpProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeHttpTransport> transport_ = std::make_shared<FakeHttpTransport>();
  ManualClock clock_{kNow};
  HttpProvider provider_{"echo", std::make_shared<EchoApi>(), transport_, clock_};
  std::vector<SendResult> results_;
  SendCallback collect() {
    return [this](SendResult r) { results_.push_back(std::move(r)); };
  }
};

TEST_F(HttpProviderTest, SendsTheBuiltRequestAndReportsTheClassification) {
  provider_.send(sms(), collect());
  ASSERT_EQ(transport_->requests.size(), 1u);
  EXPECT_EQ(transport_->requests[0].body, "+48500100200");
  EXPECT_TRUE(results_.empty());  // nothing before the answer

  transport_->respond(httpResponse(200, "id-1"));
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].kind, SendResultKind::kAccepted);
  EXPECT_EQ(results_[0].provider_message_id, "id-1");
  EXPECT_EQ(results_[0].http_status, 200);
}

TEST_F(HttpProviderTest, ABuildErrorSendsNothing) {
  OutgoingSms no_recipient = sms();
  no_recipient.recipient.clear();
  provider_.send(no_recipient, collect());
  OutgoingSms no_sender = sms();
  no_sender.sender = "unconfigured";
  provider_.send(no_sender, collect());

  EXPECT_TRUE(transport_->requests.empty());
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(results_[0].kind, SendResultKind::kRejected);
  EXPECT_EQ(results_[1].kind, SendResultKind::kFailOver);
  EXPECT_EQ(results_[1].reason, "no sender configured");
}

TEST_F(HttpProviderTest, ShutdownStopsTheTransport) {
  provider_.send(sms(), collect());
  provider_.shutdown();
  EXPECT_TRUE(transport_->shut_down);
  EXPECT_EQ(transport_->inFlight(), 0u);
  EXPECT_TRUE(results_.empty());
}

TEST_F(HttpProviderTest, NothingIsSentOrReportedAfterShutdown) {
  provider_.shutdown();
  provider_.send(sms(), collect());
  EXPECT_TRUE(transport_->requests.empty());
  EXPECT_TRUE(results_.empty());
}

TEST(HttpProviderLateTransportTest, ALateCallbackAfterShutdownIsDropped) {
  // A transport that keeps callbacks across shutdown(), unlike the contract promises.
  class LateTransport final : public HttpTransport {
   public:
    void execute(HttpClientRequest, HttpCallback done) override { held = std::move(done); }
    void shutdown() override {}
    HttpCallback held;
  };
  auto transport = std::make_shared<LateTransport>();
  ManualClock clock{kNow};
  HttpProvider provider("echo", std::make_shared<EchoApi>(), transport, clock);
  int calls = 0;
  provider.send(sms(), [&](SendResult) { ++calls; });
  provider.shutdown();
  transport->held(httpResponse(200, "id-1"));
  EXPECT_EQ(calls, 0);
}

TEST(HttpEndpointTest, DefaultsAndOverrides) {
  auto spec = testing::parseSpec("smsapi",
                                 "token: t\n"
                                 "base_url: http://127.0.0.1:8080/\n"
                                 "timeout: 3s\n"
                                 "connect_timeout: 250ms\n"
                                 "max_response_bytes: 4096\n");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->client.timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(spec->client.connect_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(spec->client.max_response_bytes, 4096u);
  HttpClientRequest request = *spec->api->buildSendRequest(sms(), kNow);
  EXPECT_EQ(request.url, "http://127.0.0.1:8080/sms.do");  // trailing '/' dropped
}

TEST(HttpEndpointTest, RejectsUrlsThatAreNotHttp) {
  std::string errors = testing::parseErrors(
      "smsapi", "token: t\nbase_url: ftp://x\nstatus_callback_url: bridge.example.com/cb\n");
  EXPECT_NE(errors.find("base_url: must start with https:// or http://"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("status_callback_url: must start with https:// or http://"),
            std::string::npos)
      << errors;
}

}  // namespace
}  // namespace smsbridge
