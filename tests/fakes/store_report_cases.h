#pragma once

// Delivery reports, parking, inbound SMS and opt-outs: the cases every JobStore backend must
// pass alike (DESIGN.md §2.5, §6). A store test instantiates them all with
//
//   SMSBRIDGE_STORE_REPORT_CASES(MyStoreTest)
//
// where the fixture has `reportCasesStore()` (a fresh, migrated store), `statusOf(job id)`
// (the job's status column, read with SQL of its own) and `rowCount(table)` (rows in
// <prefix><table>). One body for three backends, so they cannot drift apart.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/job_store.h"

namespace smsbridge::testing::store_cases {

struct Harness {
  JobStore& store;
  std::function<std::string(std::int64_t)> status_of;
  std::function<std::int64_t(const std::string&)> row_count;
};

// Whole seconds: every backend stores at least millisecond precision.
inline const TimePoint kT0 = TimePoint(std::chrono::seconds(1'800'000'000));
inline constexpr char kNumber[] = "+48600700800";

inline SmsJob caseJob(const std::string& key, Lane lane = Lane::kTransactional,
                      const std::string& recipient = kNumber) {
  SmsJob j;
  j.dedup_key = key;
  j.source = "shop";
  j.mapping = "order_shipped";
  j.entity_table = "orders";
  j.entity_id = key;
  j.recipient_raw = recipient;
  j.recipient = recipient;
  j.body = "Hello";
  j.segments = 1;
  j.lane = lane;
  j.route = "default";
  j.created_at = kT0;
  j.not_before = kT0;
  return j;
}

// Enqueues one job and leases it; returns its id (0 on failure, after a test failure).
inline std::int64_t claimOne(Harness& h, const std::string& key, Lane lane = Lane::kTransactional) {
  std::vector<SmsJob> jobs = {caseJob(key, lane)};
  auto enqueued = h.store.enqueue(jobs, {"shop", ""});
  EXPECT_TRUE(enqueued) << enqueued.error().toString();
  auto claimed = h.store.claimDue(lane, 1, "me", std::chrono::seconds(30), kT0);
  EXPECT_TRUE(claimed) << claimed.error().toString();
  if (!claimed || claimed->size() != 1) {
    ADD_FAILURE() << "job " << key << " was not claimed";
    return 0;
  }
  return claimed->front().id;
}

inline Status recordSent(Harness& h, std::int64_t job_id, const std::string& provider,
                         const std::string& provider_message_id) {
  JobOutcome outcome;
  outcome.job_id = job_id;
  outcome.status = JobStatus::kSent;
  outcome.provider = provider;
  outcome.provider_message_id = provider_message_id;
  return h.store.recordOutcome(outcome, "me", kT0);
}

// A job a provider accepted under `provider_message_id`.
inline std::int64_t sentJob(Harness& h, const std::string& key, const std::string& provider,
                            const std::string& provider_message_id) {
  std::int64_t id = claimOne(h, key);
  Status recorded = recordSent(h, id, provider, provider_message_id);
  EXPECT_TRUE(recorded.isOk()) << recorded.toString();
  return id;
}

inline DeliveryReport report(const std::string& provider, const std::string& id, JobStatus status,
                             std::int64_t job_id = 0) {
  return DeliveryReport{.provider = provider,
                        .provider_message_id = id,
                        .job_id = job_id,
                        .status = status,
                        .provider_status = "STATUS-" + std::string(statusName(status)),
                        .reason = "",
                        .reported_at = kT0};
}

inline std::vector<ReportEffect> apply(Harness& h, const std::vector<DeliveryReport>& reports,
                                       TimePoint now = kT0) {
  auto effects = h.store.applyDeliveryReports(reports, now);
  EXPECT_TRUE(effects) << effects.error().toString();
  return effects ? *effects : std::vector<ReportEffect>{};
}

using E = ReportEffect;
using S = JobStatus;

inline void batchHasMixedEffects(Harness h) {
  std::int64_t a = sentJob(h, "a", "smsapi", "ID-A");
  std::int64_t b = sentJob(h, "b", "smsapi", "id-b");
  std::int64_t c = sentJob(h, "c", "smsapi", "X-C");
  std::int64_t d = sentJob(h, "d", "twilio", "SMd0D");
  ASSERT_EQ(apply(h, {report("smsapi", "id-b", S::kDelivered)}), std::vector<E>{E::kApplied});

  const std::vector<DeliveryReport> batch = {
      report("smsapi", "ID-A", S::kDelivered),        // applied
      report("smsapi", "id-b", S::kDelivered),        // replay: no-op
      report("smsapi", "never-sent", S::kDelivered),  // unknown id: parked
      report("smsapi", "ID-A", S::kSent),             // out of order: no regression
      report("smsapi", "", S::kUndelivered, c),       // our job id echoed (idx)
      report("twilio", " smd0d ", S::kExpired),       // normalised id
      report("twilio", "ID-A", S::kDelivered),        // another provider's id space: parked
      report("smsapi", "", S::kDelivered),            // names nothing
      report("smsapi", "ID-A", S::kUndelivered),      // a second final never replaces one
  };
  EXPECT_EQ(apply(h, batch),
            (std::vector<E>{E::kApplied, E::kNoOp, E::kParked, E::kNoOp, E::kApplied, E::kApplied,
                            E::kParked, E::kUnknownJob, E::kNoOp}));
  EXPECT_EQ(h.status_of(a), "delivered");
  EXPECT_EQ(h.status_of(b), "delivered");
  EXPECT_EQ(h.status_of(c), "undelivered");
  EXPECT_EQ(h.status_of(d), "expired");
  EXPECT_EQ(h.row_count("reports_parked"), 2);

  // The whole batch again, as a webhook retry: nothing moves, nothing piles up.
  EXPECT_EQ(apply(h, batch), (std::vector<E>{E::kNoOp, E::kNoOp, E::kParked, E::kNoOp, E::kNoOp,
                                             E::kNoOp, E::kParked, E::kUnknownJob, E::kNoOp}));
  EXPECT_EQ(h.status_of(a), "delivered");
  EXPECT_EQ(h.status_of(c), "undelivered");
  EXPECT_EQ(h.row_count("reports_parked"), 2);
}

inline void singleReportsTakeTheSamePath(Harness h) {
  std::int64_t a = sentJob(h, "a", "smsapi", "m-1");
  auto sent = h.store.applyDeliveryReport(report("smsapi", "M-1", S::kSent), kT0);
  ASSERT_TRUE(sent) << sent.error().toString();
  EXPECT_EQ(*sent, E::kNoOp);
  auto delivered = h.store.applyDeliveryReport(report("smsapi", "m-1", S::kDelivered), kT0);
  ASSERT_TRUE(delivered) << delivered.error().toString();
  EXPECT_EQ(*delivered, E::kApplied);
  EXPECT_EQ(h.status_of(a), "delivered");
  EXPECT_EQ(*h.store.applyDeliveryReport(report("smsapi", "m-2", S::kDelivered), kT0), E::kParked);
}

inline void aReportBeforeItsAckIsParkedThenApplied(Harness h) {
  std::int64_t by_id = claimOne(h, "by-id");
  std::int64_t by_job = claimOne(h, "by-job");
  // Both jobs are still `sending`: the provider answered, but the result is not on record.
  EXPECT_EQ(
      apply(h, {report("smsapi", "early-1", S::kSent), report("smsapi", " EARLY-1", S::kDelivered),
                report("smsapi", "", S::kUndelivered, by_job)}),
      (std::vector<E>{E::kParked, E::kParked, E::kParked}));
  EXPECT_EQ(h.status_of(by_id), "sending");
  EXPECT_EQ(h.status_of(by_job), "sending");
  EXPECT_EQ(h.row_count("reports_parked"), 3);

  ASSERT_TRUE(recordSent(h, by_id, "smsapi", "early-1").isOk());
  EXPECT_EQ(h.status_of(by_id), "delivered");
  ASSERT_TRUE(recordSent(h, by_job, "smsapi", "m-77").isOk());
  EXPECT_EQ(h.status_of(by_job), "undelivered");
  EXPECT_EQ(h.row_count("reports_parked"), 0);
  auto dropped = h.store.dropParkedReports(kT0 + std::chrono::hours(1));
  ASSERT_TRUE(dropped) << dropped.error().toString();
  EXPECT_TRUE(dropped->empty());
  // A late replay of the applied report is an ordinary no-op now.
  EXPECT_EQ(apply(h, {report("smsapi", "early-1", S::kDelivered)}), std::vector<E>{E::kNoOp});
}

inline void aParkedReportWaitsWhileTheJobIsRetried(Harness h) {
  std::int64_t id = claimOne(h, "retry");
  EXPECT_EQ(apply(h, {report("smsapi", "", S::kDelivered, id)}), std::vector<E>{E::kParked});
  JobOutcome retry;
  retry.job_id = id;
  retry.status = JobStatus::kQueued;
  retry.provider = "smsapi";
  retry.not_before = kT0;
  ASSERT_TRUE(h.store.recordOutcome(retry, "me", kT0).isOk());
  // The job now names smsapi, but no provider accepted it yet: the report still waits.
  EXPECT_EQ(apply(h, {report("smsapi", "", S::kDelivered, id)}), std::vector<E>{E::kParked});
  EXPECT_EQ(h.status_of(id), "queued");
  EXPECT_EQ(h.row_count("reports_parked"), 1);
}

inline void oldParkedReportsAreDroppedForTheCaller(Harness h) {
  using std::chrono::minutes;
  EXPECT_EQ(apply(h, {report("smsapi", "old", S::kDelivered)}, kT0), std::vector<E>{E::kParked});
  EXPECT_EQ(apply(h, {report("smsapi", "old", S::kDelivered)}, kT0 + minutes(1)),
            std::vector<E>{E::kParked});
  EXPECT_EQ(apply(h, {report("smsapi", "new", S::kDelivered)}, kT0 + minutes(10)),
            std::vector<E>{E::kParked});
  EXPECT_EQ(h.row_count("reports_parked"), 2);

  auto dropped = h.store.dropParkedReports(kT0 + minutes(5));
  ASSERT_TRUE(dropped) << dropped.error().toString();
  ASSERT_EQ(dropped->size(), 1u);
  EXPECT_EQ(dropped->front().provider, "smsapi");
  EXPECT_EQ(dropped->front().provider_message_id, "old");
  EXPECT_EQ(dropped->front().status, S::kDelivered);
  EXPECT_EQ(dropped->front().provider_status, "STATUS-delivered");
  EXPECT_EQ(h.row_count("reports_parked"), 1);
  auto rest = h.store.dropParkedReports(kT0 + minutes(60));
  ASSERT_TRUE(rest) << rest.error().toString();
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().provider_message_id, "new");
  EXPECT_EQ(h.row_count("reports_parked"), 0);
}

inline void inboundSmsIsStoredOnce(Harness h) {
  InboundSms sms{.provider = "twilio",
                 .provider_message_id = "SM123",
                 .sender = kNumber,
                 .recipient = "+48500000000",
                 .body = "STOP",
                 .received_at = kT0};
  Status first = h.store.recordInbound(sms);
  ASSERT_TRUE(first.isOk()) << first.toString();
  Status replay = h.store.recordInbound(sms);  // the provider retried its webhook
  ASSERT_TRUE(replay.isOk()) << replay.toString();
  sms.provider_message_id = "SM124";
  sms.body = "Zażółć gęślą jaźń 😀";
  ASSERT_TRUE(h.store.recordInbound(sms).isOk());
  EXPECT_EQ(h.row_count("inbound"), 2);
}

inline void anOptOutSuppressesMarketingAtEnqueue(Harness h) {
  Status opted = h.store.setOptOut(kNumber, true, "STOP", kT0);
  ASSERT_TRUE(opted.isOk()) << opted.toString();
  auto is = h.store.isOptedOut(kNumber);
  ASSERT_TRUE(is) << is.error().toString();
  EXPECT_TRUE(*is);
  EXPECT_FALSE(*h.store.isOptedOut("+48600000001"));

  std::vector<SmsJob> jobs = {caseJob("promo", Lane::kMarketing),
                              caseJob("promo-other", Lane::kMarketing, "+48600000001"),
                              caseJob("order", Lane::kTransactional)};
  auto enqueued = h.store.enqueue(jobs, {"shop", "1"});
  ASSERT_TRUE(enqueued) << enqueued.error().toString();
  EXPECT_EQ(enqueued->inserted, 3);
  auto marketing = h.store.claimDue(Lane::kMarketing, 10, "me", std::chrono::seconds(30), kT0);
  ASSERT_TRUE(marketing) << marketing.error().toString();
  ASSERT_EQ(marketing->size(), 1u);
  EXPECT_EQ(marketing->front().dedup_key, "promo-other");
  // Transactional jobs to the same number are still sent by default.
  auto orders = h.store.claimDue(Lane::kTransactional, 10, "me", std::chrono::seconds(30), kT0);
  ASSERT_TRUE(orders) << orders.error().toString();
  ASSERT_EQ(orders->size(), 1u);
  EXPECT_EQ(orders->front().dedup_key, "order");

  auto counts = h.store.countByStatus();
  ASSERT_TRUE(counts);
  int suppressed = 0;
  for (auto [status, n] : *counts) {
    if (status == S::kSuppressed) suppressed = n;
  }
  EXPECT_EQ(suppressed, 1);
}

inline void anOptOutAfterEnqueueSuppressesAtClaim(Harness h) {
  std::vector<SmsJob> jobs = {caseJob("promo", Lane::kMarketing),
                              caseJob("promo-other", Lane::kMarketing, "+48600000001")};
  ASSERT_TRUE(h.store.enqueue(jobs, {"shop", "1"}));
  ASSERT_TRUE(h.store.setOptOut(kNumber, true, "STOP", kT0).isOk());
  auto claimed = h.store.claimDue(Lane::kMarketing, 10, "me", std::chrono::seconds(30), kT0);
  ASSERT_TRUE(claimed) << claimed.error().toString();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().dedup_key, "promo-other");
  auto again = h.store.claimDue(Lane::kMarketing, 10, "me", std::chrono::seconds(30), kT0);
  ASSERT_TRUE(again) << again.error().toString();
  EXPECT_TRUE(again->empty()) << "a suppressed job must never be leased";
  // Its id is the smaller one: enqueued first.
  EXPECT_EQ(h.status_of(claimed->front().id - 1), "suppressed");
}

inline void optingBackInReenablesSending(Harness h) {
  ASSERT_TRUE(h.store.setOptOut(kNumber, true, "STOP", kT0).isOk());
  ASSERT_TRUE(h.store.setOptOut(kNumber, true, "STOP again", kT0).isOk());  // an upsert
  ASSERT_TRUE(h.store.setOptOut(kNumber, false, "START", kT0).isOk());
  EXPECT_FALSE(*h.store.isOptedOut(kNumber));
  std::vector<SmsJob> jobs = {caseJob("promo", Lane::kMarketing)};
  ASSERT_TRUE(h.store.enqueue(jobs, {"shop", "1"}));
  auto claimed = h.store.claimDue(Lane::kMarketing, 10, "me", std::chrono::seconds(30), kT0);
  ASSERT_TRUE(claimed) << claimed.error().toString();
  EXPECT_EQ(claimed->size(), 1u);
}

inline void optOutLanesAreConfigurable(Harness h) {
  h.store.setOptOutLanes({Lane::kMarketing, Lane::kTransactional});
  ASSERT_TRUE(h.store.setOptOut(kNumber, true, "STOP", kT0).isOk());
  std::vector<SmsJob> jobs = {caseJob("order", Lane::kTransactional), caseJob("code", Lane::kOtp)};
  ASSERT_TRUE(h.store.enqueue(jobs, {"shop", "1"}));
  auto orders = h.store.claimDue(Lane::kTransactional, 10, "me", std::chrono::seconds(30), kT0);
  ASSERT_TRUE(orders) << orders.error().toString();
  EXPECT_TRUE(orders->empty());
  auto codes = h.store.claimDue(Lane::kOtp, 10, "me", std::chrono::seconds(30), kT0);
  ASSERT_TRUE(codes) << codes.error().toString();
  EXPECT_EQ(codes->size(), 1u);
}

}  // namespace smsbridge::testing::store_cases

#define SMSBRIDGE_STORE_REPORT_CASE_(Fixture, Name, fn)                               \
  TEST_F(Fixture, Name) {                                                             \
    ::smsbridge::testing::store_cases::fn(::smsbridge::testing::store_cases::Harness{ \
        reportCasesStore(), [this](std::int64_t id) { return statusOf(id); },         \
        [this](const std::string& table) { return rowCount(table); }});               \
  }

#define SMSBRIDGE_STORE_REPORT_CASES(Fixture)                                             \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, ReportBatchHasMixedEffects, batchHasMixedEffects) \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, SingleReportsTakeTheBatchPath,                    \
                               singleReportsTakeTheSamePath)                              \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, AReportBeforeItsAckIsParkedThenApplied,           \
                               aReportBeforeItsAckIsParkedThenApplied)                    \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, AParkedReportWaitsWhileTheJobIsRetried,           \
                               aParkedReportWaitsWhileTheJobIsRetried)                    \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, OldParkedReportsAreDroppedForTheCaller,           \
                               oldParkedReportsAreDroppedForTheCaller)                    \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, InboundSmsIsStoredOnce, inboundSmsIsStoredOnce)   \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, AnOptOutSuppressesMarketingAtEnqueue,             \
                               anOptOutSuppressesMarketingAtEnqueue)                      \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, AnOptOutAfterEnqueueSuppressesAtClaim,            \
                               anOptOutAfterEnqueueSuppressesAtClaim)                     \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, OptingBackInReenablesSending,                     \
                               optingBackInReenablesSending)                              \
  SMSBRIDGE_STORE_REPORT_CASE_(Fixture, OptOutLanesAreConfigurable, optOutLanesAreConfigurable)
