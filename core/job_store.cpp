#include "core/job_store.h"

namespace smsbridge {

std::vector<Status> JobStore::recordOutcomes(std::span<const JobOutcome> outcomes,
                                             const std::string& owner, TimePoint now) {
  std::vector<Status> statuses;
  statuses.reserve(outcomes.size());
  for (const JobOutcome& outcome : outcomes) statuses.push_back(recordOutcome(outcome, owner, now));
  return statuses;
}

}  // namespace smsbridge
