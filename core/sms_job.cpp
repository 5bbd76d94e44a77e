#include "core/sms_job.h"

#include <array>

namespace smsbridge {
namespace {

struct StatusInfo {
  JobStatus status;
  std::string_view name;
  int rank;  // position along the forward path; finals share the top rank
  bool final;
};

constexpr std::array<StatusInfo, 11> kStatuses{{
    {JobStatus::kScheduled, "scheduled", 0, false},
    {JobStatus::kQueued, "queued", 1, false},
    {JobStatus::kSending, "sending", 2, false},
    {JobStatus::kSent, "sent", 3, false},
    {JobStatus::kDelivered, "delivered", 4, true},
    {JobStatus::kUndelivered, "undelivered", 4, true},
    {JobStatus::kExpired, "expired", 4, true},
    {JobStatus::kFailed, "failed", 4, true},
    {JobStatus::kRejected, "rejected", 4, true},
    {JobStatus::kSuppressed, "suppressed", 4, true},
    {JobStatus::kCancelled, "cancelled", 4, true},
}};

const StatusInfo& info(JobStatus status) { return kStatuses[static_cast<std::size_t>(status)]; }

}  // namespace

std::string_view statusName(JobStatus status) { return info(status).name; }

std::optional<JobStatus> parseStatus(std::string_view name) {
  for (const auto& s : kStatuses) {
    if (s.name == name) return s.status;
  }
  return std::nullopt;
}

bool isFinal(JobStatus status) { return info(status).final; }

bool canTransition(JobStatus from, JobStatus to) {
  if (from == to || isFinal(from)) return false;
  if (from == JobStatus::kSending && to == JobStatus::kQueued) return true;  // retry
  switch (to) {
    case JobStatus::kDelivered:
    case JobStatus::kUndelivered:
      // Only a message some provider accepted can reach a handset. A report that arrives
      // while the job is still `sending` is parked by the report path, not applied here.
      return from == JobStatus::kSent;
    case JobStatus::kFailed:
    case JobStatus::kRejected:
    case JobStatus::kSuppressed:
    case JobStatus::kCancelled:
    case JobStatus::kExpired:
      return true;
    default:
      return info(to).rank > info(from).rank;
  }
}

std::string_view laneName(Lane lane) {
  switch (lane) {
    case Lane::kOtp:
      return "otp";
    case Lane::kTransactional:
      return "transactional";
    case Lane::kMarketing:
      return "marketing";
  }
  return "transactional";
}

std::optional<Lane> parseLane(std::string_view name) {
  for (Lane lane : kLanesByPriority) {
    if (laneName(lane) == name) return lane;
  }
  return std::nullopt;
}

std::string_view encodingName(Encoding encoding) {
  return encoding == Encoding::kGsm7 ? "gsm7" : "ucs2";
}

}  // namespace smsbridge
