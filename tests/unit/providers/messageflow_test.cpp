#include "providers/messageflow.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using testing::fixture;
using testing::header;
using testing::httpResponse;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

const char* kConfig =
    "authorization: ${MF_AUTHORIZATION}\n"
    "application_key: ${MF_APPLICATION_KEY}\n"
    "sender: ShopPL\n"
    "status_callback_url: https://bridge.example.com/webhooks/messageflow\n";

class MessageFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = testing::parseSpec(
        "messageflow", kConfig,
        {{"MF_AUTHORIZATION", "auth-key-123"}, {"MF_APPLICATION_KEY", "app-key-456"}});
    ASSERT_TRUE(spec);
    api_ = spec->api;
  }

  OutgoingSms sms() const {
    OutgoingSms out;
    out.job_id = 1042;
    out.recipient = "+48500100200";
    out.body = "Zamówienie 1042 wysłane. Śledź: https://shop.example/t/1042";
    out.segments = 2;
    out.expires_at = kNow + std::chrono::hours(2) + std::chrono::minutes(59);
    return out;
  }

  SendResult classify(int status, const std::string& file) const {
    return classifyHttpResponse(*api_, httpResponse(status, fixture("messageflow", file)), sms(),
                                kNow);
  }

  std::shared_ptr<const HttpApi> api_;
};

TEST_F(MessageFlowTest, BuildsTheDocumentedRequest) {
  auto request = api_->buildSendRequest(sms(), kNow);
  ASSERT_TRUE(request) << request.error().toString();
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->url, "https://api.messageflow.com/v2.1/sms");
  HttpHeaders expected_headers = {{"Content-Type", "application/json"},
                                  {"Accept", "application/json"},
                                  {"Authorization", "auth-key-123"},
                                  {"Application-Key", "app-key-456"}};
  EXPECT_EQ(request->headers, expected_headers);
  // Exact bytes: field order and types as in the fixture, compact.
  EXPECT_EQ(request->body,
            nlohmann::ordered_json::parse(fixture("messageflow", "send_request.json")).dump());
}

TEST_F(MessageFlowTest, TextThatIsNotUtf8IsRejectedUnsent) {
  OutgoingSms latin1 = sms();
  latin1.body =
      "Zam\xF3wienie wys\xB3"
      "ane";

  auto request = api_->buildSendRequest(latin1, kNow);

  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().category(), ErrorCategory::kRejected);
}

TEST_F(MessageFlowTest, TheJobsSenderWinsAndValidityIsLeftOutWithoutExpiry) {
  OutgoingSms own = sms();
  own.sender = "Promo";
  own.expires_at.reset();
  auto body = nlohmann::json::parse(api_->buildSendRequest(own, kNow)->body);
  EXPECT_EQ(body["sender"], "Promo");
  EXPECT_FALSE(body.contains("validity"));
  EXPECT_FALSE(body.contains("scheduleTime"));
}

TEST_F(MessageFlowTest, ValidityIsAtLeastOneHour) {
  OutgoingSms soon = sms();
  soon.expires_at = kNow + std::chrono::minutes(5);
  auto body = nlohmann::json::parse(api_->buildSendRequest(soon, kNow)->body);
  EXPECT_EQ(body["validity"], 1);
}

TEST_F(MessageFlowTest, WithoutAnySenderItFailsOverUnsent) {
  auto spec = testing::parseSpec("messageflow", "authorization: a\napplication_key: b\n");
  ASSERT_TRUE(spec);
  auto request = spec->api->buildSendRequest(sms(), kNow);
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().category(), ErrorCategory::kProviderPermanent);
}

TEST_F(MessageFlowTest, AcceptedCarriesTheRequestIdAndParts) {
  SendResult result = classify(200, "accepted.json");
  EXPECT_EQ(result.kind, SendResultKind::kAccepted);
  EXPECT_EQ(result.provider_message_id, "5f3c2a9e-41b7-4d0e-9a6b-0c8d7e1f2a3b");
  EXPECT_EQ(result.segments, 2);
  EXPECT_EQ(result.http_status, 200);
}

TEST_F(MessageFlowTest, AnErrorAboutAnotherNumberDoesNotUndoOurAcceptance) {
  SendResult result = classify(200, "partial_other_number_failed.json");
  EXPECT_EQ(result.kind, SendResultKind::kAccepted);
  EXPECT_EQ(result.segments, 1);
}

TEST_F(MessageFlowTest, InvalidNumberIsRejected) {
  SendResult result = classify(400, "invalid_number.json");
  EXPECT_EQ(result.kind, SendResultKind::kRejected);
  EXPECT_EQ(result.error_code, "invalid_phone_number");
  EXPECT_NE(result.reason.find("Invalid phone number"), std::string::npos) << result.reason;
}

TEST_F(MessageFlowTest, AnErrorBodyWithStatus200IsNotAnAcceptance) {
  SendResult result = classify(200, "ok_with_sender_error.json");
  EXPECT_EQ(result.kind, SendResultKind::kFailOver);
  EXPECT_EQ(result.error_code, "invalid_sender");
}

TEST_F(MessageFlowTest, BadKeysFailOver) {
  SendResult result = classify(401, "unauthorized.json");
  EXPECT_EQ(result.kind, SendResultKind::kFailOver);
  EXPECT_EQ(result.http_status, 401);
}

TEST_F(MessageFlowTest, ServerErrorsAreRetriedAsAmbiguous) {
  SendResult result = classify(500, "server_error.json");
  EXPECT_EQ(result.kind, SendResultKind::kRetryLater);
  EXPECT_TRUE(result.ambiguous);
}

TEST_F(MessageFlowTest, MissingKeysAreConfigErrors) {
  std::string errors = testing::parseErrors("messageflow", "sender: ShopPL\n");
  EXPECT_NE(errors.find("authorization"), std::string::npos) << errors;
  EXPECT_NE(errors.find("application_key"), std::string::npos) << errors;
}

}  // namespace
}  // namespace smsbridge
