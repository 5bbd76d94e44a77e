#pragma once

// A plain queued job for the store checks shared across backends (tests/fakes/*_cases.h,
// *_checks.h): one order-shipped SMS, its entity and dedup key both `key`.

#include <string>

#include "core/sms_job.h"

namespace smsbridge::testing {

inline SmsJob sampleJob(const std::string& key, Lane lane, TimePoint not_before) {
  SmsJob job;
  job.dedup_key = key;
  job.source = "shop";
  job.mapping = "order_shipped";
  job.entity_table = "orders";
  job.entity_id = key;
  job.recipient = "+48600700800";
  job.recipient_raw = "600700800";
  job.body = "Hello";
  job.segments = 1;
  job.lane = lane;
  job.route = "default";
  job.created_at = not_before;
  job.not_before = not_before;
  return job;
}

}  // namespace smsbridge::testing
