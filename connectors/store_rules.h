#pragma once

// Rules every store applies alike, so the three backends cannot drift apart.
//
// Delivery reports: what a batch does to the jobs it names. A store finds the job each report names
// (by provider message id, verbatim or normalised, or by our job id that SMSAPI idx / MessageFlow
// externalId echo), locks it, and hands the matches here; it then writes the status changes and
// parks what the plan parks.
//
// Pure functions: no I/O, no clock.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/job_store.h"

namespace smsbridge {

// A provider message id as reports are correlated by it: surrounding whitespace trimmed and
// ASCII lower-cased, because some providers echo "ABC123 " or "abc123" for an id they returned
// as "ABC123". The verbatim id is kept beside it and preferred when both match.
std::string normaliseProviderMessageId(std::string_view id);

// The job a report named, as the store found it inside its transaction.
struct MatchedJob {
  std::int64_t id = 0;
  JobStatus status = JobStatus::kQueued;
};

// One job's status change, to be written only where the job is still at `from` (the store
// locked the row, so this holds unless another writer ignored the lock).
struct StatusChange {
  std::int64_t job_id = 0;
  JobStatus from = JobStatus::kSent;
  JobStatus to = JobStatus::kSent;
  std::string reason;  // empty: keep the job's status_reason
};

struct ReportPlan {
  std::vector<ReportEffect> effects;  // one per report, in order
  std::vector<StatusChange> changes;  // at most one per job
};

// Whether a report names anything it could be correlated by later.
bool isCorrelatable(const DeliveryReport& report);

// Applies the reports in order, as if one by one: a report moves its job only forward
// (canTransition), so replays and late reports are kNoOp and a final status is never replaced.
// A report whose job is unknown, or has no send result on record yet (scheduled, queued,
// sending), is kParked; one that names nothing (no id, no job id) is kUnknownJob.
// `matches[i]` is the job report i names, if any.
ReportPlan planReports(std::span<const DeliveryReport> reports,
                       std::span<const std::optional<MatchedJob>> matches);

// Opt-outs: whether a job must be suppressed when its recipient has opted out. Only jobs still
// to be sent, with a recipient, in one of `lanes` (JobStore::setOptOutLanes).
bool optOutApplies(const SmsJob& job, std::span<const Lane> lanes);
bool optOutApplies(Lane lane, std::span<const Lane> lanes);

// The reason a job suppressed for an opt-out carries.
inline constexpr char kOptedOutReason[] = "opted_out";

}  // namespace smsbridge
