#include "core/job_store.h"

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

}  // namespace smsbridge
