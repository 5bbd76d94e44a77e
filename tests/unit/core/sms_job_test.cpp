#include "core/sms_job.h"

#include <gtest/gtest.h>

namespace smsbridge {
namespace {

TEST(JobStatusTest, ForwardPathIsAllowed) {
  EXPECT_TRUE(canTransition(JobStatus::kScheduled, JobStatus::kQueued));
  EXPECT_TRUE(canTransition(JobStatus::kQueued, JobStatus::kSending));
  EXPECT_TRUE(canTransition(JobStatus::kSending, JobStatus::kSent));
  EXPECT_TRUE(canTransition(JobStatus::kSent, JobStatus::kDelivered));
  EXPECT_TRUE(canTransition(JobStatus::kSent, JobStatus::kUndelivered));
  EXPECT_TRUE(canTransition(JobStatus::kSent, JobStatus::kExpired));
}

TEST(JobStatusTest, FinalStatusesNeverChange) {
  for (JobStatus final :
       {JobStatus::kDelivered, JobStatus::kUndelivered, JobStatus::kExpired, JobStatus::kFailed,
        JobStatus::kRejected, JobStatus::kSuppressed, JobStatus::kCancelled}) {
    EXPECT_TRUE(isFinal(final));
    for (int to = 0; to <= static_cast<int>(JobStatus::kCancelled); ++to) {
      EXPECT_FALSE(canTransition(final, static_cast<JobStatus>(to)))
          << statusName(final) << " -> " << statusName(static_cast<JobStatus>(to));
    }
  }
}

TEST(JobStatusTest, LateSentReportNeverOverwritesDelivered) {
  EXPECT_FALSE(canTransition(JobStatus::kDelivered, JobStatus::kSent));
  EXPECT_FALSE(canTransition(JobStatus::kSent, JobStatus::kSent));
  EXPECT_FALSE(canTransition(JobStatus::kSent, JobStatus::kQueued));
}

TEST(JobStatusTest, OnlyRetryStepsBack) {
  EXPECT_TRUE(canTransition(JobStatus::kSending, JobStatus::kQueued));
  EXPECT_FALSE(canTransition(JobStatus::kSending, JobStatus::kScheduled));
  EXPECT_FALSE(canTransition(JobStatus::kQueued, JobStatus::kScheduled));
}

TEST(JobStatusTest, DeliveryNeedsAnAcceptedMessage) {
  EXPECT_FALSE(canTransition(JobStatus::kQueued, JobStatus::kDelivered));
  EXPECT_FALSE(canTransition(JobStatus::kSending, JobStatus::kDelivered));
}

TEST(JobStatusTest, NamesRoundTrip) {
  for (int s = 0; s <= static_cast<int>(JobStatus::kCancelled); ++s) {
    auto status = static_cast<JobStatus>(s);
    EXPECT_EQ(parseStatus(statusName(status)), status);
  }
  EXPECT_EQ(parseStatus("bogus"), std::nullopt);
  EXPECT_EQ(parseLane("otp"), Lane::kOtp);
  EXPECT_EQ(parseLane("OTP"), std::nullopt);
}

}  // namespace
}  // namespace smsbridge
