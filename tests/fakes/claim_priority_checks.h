#pragma once

// JobStore::claimDueByPriority as every backend must answer it (strict lane priority, oldest
// first within a lane, opt-outs suppressed at claim time), shared by the SQLite unit test and
// the PostgreSQL and MariaDB integration tests. The store must be migrated and empty.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/job_store.h"
#include "tests/fakes/sample_job.h"

namespace smsbridge::testing {

inline std::vector<std::string> claimedKeys(JobStore& store, int limit, TimePoint now) {
  auto jobs =
      store.claimDueByPriority(kLanesByPriority, limit, "me", std::chrono::seconds(30), now);
  EXPECT_TRUE(jobs) << jobs.error().toString();
  std::vector<std::string> keys;
  if (!jobs) return keys;
  for (const SmsJob& job : *jobs) {
    EXPECT_EQ(job.status, JobStatus::kSending) << job.dedup_key;
    EXPECT_EQ(job.lease_owner, "me") << job.dedup_key;
    keys.push_back(job.dedup_key);
  }
  return keys;
}

inline int countOf(JobStore& store, JobStatus status) {
  auto counts = store.countByStatus();
  EXPECT_TRUE(counts) << counts.error().toString();
  if (!counts) return -1;
  for (const auto& [s, n] : *counts) {
    if (s == status) return n;
  }
  return 0;
}

// A lane is claimed from only once every due job of the lanes above it is claimed; a marketing
// job must never take a place an OTP or transactional job was due for.
inline void checkClaimByPriority(JobStore& store, TimePoint now) {
  using std::chrono::seconds;
  std::vector<SmsJob> jobs = {
      sampleJob("marketing-old", Lane::kMarketing, now - seconds(300)),
      sampleJob("trans-new", Lane::kTransactional, now - seconds(10)),
      sampleJob("otp-new", Lane::kOtp, now - seconds(5)),
      sampleJob("trans-old", Lane::kTransactional, now - seconds(60)),
      sampleJob("otp-old", Lane::kOtp, now - seconds(20)),
      sampleJob("trans-mid", Lane::kTransactional, now - seconds(30)),
      sampleJob("marketing-new", Lane::kMarketing, now - seconds(100)),
      sampleJob("otp-future", Lane::kOtp, now + seconds(60)),
  };
  ASSERT_TRUE(store.enqueue(jobs, {"shop", "1"}));

  EXPECT_EQ(claimedKeys(store, 4, now),
            (std::vector<std::string>{"otp-old", "otp-new", "trans-old", "trans-mid"}));
  // The lanes below were not touched: nothing of theirs is leased.
  EXPECT_EQ(countOf(store, JobStatus::kSending), 4);

  // A new OTP goes ahead of the marketing jobs that were due long before it.
  std::vector<SmsJob> late = {sampleJob("otp-late", Lane::kOtp, now - seconds(1))};
  ASSERT_TRUE(store.enqueue(late, {"shop", "2"}));
  EXPECT_EQ(claimedKeys(store, 2, now), (std::vector<std::string>{"otp-late", "trans-new"}));
  EXPECT_EQ(claimedKeys(store, 10, now),
            (std::vector<std::string>{"marketing-old", "marketing-new"}));
  EXPECT_TRUE(claimedKeys(store, 10, now).empty());
  EXPECT_EQ(claimedKeys(store, 10, now + seconds(61)), (std::vector<std::string>{"otp-future"}));
}

// A marketing job whose recipient opted out after it was enqueued is suppressed at the claim,
// and the claim goes on to the jobs after it. For stores that keep opt-outs.
inline void checkClaimByPrioritySuppressesOptOuts(JobStore& store, TimePoint now) {
  using std::chrono::seconds;
  SmsJob opted = sampleJob("opted", Lane::kMarketing, now - seconds(20));
  opted.recipient = "+48600000001";
  SmsJob other = sampleJob("other", Lane::kMarketing, now - seconds(10));
  std::vector<SmsJob> jobs = {opted, other,
                              sampleJob("trans", Lane::kTransactional, now - seconds(5))};
  ASSERT_TRUE(store.enqueue(jobs, {"shop", "1"}));
  ASSERT_TRUE(store.setOptOut("+48600000001", true, "STOP", now).isOk());

  std::vector<std::string> keys = claimedKeys(store, 10, now);
  EXPECT_EQ(keys, (std::vector<std::string>{"trans", "other"}));
  EXPECT_EQ(countOf(store, JobStatus::kSuppressed), 1);
}

}  // namespace smsbridge::testing
