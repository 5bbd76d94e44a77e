#pragma once

// JobStore::claimStatusPolls and countByStatusAndLane as every backend must answer them, shared by
// the SQLite unit test and the PostgreSQL and MariaDB integration tests. The store must be migrated
// and empty.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/job_store.h"
#include "tests/fakes/sample_job.h"

namespace smsbridge::testing {

// Enqueues one job per key, claims them and records each as `sent` by `provider` at `sent_at`
// with provider message id "<key>-id". Returns the job ids in key order.
inline std::vector<std::int64_t> sendStatusPollJobs(JobStore& store,
                                                    const std::vector<std::string>& keys,
                                                    const std::string& provider,
                                                    TimePoint sent_at) {
  std::vector<SmsJob> jobs;
  for (const auto& key : keys) jobs.push_back(sampleJob(key, Lane::kTransactional, sent_at));
  EXPECT_TRUE(store.enqueue(jobs, {"shop", ""}));
  auto claimed = store.claimDue(Lane::kTransactional, 100, "me", std::chrono::seconds(30), sent_at);
  EXPECT_TRUE(claimed) << claimed.error().toString();
  std::vector<std::int64_t> ids;
  for (const auto& key : keys) {
    for (const SmsJob& job : claimed ? *claimed : std::vector<SmsJob>{}) {
      if (job.dedup_key != key) continue;
      JobOutcome outcome;
      outcome.job_id = job.id;
      outcome.status = JobStatus::kSent;
      outcome.provider = provider;
      outcome.provider_message_id = key + "-id";
      EXPECT_TRUE(store.recordOutcome(outcome, "me", sent_at).isOk());
      ids.push_back(job.id);
    }
  }
  return ids;
}

inline std::vector<std::int64_t> claimedIds(JobStore& store, const StatusPollQuery& query,
                                            TimePoint now) {
  auto candidates = store.claimStatusPolls(query, now);
  EXPECT_TRUE(candidates) << candidates.error().toString();
  std::vector<std::int64_t> ids;
  for (const auto& candidate : candidates ? *candidates : std::vector<StatusPollCandidate>{}) {
    ids.push_back(candidate.job_id);
  }
  return ids;
}

inline StatusPollQuery statusPollQuery(const std::string& provider, TimePoint now, int limit = 10) {
  StatusPollQuery query;
  query.provider = provider;
  query.sent_until = now - std::chrono::minutes(10);
  query.sent_from = now - std::chrono::hours(1);
  query.limit = limit;
  query.min_interval = std::chrono::minutes(1);
  return query;
}

// Jobs sent without a final status for longer than `after`, of this provider only, oldest
// first, limited; each handed out once until its next poll is due; never past max_age.
inline void checkClaimStatusPolls(JobStore& store) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  const TimePoint t0 = TimePoint(seconds(1'800'000'000));
  auto older = sendStatusPollJobs(store, {"a"}, "twilio", t0);
  auto newer = sendStatusPollJobs(store, {"b"}, "twilio", t0 + seconds(1));
  auto delivered = sendStatusPollJobs(store, {"e"}, "twilio", t0);
  sendStatusPollJobs(store, {"c"}, "smsapi", t0);
  ASSERT_EQ(older.size(), 1u);
  ASSERT_EQ(newer.size(), 1u);
  ASSERT_EQ(delivered.size(), 1u);
  DeliveryReport report;
  report.provider = "twilio";
  report.provider_message_id = "e-id";
  report.status = JobStatus::kDelivered;
  ASSERT_TRUE(store.applyDeliveryReport(report, t0 + seconds(2)));

  // Not sent long enough.
  EXPECT_TRUE(
      claimedIds(store, statusPollQuery("twilio", t0 + minutes(5)), t0 + minutes(5)).empty());

  // The limit takes the oldest first; the next call hands out the rest, not the same job again.
  TimePoint now = t0 + minutes(11);
  EXPECT_EQ(claimedIds(store, statusPollQuery("twilio", now, 1), now), older);
  EXPECT_EQ(claimedIds(store, statusPollQuery("twilio", now), now), newer);
  EXPECT_TRUE(claimedIds(store, statusPollQuery("twilio", now), now).empty());

  // Asked again once the age has doubled: a at 22 min, b at 22 min less a second.
  now = t0 + minutes(21);
  EXPECT_TRUE(claimedIds(store, statusPollQuery("twilio", now), now).empty());
  now = t0 + minutes(22);
  std::vector<std::int64_t> both = {older[0], newer[0]};
  EXPECT_EQ(claimedIds(store, statusPollQuery("twilio", now), now), both);

  // Another provider's jobs are its own.
  auto smsapi = claimedIds(store, statusPollQuery("smsapi", now), now);
  EXPECT_EQ(smsapi.size(), 1u);

  // Past max_age nobody asks any more.
  now = t0 + minutes(61);
  EXPECT_TRUE(claimedIds(store, statusPollQuery("twilio", now), now).empty());
}

// JobStore::countByStatusAndLane (the jobs gauge of /metrics): two transactional and one
// marketing job queued, one otp job claimed. The store must be migrated and empty.
inline void checkCountByStatusAndLane(JobStore& store) {
  const TimePoint now = TimePoint(std::chrono::seconds(1'800'000'000));
  std::vector<SmsJob> jobs;
  for (const char* key : {"a", "b", "c", "d"})
    jobs.push_back(sampleJob(key, Lane::kTransactional, now));
  jobs[2].lane = Lane::kOtp;
  jobs[3].lane = Lane::kMarketing;
  ASSERT_TRUE(store.enqueue(jobs, {"shop", "1"}));
  auto claimed = store.claimDue(Lane::kOtp, 10, "w1", std::chrono::seconds(30), now);
  ASSERT_TRUE(claimed) << claimed.error().toString();
  ASSERT_EQ(claimed->size(), 1u);
  auto counts = store.countByStatusAndLane();
  ASSERT_TRUE(counts) << counts.error().toString();
  std::map<std::pair<std::string, std::string>, std::int64_t> by_key;
  for (const auto& c : *counts) {
    by_key[{std::string(statusName(c.status)), std::string(laneName(c.lane))}] = c.count;
  }
  EXPECT_EQ(by_key, (std::map<std::pair<std::string, std::string>, std::int64_t>{
                        {{"queued", "transactional"}, 2},
                        {{"queued", "marketing"}, 1},
                        {{"sending", "otp"}, 1}}));
}

}  // namespace smsbridge::testing
