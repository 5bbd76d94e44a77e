// The webhook handlers end to end without a socket: requests as the server hands them over,
// reports applied through ReportIngest to a real SQLite store, inbound messages and opt-outs
// kept by the test's store wrapper (the SQLite store gains them in another change).

#include "providers/webhooks.h"

#include <future>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "connectors/sqlite/sqlite_store.h"
#include "core/forwarding_job_store.h"
#include "providers/twilio.h"
#include "tests/fakes/temp_dir.h"
#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using std::chrono::seconds;
using testing::fixture;

// The SQLite store, seen through: counts the calls that write, keeps inbound messages and
// opt-outs in memory, and can be told to fail.
class ObservedStore final : public ForwardingJobStore {
 public:
  explicit ObservedStore(std::unique_ptr<JobStore> inner)
      : ForwardingJobStore(*inner), owned_(std::move(inner)) {}

  Result<EnqueueResult> enqueue(std::span<const SmsJob> jobs,
                                const Checkpoint& checkpoint) override {
    std::lock_guard lock(mu_);
    ++writes;
    return ForwardingJobStore::enqueue(jobs, checkpoint);
  }
  Result<std::vector<ReportEffect>> applyDeliveryReports(std::span<const DeliveryReport> reports,
                                                         TimePoint now) override {
    {
      std::lock_guard lock(mu_);
      ++writes;
      ++report_batches;
      if (fail_writes) return transientError("the database is gone");
    }
    // One by one through applyDeliveryReport, JobStore's default.
    return JobStore::applyDeliveryReports(reports, now);
  }
  Status recordInbound(const InboundSms& sms) override {
    std::lock_guard lock(mu_);
    ++writes;
    if (fail_writes) return transientError("the database is gone");
    inbound.push_back(sms);
    return Status::ok();
  }
  Status setOptOut(const std::string& recipient, bool opted_out, const std::string& reason,
                   TimePoint /*now*/) override {
    std::lock_guard lock(mu_);
    ++writes;
    optouts[recipient] = opted_out;
    optout_reasons[recipient] = reason;
    return Status::ok();
  }
  Result<bool> isOptedOut(const std::string& recipient) override {
    std::lock_guard lock(mu_);
    return optouts.count(recipient) && optouts[recipient];
  }

  std::mutex mu_;
  int writes = 0;
  int report_batches = 0;
  bool fail_writes = false;
  std::vector<InboundSms> inbound;
  std::map<std::string, bool> optouts;
  std::map<std::string, std::string> optout_reasons;

 private:
  std::unique_ptr<JobStore> owned_;  // what ForwardingJobStore forwards to
};

const char* kTwilioToken = "twilio-auth-token";
const char* kPublicUrl = "https://bridge.example.com";

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sqlite = sqlite::SqliteStore::create(dir_.file("store.db"), "smsbridge_",
                                              std::chrono::milliseconds(200));
    ASSERT_TRUE(sqlite) << sqlite.error().toString();
    ASSERT_TRUE((*sqlite)->migrate().isOk());
    store_ = std::make_unique<ObservedStore>(std::move(*sqlite));
    ingest_ = std::make_unique<ReportIngest>(*store_, clock_);
    WebhookOptions options;
    options.public_url = kPublicUrl;
    options.max_body_bytes = 4096;
    options.inbound.stop_reply = "You will get no more offers. Text START to undo.";
    std::vector<WebhookProvider> providers = {
        {"twilio", "twilio", {"", kTwilioToken}},
        {"smsapi", "smsapi", {"s3cret", ""}},
        {"mf", "messageflow", {"mf-token", ""}},
        {"sandbox", "sandbox", {}},
    };
    for (auto& route : webhookRoutes(providers, options, *ingest_, *store_, clock_)) {
      routes_[route.path] = std::move(route.handler);
    }
  }

  void TearDown() override { ingest_->stop(); }

  // A job the dispatcher sent through `provider`, which answered with `message_id`.
  std::int64_t sentJob(const std::string& provider, const std::string& message_id,
                       std::string recipient = "+48500100200") {
    SmsJob job;
    job.dedup_key = "job-" + message_id;
    job.source = "shop";
    job.mapping = "order_shipped";
    job.recipient = recipient;
    job.recipient_raw = recipient;
    job.body = "Shipped";
    job.segments = 1;
    job.route = "default";
    job.created_at = clock_.now();
    job.not_before = clock_.now();
    EXPECT_TRUE(store_->enqueue(std::span<const SmsJob>(&job, 1), {"shop", "1"}));
    auto claimed = store_->claimDue(Lane::kTransactional, 1, "me", seconds(30), clock_.now());
    EXPECT_TRUE(claimed && claimed->size() == 1);
    JobOutcome outcome;
    outcome.job_id = claimed->front().id;
    outcome.status = JobStatus::kSent;
    outcome.provider = provider;
    outcome.provider_message_id = message_id;
    EXPECT_TRUE(store_->recordOutcome(outcome, "me", clock_.now()).isOk());
    writes_before_ = store_->writes;
    return outcome.job_id;
  }

  // The status of the test's only job (the store has no lookup by id).
  std::optional<JobStatus> statusOf(std::int64_t /*job_id*/) {
    auto counts = store_->countByStatus();
    EXPECT_TRUE(counts);
    std::optional<JobStatus> only;
    for (auto& [status, n] : *counts) {
      if (n > 0) only = status;
    }
    return only;
  }

  int count(JobStatus status) {
    auto counts = store_->countByStatus();
    for (auto& [s, n] : *counts) {
      if (s == status) return n;
    }
    return 0;
  }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& query,
                    const std::string& content_type, const std::string& body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.target = path + (query.empty() ? "" : "?" + query);
    if (!content_type.empty()) headers.emplace_back("content-type", content_type);
    request.headers = std::move(headers);
    request.body = body;
    auto it = routes_.find(path);
    EXPECT_NE(it, routes_.end()) << path;
    if (it == routes_.end()) return HttpResponse{};
    auto answered = std::make_shared<std::promise<HttpResponse>>();
    auto future = answered->get_future();
    it->second(request, [answered](HttpResponse response) { answered->set_value(response); });
    // A guard against a handler that never answers, not a timing assertion.
    EXPECT_EQ(future.wait_for(seconds(60)), std::future_status::ready);
    return future.get();
  }

  HttpResponse twilio(const std::string& endpoint, const std::string& body,
                      std::optional<std::string> signature = std::nullopt) {
    std::string path = "/webhooks/twilio/" + endpoint;
    auto params = decodeForm(body);
    std::string sig =
        signature.value_or(twilioSignature(kTwilioToken, std::string(kPublicUrl) + path, *params));
    return call("POST", path, "", "application/x-www-form-urlencoded", body,
                {{"x-twilio-signature", sig}});
  }

  HttpResponse smsapiGet(const std::string& query) {
    return call("GET", "/webhooks/smsapi/status", query, "", "");
  }

  HttpResponse mf(const std::string& endpoint, const std::string& body,
                  const std::string& content_type = "application/json") {
    return call("POST", "/webhooks/mf/" + endpoint, "token=mf-token", content_type, body);
  }

  int newWrites() { return store_->writes - writes_before_; }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<ObservedStore> store_;
  std::unique_ptr<ReportIngest> ingest_;
  std::map<std::string, HttpHandler> routes_;
  int writes_before_ = 0;
};

TEST_F(WebhooksTest, RoutesForEveryProviderWithWebhooks) {
  std::vector<std::string> paths;
  for (const auto& [path, handler] : routes_) paths.push_back(path);
  std::vector<std::string> expected = {"/webhooks/mf/inbound",     "/webhooks/mf/status",
                                       "/webhooks/smsapi/inbound", "/webhooks/smsapi/status",
                                       "/webhooks/twilio/inbound", "/webhooks/twilio/status"};
  EXPECT_EQ(paths, expected);
}

TEST_F(WebhooksTest, SignedTwilioReportIsApplied) {
  auto job = sentJob("twilio", "SM0123456789abcdef0123456789abcdef");
  HttpResponse response = twilio("status", fixture("twilio", "status_delivered.txt"));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
  EXPECT_EQ(ingest_->counts().applied, 1u);
}

TEST_F(WebhooksTest, ForgedTwilioSignatureIs403AndWritesNothing) {
  auto job = sentJob("twilio", "SM0123456789abcdef0123456789abcdef");
  std::string body = fixture("twilio", "status_delivered.txt");
  auto params = decodeForm(body);
  const std::string url = std::string(kPublicUrl) + "/webhooks/twilio/status";
  const std::string forged[] = {
      twilioSignature("not-the-token", url, *params),
      twilioSignature(kTwilioToken, "https://attacker.example.com/webhooks/twilio/status", *params),
      "",
  };
  for (const auto& signature : forged) {
    EXPECT_EQ(twilio("status", body, signature).status, 403) << signature;
  }
  // Signed, then tampered with: undelivered instead of delivered.
  std::string tampered = body;
  tampered.replace(tampered.find("MessageStatus=delivered"), 23, "MessageStatus=undelivered");
  EXPECT_EQ(twilio("status", tampered, twilioSignature(kTwilioToken, url, *params)).status, 403);
  EXPECT_EQ(
      call("POST", "/webhooks/twilio/status", "", "application/x-www-form-urlencoded", body).status,
      403);  // no signature header at all
  EXPECT_EQ(newWrites(), 0);
  EXPECT_EQ(statusOf(job), JobStatus::kSent);
}

TEST_F(WebhooksTest, TwilioSignatureUsesThePublicUrlWithItsQuery) {
  sentJob("twilio", "SM0123456789abcdef0123456789abcdef");
  std::string body = fixture("twilio", "status_delivered.txt");
  auto params = decodeForm(body);
  std::string signature = twilioSignature(
      kTwilioToken, std::string(kPublicUrl) + "/webhooks/twilio/status?attempt=2", *params);
  HttpResponse response =
      call("POST", "/webhooks/twilio/status", "attempt=2", "application/x-www-form-urlencoded",
           body, {{"x-twilio-signature", signature}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(count(JobStatus::kDelivered), 1);
}

TEST_F(WebhooksTest, UrlTokenIsRequired) {
  auto job = sentJob("smsapi", "7074294081650020450");
  std::string dlr = fixture("smsapi", "dlr_delivered.txt");
  for (const std::string& query :
       {dlr, "token=wrong&" + dlr, "token=&" + dlr, "token=s3cre&" + dlr, "token=s3cret%&" + dlr}) {
    EXPECT_EQ(smsapiGet(query).status, 403) << query;
  }
  EXPECT_EQ(newWrites(), 0);
  EXPECT_EQ(statusOf(job), JobStatus::kSent);
  HttpResponse ok = smsapiGet("token=s3cret&" + dlr);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "OK");
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
}

TEST_F(WebhooksTest, ReplayedReportIsANoOp) {
  auto job = sentJob("smsapi", "7074294081650020450");
  std::string query = "token=s3cret&" + fixture("smsapi", "dlr_delivered.txt");
  EXPECT_EQ(smsapiGet(query).body, "OK");
  EXPECT_EQ(smsapiGet(query).body, "OK");
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
  ReportCounts counts = ingest_->counts();
  EXPECT_EQ(counts.applied, 1u);
  EXPECT_EQ(counts.no_op, 1u);
}

TEST_F(WebhooksTest, OutOfOrderReportsNeverRegress) {
  auto job = sentJob("smsapi", "7074294081650020450");
  EXPECT_EQ(smsapiGet("token=s3cret&MsgId=7074294081650020450&status=404&idx=1").body, "OK");
  // The "sent" and "queued" reports were sent earlier but arrive late.
  EXPECT_EQ(smsapiGet("token=s3cret&MsgId=7074294081650020450&status=403&idx=1").body, "OK");
  EXPECT_EQ(smsapiGet("token=s3cret&MsgId=7074294081650020450&status=409&idx=1").body, "OK");
  EXPECT_EQ(smsapiGet("token=s3cret&MsgId=7074294081650020450&status=405&idx=1").body, "OK");
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
  EXPECT_EQ(ingest_->counts().no_op, 3u);
}

TEST_F(WebhooksTest, BatchedSmsApiCallbackAppliesEveryReport) {
  sentJob("smsapi", "7074294081650020450", "+48500100200");
  sentJob("smsapi", "7074294081650020451", "+48500100201");
  sentJob("smsapi", "7074294081650020452", "+48500100202");
  HttpResponse response = smsapiGet("token=s3cret&" + fixture("smsapi", "dlr_batch.txt"));
  EXPECT_EQ(response.body, "OK");
  EXPECT_EQ(count(JobStatus::kDelivered), 1);
  EXPECT_EQ(count(JobStatus::kUndelivered), 1);
  EXPECT_EQ(count(JobStatus::kExpired), 1);
  EXPECT_EQ(store_->report_batches, 1);  // one transaction for the whole call
  EXPECT_EQ(ingest_->counts().applied, 3u);
}

TEST_F(WebhooksTest, SmsApiReportByPostForm) {
  auto job = sentJob("smsapi", "7074294081650020450");
  HttpResponse response =
      call("POST", "/webhooks/smsapi/status", "token=s3cret", "application/x-www-form-urlencoded",
           fixture("smsapi", "dlr_delivered.txt"));
  EXPECT_EQ(response.body, "OK");
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
}

TEST_F(WebhooksTest, ReportBeforeItsSendResultIsAnsweredAndCounted) {
  // The store parks every report that names a message id no job has yet, with or without our
  // job id (idx): the send result naming it may still be on the way.
  HttpResponse response = smsapiGet("token=s3cret&MsgId=7074294081650020999&status=404&idx=77");
  EXPECT_EQ(response.body, "OK");  // taken: the store keeps it until the id is known
  EXPECT_EQ(ingest_->counts().parked, 1u);
  EXPECT_EQ(smsapiGet("token=s3cret&MsgId=123&status=404").body, "OK");
  EXPECT_EQ(ingest_->counts().parked, 2u);
  EXPECT_EQ(ingest_->counts().unknown, 0u);
  // Once no send result can come any more, both are dropped and handed back as unknown.
  auto dropped = store_->dropParkedReports(clock_.now() + std::chrono::hours(1));
  ASSERT_TRUE(dropped) << dropped.error().toString();
  EXPECT_EQ(dropped->size(), 2u);
}

TEST_F(WebhooksTest, MessageFlowReportCorrelatesByItsUniqId) {
  auto job = sentJob("mf", "b1a4c9e2-51f0-4d8e-9d7a-2f7d1c3e8a11");
  EXPECT_EQ(mf("status", fixture("messageflow", "dlr_delivered.json")).status, 200);
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
}

TEST_F(WebhooksTest, MessageFlowUnknownShapeIsAnswered200AndWritesNothing) {
  auto job = sentJob("mf", "b1a4c9e2-51f0-4d8e-9d7a-2f7d1c3e8a11");
  EXPECT_EQ(mf("status", fixture("messageflow", "dlr_unknown_shape.json")).status, 200);
  EXPECT_EQ(newWrites(), 0);
  EXPECT_EQ(statusOf(job), JobStatus::kSent);
}

TEST_F(WebhooksTest, MalformedBodiesAre4xxAndWriteNothingAndTheServerKeepsServing) {
  auto job = sentJob("mf", "b1a4c9e2-51f0-4d8e-9d7a-2f7d1c3e8a11");
  std::string good = fixture("messageflow", "dlr_delivered.json");
  EXPECT_EQ(mf("status", good.substr(0, good.size() / 2)).status, 400);  // truncated JSON
  EXPECT_EQ(mf("status", std::string(5000, '[')).status, 413);           // huge body
  EXPECT_EQ(mf("status", good, "text/plain").status, 415);               // wrong content type
  EXPECT_EQ(mf("status", good, "").status, 415);                         // none at all
  EXPECT_EQ(mf("status", R"({"uniqId":"b1a4c9e2-51f0-4d8e-9d7a-2f7d1c3e8a11","status":"Deliv)"
                         "\xff\xfe"
                         R"(ered"})")
                .status,
            400);                                                         // invalid UTF-8
  EXPECT_EQ(smsapiGet("token=s3cret&MsgId=1,2&status=404").status, 400);  // mismatched batch
  EXPECT_EQ(smsapiGet("token=s3cret&MsgId=%ff&status=404").status, 400);  // invalid UTF-8
  EXPECT_EQ(call("PUT", "/webhooks/mf/status", "token=mf-token", "application/json", good).status,
            405);
  EXPECT_EQ(newWrites(), 0);
  EXPECT_EQ(statusOf(job), JobStatus::kSent);

  EXPECT_EQ(mf("status", good).status, 200);
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
}

TEST_F(WebhooksTest, StoreFailureIs503SoTheProviderRetries) {
  auto job = sentJob("smsapi", "7074294081650020450");
  std::string query = "token=s3cret&" + fixture("smsapi", "dlr_delivered.txt");
  store_->fail_writes = true;
  EXPECT_EQ(smsapiGet(query).status, 503);
  EXPECT_EQ(ingest_->counts().failed, 1u);
  store_->fail_writes = false;
  EXPECT_EQ(smsapiGet(query).body, "OK");
  EXPECT_EQ(statusOf(job), JobStatus::kDelivered);
}

TEST_F(WebhooksTest, InboundStopOptsOutAndRepliesOnce) {
  std::string body = fixture("twilio", "inbound_stop.txt");
  HttpResponse response = twilio("inbound", body);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/xml; charset=utf-8");
  ASSERT_EQ(store_->inbound.size(), 1u);
  EXPECT_EQ(store_->inbound[0].provider, "twilio");
  EXPECT_EQ(store_->inbound[0].sender, "+48500100200");
  EXPECT_EQ(store_->inbound[0].body, "Stop ");
  EXPECT_EQ(store_->inbound[0].received_at, clock_.now());
  EXPECT_TRUE(*store_->isOptedOut("+48500100200"));
  EXPECT_EQ(store_->optout_reasons["+48500100200"], "STOP");

  // The provider retries the same message: no second reply.
  EXPECT_EQ(twilio("inbound", body).status, 200);
  auto jobs = store_->claimDue(Lane::kTransactional, 10, "me", seconds(30), clock_.now());
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(jobs->front().recipient, "+48500100200");
  EXPECT_EQ(jobs->front().body, "You will get no more offers. Text START to undo.");
  EXPECT_EQ(jobs->front().route, "default");
  EXPECT_EQ(jobs->front().dedup_key, "inbound-reply:twilio:SMfedcba9876543210fedcba9876543210");
}

TEST_F(WebhooksTest, InboundStartOptsBackIn) {
  EXPECT_EQ(call("GET", "/webhooks/smsapi/inbound",
                 "token=s3cret&" + fixture("smsapi", "inbound_stop.txt"), "", "")
                .body,
            "OK");
  EXPECT_TRUE(*store_->isOptedOut("+48500100200"));
  HttpResponse response = call("GET", "/webhooks/smsapi/inbound",
                               "token=s3cret&sms_to=48732100200&sms_from=48500100200&sms_text=start"
                               "&sms_date=1763806600&MsgId=2",
                               "", "");
  EXPECT_EQ(response.body, "OK");
  EXPECT_FALSE(*store_->isOptedOut("+48500100200"));
  EXPECT_EQ(store_->inbound.size(), 2u);
}

TEST_F(WebhooksTest, InboundOtherTextIsRecordedOnly) {
  EXPECT_EQ(mf("inbound", R"({"id":"m1","from":"+48500100200","to":"+48732100200",)"
                          R"("message":"please stop calling me"})")
                .status,
            200);
  ASSERT_EQ(store_->inbound.size(), 1u);
  EXPECT_TRUE(store_->optouts.empty());
}

TEST_F(WebhooksTest, ForgedInboundWritesNothing) {
  std::string body = fixture("twilio", "inbound_stop.txt");
  EXPECT_EQ(twilio("inbound", body, "forged=").status, 403);
  EXPECT_EQ(call("GET", "/webhooks/smsapi/inbound",
                 "token=nope&" + fixture("smsapi", "inbound_stop.txt"), "", "")
                .status,
            403);
  EXPECT_EQ(store_->writes, 0);
  EXPECT_TRUE(store_->optouts.empty());
}

TEST_F(WebhooksTest, InboundStoreFailureIs503) {
  store_->fail_writes = true;
  EXPECT_EQ(twilio("inbound", fixture("twilio", "inbound_stop.txt")).status, 503);
  EXPECT_TRUE(store_->optouts.empty());
}

TEST(ReportIngestTest, ConcurrentCallsShareTransactions) {
  // A store that holds the first batch until every call has been submitted, so the rest must
  // queue behind it and go in together.
  class SlowStore final : public JobStore {
   public:
    Status migrate() override { return Status::ok(); }
    std::vector<std::string> migrationSql() const override { return {}; }
    Status checkSchema() override { return Status::ok(); }
    Result<EnqueueResult> enqueue(std::span<const SmsJob>, const Checkpoint&) override {
      return EnqueueResult{};
    }
    Result<std::optional<std::string>> loadCheckpoint(const std::string&) override {
      return std::optional<std::string>();
    }
    Result<std::map<std::string, std::string>> loadShadow(const std::string&, const std::string&,
                                                          std::span<const std::string>) override {
      return std::map<std::string, std::string>();
    }
    Result<std::vector<SmsJob>> claimDue(Lane, int, const std::string&, std::chrono::milliseconds,
                                         TimePoint) override {
      return std::vector<SmsJob>();
    }
    Status recordOutcome(const JobOutcome&, const std::string&, TimePoint) override {
      return Status::ok();
    }
    Result<int> requeueExpiredLeases(TimePoint) override { return 0; }
    Result<int> holdExpiredLeases(TimePoint, std::span<const std::string>) override { return 0; }
    Result<ReportEffect> applyDeliveryReport(const DeliveryReport&, TimePoint) override {
      return ReportEffect::kApplied;
    }
    Result<std::vector<ReportEffect>> applyDeliveryReports(std::span<const DeliveryReport> reports,
                                                           TimePoint) override {
      if (batches++ == 0) {
        entered.set_value();
        release.get_future().wait();
      }
      sizes.push_back(reports.size());
      return std::vector<ReportEffect>(reports.size(), ReportEffect::kApplied);
    }
    Result<std::vector<std::pair<JobStatus, int>>> countByStatus() override {
      return std::vector<std::pair<JobStatus, int>>();
    }
    std::promise<void> entered;
    std::promise<void> release;
    int batches = 0;
    std::vector<std::size_t> sizes;
  } store;
  ManualClock clock;
  ReportIngest ingest(store, clock);
  std::vector<std::future<Status>> done;
  for (int i = 0; i < 10; ++i) {
    auto promise = std::make_shared<std::promise<Status>>();
    done.push_back(promise->get_future());
    DeliveryReport report;
    report.provider = "p";
    report.provider_message_id = std::to_string(i);
    ingest.submit({report, report}, [promise](Status s) { promise->set_value(s); });
    if (i == 0) store.entered.get_future().wait();  // the first batch is being written
  }
  store.release.set_value();
  for (auto& f : done) EXPECT_TRUE(f.get().isOk());
  ingest.stop();
  // The first call alone, then the nine that queued meanwhile in one transaction.
  EXPECT_EQ(store.sizes, (std::vector<std::size_t>{2, 18}));
  EXPECT_EQ(ingest.counts().applied, 20u);
  EXPECT_EQ(ingest.counts().batches, 2u);
}

TEST(InboundKeywordsTest, WholeMessageCaseInsensitiveTrimmed) {
  InboundSettings settings;
  EXPECT_EQ(matchKeyword(settings, "STOP"), KeywordMatch::kStop);
  EXPECT_EQ(matchKeyword(settings, "  stop\n"), KeywordMatch::kStop);
  EXPECT_EQ(matchKeyword(settings, "Stop   All"), KeywordMatch::kStop);
  EXPECT_EQ(matchKeyword(settings, "unsubscribe"), KeywordMatch::kStop);
  EXPECT_EQ(matchKeyword(settings, "Start"), KeywordMatch::kStart);
  EXPECT_EQ(matchKeyword(settings, "stop it"), KeywordMatch::kNone);
  EXPECT_EQ(matchKeyword(settings, "please STOP"), KeywordMatch::kNone);
  EXPECT_EQ(matchKeyword(settings, ""), KeywordMatch::kNone);
  settings.stop_keywords = {"koniec"};
  EXPECT_EQ(matchKeyword(settings, "KONIEC"), KeywordMatch::kStop);
  EXPECT_EQ(matchKeyword(settings, "STOP"), KeywordMatch::kNone);
}

}  // namespace
}  // namespace smsbridge
