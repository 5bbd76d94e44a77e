#include "core/dispatcher.h"

#include <gtest/gtest.h>

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
  }

  std::unique_ptr<Dispatcher> dispatcher(std::vector<std::string> route) {
    auto d = std::make_unique<Dispatcher>(
        config_, *store_,
        std::map<std::string, Provider*>{{"first", &first_}, {"second", &second_}},
        std::map<std::string, std::vector<std::string>>{{"default", route}}, clock_, io_);
    first_.setDeliveryReportSink(
        [d = d.get()](const DeliveryReport& r) { d->onDeliveryReport(r); });
    return d;
  }

  void enqueue(std::string key, Lane lane = Lane::kTransactional,
               std::optional<TimePoint> expires = std::nullopt) {
    SmsJob j;
    j.dedup_key = key;
    j.source = "shop";
    j.mapping = "m";
    j.recipient = "+48600700800";
    j.body = "Body " + key;
    j.segments = 1;
    j.lane = lane;
    j.route = "default";
    j.created_at = clock_.now();
    j.not_before = clock_.now();
    j.expires_at = expires;
    std::vector<SmsJob> jobs = {j};
    ASSERT_TRUE(store_->enqueue(jobs, {"shop", key}));
  }

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

TEST_F(DispatcherTest, SendsQueuedJobsAndRecordsSent) {
  enqueue("a");
  enqueue("b");
  auto d = dispatcher({"first"});
  d->start();
  pump();
  EXPECT_EQ(first_.sent.size(), 2u);
  EXPECT_EQ(count(JobStatus::kSent), 2);
  EXPECT_EQ(d->stats().sent, 2u);

  first_.report({"first", "first-1", JobStatus::kDelivered, "", clock_.now()});
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
  enqueue("a");
  auto d = dispatcher({"first"});
  d->start();
  pump();
  bool drained = false;
  d->stop([&] { drained = true; });
  EXPECT_TRUE(drained);
}

}  // namespace
}  // namespace smsbridge
