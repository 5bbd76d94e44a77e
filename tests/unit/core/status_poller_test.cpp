// StatusPoller against the in-process fake provider server: jobs sent through each HTTP
// provider are polled and delivered, the rate limit holds in every one-second window of the
// manual clock, and a provider that fails does not hold up the others. Time is a ManualClock;
// the steps are driven with runOnce(), so nothing here waits for a timer.

#include "core/status_poller.h"

#include <gtest/gtest.h>

#include <map>

#include "connectors/sqlite/sqlite_store.h"
#include "tests/fakes/fake_provider_server.h"
#include "tests/fakes/temp_dir.h"
#include "tests/unit/providers/http_test_support.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using testing::FakeApi;
using testing::FakeProviderServer;

class StatusPollerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store =
        sqlite::SqliteStore::create(dir_.file("store.db"), "smsbridge_", milliseconds(500));
    ASSERT_TRUE(store) << store.error().toString();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
    testing::FakeProviderOptions options;
    options.dlr_delay = milliseconds(0);  // a status query finds every message delivered
    auto server = FakeProviderServer::start(options);
    ASSERT_TRUE(server) << server.error().message();
    fake_ = std::move(*server);
  }

  HttpProviderSpec spec(const std::string& type) {
    std::string yaml = "base_url: " + fake_->baseUrl() + "\ntimeout: 2s\n";
    if (type == "twilio") {
      yaml +=
          "account_sid: AC00000000000000000000000000000001\nauth_token: ${SECRET}\n"
          "from: \"+14155552345\"\n";
    } else if (type == "smsapi") {
      yaml += "token: ${SECRET}\n";
    } else {
      yaml += "authorization: ${SECRET}\napplication_key: ${KEY}\nsender: SHOP\n";
    }
    std::map<std::string, std::string> env = {{"SECRET", type == "twilio"   ? "twilio-auth-token"
                                                         : type == "smsapi" ? "smsapi-token"
                                                                            : "mf-authorization"},
                                              {"KEY", "mf-application-key"}};
    auto parsed = testing::parseSpec(type, yaml, env);
    EXPECT_TRUE(parsed);
    parsed->name = type;
    return *parsed;
  }

  // Sends `count` jobs through the fake with the real provider and records them as sent at
  // the clock's current time, as the dispatcher would.
  void sendJobs(const std::string& type, int count) {
    HttpProviderSpec provider_spec = spec(type);
    HttpProvider provider(type, provider_spec.api, makeHttpClient(io_, provider_spec.client),
                          clock_);
    std::vector<SmsJob> jobs;
    for (int i = 0; i < count; ++i) {
      SmsJob job;
      job.dedup_key = type + std::to_string(i);
      job.source = "shop";
      job.mapping = "m";
      job.recipient = "+4850010020" + std::to_string(i % 10);
      job.body = "Hello";
      job.segments = 1;
      job.route = "default";
      job.created_at = clock_.now();
      job.not_before = clock_.now();
      jobs.push_back(job);
    }
    ASSERT_TRUE(store_->enqueue(jobs, {"shop", ""}));
    auto claimed = store_->claimDue(Lane::kTransactional, 100, "me", minutes(1), clock_.now());
    ASSERT_TRUE(claimed);
    for (const SmsJob& job : *claimed) {
      OutgoingSms sms;
      sms.job_id = job.id;
      sms.recipient = job.recipient;
      sms.body = job.body;
      std::optional<SendResult> result;
      provider.send(sms, [&](SendResult r) { result = std::move(r); });
      io_.restart();
      while (!result) io_.run_one();
      ASSERT_EQ(result->kind, SendResultKind::kAccepted) << result->reason;
      JobOutcome outcome;
      outcome.job_id = job.id;
      outcome.status = JobStatus::kSent;
      outcome.provider = type;
      outcome.provider_message_id = result->provider_message_id;
      ASSERT_TRUE(store_->recordOutcome(outcome, "me", clock_.now()).isOk());
    }
    provider.shutdown();
  }

  StatusPollTarget target(const std::string& type, double per_second = 2) {
    HttpProviderSpec provider_spec = spec(type);
    StatusPollSettings settings;
    settings.enabled = true;
    settings.per_second = per_second;
    return {type, provider_spec.status_query, makeHttpClient(io_, provider_spec.client), settings};
  }

  // One poller step, then the answers it waits for.
  void step(StatusPoller& poller) {
    poller.runOnce();
    io_.restart();
    while (poller.inFlight() > 0) io_.run_one();
  }

  int count(JobStatus status) {
    auto counts = store_->countByStatus();
    EXPECT_TRUE(counts);
    for (auto& [s, n] : *counts) {
      if (s == status) return n;
    }
    return 0;
  }

  std::size_t statusQueries(const std::string& api) {
    std::size_t n = 0;
    for (const auto& entry : fake_->ledger()) {
      if (entry.api == api && entry.method == "GET") ++n;
    }
    return n;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  boost::asio::io_context io_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  std::unique_ptr<FakeProviderServer> fake_;
};

TEST_F(StatusPollerTest, SentJobsOfEveryProviderArePolledIntoDelivered) {
  sendJobs("twilio", 2);
  sendJobs("smsapi", 2);
  sendJobs("messageflow", 2);
  StatusPoller poller(*store_, {target("twilio"), target("smsapi"), target("messageflow")}, clock_,
                      io_);

  // Not yet `after`: nobody is asked.
  step(poller);
  EXPECT_EQ(count(JobStatus::kSent), 6);
  EXPECT_EQ(statusQueries("twilio") + statusQueries("smsapi") + statusQueries("messageflow"), 0u);

  clock_.advance(minutes(11));
  for (int i = 0; i < 10 && count(JobStatus::kDelivered) < 6; ++i) {
    step(poller);
    clock_.advance(milliseconds(500));
  }
  EXPECT_EQ(count(JobStatus::kDelivered), 6);
  EXPECT_EQ(poller.stats().reports_applied, 6u);
  EXPECT_EQ(statusQueries("twilio"), 2u);       // one message per request
  EXPECT_EQ(statusQueries("smsapi"), 1u);       // both ids in one request
  EXPECT_EQ(statusQueries("messageflow"), 1u);  // one listing of their window

  // Delivered jobs are final: later rounds ask about nothing.
  clock_.advance(minutes(30));
  step(poller);
  EXPECT_EQ(statusQueries("twilio"), 2u);
}

TEST_F(StatusPollerTest, NoOneSecondWindowHasMoreRequestsThanPerSecond) {
  sendJobs("twilio", 9);
  StatusPoller poller(*store_, {target("twilio", 2)}, clock_, io_);
  clock_.advance(minutes(11));
  // Steps of a quarter second; the requests each step made, from the fake's ledger.
  std::vector<std::size_t> per_step;
  for (int i = 0; i < 40 && count(JobStatus::kDelivered) < 9; ++i) {
    std::size_t before = statusQueries("twilio");
    step(poller);
    per_step.push_back(statusQueries("twilio") - before);
    clock_.advance(milliseconds(250));
  }
  EXPECT_EQ(count(JobStatus::kDelivered), 9);
  EXPECT_EQ(statusQueries("twilio"), 9u);
  for (std::size_t i = 0; i < per_step.size(); ++i) {
    std::size_t window = 0;  // four steps: one second of the manual clock
    for (std::size_t j = i; j < std::min(per_step.size(), i + 4); ++j) window += per_step[j];
    EXPECT_LE(window, 2u) << "one-second window starting at step " << i;
  }
}

TEST_F(StatusPollerTest, AFailingProviderDoesNotHoldUpTheOthers) {
  sendJobs("twilio", 2);
  sendJobs("smsapi", 2);
  sendJobs("messageflow", 1);
  testing::Fault server_error;
  server_error.kind = testing::FaultKind::kHttp500;
  testing::Fault reset;
  reset.kind = testing::FaultKind::kReset;
  fake_->setFault(FakeApi::kTwilio, server_error);
  fake_->setFault(FakeApi::kMessageFlow, reset);
  StatusPoller poller(*store_, {target("twilio"), target("messageflow"), target("smsapi")}, clock_,
                      io_);
  clock_.advance(minutes(11));
  for (int i = 0; i < 10; ++i) {
    step(poller);
    clock_.advance(milliseconds(500));
  }
  EXPECT_EQ(count(JobStatus::kDelivered), 2);  // smsapi's
  EXPECT_EQ(count(JobStatus::kSent), 3);
  EXPECT_EQ(poller.stats().failed_requests, 3u);

  // Once the providers answer again, their jobs are asked about at the next due poll.
  fake_->clearFault(FakeApi::kTwilio);
  fake_->clearFault(FakeApi::kMessageFlow);
  clock_.advance(minutes(12));
  for (int i = 0; i < 10 && count(JobStatus::kDelivered) < 5; ++i) {
    step(poller);
    clock_.advance(milliseconds(500));
  }
  EXPECT_EQ(count(JobStatus::kDelivered), 5);
}

}  // namespace
}  // namespace smsbridge
