#include "core/rate_limit.h"

#include <gtest/gtest.h>

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kStart{seconds(1'800'000'000)};

TEST(RateWindowTest, UnlimitedAdmitsEverything) {
  RateWindow window;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(window.admits(1, kStart));
    window.take(1, kStart);
  }
}

TEST(RateWindowTest, AdmitsTheLimitPerSecondAndSaysWhenMoreFits) {
  RateWindow window(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(window.admits(1, kStart + milliseconds(i * 100)));
    window.take(1, kStart + milliseconds(i * 100));
  }
  EXPECT_FALSE(window.admits(1, kStart + milliseconds(999)));
  EXPECT_EQ(window.availableAt(1, kStart + milliseconds(500)), kStart + seconds(1));
  EXPECT_EQ(window.availableAt(2, kStart + milliseconds(500)), kStart + milliseconds(1100));
  EXPECT_TRUE(window.admits(1, kStart + seconds(1)));
}

TEST(RateWindowTest, WeightsCountAndAnOversizedOneGoesAlone) {
  RateWindow segments(4);
  ASSERT_TRUE(segments.admits(3, kStart));
  segments.take(3, kStart);
  EXPECT_FALSE(segments.admits(2, kStart));
  EXPECT_TRUE(segments.admits(1, kStart));
  EXPECT_FALSE(segments.admits(6, kStart + milliseconds(500))) << "not into a busy window";
  EXPECT_TRUE(segments.admits(6, kStart + seconds(1))) << "alone into an empty one";
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndProbesOnce) {
  CircuitBreaker breaker({3, seconds(10)});
  EXPECT_FALSE(breaker.onFailure(kStart));
  EXPECT_FALSE(breaker.onSuccess()) << "a success resets the count";
  EXPECT_FALSE(breaker.onFailure(kStart));
  EXPECT_FALSE(breaker.onFailure(kStart));
  EXPECT_TRUE(breaker.onFailure(kStart));
  EXPECT_EQ(breaker.state(kStart + seconds(9)), BreakerState::kOpen);
  EXPECT_FALSE(breaker.allows(kStart + seconds(9)));

  TimePoint later = kStart + seconds(10);
  EXPECT_EQ(breaker.state(later), BreakerState::kHalfOpen);
  ASSERT_TRUE(breaker.allows(later));
  breaker.onStart(later);
  EXPECT_FALSE(breaker.allows(later)) << "one probe at a time";
  EXPECT_TRUE(breaker.onFailure(later)) << "a failed probe opens it again";
  EXPECT_EQ(breaker.reopensAt(), later + seconds(10));

  TimePoint probe = later + seconds(10);
  breaker.onStart(probe);
  EXPECT_TRUE(breaker.onSuccess());
  EXPECT_EQ(breaker.state(probe), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, ZeroThresholdNeverOpens) {
  CircuitBreaker breaker({0, seconds(10)});
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(breaker.onFailure(kStart));
  EXPECT_TRUE(breaker.allows(kStart));
}

}  // namespace
}  // namespace smsbridge
