#include "providers/twilio.h"

#include <gtest/gtest.h>

#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using testing::fixture;
using testing::httpResponse;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));
const char* kAccount = "AC0123456789abcdef0123456789abcdef";

const char* kConfig =
    "account_sid: AC0123456789abcdef0123456789abcdef\n"
    "auth_token: ${TWILIO_AUTH_TOKEN}\n"
    "from: \"+14155552345\"\n"
    "messaging_service_sid: MG0123456789abcdef0123456789abcdef\n"
    "smart_encoded: true\n"
    "status_callback_url: https://bridge.example.com/webhooks/twilio\n";

class TwilioTest : public ::testing::Test {
 protected:
  void SetUp() override { api_ = parse(kConfig); }

  static std::shared_ptr<const HttpApi> parse(const std::string& yaml) {
    auto spec = testing::parseSpec("twilio", yaml,
                                   {{"TWILIO_AUTH_TOKEN", "token-abc"}, {"KEY_SECRET", "s3cr3t"}});
    EXPECT_TRUE(spec);
    return spec ? spec->api : nullptr;
  }

  static OutgoingSms sms() {
    OutgoingSms out;
    out.job_id = 1042;
    out.recipient = "+48500100200";
    out.body = "Order 1042 shipped 👍 & paid=100%";
    out.segments = 1;
    out.attempt = 2;
    out.expires_at = kNow + std::chrono::hours(2);
    return out;
  }

  SendResult classify(int status, const std::string& file, HttpHeaders headers = {}) const {
    return classifyHttpResponse(*api_, httpResponse(status, fixture("twilio", file), headers),
                                sms(), kNow);
  }

  std::shared_ptr<const HttpApi> api_;
};

TEST_F(TwilioTest, BuildsTheDocumentedRequest) {
  auto request = api_->buildSendRequest(sms(), kNow);
  ASSERT_TRUE(request) << request.error().toString();
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->url, std::string("https://api.twilio.com/2010-04-01/Accounts/") + kAccount +
                              "/Messages.json");
  HttpHeaders expected_headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                                  {"Accept", "application/json"},
                                  {"Authorization", basicAuthorization(kAccount, "token-abc")}};
  EXPECT_EQ(request->headers, expected_headers);
  EXPECT_EQ(request->body, fixture("twilio", "send_request.txt"));
}

TEST_F(TwilioTest, ApiKeyAuthAndTheJobsSender) {
  auto api = parse(
      "account_sid: AC0123456789abcdef0123456789abcdef\n"
      "api_key_sid: SK0123456789abcdef0123456789abcdef\n"
      "api_key_secret: ${KEY_SECRET}\n"
      "from: \"+14155552345\"\n");
  ASSERT_TRUE(api);
  OutgoingSms own = sms();
  own.sender = "SHOP";
  own.expires_at = kNow + std::chrono::hours(11);  // beyond Twilio's 10 h maximum
  auto request = api->buildSendRequest(own, kNow);
  EXPECT_EQ(testing::header(*request, "Authorization"),
            basicAuthorization("SK0123456789abcdef0123456789abcdef", "s3cr3t"));
  EXPECT_EQ(request->body,
            "To=%2B48500100200&From=SHOP&Body=Order%201042%20shipped%20%F0%9F%91%8D%20%26%20"
            "paid%3D100%25&ValidityPeriod=36000&Attempt=2");
}

TEST_F(TwilioTest, CreatedCarriesTheSid) {
  SendResult result = classify(201, "created.json");
  EXPECT_EQ(result.kind, SendResultKind::kAccepted);
  EXPECT_EQ(result.provider_message_id, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(result.segments, 2);
  EXPECT_FALSE(result.price);
  EXPECT_EQ(result.http_status, 201);
}

TEST_F(TwilioTest, ThroughAMessagingServiceSegmentsAreOursAndPriceIsPositive) {
  SendResult result = classify(201, "created_via_service.json");
  EXPECT_EQ(result.kind, SendResultKind::kAccepted);
  EXPECT_EQ(result.segments, 1);  // "0" until Twilio counts them
  ASSERT_TRUE(result.price);
  EXPECT_DOUBLE_EQ(*result.price, 0.0075);
  EXPECT_EQ(result.currency, "USD");
}

TEST_F(TwilioTest, RecipientErrorsAreRejected) {
  for (const char* file : {"invalid_to.json", "not_sms_capable.json", "unsubscribed.json"}) {
    SendResult result = classify(400, file);
    EXPECT_EQ(result.kind, SendResultKind::kRejected) << file;
    EXPECT_FALSE(result.ambiguous) << file;
  }
  EXPECT_EQ(classify(400, "invalid_to.json").error_code, "21211");
}

TEST_F(TwilioTest, AuthenticationFailsOver) {
  SendResult result = classify(401, "authenticate.json");
  EXPECT_EQ(result.kind, SendResultKind::kFailOver);
  EXPECT_EQ(result.error_code, "20003");
}

TEST_F(TwilioTest, QueueOverflowFailsOver) {
  EXPECT_EQ(classify(400, "queue_overflow.json").kind, SendResultKind::kFailOver);
}

TEST_F(TwilioTest, TooManyRequestsHonoursRetryAfter) {
  SendResult result = classify(429, "too_many_requests.json", {{"retry-after", "7"}});
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_FALSE(result.ambiguous);
  EXPECT_EQ(result.retry_after, std::chrono::milliseconds(7000));
  EXPECT_EQ(result.error_code, "20429");
}

TEST_F(TwilioTest, ServerErrorsAreRetriedAsAmbiguous) {
  SendResult result = classify(500, "server_error.json");
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_TRUE(result.ambiguous);
}

TEST(TwilioConfigTest, ChecksSidsCredentialsAndSender) {
  std::string errors = testing::parseErrors(
      "twilio", "account_sid: AC123\nmessaging_service_sid: XX0123456789abcdef0123456789abcdef\n");
  EXPECT_NE(errors.find("account_sid: must be `AC` followed by 32 hex digits"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("messaging_service_sid: must be `MG`"), std::string::npos) << errors;
  EXPECT_NE(errors.find("auth_token: required unless api_key_sid is given"), std::string::npos)
      << errors;

  errors = testing::parseErrors("twilio",
                                "account_sid: AC0123456789abcdef0123456789abcdef\nauth_token: t\n");
  EXPECT_NE(errors.find("one of `from` and `messaging_service_sid` is required"), std::string::npos)
      << errors;
}

}  // namespace
}  // namespace smsbridge
