#include "connectors/store_rules.h"

#include <algorithm>
#include <map>

namespace smsbridge {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

// A job that no provider has accepted yet cannot take a report: the report belongs to the send
// result the dispatcher is about to record, so it waits for it.
bool awaitsSendResult(JobStatus status) {
  return status == JobStatus::kScheduled || status == JobStatus::kQueued ||
         status == JobStatus::kSending;
}

}  // namespace

std::string normaliseProviderMessageId(std::string_view id) {
  while (!id.empty() && isSpace(id.front())) id.remove_prefix(1);
  while (!id.empty() && isSpace(id.back())) id.remove_suffix(1);
  std::string out(id);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool isCorrelatable(const DeliveryReport& report) {
  return report.job_id != 0 || !normaliseProviderMessageId(report.provider_message_id).empty();
}

ReportPlan planReports(std::span<const DeliveryReport> reports,
                       std::span<const std::optional<MatchedJob>> matches) {
  ReportPlan plan;
  plan.effects.reserve(reports.size());
  // Per job: where the batch has moved it so far, and the change to write.
  std::map<std::int64_t, StatusChange> jobs;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const DeliveryReport& report = reports[i];
    const std::optional<MatchedJob>& match = i < matches.size() ? matches[i] : std::nullopt;
    if (!match) {
      plan.effects.push_back(isCorrelatable(report) ? ReportEffect::kParked
                                                    : ReportEffect::kUnknownJob);
      continue;
    }
    auto [it, fresh] = jobs.try_emplace(
        match->id, StatusChange{match->id, match->status, match->status, std::string()});
    StatusChange& job = it->second;
    if (awaitsSendResult(job.to)) {
      plan.effects.push_back(ReportEffect::kParked);
    } else if (canTransition(job.to, report.status)) {
      job.to = report.status;
      if (!report.reason.empty()) {
        job.reason = report.reason;
      } else if (!report.provider_status.empty()) {
        job.reason = report.provider_status;
      }
      plan.effects.push_back(ReportEffect::kApplied);
    } else {
      plan.effects.push_back(ReportEffect::kNoOp);
    }
  }
  for (auto& [id, change] : jobs) {
    if (change.to != change.from) plan.changes.push_back(std::move(change));
  }
  return plan;
}

bool optOutApplies(Lane lane, std::span<const Lane> lanes) {
  return std::find(lanes.begin(), lanes.end(), lane) != lanes.end();
}

bool optOutApplies(const SmsJob& job, std::span<const Lane> lanes) {
  return !isFinal(job.status) && !job.recipient.empty() && optOutApplies(job.lane, lanes);
}

}  // namespace smsbridge
