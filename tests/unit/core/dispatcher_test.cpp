#include "core/dispatcher.h"

#include "core/forwarding_job_store.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "connectors/sqlite/sqlite_store.h"
#include "tests/fakes/fake_provider.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeProvider;

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = sqlite::SqliteStore::create(dir_.file("s.db"), "smsbridge_", milliseconds(500));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
    config_.retry_base = seconds(1);
    config_.max_attempts = 3;
    config_.poll_interval = milliseconds(0);
    // Rounds are driven by hand with a ManualClock: store calls run inline, so each round's
    // claims and records are done when it returns.
    config_.store_thread = false;
  }

  std::unique_ptr<Dispatcher> dispatcher(Route route) {
    auto d = std::make_unique<Dispatcher>(
        config_, *store_,
        std::map<std::string, Provider*>{{"first", &first_}, {"second", &second_}},
        std::map<std::string, Route>{{"default", std::move(route)}}, clock_, io_);
    first_.setDeliveryReportSink(
        [d = d.get()](const DeliveryReport& r) { d->onDeliveryReport(r); });
    return d;
  }

  void enqueue(std::string key, Lane lane = Lane::kTransactional,
               std::optional<TimePoint> expires = std::nullopt, int segments = 1,
               std::string recipient = "+48600700800") {
    std::vector<SmsJob> jobs = {job(key, lane, expires, segments, recipient)};
    ASSERT_TRUE(store_->enqueue(jobs, {"shop", key}));
  }

  SmsJob job(std::string key, Lane lane = Lane::kTransactional,
             std::optional<TimePoint> expires = std::nullopt, int segments = 1,
             std::string recipient = "+48600700800") {
    SmsJob j;
    j.dedup_key = key;
    j.source = "shop";
    j.mapping = "m";
    j.recipient = recipient;
    j.body = "Body " + key;
    j.segments = segments;
    j.lane = lane;
    j.route = "default";
    j.created_at = clock_.now();
    j.not_before = clock_.now();
    j.expires_at = expires;
    return j;
  }

  // For tests that run rounds themselves with runOnce(): the dispatcher's own timer then never
  // fires a round by itself (io_.poll() would otherwise chain zero-delay rounds forever).
  void manualRounds() { config_.poll_interval = std::chrono::hours(1); }

  // Runs ready handlers one at a time; with poll_interval 0 every tick is due at once, so this
  // drives the dispatcher through many rounds without waiting.
  void pump() {
    for (int i = 0; i < 50; ++i) {
      io_.poll_one();
      io_.restart();
    }
  }

  int count(JobStatus status) {
    auto counts = store_->countByStatus();
    for (auto& [s, n] : *counts) {
      if (s == status) return n;
    }
    return 0;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  boost::asio::io_context io_;
  std::unique_ptr<sqlite::SqliteStore> store_;
  DispatcherConfig config_;
  FakeProvider first_{"first"};
  FakeProvider second_{"second"};
};

// Records what the dispatcher reports to its observer (the metrics).
struct RecordingObserver : DispatchObserver {
  std::vector<std::pair<std::string, SendResultKind>> attempts;
  std::vector<std::int64_t> sent_jobs;
  std::map<std::string, int> rate_waits;
  std::map<std::string, BreakerState> breakers;

  void onAttempt(const std::string& provider, SendResultKind outcome) override {
    attempts.emplace_back(provider, outcome);
  }
  void onSent(const SmsJob& job, TimePoint) override { sent_jobs.push_back(job.id); }
  void onRateLimitWait(const std::string& provider) override { ++rate_waits[provider]; }
  void onBreakerState(const std::string& provider, BreakerState state) override {
    breakers[provider] = state;
  }
};

TEST_F(DispatcherTest, ObserverHearsAttemptsSendsRateWaitsAndBreakers) {
  config_.limits["first"].messages_per_second = 1;
  config_.limits["second"].breaker = {1, seconds(30)};
  config_.max_attempts = 1;  // a is not retried, so only b can be sent
  enqueue("a");
  enqueue("b");
  first_.script({SendResultKind::kFailOver, "", 0, {}, "", {}, 401, "auth", "bad credentials"});
  second_.script({SendResultKind::kRetryLater, "", 0, {}, "", {}, 503, "", "down"});
  RecordingObserver observer;
  auto d = dispatcher({"first", "second"});
  d->setObserver(&observer);
  d->start();
  pump();

  // a: refused by first, failed over to second, which is down (its breaker opens after one
  // failure); b: waits for first's one-per-second rate.
  ASSERT_GE(observer.attempts.size(), 2u);
  EXPECT_EQ(observer.attempts[0], std::make_pair(std::string("first"), SendResultKind::kFailOver));
  EXPECT_EQ(observer.attempts[1],
            std::make_pair(std::string("second"), SendResultKind::kRetryLater));
  EXPECT_GE(observer.rate_waits["first"], 1);
  EXPECT_EQ(observer.breakers["second"], BreakerState::kOpen);
  EXPECT_EQ(observer.breakers["first"], BreakerState::kClosed);
  EXPECT_TRUE(observer.sent_jobs.empty());

  clock_.advance(seconds(1));
  pump();
  EXPECT_EQ(observer.sent_jobs.size(), 1u) << "b, once first's rate allows it";
}

TEST_F(DispatcherTest, SendsQueuedJobsAndRecordsSent) {
  enqueue("a");
  enqueue("b");
  auto d = dispatcher({"first"});
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 2u);
  EXPECT_EQ(count(JobStatus::kSent), 2);
  EXPECT_EQ(d->stats().sent, 2u);

  first_.report({.provider = "first",
                 .provider_message_id = "first-1",
                 .status = JobStatus::kDelivered,
                 .reported_at = clock_.now()});
  EXPECT_EQ(count(JobStatus::kDelivered), 1);
}

TEST_F(DispatcherTest, OtpGoesBeforeTransactional) {
  enqueue("t", Lane::kTransactional);
  enqueue("o", Lane::kOtp);
  auto d = dispatcher({"first"});
  d->start();
  pump();
  ASSERT_EQ(first_.sent.size(), 2u);
  EXPECT_EQ(first_.sent[0].body, "Body o");
}

TEST_F(DispatcherTest, FailsOverToTheNextProvider) {
  enqueue("a");
  first_.script({SendResultKind::kFailOver, "", 0, {}, "", {}, 401, "auth", "bad credentials"});
  auto d = dispatcher({"first", "second"});
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 1u);
  EXPECT_EQ(second_.sent.size(), 1u);
  EXPECT_EQ(count(JobStatus::kSent), 1);
}

TEST_F(DispatcherTest, FailsWhenEveryProviderRefuses) {
  enqueue("a");
  first_.script({SendResultKind::kFailOver, "", 0, {}, "", {}, 401, "auth", "no"});
  second_.script({SendResultKind::kFailOver, "", 0, {}, "", {}, 402, "credit", "no credit"});
  auto d = dispatcher({"first", "second"});
  d->start();
  pump();
  EXPECT_EQ(count(JobStatus::kFailed), 1);
}

TEST_F(DispatcherTest, RejectedDoesNotFailOver) {
  enqueue("a");
  first_.script({SendResultKind::kRejected, "", 0, {}, "", {}, 400, "number", "invalid number"});
  auto d = dispatcher({"first", "second"});
  d->start();
  pump();
  EXPECT_EQ(second_.sent.size(), 0u);
  EXPECT_EQ(count(JobStatus::kRejected), 1);
}

TEST_F(DispatcherTest, RetriesLaterThenGivesUp) {
  enqueue("a");
  SendResult busy{SendResultKind::kRetryLater, "",  0,  {},         "",
                  milliseconds(5000),          429, "", "slow down"};
  first_.script(busy);
  first_.script(busy);
  first_.script(busy);
  auto d = dispatcher({"first"});
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 1u);
  EXPECT_EQ(count(JobStatus::kQueued), 1) << "waiting for the retry";
  pump();
  EXPECT_EQ(first_.sent.size(), 1u) << "Retry-After is honoured";
  clock_.advance(seconds(6));
  pump();
  EXPECT_EQ(first_.sent.size(), 2u);
  clock_.advance(seconds(60));
  pump();
  EXPECT_EQ(first_.sent.size(), 3u);
  EXPECT_EQ(count(JobStatus::kFailed), 1) << "max_attempts=3";
}

TEST_F(DispatcherTest, ExpiredJobsAreNotSent) {
  enqueue("a", Lane::kOtp, clock_.now() + seconds(30));
  clock_.advance(seconds(31));
  auto d = dispatcher({"first"});
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 0u);
  EXPECT_EQ(count(JobStatus::kExpired), 1);
}

TEST_F(DispatcherTest, StopDrainsAndCallsBack) {
  manualRounds();
  enqueue("a");
  auto d = dispatcher({"first"});
  d->start();
  pump();
  bool drained = false;
  d->stop([&] { drained = true; });
  EXPECT_TRUE(drained);
}

// Rounds driven by the manual clock: `step` of time, then one round and its completions.
void runFor(Dispatcher& d, ManualClock& clock, boost::asio::io_context& io,
            std::chrono::milliseconds total, std::chrono::milliseconds step) {
  for (auto t = std::chrono::milliseconds(0); t < total; t += step) {
    d.runOnce();
    io.poll();
    io.restart();
    clock.advance(step);
  }
}

// The most sends (or summed weights) that started within any window [t, t + 1s).
template <typename Weight>
double busiestSecond(const std::vector<TimePoint>& times, Weight weight) {
  double most = 0;
  for (std::size_t i = 0; i < times.size(); ++i) {
    double sum = 0;
    for (std::size_t j = i; j < times.size() && times[j] < times[i] + seconds(1); ++j) {
      sum += weight(j);
    }
    most = std::max(most, sum);
  }
  return most;
}

TEST_F(DispatcherTest, MessageRateIsNeverExceededInAnySecond) {
  manualRounds();
  for (int i = 0; i < 60; ++i) enqueue("m" + std::to_string(i));
  config_.limits["first"].messages_per_second = 7;
  first_.recordTimes(&clock_);
  auto d = dispatcher({"first"});
  runFor(*d, clock_, io_, seconds(12), milliseconds(10));
  ASSERT_EQ(first_.sent.size(), 60u);
  EXPECT_LE(busiestSecond(first_.sent_at, [](std::size_t) { return 1.0; }), 7.0);
  EXPECT_GT(d->stats().rate_limited, 0u);
  // And the limit is used, not just respected: 60 at 7/s take about 8.6 s.
  EXPECT_LT(first_.sent_at.back() - first_.sent_at.front(), seconds(10));
}

TEST_F(DispatcherTest, SegmentRateIsNeverExceededInAnySecond) {
  manualRounds();
  for (int i = 0; i < 30; ++i)
    enqueue("s" + std::to_string(i), Lane::kTransactional, {}, 1 + i % 3);
  config_.limits["first"].segments_per_second = 10;
  first_.recordTimes(&clock_);
  auto d = dispatcher({"first"});
  runFor(*d, clock_, io_, seconds(10), milliseconds(10));
  ASSERT_EQ(first_.sent.size(), 30u);
  EXPECT_LE(busiestSecond(first_.sent_at, [&](std::size_t j) { return first_.sent[j].segments; }),
            10.0);
}

TEST_F(DispatcherTest, OtpBehindAHundredThousandMarketingJobsGoesInTheFirstClaim) {
  manualRounds();
  std::vector<SmsJob> backlog;
  backlog.reserve(100'000);
  for (int i = 0; i < 100'000; ++i)
    backlog.push_back(job("mk" + std::to_string(i), Lane::kMarketing));
  ASSERT_TRUE(store_->enqueue(backlog, {"shop", "backlog"}));
  clock_.advance(seconds(1));
  enqueue("otp", Lane::kOtp);
  config_.limits["first"].messages_per_second = 20;
  auto d = dispatcher({"first"});
  d->runOnce();
  io_.poll();
  ASSERT_FALSE(first_.sent.empty());
  EXPECT_EQ(first_.sent.front().body, "Body otp");
  EXPECT_EQ(first_.sent.front().lane, Lane::kOtp);
}

TEST_F(DispatcherTest, WaitingOtpGetsTheProvidersCapacityBeforeMarketing) {
  manualRounds();
  for (int i = 0; i < 10; ++i) enqueue("mk" + std::to_string(i), Lane::kMarketing);
  config_.limits["first"].messages_per_second = 2;
  auto d = dispatcher({"first"});
  d->runOnce();
  io_.poll();
  io_.restart();
  ASSERT_EQ(first_.sent.size(), 2u);
  enqueue("otp", Lane::kOtp);
  clock_.advance(milliseconds(1100));
  d->runOnce();
  io_.poll();
  ASSERT_EQ(first_.sent.size(), 4u);
  EXPECT_EQ(first_.sent[2].body, "Body otp") << "claimed after the marketing jobs, sent first";
}

TEST_F(DispatcherTest, RetryAfterHoldsEveryJobForThatProvider) {
  enqueue("a");
  enqueue("b");
  enqueue("c");
  config_.limits["first"].max_inflight = 1;  // one at a time: b and c wait behind a
  first_.script({SendResultKind::kRetryLater, "", 0, {}, "", seconds(5), 429, "", "slow down"});
  auto d = dispatcher({"first"});
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 1u) << "nothing else goes before Retry-After has passed";
  clock_.advance(seconds(4));
  pump();
  EXPECT_EQ(first_.sent.size(), 1u);
  clock_.advance(seconds(2));
  pump();
  clock_.advance(seconds(60));  // a's own retry
  pump();
  EXPECT_EQ(first_.sent.size(), 4u);
  EXPECT_EQ(count(JobStatus::kSent), 3);
}

TEST_F(DispatcherTest, ProviderMaxInflightBoundsOutstandingRequests) {
  manualRounds();
  for (int i = 0; i < 10; ++i) enqueue("j" + std::to_string(i));
  config_.limits["first"].max_inflight = 3;
  first_.defer = true;
  auto d = dispatcher({"first"});
  d->runOnce();
  io_.poll();
  io_.restart();
  EXPECT_EQ(first_.pending.size(), 3u);
  first_.complete();
  io_.poll();
  io_.restart();
  d->runOnce();
  EXPECT_EQ(first_.pending.size(), 3u) << "one finished, one more started";
  EXPECT_EQ(first_.sent.size(), 4u);
  while (!first_.pending.empty()) {
    first_.complete();
    io_.poll();
    io_.restart();
    d->runOnce();
  }
  EXPECT_EQ(first_.sent.size(), 10u);
  EXPECT_EQ(count(JobStatus::kSent), 10);
}

TEST_F(DispatcherTest, BreakerMovesTrafficToTheSecondProviderAndBack) {
  manualRounds();
  config_.limits["first"].breaker = {3, seconds(30)};
  config_.max_attempts = 10;
  config_.retry_base = milliseconds(1);
  SendResult unavailable{SendResultKind::kRetryLater, "", 0, {}, "", {}, 503, "", "503"};
  // The first round sends all six at once; every one fails, and three failures are enough.
  for (int i = 0; i < 6; ++i) first_.script(unavailable);
  for (int i = 0; i < 6; ++i) enqueue("b" + std::to_string(i));
  auto d = dispatcher({"first", "second"});
  runFor(*d, clock_, io_, seconds(2), milliseconds(100));
  EXPECT_EQ(first_.sent.size(), 6u) << "nothing more once the breaker is open";
  EXPECT_EQ(d->breakerState("first"), BreakerState::kOpen);
  EXPECT_EQ(d->stats().breaker_opened, 1u);
  EXPECT_EQ(second_.sent.size(), 6u) << "the retries all went to the second provider";
  EXPECT_EQ(count(JobStatus::kSent), 6);

  // After open_for one probe goes to the first provider; it succeeds and traffic returns.
  clock_.advance(seconds(31));
  EXPECT_EQ(d->breakerState("first"), BreakerState::kHalfOpen);
  for (int i = 0; i < 4; ++i) enqueue("c" + std::to_string(i));
  runFor(*d, clock_, io_, seconds(1), milliseconds(100));
  EXPECT_EQ(d->breakerState("first"), BreakerState::kClosed);
  EXPECT_EQ(first_.sent.size(), 7u) << "one probe";
  EXPECT_EQ(second_.sent.size(), 9u) << "the rest of that round, while the probe was out";
  for (int i = 0; i < 2; ++i) enqueue("d" + std::to_string(i));
  runFor(*d, clock_, io_, seconds(1), milliseconds(100));
  EXPECT_EQ(first_.sent.size(), 9u) << "traffic is back on the first provider";
  EXPECT_EQ(second_.sent.size(), 9u);
}

TEST_F(DispatcherTest, FailedProbeReopensTheBreaker) {
  manualRounds();
  config_.limits["first"].breaker = {2, seconds(10)};
  SendResult unavailable{SendResultKind::kRetryLater, "", 0, {}, "", {}, 503, "", "503"};
  for (int i = 0; i < 3; ++i) first_.script(unavailable);
  enqueue("a");
  enqueue("b");
  auto d = dispatcher({"first"});
  d->runOnce();
  io_.poll();
  io_.restart();
  EXPECT_EQ(d->breakerState("first"), BreakerState::kOpen);
  clock_.advance(seconds(11));
  ASSERT_EQ(d->breakerState("first"), BreakerState::kHalfOpen);
  d->runOnce();
  io_.poll();
  io_.restart();
  EXPECT_EQ(first_.sent.size(), 3u) << "exactly one probe";
  EXPECT_EQ(d->breakerState("first"), BreakerState::kOpen);
  EXPECT_EQ(count(JobStatus::kQueued), 2) << "paused jobs wait, they don't fail";
}

TEST_F(DispatcherTest, CountryPrefixPicksTheRoute) {
  enqueue("us", Lane::kTransactional, {}, 1, "+12025550123");
  enqueue("pl", Lane::kTransactional, {}, 1, "+48600700800");
  Route route({"first"});
  route.countries["+1"] = {"second"};
  auto d = dispatcher(route);
  d->start();
  pump();
  ASSERT_EQ(second_.sent.size(), 1u);
  EXPECT_EQ(second_.sent[0].recipient, "+12025550123");
  ASSERT_EQ(first_.sent.size(), 1u);
  EXPECT_EQ(first_.sent[0].recipient, "+48600700800");
}

TEST_F(DispatcherTest, AttemptNumberReachesTheProvider) {
  enqueue("a");
  first_.script({SendResultKind::kRetryLater, "", 0, {}, "", {}, 500, "", "boom", true});
  auto d = dispatcher({"first"});
  d->start();
  pump();
  clock_.advance(seconds(10));
  pump();
  ASSERT_EQ(first_.sent.size(), 2u);
  EXPECT_EQ(first_.sent[0].attempt, 1);
  EXPECT_EQ(first_.sent[1].attempt, 2);
  EXPECT_EQ(d->stats().ambiguous, 1u);
}

TEST_F(DispatcherTest, LaneMaxAgeEndsRetries) {
  config_.lane_retry[Lane::kTransactional] = {10, seconds(5)};
  config_.retry_base = seconds(10);
  enqueue("a");
  first_.script({SendResultKind::kRetryLater, "", 0, {}, "", seconds(10), 503, "", "busy"});
  auto d = dispatcher({"first"});
  d->start();
  pump();
  EXPECT_EQ(count(JobStatus::kFailed), 1) << "the retry would come after max_age";
}

class InDoubtTest : public DispatcherTest {
 protected:
  // A job claimed by a dispatcher that then died: `sending` with a lease that runs out.
  void leaseAndDie() {
    enqueue("a");
    auto claimed = store_->claimDue(Lane::kTransactional, 10, "dead", seconds(30), clock_.now());
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    clock_.advance(seconds(31));
  }
};

TEST_F(InDoubtTest, ResendSendsAgain) {
  leaseAndDie();
  auto d = dispatcher({"first"});
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 1u);
  EXPECT_EQ(count(JobStatus::kSent), 1);
  EXPECT_EQ(d->stats().ambiguous, 1u) << "a resent in-doubt job may be a duplicate";
}

TEST_F(InDoubtTest, HoldNeverSendsTwice) {
  leaseAndDie();
  Route route({"first"});
  route.in_doubt = InDoubtPolicy::kHold;
  auto d = dispatcher(route);
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 0u);
  EXPECT_EQ(count(JobStatus::kFailed), 1);
  EXPECT_EQ(d->stats().held, 1u);
}

TEST_F(DispatcherTest, StopReleasesClaimedJobsThatWereNotSent) {
  manualRounds();
  for (int i = 0; i < 5; ++i) enqueue("r" + std::to_string(i));
  config_.limits["first"].messages_per_second = 1;
  auto d = dispatcher({"first"});
  d->runOnce();
  io_.poll();
  io_.restart();
  ASSERT_EQ(first_.sent.size(), 1u);
  bool drained = false;
  d->stop([&] { drained = true; });
  EXPECT_TRUE(drained);
  EXPECT_EQ(count(JobStatus::kQueued), 4) << "back in the queue, not stuck until the lease ends";
}

// --- With the store worker, as `run` uses it: store calls on their own thread ---

class StoreThreadTest : public DispatcherTest {
 protected:
  void SetUp() override {
    DispatcherTest::SetUp();
    config_.store_thread = true;
    config_.poll_interval = milliseconds(5);
  }

  // Runs the io_context until `done` holds; fails after a generous bound instead of hanging.
  template <typename Done>
  void runUntil(Done done) {
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(milliseconds(100));
      if (io_.stopped()) io_.restart();
    }
    ASSERT_TRUE(done());
  }

  void stopAndDrain(Dispatcher& d) {
    bool drained = false;
    d.stop([&] { drained = true; });
    runUntil([&] { return drained; });
  }
};

TEST_F(StoreThreadTest, SendsEveryJobOnceOtpFirstAndDrains) {
  constexpr int kMarketing = 300;
  std::vector<SmsJob> jobs;
  for (int i = 0; i < kMarketing; ++i)
    jobs.push_back(job("m" + std::to_string(i), Lane::kMarketing));
  jobs.push_back(job("otp", Lane::kOtp));
  ASSERT_TRUE(store_->enqueue(jobs, {"shop", "1"}));
  config_.batch_size = 20;
  config_.max_inflight = 30;
  auto d = dispatcher({"first"});
  d->start();
  runUntil([&] { return d->stats().sent == kMarketing + 1; });
  stopAndDrain(*d);

  EXPECT_EQ(count(JobStatus::kSent), kMarketing + 1);
  EXPECT_EQ(count(JobStatus::kSending), 0);
  std::set<std::int64_t> ids;
  for (const OutgoingSms& sms : first_.sent) ids.insert(sms.job_id);
  EXPECT_EQ(first_.sent.size(), static_cast<std::size_t>(kMarketing + 1)) << "no job twice";
  EXPECT_EQ(ids.size(), first_.sent.size());
  ASSERT_FALSE(first_.sent.empty());
  EXPECT_EQ(first_.sent.front().lane, Lane::kOtp) << "the OTP goes in the first claim";
}

TEST_F(StoreThreadTest, AReportRightAfterItsSendIsAppliedAfterTheSendIsRecorded) {
  constexpr int kJobs = 10;
  for (int i = 0; i < kJobs; ++i) enqueue("k" + std::to_string(i));
  first_.defer = true;
  auto d = dispatcher({"first"});
  d->start();
  runUntil([&] { return first_.pending.size() == static_cast<std::size_t>(kJobs); });

  // Each acceptance is followed at once by its delivery report, before the worker could have
  // recorded the acceptance: the report must still find the job sent, not sending.
  for (int i = 1; i <= kJobs; ++i) {
    first_.complete();
    DeliveryReport report;
    report.provider = "first";
    report.provider_message_id = "first-deferred-" + std::to_string(i);
    report.status = JobStatus::kDelivered;
    report.reported_at = clock_.now();
    first_.report(report);
  }
  stopAndDrain(*d);
  EXPECT_EQ(count(JobStatus::kDelivered), kJobs);
  EXPECT_EQ(d->stats().sent, static_cast<std::uint64_t>(kJobs));
}

TEST_F(StoreThreadTest, MaxInflightBoundsSendsWhoseOutcomeIsNotRecorded) {
  for (int i = 0; i < 12; ++i) enqueue("k" + std::to_string(i));
  first_.defer = true;
  config_.max_inflight = 4;
  config_.batch_size = 50;
  auto d = dispatcher({"first"});
  d->start();
  runUntil([&] { return first_.pending.size() == 4u; });
  // Later rounds send nothing more while four outcomes are open.
  for (int i = 0; i < 20; ++i) io_.run_one_for(milliseconds(10));
  EXPECT_EQ(first_.sent.size(), 4u);
  while (!first_.pending.empty()) first_.complete();
  runUntil([&] { return first_.sent.size() >= 8u; });
  while (!first_.pending.empty()) first_.complete();
  first_.defer = false;
  runUntil([&] { return d->stats().sent == 12u; });
  stopAndDrain(*d);
  EXPECT_EQ(count(JobStatus::kSent), 12);
}

// A store whose outcome records wait at a gate until the test opens it: a commit that takes
// as long as the test wants. Everything else goes straight to the SQLite store.
class GatedStore final : public ForwardingJobStore {
 public:
  explicit GatedStore(JobStore& inner) : ForwardingJobStore(inner) {}

  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    opened_.notify_all();
  }
  bool recordWaiting() {
    std::lock_guard lock(mu_);
    return waiting_ > 0;
  }

  std::vector<Status> recordOutcomes(std::span<const JobOutcome> outcomes, const std::string& owner,
                                     TimePoint now) override {
    {
      std::unique_lock lock(mu_);
      ++waiting_;
      opened_.wait(lock, [this] { return open_; });
      --waiting_;
    }
    return ForwardingJobStore::recordOutcomes(outcomes, owner, now);
  }
  Status recordOutcome(const JobOutcome& outcome, const std::string& owner,
                       TimePoint now) override {
    return recordOutcomes(std::span(&outcome, 1), owner, now).front();
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = false;
  int waiting_ = 0;
};

TEST_F(StoreThreadTest, ClaimsGoOnWhileAnOutcomeCommitIsStillRunning) {
  for (int i = 0; i < 3; ++i) enqueue("first" + std::to_string(i));
  GatedStore gated(*store_);
  first_.defer = true;
  config_.batch_size = 3;
  config_.max_inflight = 10;
  Dispatcher d(config_, gated, {{"first", &first_}}, {{"default", Route{"first"}}}, clock_, io_);
  // Opened on every way out (before `d` goes), so the dispatcher's workers can be joined.
  struct Opener {
    GatedStore& store;
    ~Opener() { store.open(); }
  } opener{gated};
  d.start();
  runUntil([&] { return first_.pending.size() == 3u; });
  first_.complete();
  runUntil([&] { return gated.recordWaiting(); });

  // That commit hangs; jobs that come due now are still claimed and sent: a claim must not
  // queue behind a commit, which would hold every send slot waiting a claim longer.
  for (int i = 0; i < 3; ++i) enqueue("second" + std::to_string(i));
  runUntil([&] { return first_.sent.size() == 6u; });

  gated.open();
  while (!first_.pending.empty()) first_.complete();
  runUntil([&] { return d.stats().sent == 6u; });
  stopAndDrain(d);
  EXPECT_EQ(count(JobStatus::kSent), 6);
}

}  // namespace
}  // namespace smsbridge
