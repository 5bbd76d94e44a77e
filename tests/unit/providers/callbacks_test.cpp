// The providers' callback parsers over bodies shaped like the real ones
// (tests/unit/providers/data/<type>/), the wire helpers they share, and Twilio's signature.

#include "providers/callbacks.h"

#include <gtest/gtest.h>

#include "providers/messageflow.h"
#include "providers/smsapi.h"
#include "providers/twilio.h"
#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using testing::fixture;

HttpRequest post(std::string content_type, std::string body, std::string query = "") {
  HttpRequest request;
  request.method = "POST";
  request.path = "/webhooks/p/status";
  request.query = std::move(query);
  request.target = request.path + (request.query.empty() ? "" : "?" + request.query);
  request.headers = {{"content-type", std::move(content_type)}};
  request.body = std::move(body);
  return request;
}

HttpRequest form(std::string body) {
  return post("application/x-www-form-urlencoded", std::move(body));
}

HttpRequest get(std::string query) {
  HttpRequest request;
  request.method = "GET";
  request.path = "/webhooks/p/status";
  request.query = std::move(query);
  request.target = request.path + "?" + request.query;
  return request;
}

// --- Wire helpers ---

TEST(CallbackWireTest, DecodesFormsWithPlusAndEscapes) {
  auto params = decodeForm("a=1&Body=Stop+now%21&To=%2B48500&&empty=&flag");
  ASSERT_TRUE(params) << params.error().toString();
  FormParams expected = {
      {"a", "1"}, {"Body", "Stop now!"}, {"To", "+48500"}, {"empty", ""}, {"flag", ""}};
  EXPECT_EQ(*params, expected);
}

TEST(CallbackWireTest, MalformedEscapesAreRejected) {
  for (const char* text : {"a=%4", "a=%zz", "a%=1", "a=%"}) {
    auto params = decodeForm(text);
    ASSERT_FALSE(params) << text;
    EXPECT_EQ(params.error().category(), ErrorCategory::kRejected);
  }
}

TEST(CallbackWireTest, MediaTypeIgnoresParametersAndCase) {
  EXPECT_EQ(mediaType(post("Application/JSON; charset=UTF-8", "")), "application/json");
  HttpRequest none;
  EXPECT_EQ(mediaType(none), "");
}

TEST(CallbackWireTest, Utf8Validation) {
  EXPECT_TRUE(isValidUtf8("zażółć gęślą jaźń 👍"));
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8("\xc3"));              // truncated sequence
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST(CallbackWireTest, SendersBecomeE164WhenTheyAreInternationalDigits) {
  EXPECT_EQ(senderAsE164("48500100200"), "+48500100200");
  EXPECT_EQ(senderAsE164("+48500100200"), "+48500100200");
  EXPECT_EQ(senderAsE164("7910"), "7910");  // a short code
  EXPECT_EQ(senderAsE164("SHOP"), "SHOP");
}

TEST(CallbackWireTest, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("s3cret", "s3cret"));
  EXPECT_FALSE(constantTimeEquals("s3cret", "s3creT"));
  EXPECT_FALSE(constantTimeEquals("s3cret", "s3cre"));
  EXPECT_FALSE(constantTimeEquals("", "x"));
}

// --- Twilio ---

const FormParams kVectorParams = {{"CallSid", "CA1234567890ABCDE"},
                                  {"Digits", "1234"},
                                  {"From", "+14158675309"},
                                  {"To", "+18005551212"},
                                  {"Caller", "+14158675309"}};
const char* kVectorUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";

TEST(TwilioSignatureTest, MatchesTheDocumentedTestVector) {
  // providers.md §3.4, from twilio-python's request validator tests.
  EXPECT_EQ(twilioSignature("12345", kVectorUrl, kVectorParams), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  EXPECT_TRUE(
      verifyTwilioSignature("12345", kVectorUrl, kVectorParams, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

TEST(TwilioSignatureTest, AcceptsTheUrlWithTheDefaultPortAddedOrRemoved) {
  const char* with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
  EXPECT_TRUE(
      verifyTwilioSignature("12345", with_port, kVectorParams, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  std::string signed_with_port = twilioSignature("12345", with_port, kVectorParams);
  EXPECT_TRUE(verifyTwilioSignature("12345", kVectorUrl, kVectorParams, signed_with_port));
  EXPECT_FALSE(verifyTwilioSignature("12345", "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                                     kVectorParams, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

TEST(TwilioSignatureTest, RefusesForgeries) {
  const std::string good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
  EXPECT_FALSE(verifyTwilioSignature("12346", kVectorUrl, kVectorParams, good));  // other key
  FormParams tampered = kVectorParams;
  tampered[1].second = "9999";
  EXPECT_FALSE(verifyTwilioSignature("12345", kVectorUrl, tampered, good));
  EXPECT_FALSE(verifyTwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=3",
                                     kVectorParams, good));
  EXPECT_FALSE(verifyTwilioSignature("12345", kVectorUrl, kVectorParams, "RSOYDt4T1cUTdK1PDd93"));
  EXPECT_FALSE(verifyTwilioSignature("12345", kVectorUrl, kVectorParams, ""));
  EXPECT_FALSE(verifyTwilioSignature("", kVectorUrl, kVectorParams, good));
}

TEST(TwilioCallbackTest, DeliveredStatus) {
  auto reports = parseTwilioStatusCallback(form(fixture("twilio", "status_delivered.txt")));
  ASSERT_TRUE(reports) << reports.error().toString();
  ASSERT_EQ(reports->size(), 1u);
  const DeliveryReport& report = reports->front();
  EXPECT_EQ(report.provider_message_id, "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(report.status, JobStatus::kDelivered);
  EXPECT_EQ(report.provider_status, "delivered");
  EXPECT_EQ(report.job_id, 0);  // Twilio echoes nothing of ours
  EXPECT_EQ(report.reason, "");
}

TEST(TwilioCallbackTest, UndeliveredCarriesTheErrorCode) {
  auto reports = parseTwilioStatusCallback(form(fixture("twilio", "status_undelivered.txt")));
  ASSERT_TRUE(reports);
  EXPECT_EQ(reports->front().status, JobStatus::kUndelivered);
  EXPECT_EQ(reports->front().reason, "Twilio error 30003: unreachable handset");
}

TEST(TwilioCallbackTest, ValidityExpiryIsExpired) {
  auto reports = parseTwilioStatusCallback(form(fixture("twilio", "status_expired.txt")));
  ASSERT_TRUE(reports);
  EXPECT_EQ(reports->front().status, JobStatus::kExpired);
  EXPECT_EQ(reports->front().provider_status, "failed");
}

TEST(TwilioCallbackTest, StatusMapping) {
  const std::pair<const char*, JobStatus> cases[] = {
      {"queued", JobStatus::kSent},    {"sending", JobStatus::kSent},
      {"sent", JobStatus::kSent},      {"delivered", JobStatus::kDelivered},
      {"read", JobStatus::kDelivered}, {"undelivered", JobStatus::kUndelivered},
      {"failed", JobStatus::kFailed},  {"canceled", JobStatus::kFailed},
  };
  for (const auto& [status, ours] : cases) {
    auto reports =
        parseTwilioStatusCallback(form(std::string("MessageSid=SM1&MessageStatus=") + status));
    ASSERT_TRUE(reports) << status;
    EXPECT_EQ(reports->front().status, ours) << status;
  }
  auto received = parseTwilioStatusCallback(form("MessageSid=SM1&MessageStatus=received"));
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().category(), ErrorCategory::kProviderPermanent);
}

TEST(TwilioCallbackTest, MissingFieldsOrBadEncodingAreRejected) {
  for (const char* body : {"MessageStatus=delivered", "MessageSid=SM1", "MessageSid=SM1&Mess%ZZ",
                           "MessageSid=SM%ff&MessageStatus=delivered"}) {
    auto reports = parseTwilioStatusCallback(form(body));
    ASSERT_FALSE(reports) << body;
    EXPECT_EQ(reports.error().category(), ErrorCategory::kRejected) << body;
  }
}

TEST(TwilioCallbackTest, Inbound) {
  auto sms = parseTwilioInbound(form(fixture("twilio", "inbound_stop.txt")));
  ASSERT_TRUE(sms) << sms.error().toString();
  EXPECT_EQ(sms->provider_message_id, "SMfedcba9876543210fedcba9876543210");
  EXPECT_EQ(sms->sender, "+48500100200");
  EXPECT_EQ(sms->recipient, "+14155552345");
  EXPECT_EQ(sms->body, "Stop ");
  auto by_get = parseTwilioInbound(get(fixture("twilio", "inbound_stop.txt")));
  ASSERT_TRUE(by_get);
  EXPECT_EQ(by_get->body, "Stop ");
}

// --- SMSAPI ---

TEST(SmsApiCallbackTest, OneReportByGet) {
  auto reports =
      parseSmsApiStatusCallback(get("token=abc&" + fixture("smsapi", "dlr_delivered.txt")));
  ASSERT_TRUE(reports) << reports.error().toString();
  ASSERT_EQ(reports->size(), 1u);
  const DeliveryReport& report = reports->front();
  EXPECT_EQ(report.provider_message_id, "7074294081650020450");
  EXPECT_EQ(report.job_id, 1042);
  EXPECT_EQ(report.status, JobStatus::kDelivered);
  EXPECT_EQ(report.provider_status, "404");
  EXPECT_EQ(report.reason, "SMSAPI status 404 DELIVERED");
  EXPECT_EQ(report.reported_at, TimePoint(std::chrono::seconds(1763806500)));
}

TEST(SmsApiCallbackTest, OneReportByPost) {
  auto reports = parseSmsApiStatusCallback(form(fixture("smsapi", "dlr_delivered.txt")));
  ASSERT_TRUE(reports);
  EXPECT_EQ(reports->front().job_id, 1042);
}

TEST(SmsApiCallbackTest, BatchedValuesBecomeSeveralReports) {
  auto reports = parseSmsApiStatusCallback(get(fixture("smsapi", "dlr_batch.txt")));
  ASSERT_TRUE(reports) << reports.error().toString();
  ASSERT_EQ(reports->size(), 3u);
  EXPECT_EQ((*reports)[0].provider_message_id, "7074294081650020450");
  EXPECT_EQ((*reports)[0].status, JobStatus::kDelivered);
  EXPECT_EQ((*reports)[0].job_id, 1042);
  EXPECT_EQ((*reports)[1].provider_message_id, "7074294081650020451");
  EXPECT_EQ((*reports)[1].status, JobStatus::kUndelivered);
  EXPECT_EQ((*reports)[1].job_id, 1043);
  EXPECT_EQ((*reports)[2].status, JobStatus::kExpired);
  EXPECT_EQ((*reports)[2].job_id, 1044);
  EXPECT_EQ((*reports)[2].reported_at, TimePoint(std::chrono::seconds(1763806502)));
}

TEST(SmsApiCallbackTest, EveryNumericStatusMaps) {
  const std::pair<int, JobStatus> cases[] = {
      {401, JobStatus::kFailed},    {402, JobStatus::kExpired},     {403, JobStatus::kSent},
      {404, JobStatus::kDelivered}, {405, JobStatus::kUndelivered}, {406, JobStatus::kFailed},
      {407, JobStatus::kFailed},    {408, JobStatus::kSent},        {409, JobStatus::kSent},
      {410, JobStatus::kSent},      {411, JobStatus::kSent},        {412, JobStatus::kFailed},
  };
  for (const auto& [code, ours] : cases) {
    auto reports = parseSmsApiStatusCallback(get("MsgId=1&status=" + std::to_string(code)));
    ASSERT_TRUE(reports) << code;
    EXPECT_EQ(reports->front().status, ours) << code;
  }
  auto by_name = parseSmsApiStatusCallback(get("MsgId=1&status=DELIVERED"));
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->front().status, JobStatus::kDelivered);
}

TEST(SmsApiCallbackTest, UnknownStatusesAreLeftOut) {
  auto reports = parseSmsApiStatusCallback(get("MsgId=1,2&status=404,499&idx=7,8"));
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ(reports->front().provider_message_id, "1");
  auto none = parseSmsApiStatusCallback(get("MsgId=1&status=499"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().category(), ErrorCategory::kProviderPermanent);
}

TEST(SmsApiCallbackTest, MismatchedBatchesAndMissingFieldsAreRejected) {
  for (const char* query :
       {"MsgId=1,2&status=404", "MsgId=1,2&status=404,404&idx=7", "MsgId=1&status=404&donedate=1,2",
        "status=404", "MsgId=1", "MsgId=1,,3&status=404,404,404", "MsgId=%ff&status=404"}) {
    auto reports = parseSmsApiStatusCallback(get(query));
    ASSERT_FALSE(reports) << query;
    EXPECT_EQ(reports.error().category(), ErrorCategory::kRejected) << query;
  }
}

TEST(SmsApiCallbackTest, IdxThatIsNotOursGivesNoJobId) {
  auto reports = parseSmsApiStatusCallback(get("MsgId=1,2&status=404,404&idx=order-7,"));
  ASSERT_TRUE(reports);
  EXPECT_EQ((*reports)[0].job_id, 0);
  EXPECT_EQ((*reports)[1].job_id, 0);
}

TEST(SmsApiCallbackTest, Inbound) {
  auto sms = parseSmsApiInbound(get("token=abc&" + fixture("smsapi", "inbound_stop.txt")));
  ASSERT_TRUE(sms) << sms.error().toString();
  EXPECT_EQ(sms->provider_message_id, "7074294081650099999");
  EXPECT_EQ(sms->sender, "+48500100200");
  EXPECT_EQ(sms->recipient, "48732100200");
  EXPECT_EQ(sms->body, "STOP");
  EXPECT_EQ(sms->received_at, TimePoint(std::chrono::seconds(1763806500)));
  EXPECT_FALSE(parseSmsApiInbound(get("sms_text=STOP")));
}

// --- MessageFlow ---

HttpRequest json(std::string body) { return post("application/json", std::move(body)); }

TEST(MessageFlowCallbackTest, Delivered) {
  auto reports = parseMessageFlowStatusCallback(json(fixture("messageflow", "dlr_delivered.json")));
  ASSERT_TRUE(reports) << reports.error().toString();
  ASSERT_EQ(reports->size(), 1u);
  const DeliveryReport& report = reports->front();
  EXPECT_EQ(report.provider_message_id, "b1a4c9e2-51f0-4d8e-9d7a-2f7d1c3e8a11");
  EXPECT_EQ(report.job_id, 1042);
  EXPECT_EQ(report.status, JobStatus::kDelivered);
  EXPECT_EQ(report.provider_status, "Delivered");
  EXPECT_EQ(report.reported_at, TimePoint(std::chrono::seconds(1763806500)));
}

TEST(MessageFlowCallbackTest, AnArrayOfEvents) {
  auto reports = parseMessageFlowStatusCallback(json(fixture("messageflow", "dlr_batch.json")));
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 2u);
  EXPECT_EQ((*reports)[0].status, JobStatus::kUndelivered);
  EXPECT_EQ((*reports)[1].status, JobStatus::kExpired);
  EXPECT_EQ((*reports)[1].job_id, 1043);
}

TEST(MessageFlowCallbackTest, UnknownShapesAreNotErrorsOfTheBody) {
  for (const char* body :
       {R"({"event":"sms.status","payload":{"id":42,"state":7}})",
        R"({"uniqId":"u1","status":"Clicked"})", R"({"status":"Delivered"})", "[]", "42"}) {
    auto reports = parseMessageFlowStatusCallback(json(body));
    ASSERT_FALSE(reports) << body;
    EXPECT_EQ(reports.error().category(), ErrorCategory::kProviderPermanent) << body;
  }
}

TEST(MessageFlowCallbackTest, MalformedJsonIsRejected) {
  std::string truncated = fixture("messageflow", "dlr_delivered.json");
  truncated.resize(truncated.size() / 2);
  for (const std::string& body :
       {truncated, std::string("{\"status\":\"Delivered\xff\"}"), std::string("")}) {
    auto reports = parseMessageFlowStatusCallback(json(body));
    ASSERT_FALSE(reports) << body;
    EXPECT_EQ(reports.error().category(), ErrorCategory::kRejected) << body;
  }
}

TEST(MessageFlowCallbackTest, Inbound) {
  auto sms = parseMessageFlowInbound(json(fixture("messageflow", "inbound_stop.json")));
  ASSERT_TRUE(sms) << sms.error().toString();
  EXPECT_EQ(sms->provider_message_id, "mo-7f3a");
  EXPECT_EQ(sms->sender, "+48500100200");
  EXPECT_EQ(sms->recipient, "+48732100200");
  EXPECT_EQ(sms->body, "unsubscribe");
  auto unknown = parseMessageFlowInbound(json(R"({"event":"mo"})"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().category(), ErrorCategory::kProviderPermanent);
}

// --- Registry ---

TEST(ProviderCallbacksTest, EveryHttpProviderHasWebhooks) {
  for (const auto& entry : providerRegistry()) {
    if (!entry.parse_http) continue;
    EXPECT_TRUE(entry.callbacks.parse_status) << entry.type;
    EXPECT_TRUE(entry.callbacks.parse_inbound) << entry.type;
    EXPECT_TRUE(entry.parse_webhook_secrets) << entry.type;
  }
  EXPECT_EQ(findProvider("twilio")->callbacks.auth, CallbackAuth::kTwilioSignature);
  EXPECT_EQ(findProvider("smsapi")->callbacks.status_ok.body, "OK");
}

}  // namespace
}  // namespace smsbridge
