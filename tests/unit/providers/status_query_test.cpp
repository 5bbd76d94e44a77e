// Status polling's pure half of every HTTP provider: the query it builds and what it reads from
// the answer (golden fixtures in data/<type>/status_*.json).

#include <gtest/gtest.h>

#include "providers/messageflow.h"
#include "providers/smsapi.h"
#include "providers/twilio.h"
#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using testing::fixture;
using testing::header;
using testing::httpResponse;

const TimePoint kSent = TimePoint(std::chrono::seconds(1'800'000'000));  // 2027-01-15T08:00:00Z

StatusPollCandidate job(std::int64_t id, std::string provider, std::string message_id,
                        TimePoint sent_at = kSent) {
  return {id, std::move(provider), std::move(message_id), "+48500100200", sent_at};
}

// --- Twilio ---

TwilioConfig twilioConfig() {
  TwilioConfig config;
  config.account_sid = "AC0123456789abcdef0123456789abcdef";
  config.auth_user = config.account_sid;
  config.auth_password = "token-abc";
  return config;
}

const char* kSid = "SM0123456789abcdef0123456789abcdef";

TEST(TwilioStatusQueryTest, AsksForOneMessageResource) {
  HttpClientRequest request = buildTwilioStatusQuery(twilioConfig(), kSid);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url,
            "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/"
            "Messages/SM0123456789abcdef0123456789abcdef.json");
  EXPECT_EQ(header(request, "Authorization"),
            basicAuthorization("AC0123456789abcdef0123456789abcdef", "token-abc"));
  EXPECT_TRUE(request.body.empty());
}

TEST(TwilioStatusQueryTest, DeliveredBecomesAReportForThatJob) {
  auto report = parseTwilioStatusResponse(
      httpResponse(200, fixture("twilio", "status_delivered.json")), job(1042, "tw", kSid));
  ASSERT_TRUE(report) << report.error().toString();
  ASSERT_TRUE(*report);
  EXPECT_EQ((*report)->provider, "tw");
  EXPECT_EQ((*report)->provider_message_id, kSid);
  EXPECT_EQ((*report)->job_id, 1042);
  EXPECT_EQ((*report)->status, JobStatus::kDelivered);
  EXPECT_EQ((*report)->provider_status, "delivered");
}

TEST(TwilioStatusQueryTest, ValidityRunOutIsExpiredWithTheErrorAsReason) {
  auto report = parseTwilioStatusResponse(
      httpResponse(200, fixture("twilio", "status_expired.json")), job(1042, "tw", kSid));
  ASSERT_TRUE(report && *report);
  EXPECT_EQ((*report)->status, JobStatus::kExpired);
  EXPECT_EQ((*report)->provider_status, "undelivered");
  EXPECT_EQ((*report)->reason, "Twilio error 30036: Validity Period Expired");
}

TEST(TwilioStatusQueryTest, StillSendingSaysNothingNew) {
  auto report = parseTwilioStatusResponse(
      httpResponse(200, fixture("twilio", "status_sending.json")), job(1042, "tw", kSid));
  ASSERT_TRUE(report);
  EXPECT_FALSE(*report);
}

TEST(TwilioStatusQueryTest, ErrorsAndOtherMessagesAreNotAnswers) {
  auto missing = parseTwilioStatusResponse(
      httpResponse(404, fixture("twilio", "status_not_found.json")), job(1042, "tw", kSid));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("error 20404"), std::string::npos);
  auto auth = parseTwilioStatusResponse(httpResponse(401, "{}"), job(1042, "tw", kSid));
  ASSERT_FALSE(auth);
  EXPECT_EQ(auth.error().category(), ErrorCategory::kConfig);
  auto other = parseTwilioStatusResponse(
      httpResponse(200, fixture("twilio", "status_delivered.json")), job(1042, "tw", "SMother"));
  EXPECT_FALSE(other);
  EXPECT_FALSE(parseTwilioStatusResponse(httpResponse(502, "<html>"), job(1, "tw", kSid)));
}

// The mapping status callbacks use too (webhook_test covers that side).
TEST(TwilioStatusQueryTest, StatusMapping) {
  EXPECT_EQ(mapTwilioStatus("read", 0), JobStatus::kDelivered);
  EXPECT_EQ(mapTwilioStatus("partially_delivered", 0), JobStatus::kDelivered);
  EXPECT_EQ(mapTwilioStatus("undelivered", 30003), JobStatus::kUndelivered);
  EXPECT_EQ(mapTwilioStatus("undelivered", 30036), JobStatus::kExpired);
  EXPECT_EQ(mapTwilioStatus("failed", 30008), JobStatus::kFailed);
  EXPECT_EQ(mapTwilioStatus("failed", 30036), JobStatus::kExpired);
  EXPECT_EQ(mapTwilioStatus("canceled", 0), JobStatus::kFailed);
  EXPECT_EQ(mapTwilioStatus("sent", 0), JobStatus::kSent);
  EXPECT_EQ(mapTwilioStatus("queued", 0), JobStatus::kSent);
  EXPECT_EQ(mapTwilioStatus("received", 0), std::nullopt);
}

// --- SMSAPI ---

SmsApiConfig smsApiConfig() {
  SmsApiConfig config;
  config.token = "tok-789";
  return config;
}

TEST(SmsApiStatusQueryTest, AsksForSeveralIdsAtOnce) {
  std::vector<StatusPollCandidate> jobs = {job(1042, "sa", "7074294081650020450"),
                                           job(1043, "sa", "7074294081650020451")};
  HttpClientRequest request = buildSmsApiStatusQuery(smsApiConfig(), jobs);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url,
            "https://api.smsapi.pl/sms.do?status=7074294081650020450%7C7074294081650020451"
            "&format=json");
  EXPECT_EQ(header(request, "Authorization"), "Bearer tok-789");
}

TEST(SmsApiStatusQueryTest, ReportsTheListedMessagesWhoseStatusSaysSomething) {
  std::vector<StatusPollCandidate> jobs = {job(1042, "sa", "7074294081650020450"),
                                           job(1043, "sa", "7074294081650020451")};
  auto reports =
      parseSmsApiStatusResponse(httpResponse(200, fixture("smsapi", "status_list.json")), jobs);
  ASSERT_TRUE(reports) << reports.error().toString();
  ASSERT_EQ(reports->size(), 1u);  // the second is still QUEUE
  EXPECT_EQ(reports->front().job_id, 1042);
  EXPECT_EQ(reports->front().provider, "sa");
  EXPECT_EQ(reports->front().provider_message_id, "7074294081650020450");
  EXPECT_EQ(reports->front().status, JobStatus::kDelivered);
  EXPECT_EQ(reports->front().provider_status, "DELIVERED");
}

TEST(SmsApiStatusQueryTest, UnknownIdsGiveNoReportsAndAccountErrorsAreConfig) {
  std::vector<StatusPollCandidate> jobs = {job(1042, "sa", "1")};
  auto unknown = parseSmsApiStatusResponse(
      httpResponse(200, fixture("smsapi", "status_unknown_id.json")), jobs);
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->empty());
  auto auth =
      parseSmsApiStatusResponse(httpResponse(200, fixture("smsapi", "bad_token.json")), jobs);
  ASSERT_FALSE(auth);
  EXPECT_EQ(auth.error().category(), ErrorCategory::kConfig);
  auto down = parseSmsApiStatusResponse(httpResponse(503, ""), jobs);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().category(), ErrorCategory::kTransient);
}

TEST(SmsApiStatusQueryTest, StatusMappingByNameAndCallbackCode) {
  EXPECT_EQ(mapSmsApiStatus("DELIVERED"), JobStatus::kDelivered);
  EXPECT_EQ(mapSmsApiStatus("404"), JobStatus::kDelivered);
  EXPECT_EQ(mapSmsApiStatus("UNDELIVERED"), JobStatus::kUndelivered);
  EXPECT_EQ(mapSmsApiStatus("402"), JobStatus::kExpired);
  EXPECT_EQ(mapSmsApiStatus("REJECTED"), JobStatus::kFailed);
  EXPECT_EQ(mapSmsApiStatus("SENT"), JobStatus::kSent);
  EXPECT_EQ(mapSmsApiStatus("NOT_FOUND"), JobStatus::kFailed);
  EXPECT_EQ(mapSmsApiStatus("409"), JobStatus::kSent);
  EXPECT_EQ(mapSmsApiStatus("BOUNCED"), std::nullopt);
}

// --- MessageFlow ---

MessageFlowConfig messageFlowConfig() {
  MessageFlowConfig config;
  config.authorization = "auth-123";
  config.application_key = "app-456";
  return config;
}

TEST(MessageFlowStatusQueryTest, ListsTheWindowTheJobsWereSentIn) {
  std::vector<StatusPollCandidate> jobs = {job(1043, "mf", "u2", kSent + std::chrono::hours(1)),
                                           job(1042, "mf", "u1", kSent)};
  HttpClientRequest request = buildMessageFlowStatusQuery(messageFlowConfig(), jobs);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url,
            "https://api.messageflow.com/v2.1/sms?dateFrom=2027-01-15T07%3A59%3A00Z"
            "&dateTo=2027-01-15T09%3A01%3A00Z&limit=1000");
  EXPECT_EQ(header(request, "Authorization"), "auth-123");
  EXPECT_EQ(header(request, "Application-Key"), "app-456");
}

TEST(MessageFlowStatusQueryTest, MatchesByExternalIdAndSkipsWhatItCannotRead) {
  std::vector<StatusPollCandidate> jobs = {job(1042, "mf", "u1"), job(1043, "mf", "u1"),
                                           job(1044, "mf", "u3")};
  auto reports = parseMessageFlowStatusResponse(
      httpResponse(200, fixture("messageflow", "status_list.json")), jobs);
  ASSERT_TRUE(reports) << reports.error().toString();
  // 9999 is not ours; 1044's numeric status is undocumented, so it says nothing.
  ASSERT_EQ(reports->size(), 2u);
  EXPECT_EQ((*reports)[0].job_id, 1042);
  EXPECT_EQ((*reports)[0].provider_message_id, "u1");
  EXPECT_EQ((*reports)[0].status, JobStatus::kDelivered);
  EXPECT_EQ((*reports)[1].job_id, 1043);
  EXPECT_EQ((*reports)[1].status, JobStatus::kUndelivered);
  EXPECT_EQ((*reports)[1].provider_status, "Undelivered");
}

TEST(MessageFlowStatusQueryTest, NoResultsIsEmptyAndBadKeysAreConfig) {
  std::vector<StatusPollCandidate> jobs = {job(1042, "mf", "u1")};
  auto none = parseMessageFlowStatusResponse(httpResponse(404, ""), jobs);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto auth = parseMessageFlowStatusResponse(
      httpResponse(401, fixture("messageflow", "unauthorized.json")), jobs);
  ASSERT_FALSE(auth);
  EXPECT_EQ(auth.error().category(), ErrorCategory::kConfig);
  EXPECT_FALSE(parseMessageFlowStatusResponse(httpResponse(500, "{}"), jobs));
}

// The mapping webhooks use too: names case-insensitively, numeric statuses not at all.
TEST(MessageFlowStatusQueryTest, StatusMapping) {
  EXPECT_EQ(mapMessageFlowStatus("Delivered"), JobStatus::kDelivered);
  EXPECT_EQ(mapMessageFlowStatus("UNDELIVERED"), JobStatus::kUndelivered);
  EXPECT_EQ(mapMessageFlowStatus("expired"), JobStatus::kExpired);
  EXPECT_EQ(mapMessageFlowStatus("Rejected"), JobStatus::kFailed);
  EXPECT_EQ(mapMessageFlowStatus("Sent"), JobStatus::kSent);
  EXPECT_EQ(mapMessageFlowStatus("3"), std::nullopt);
}

}  // namespace
}  // namespace smsbridge
