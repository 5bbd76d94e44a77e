#include "core/job_store.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace smsbridge {

Status storeSchemaStatus(std::optional<int> version, int expected, std::string_view prefix,
                         std::string_view where) {
  const std::string in(where);
  if (!version) {
    return configError("the store tables (" + std::string(prefix) + "*) do not exist in " + in +
                       "; run `smsbridge setup -c <config>` first");
  }
  if (*version < expected) {
    return configError("the store schema in " + in + " is at version " + std::to_string(*version) +
                       ", this build needs " + std::to_string(expected) +
                       "; run `smsbridge setup -c <config>`");
  }
  if (*version > expected) {
    return configError("the store schema in " + in + " is at version " + std::to_string(*version) +
                       ", newer than this build understands (" + std::to_string(expected) +
                       "); upgrade smsbridge");
  }
  return Status::ok();
}

std::vector<Status> JobStore::recordOutcomes(std::span<const JobOutcome> outcomes,
                                             const std::string& owner, TimePoint now) {
  std::vector<Status> statuses;
  statuses.reserve(outcomes.size());
  for (const JobOutcome& outcome : outcomes) statuses.push_back(recordOutcome(outcome, owner, now));
  return statuses;
}

Result<std::vector<SmsJob>> JobStore::claimDueByPriority(std::span<const Lane> lanes, int limit,
                                                         const std::string& owner,
                                                         std::chrono::milliseconds lease,
                                                         TimePoint now) {
  std::vector<SmsJob> claimed;
  for (Lane lane : lanes) {
    int room = limit - static_cast<int>(claimed.size());
    if (room <= 0) break;
    auto jobs = claimDue(lane, room, owner, lease, now);
    if (!jobs) {
      if (claimed.empty()) return jobs.error();
      spdlog::warn("Could not claim jobs; retrying. lane={} error=\"{}\"", laneName(lane),
                   jobs.error().toString());
      break;
    }
    // Strict priority: a lane below is claimed only when the lanes above had nothing more.
    bool filled = static_cast<int>(jobs->size()) == room;
    for (SmsJob& job : *jobs) claimed.push_back(std::move(job));
    if (filled) break;
  }
  return claimed;
}

Result<std::vector<ReportEffect>> JobStore::applyDeliveryReports(
    std::span<const DeliveryReport> reports, TimePoint now) {
  std::vector<ReportEffect> effects;
  effects.reserve(reports.size());
  for (const DeliveryReport& report : reports) {
    auto effect = applyDeliveryReport(report, now);
    if (!effect) return effect.error();
    effects.push_back(*effect);
  }
  return effects;
}

Result<std::optional<TimePoint>> JobStore::checkpointSavedAt(const std::string& /*source*/) {
  return std::optional<TimePoint>();
}

Result<std::vector<DeliveryReport>> JobStore::dropParkedReports(TimePoint /*parked_before*/) {
  return std::vector<DeliveryReport>{};
}

Status JobStore::recordInbound(const InboundSms& /*sms*/) {
  return internalError("this store does not record inbound SMS");
}

Status JobStore::setOptOut(const std::string& /*recipient*/, bool /*opted_out*/,
                           const std::string& /*reason*/, TimePoint /*now*/) {
  return internalError("this store does not keep opt-outs");
}

Result<bool> JobStore::isOptedOut(const std::string& /*recipient*/) {
  return internalError("this store does not keep opt-outs");
}

void JobStore::setWriteBackMappings(std::vector<std::string> /*mappings*/) {}

Result<std::vector<LoggedStatusChange>> JobStore::pendingStatusChanges(int /*limit*/,
                                                                       TimePoint /*now*/) {
  return internalError("this store does not log status changes for write-back");
}

Status JobStore::finishStatusChanges(std::span<const StatusChangeResult> /*results*/,
                                     TimePoint /*now*/) {
  return internalError("this store does not log status changes for write-back");
}

TimePoint nextStatusPoll(TimePoint sent_at, TimePoint now, std::chrono::milliseconds min_interval) {
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - sent_at);
  return now + std::max(age, min_interval);
}

Result<std::vector<StatusPollCandidate>> JobStore::claimStatusPolls(
    const StatusPollQuery& /*query*/, TimePoint /*now*/) {
  return std::vector<StatusPollCandidate>();
}

void JobStore::setOptOutLanes(std::vector<Lane> /*lanes*/) {}
Result<std::vector<JobStore::StatusLaneCount>> JobStore::countByStatusAndLane() {
  return internalError("this store does not count jobs by lane");
}

}  // namespace smsbridge
