#pragma once

// An SMS job as the store keeps it (one row of smsbridge_messages), and the status machine of
// DESIGN.md §2.5: statuses only move forward, and final statuses never change.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smsbridge {

enum class JobStatus {
  kScheduled,    // waiting for not_before
  kQueued,       // due, waiting for a dispatcher
  kSending,      // leased by a dispatcher; a provider request may be in flight
  kSent,         // a provider accepted it
  kDelivered,    // final: the handset got it
  kUndelivered,  // final: the network gave up
  kExpired,      // final: too late to send, or the provider let it expire
  kFailed,       // final: every provider on the route failed or attempts ran out
  kRejected,     // final: unusable content or number, fails everywhere
  kSuppressed,   // final: never sent on purpose (no phone, opted out, dedup...)
  kCancelled,    // final: withdrawn by an operator
};

std::string_view statusName(JobStatus status);
std::optional<JobStatus> parseStatus(std::string_view name);
bool isFinal(JobStatus status);

// Whether `from -> to` is a legal move. Forward along scheduled → queued → sending → sent →
// {delivered, undelivered, expired}; any non-final status may end in failed, rejected,
// suppressed, cancelled or expired. One step back exists: sending → queued, when an attempt
// ended without any provider accepting the message (a retry). Same-status moves are not
// transitions (a replayed report is a no-op, not an error).
bool canTransition(JobStatus from, JobStatus to);

enum class Lane { kOtp, kTransactional, kMarketing };
inline constexpr Lane kLanesByPriority[] = {Lane::kOtp, Lane::kTransactional, Lane::kMarketing};

std::string_view laneName(Lane lane);
std::optional<Lane> parseLane(std::string_view name);

enum class Encoding { kGsm7, kUcs2 };
std::string_view encodingName(Encoding encoding);  // "gsm7" | "ucs2"

using TimePoint = std::chrono::system_clock::time_point;

struct SmsJob {
  std::int64_t id = 0;    // assigned by the store
  std::string dedup_key;  // UNIQUE: a replayed change cannot make a second job
  std::string source;
  std::string mapping;
  std::string entity_table;
  std::string entity_id;
  std::string recipient_raw;  // as found in the record
  std::string recipient;      // E.164, empty when suppressed for the number
  std::string sender;
  std::string body;
  Encoding encoding = Encoding::kGsm7;
  int segments = 0;
  Lane lane = Lane::kTransactional;
  std::string route;
  JobStatus status = JobStatus::kQueued;
  std::string status_reason;
  int attempts = 0;
  std::string provider;
  std::string provider_message_id;
  std::optional<double> price;
  std::string currency;
  TimePoint not_before{};
  std::optional<TimePoint> expires_at;
  std::string lease_owner;
  std::optional<TimePoint> lease_until;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<TimePoint> sent_at;
  std::optional<TimePoint> final_at;
};

}  // namespace smsbridge
