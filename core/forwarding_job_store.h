#pragma once

// A JobStore that hands every call to another one: the base of the stores that watch or time
// the calls of a real store (`smsbridge send`'s printed attempts, the dispatch benchmark, tests
// that hold a call open). A wrapper overrides only what it watches; everything else, including
// methods added to JobStore later, reaches the real store instead of JobStore's defaults.

#include <chrono>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/job_store.h"

namespace smsbridge {

class ForwardingJobStore : public JobStore {
 public:
  explicit ForwardingJobStore(JobStore& inner) : inner_(inner) {}

  Status migrate() override { return inner_.migrate(); }
  std::vector<std::string> migrationSql() const override { return inner_.migrationSql(); }
  Status checkSchema() override { return inner_.checkSchema(); }

  Result<EnqueueResult> enqueue(std::span<const SmsJob> jobs,
                                const Checkpoint& checkpoint) override {
    return inner_.enqueue(jobs, checkpoint);
  }
  Result<std::optional<std::string>> loadCheckpoint(const std::string& source) override {
    return inner_.loadCheckpoint(source);
  }
  Result<std::optional<TimePoint>> checkpointSavedAt(const std::string& source) override {
    return inner_.checkpointSavedAt(source);
  }
  Result<std::map<std::string, std::string>> loadShadow(const std::string& source,
                                                        const std::string& table,
                                                        std::span<const std::string> pks) override {
    return inner_.loadShadow(source, table, pks);
  }

  Result<std::vector<SmsJob>> claimDue(Lane lane, int limit, const std::string& owner,
                                       std::chrono::milliseconds lease, TimePoint now) override {
    return inner_.claimDue(lane, limit, owner, lease, now);
  }
  Result<std::vector<SmsJob>> claimDueByPriority(std::span<const Lane> lanes, int limit,
                                                 const std::string& owner,
                                                 std::chrono::milliseconds lease,
                                                 TimePoint now) override {
    return inner_.claimDueByPriority(lanes, limit, owner, lease, now);
  }
  Status recordOutcome(const JobOutcome& outcome, const std::string& owner,
                       TimePoint now) override {
    return inner_.recordOutcome(outcome, owner, now);
  }
  std::vector<Status> recordOutcomes(std::span<const JobOutcome> outcomes, const std::string& owner,
                                     TimePoint now) override {
    return inner_.recordOutcomes(outcomes, owner, now);
  }
  Result<int> requeueExpiredLeases(TimePoint now) override {
    return inner_.requeueExpiredLeases(now);
  }
  Result<int> holdExpiredLeases(TimePoint now, std::span<const std::string> routes) override {
    return inner_.holdExpiredLeases(now, routes);
  }

  Result<ReportEffect> applyDeliveryReport(const DeliveryReport& report, TimePoint now) override {
    return inner_.applyDeliveryReport(report, now);
  }
  Result<std::vector<ReportEffect>> applyDeliveryReports(std::span<const DeliveryReport> reports,
                                                         TimePoint now) override {
    return inner_.applyDeliveryReports(reports, now);
  }
  Result<std::vector<DeliveryReport>> dropParkedReports(TimePoint parked_before) override {
    return inner_.dropParkedReports(parked_before);
  }

  Status recordInbound(const InboundSms& sms) override { return inner_.recordInbound(sms); }
  Status setOptOut(const std::string& recipient, bool opted_out, const std::string& reason,
                   TimePoint now) override {
    return inner_.setOptOut(recipient, opted_out, reason, now);
  }
  Result<bool> isOptedOut(const std::string& recipient) override {
    return inner_.isOptedOut(recipient);
  }
  void setOptOutLanes(std::vector<Lane> lanes) override { inner_.setOptOutLanes(std::move(lanes)); }

  void setWriteBackMappings(std::vector<std::string> mappings) override {
    inner_.setWriteBackMappings(std::move(mappings));
  }
  Result<std::vector<LoggedStatusChange>> pendingStatusChanges(int limit, TimePoint now) override {
    return inner_.pendingStatusChanges(limit, now);
  }
  Status finishStatusChanges(std::span<const StatusChangeResult> results, TimePoint now) override {
    return inner_.finishStatusChanges(results, now);
  }
  Result<std::vector<StatusPollCandidate>> claimStatusPolls(const StatusPollQuery& query,
                                                            TimePoint now) override {
    return inner_.claimStatusPolls(query, now);
  }

  Result<std::vector<std::pair<JobStatus, int>>> countByStatus() override {
    return inner_.countByStatus();
  }
  Result<std::vector<StatusLaneCount>> countByStatusAndLane() override {
    return inner_.countByStatusAndLane();
  }

 protected:
  JobStore& inner() { return inner_; }

 private:
  JobStore& inner_;
};

}  // namespace smsbridge
