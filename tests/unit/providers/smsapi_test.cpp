#include "providers/smsapi.h"

#include <gtest/gtest.h>

#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using testing::fixture;
using testing::httpResponse;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

const char* kConfig =
    "token: ${SMSAPI_TOKEN}\n"
    "from: ShopPL\n"
    "normalize: true\n"
    "max_parts: 3\n"
    "status_callback_url: https://bridge.example.com/webhooks/smsapi?key=k1\n";

class SmsApiTest : public ::testing::Test {
 protected:
  void SetUp() override { api_ = parse(kConfig); }

  static std::shared_ptr<const HttpApi> parse(const std::string& yaml) {
    auto spec = testing::parseSpec("smsapi", yaml, {{"SMSAPI_TOKEN", "tok-789"}});
    EXPECT_TRUE(spec);
    return spec ? spec->api : nullptr;
  }

  static OutgoingSms sms() {
    OutgoingSms out;
    out.job_id = 1042;
    out.recipient = "+48500100200";
    out.body = "Zamówienie 1042 wysłane & opłacone+ 100%";
    out.segments = 1;
    out.expires_at = kNow + std::chrono::hours(2);
    return out;
  }

  SendResult classify(const std::string& file, int status = 200) const {
    return classifyHttpResponse(*api_, httpResponse(status, fixture("smsapi", file)), sms(), kNow);
  }

  std::shared_ptr<const HttpApi> api_;
};

TEST_F(SmsApiTest, BuildsTheDocumentedRequest) {
  auto request = api_->buildSendRequest(sms(), kNow);
  ASSERT_TRUE(request) << request.error().toString();
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->url, "https://api.smsapi.pl/sms.do");
  HttpHeaders expected_headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                                  {"Accept", "application/json"},
                                  {"Authorization", "Bearer tok-789"}};
  EXPECT_EQ(request->headers, expected_headers);
  EXPECT_EQ(request->body, fixture("smsapi", "send_request.txt"));
}

TEST_F(SmsApiTest, RegionComAndTestModeAndFastOtp) {
  auto api = parse("token: ${SMSAPI_TOKEN}\nregion: com\ntest: true\nfast_otp: true\n");
  ASSERT_TRUE(api);
  OutgoingSms otp = sms();
  otp.lane = Lane::kOtp;
  otp.expires_at.reset();
  otp.body = "123456";
  auto request = api->buildSendRequest(otp, kNow);
  EXPECT_EQ(request->url, "https://api.smsapi.com/sms.do");
  EXPECT_EQ(request->body,
            "format=json&encoding=utf-8&to=48500100200&message=123456&idx=1042&check_idx=1"
            "&test=1&fast=1");

  OutgoingSms transactional = otp;
  transactional.lane = Lane::kTransactional;
  EXPECT_EQ(api->buildSendRequest(transactional, kNow)->body.find("fast="), std::string::npos);
}

TEST_F(SmsApiTest, ExpiryIsKeptWithinWhatSmsapiAccepts) {
  auto expiry_in = [&](std::chrono::seconds delta) {
    OutgoingSms out = sms();
    out.expires_at = kNow + delta;
    std::string body = api_->buildSendRequest(out, kNow)->body;
    auto at = body.find("expiration_date=");
    return at == std::string::npos ? std::string() : body.substr(at + 16, 10);
  };
  // Under 15 min is refused by SMSAPI: raised to 15 min.
  EXPECT_EQ(expiry_in(std::chrono::minutes(5)), std::to_string(1'800'000'000 + 15 * 60));
  EXPECT_EQ(expiry_in(std::chrono::hours(72)), std::to_string(1'800'000'000 + 72 * 3600));
  // Beyond 72 h: left to the provider's default.
  EXPECT_EQ(expiry_in(std::chrono::hours(73)), "");
}

TEST_F(SmsApiTest, AcceptedCarriesIdPartsAndPoints) {
  SendResult result = classify("accepted.json");
  EXPECT_EQ(result.kind, SendResultKind::kAccepted);
  EXPECT_EQ(result.provider_message_id, "7074294081650020450");
  EXPECT_EQ(result.segments, 1);
  ASSERT_TRUE(result.price);
  EXPECT_DOUBLE_EQ(*result.price, 0.165);
}

TEST_F(SmsApiTest, PointsAndPartsMayBeStrings) {
  SendResult result = classify("accepted_points_as_string.json");
  EXPECT_EQ(result.kind, SendResultKind::kAccepted);
  EXPECT_EQ(result.segments, 2);
  ASSERT_TRUE(result.price);
  EXPECT_DOUBLE_EQ(*result.price, 0.33);
}

TEST_F(SmsApiTest, ErrorsArriveWithStatus200) {
  struct Case {
    const char* file;
    SendResultKind kind;
    const char* code;
  };
  for (const Case& c : {Case{"invalid_number.json", SendResultKind::kRejected, "13"},
                        Case{"too_long.json", SendResultKind::kRejected, "12"},
                        Case{"no_points.json", SendResultKind::kFailOver, "103"},
                        Case{"bad_token.json", SendResultKind::kFailOver, "101"},
                        Case{"internal_error.json", SendResultKind::kRetryLater, "999"}}) {
    SendResult result = classify(c.file);
    EXPECT_EQ(result.kind, c.kind) << c.file << ": " << sendResultName(result.kind);
    EXPECT_EQ(result.error_code, c.code) << c.file;
    EXPECT_EQ(result.http_status, 200) << c.file;
  }
}

TEST_F(SmsApiTest, InvalidNumberNamesTheNumber) {
  SendResult result = classify("invalid_number.json");
  EXPECT_NE(result.reason.find("48500100200: Invalid phone number"), std::string::npos)
      << result.reason;
}

TEST_F(SmsApiTest, ARepeatedIdxIsADuplicateNotAFailure) {
  SendResult result = classify("duplicate_idx.json");
  EXPECT_EQ(result.kind, SendResultKind::kDuplicate);
  EXPECT_EQ(result.error_code, "53");
  EXPECT_TRUE(result.provider_message_id.empty());
  EXPECT_NE(result.reason.find("idx 1042"), std::string::npos) << result.reason;
}

TEST_F(SmsApiTest, RestStyleUnauthorizedFailsOver) {
  SendResult result = classify("rest_unauthorized.json", 401);
  EXPECT_EQ(result.kind, SendResultKind::kFailOver);
  EXPECT_NE(result.reason.find("Authorization failed"), std::string::npos);
}

TEST(SmsApiErrorTest, Classification) {
  EXPECT_EQ(classifySmsApiError(53), SendResultKind::kDuplicate);
  EXPECT_EQ(classifySmsApiError(203), SendResultKind::kRetryLater);
  EXPECT_EQ(classifySmsApiError(57), SendResultKind::kRejected);
  EXPECT_EQ(classifySmsApiError(14), SendResultKind::kFailOver);  // sender of this account
  EXPECT_EQ(classifySmsApiError(4242), SendResultKind::kFailOver);
}

TEST(SmsApiConfigTest, MaxPartsIsBounded) {
  std::string errors = testing::parseErrors("smsapi", "token: t\nmax_parts: 11\n");
  EXPECT_NE(errors.find("max_parts: must be between 0 and 10"), std::string::npos) << errors;
}

}  // namespace
}  // namespace smsbridge
