#include "connectors/store_rules.h"

#include <gtest/gtest.h>

namespace smsbridge {
namespace {

using E = ReportEffect;
using S = JobStatus;

DeliveryReport report(S status, std::string id = "m-1", std::string reason = "",
                      std::string provider_status = "") {
  return DeliveryReport{.provider = "smsapi",
                        .provider_message_id = std::move(id),
                        .job_id = 0,
                        .status = status,
                        .provider_status = std::move(provider_status),
                        .reason = std::move(reason),
                        .reported_at = {}};
}

TEST(NormaliseProviderMessageIdTest, TrimsAndLowerCasesAsciiOnly) {
  EXPECT_EQ(normaliseProviderMessageId("  AbC-12\t\n"), "abc-12");
  EXPECT_EQ(normaliseProviderMessageId("SM0a1B"), "sm0a1b");
  EXPECT_EQ(normaliseProviderMessageId("   "), "");
  EXPECT_EQ(normaliseProviderMessageId("ŁÓDŹ-1"), "ŁÓdŹ-1");  // bytes beyond ASCII kept
}

TEST(PlanReportsTest, ReportsOfOneJobApplyInOrderAndOnlyForward) {
  const std::vector<DeliveryReport> reports = {
      report(S::kSent), report(S::kDelivered, "m-1", "", "DELIVRD"), report(S::kSent),
      report(S::kUndelivered), report(S::kDelivered)};
  const std::vector<std::optional<MatchedJob>> matches(reports.size(), MatchedJob{7, S::kSent});
  ReportPlan plan = planReports(reports, matches);
  EXPECT_EQ(plan.effects, (std::vector<E>{E::kNoOp, E::kApplied, E::kNoOp, E::kNoOp, E::kNoOp}));
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].job_id, 7);
  EXPECT_EQ(plan.changes[0].from, S::kSent);
  EXPECT_EQ(plan.changes[0].to, S::kDelivered);
  EXPECT_EQ(plan.changes[0].reason, "DELIVRD") << "the provider's status when there is no reason";
}

TEST(PlanReportsTest, FinalJobsTakeNothingAndUnsentJobsPark) {
  const std::vector<DeliveryReport> reports = {report(S::kDelivered), report(S::kDelivered),
                                               report(S::kDelivered), report(S::kDelivered),
                                               report(S::kDelivered, "")};
  const std::vector<std::optional<MatchedJob>> matches = {
      MatchedJob{1, S::kFailed}, MatchedJob{2, S::kSending}, MatchedJob{3, S::kQueued},
      std::nullopt, std::nullopt};
  ReportPlan plan = planReports(reports, matches);
  EXPECT_EQ(plan.effects,
            (std::vector<E>{E::kNoOp, E::kParked, E::kParked, E::kParked, E::kUnknownJob}));
  EXPECT_TRUE(plan.changes.empty());
}

TEST(PlanReportsTest, AJobIdAloneIsEnoughToPark) {
  DeliveryReport by_job = report(S::kDelivered, "  ");
  by_job.job_id = 42;
  EXPECT_TRUE(isCorrelatable(by_job));
  EXPECT_FALSE(isCorrelatable(report(S::kDelivered, " ")));
  const std::vector<DeliveryReport> reports = {by_job};
  const std::vector<std::optional<MatchedJob>> none(1);
  EXPECT_EQ(planReports(reports, none).effects, std::vector<E>{E::kParked});
}

TEST(OptOutAppliesTest, OnlyUnsentJobsOfTheChosenLanesWithARecipient) {
  const std::vector<Lane> marketing = {Lane::kMarketing};
  SmsJob job;
  job.lane = Lane::kMarketing;
  job.recipient = "+48600700800";
  EXPECT_TRUE(optOutApplies(job, marketing));
  job.status = S::kScheduled;
  EXPECT_TRUE(optOutApplies(job, marketing));
  job.status = S::kSuppressed;
  EXPECT_FALSE(optOutApplies(job, marketing));
  job.status = S::kQueued;
  job.recipient.clear();
  EXPECT_FALSE(optOutApplies(job, marketing));
  job.recipient = "+48600700800";
  job.lane = Lane::kOtp;
  EXPECT_FALSE(optOutApplies(job, marketing));
  EXPECT_FALSE(optOutApplies(job, {}));
}

}  // namespace
}  // namespace smsbridge
