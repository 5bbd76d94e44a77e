#pragma once

// One test body for the write-back log of every JobStore backend (SQLite unit test, PostgreSQL
// and MariaDB integration tests): which status changes are logged, with which job fields, and
// how finished, retried and failed changes come back. Call it on freshly migrated, empty
// store tables.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/job_store.h"

namespace smsbridge::testing {

inline SmsJob writeBackTestJob(std::string key, std::string mapping, TimePoint now) {
  SmsJob j;
  j.dedup_key = std::move(key);
  j.source = "shop";
  j.mapping = std::move(mapping);
  j.entity_table = "orders";
  j.entity_id = "17";
  j.recipient = "+48600700800";
  j.recipient_raw = "600 700 800";
  j.body = "Hello";
  j.segments = 1;
  j.route = "default";
  j.created_at = now;
  j.not_before = now;
  return j;
}

inline std::vector<LoggedStatusChange> pendingChanges(JobStore& store, TimePoint now) {
  auto changes = store.pendingStatusChanges(100, now);
  EXPECT_TRUE(changes) << changes.error().toString();
  return changes ? *changes : std::vector<LoggedStatusChange>{};
}

inline void finishChange(JobStore& store, const LoggedStatusChange& change,
                         StatusChangeResult::State state, TimePoint now,
                         TimePoint next_try_at = {}) {
  StatusChangeResult r;
  r.change_id = change.id;
  r.state = state;
  if (state != StatusChangeResult::State::kDone) r.error = "job " + std::to_string(change.job.id);
  r.next_try_at = next_try_at;
  Status s = store.finishStatusChanges(std::span(&r, 1), now);
  EXPECT_TRUE(s.isOk()) << s.toString();
}

// Changes are logged only for write-back mappings, in the transaction of the change, each
// with the job as it is now; a job's later change waits until its earlier one is finished.
inline void checkStatusChangeLog(JobStore& store, ManualClock& clock) {
  using std::chrono::seconds;
  using State = StatusChangeResult::State;
  store.setWriteBackMappings({"noted", "also_noted"});

  // Nothing is logged before any job exists, or for a mapping without write-back.
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());
  SmsJob suppressed = writeBackTestJob("c", "noted", clock.now());
  suppressed.status = JobStatus::kSuppressed;
  suppressed.status_reason = "missing";
  std::vector<SmsJob> jobs = {writeBackTestJob("a", "noted", clock.now()),
                              writeBackTestJob("b", "plain", clock.now()), suppressed};
  ASSERT_TRUE(store.enqueue(jobs, {"shop", "1"}));
  // A replayed change inserts no job, so it logs no change either.
  ASSERT_TRUE(store.enqueue(jobs, {"shop", "2"}));

  auto changes = pendingChanges(store, clock.now());
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].status, JobStatus::kQueued);
  EXPECT_EQ(changes[0].job.mapping, "noted");
  EXPECT_EQ(changes[0].job.entity_id, "17");
  EXPECT_EQ(changes[0].job.recipient, "+48600700800");
  EXPECT_EQ(changes[0].attempts, 0);
  EXPECT_EQ(changes[1].status, JobStatus::kSuppressed);
  EXPECT_EQ(changes[1].job.status_reason, "missing");
  EXPECT_LT(changes[0].id, changes[1].id);
  const std::int64_t job_a = changes[0].job.id;
  finishChange(store, changes[0], State::kDone, clock.now());
  finishChange(store, changes[1], State::kFailed, clock.now());
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());

  // `sending` is not a status anyone acts on: claiming logs nothing.
  auto claimed = store.claimDue(Lane::kTransactional, 10, "me", seconds(30), clock.now());
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());

  std::vector<JobOutcome> outcomes(2);
  for (std::size_t i = 0; i < 2; ++i) {
    outcomes[i].job_id = (*claimed)[i].id;
    outcomes[i].status = JobStatus::kSent;
    outcomes[i].provider = "sandbox";
    outcomes[i].provider_message_id = "m" + std::to_string((*claimed)[i].id);
    outcomes[i].price = 0.07;
    outcomes[i].currency = "PLN";
  }
  for (const Status& s : store.recordOutcomes(outcomes, "me", clock.now())) {
    ASSERT_TRUE(s.isOk()) << s.toString();
  }
  DeliveryReport report;
  report.provider = "sandbox";
  report.provider_message_id = "m" + std::to_string(job_a);
  report.status = JobStatus::kDelivered;
  auto effect = store.applyDeliveryReport(report, clock.now());
  ASSERT_TRUE(effect);
  ASSERT_EQ(*effect, ReportEffect::kApplied);
  auto replay = store.applyDeliveryReport(report, clock.now());
  ASSERT_TRUE(replay);
  EXPECT_EQ(*replay, ReportEffect::kNoOp);

  // Only job a's `sent` comes first; its `delivered` waits behind it.
  changes = pendingChanges(store, clock.now());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].job.id, job_a);
  EXPECT_EQ(changes[0].status, JobStatus::kSent);
  EXPECT_EQ(changes[0].job.status, JobStatus::kDelivered);  // the job as it is now
  EXPECT_EQ(changes[0].job.provider, "sandbox");
  EXPECT_EQ(changes[0].job.provider_message_id, report.provider_message_id);
  ASSERT_TRUE(changes[0].job.price.has_value());
  EXPECT_DOUBLE_EQ(*changes[0].job.price, 0.07);

  // A retry waits for its time, and holds the job's later change back until then.
  finishChange(store, changes[0], State::kRetry, clock.now(), clock.now() + seconds(10));
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());
  clock.advance(seconds(10));
  changes = pendingChanges(store, clock.now());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status, JobStatus::kSent);
  EXPECT_EQ(changes[0].attempts, 1);
  finishChange(store, changes[0], State::kDone, clock.now());
  changes = pendingChanges(store, clock.now());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status, JobStatus::kDelivered);
  finishChange(store, changes[0], State::kDone, clock.now());
  // Finishing twice (two bridges sharing the store) changes nothing.
  finishChange(store, changes[0], State::kRetry, clock.now(), clock.now());
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());

  // A job held as in doubt after a crash is `failed`: that is logged too.
  ASSERT_TRUE(store.enqueue(std::vector<SmsJob>{writeBackTestJob("d", "also_noted", clock.now())},
                            {"shop", "3"}));
  changes = pendingChanges(store, clock.now());
  ASSERT_EQ(changes.size(), 1u);
  finishChange(store, changes[0], State::kDone, clock.now());
  ASSERT_TRUE(store.claimDue(Lane::kTransactional, 10, "me", seconds(30), clock.now()));
  clock.advance(seconds(31));
  const std::string routes[] = {"default"};
  auto held = store.holdExpiredLeases(clock.now(), routes);
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, 1);
  changes = pendingChanges(store, clock.now());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].status, JobStatus::kFailed);
  EXPECT_EQ(changes[0].job.mapping, "also_noted");
}

// Delivery reports move jobs on two more paths than a single report: a batch
// (applyDeliveryReports) and a report parked before its send result, applied when that result
// is recorded. Each report that moves a job logs exactly one change, after the job's `sent`.
inline void checkReportsLogTheirChanges(JobStore& store, ManualClock& clock) {
  using std::chrono::seconds;
  using State = StatusChangeResult::State;
  store.setWriteBackMappings({"noted"});
  std::vector<SmsJob> jobs = {writeBackTestJob("a", "noted", clock.now()),
                              writeBackTestJob("b", "noted", clock.now())};
  ASSERT_TRUE(store.enqueue(jobs, {"shop", "1"}));
  for (const LoggedStatusChange& change : pendingChanges(store, clock.now())) {
    finishChange(store, change, State::kDone, clock.now());
  }
  auto claimed = store.claimDue(Lane::kTransactional, 10, "me", seconds(30), clock.now());
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  const std::int64_t job_a = (*claimed)[0].id;
  const std::int64_t job_b = (*claimed)[1].id;
  auto outcome = [](std::int64_t id) {
    JobOutcome o;
    o.job_id = id;
    o.status = JobStatus::kSent;
    o.provider = "sandbox";
    o.provider_message_id = "m" + std::to_string(id);
    return o;
  };
  auto report = [](std::int64_t id, JobStatus status) {
    DeliveryReport r;
    r.provider = "sandbox";
    r.provider_message_id = "m" + std::to_string(id);
    r.status = status;
    return r;
  };
  auto expectOnly = [&](std::int64_t job_id, JobStatus status) {
    auto changes = pendingChanges(store, clock.now());
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].job.id, job_id);
    EXPECT_EQ(changes[0].status, status);
    finishChange(store, changes[0], State::kDone, clock.now());
  };

  // The batch path: a report and its replay in one batch log one change.
  ASSERT_TRUE(store.recordOutcome(outcome(job_a), "me", clock.now()).isOk());
  expectOnly(job_a, JobStatus::kSent);
  const DeliveryReport batch[] = {report(job_a, JobStatus::kDelivered),
                                  report(job_a, JobStatus::kDelivered)};
  auto effects = store.applyDeliveryReports(batch, clock.now());
  ASSERT_TRUE(effects) << effects.error().toString();
  EXPECT_EQ(*effects, (std::vector<ReportEffect>{ReportEffect::kApplied, ReportEffect::kNoOp}));
  expectOnly(job_a, JobStatus::kDelivered);
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());

  // The parking path: parked, nothing logged; applied with the send result, logged after it.
  const DeliveryReport early[] = {report(job_b, JobStatus::kDelivered)};
  effects = store.applyDeliveryReports(early, clock.now());
  ASSERT_TRUE(effects) << effects.error().toString();
  EXPECT_EQ(*effects, std::vector<ReportEffect>{ReportEffect::kParked});
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());
  const JobOutcome outcomes[] = {outcome(job_b)};
  for (const Status& s : store.recordOutcomes(outcomes, "me", clock.now())) {
    ASSERT_TRUE(s.isOk()) << s.toString();
  }
  expectOnly(job_b, JobStatus::kSent);
  expectOnly(job_b, JobStatus::kDelivered);
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());
}

// Without write-back mappings nothing is logged at all.
inline void checkNoStatusChangesWithoutWriteBack(JobStore& store, ManualClock& clock) {
  std::vector<SmsJob> jobs = {writeBackTestJob("a", "noted", clock.now())};
  ASSERT_TRUE(store.enqueue(jobs, {"shop", "1"}));
  EXPECT_TRUE(pendingChanges(store, clock.now()).empty());
}

}  // namespace smsbridge::testing
