#pragma once

// Status polling, for deployments the providers cannot reach with delivery-report webhooks (no
// public URL). Every `every`, per provider, the poller claims jobs that have been `sent` for
// longer than `after` without a final status (JobStore::claimStatusPolls), asks the provider's
// status API about them at no more than `per_second` requests per second, and feeds what it
// learns to JobStore::applyDeliveryReports — the path webhooks take, forward-only, so a poll
// that repeats a webhook's news changes nothing.
//
// Threading: everything runs on one io_context thread (the dispatcher's). Store calls block that
// thread briefly, as the dispatcher's do.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/clock.h"
#include "core/http_client.h"
#include "core/job_store.h"
#include "core/rate_limit.h"
#include "core/result.h"

namespace smsbridge {

// The pure half of one provider's status API, implemented beside its send functions in
// providers/<name>. Immutable; any thread.
class StatusQueryApi {
 public:
  virtual ~StatusQueryApi() = default;
  // Most jobs one request can ask about (1 when the API looks messages up one by one).
  virtual int maxJobsPerQuery() const = 0;
  // The request that asks about `jobs` (1..maxJobsPerQuery(), all of this provider).
  virtual Result<HttpClientRequest> buildStatusQuery(std::span<const StatusPollCandidate> jobs,
                                                     TimePoint now) const = 0;
  // Reports for those of `jobs` the response gives a status we map (provider = the jobs'
  // provider name, provider_status verbatim). Jobs the response does not mention, or mentions
  // with a status that says nothing new (queued, sending), get no report. An error when the
  // response as a whole is not an answer (5xx, auth, unreadable): kTransient or kConfig.
  virtual Result<std::vector<DeliveryReport>> parseStatusResponse(
      const HttpClientResponse& response, std::span<const StatusPollCandidate> jobs) const = 0;
};

struct StatusPollSettings {
  bool enabled = false;
  std::chrono::milliseconds after{std::chrono::minutes(10)};
  std::chrono::milliseconds every{std::chrono::minutes(1)};
  double per_second = 2;
  std::chrono::milliseconds max_age{std::chrono::hours(48)};
};

// One provider the poller asks: its status API, a transport to reach it, and its settings.
struct StatusPollTarget {
  std::string provider;  // the configured name, as jobs record it
  std::shared_ptr<const StatusQueryApi> api;
  std::shared_ptr<HttpTransport> transport;
  StatusPollSettings settings;
};

struct StatusPollStats {
  std::uint64_t rounds = 0;
  std::uint64_t jobs_polled = 0;
  std::uint64_t requests = 0;
  std::uint64_t failed_requests = 0;  // transport errors and answers that were not an answer
  std::uint64_t reports_applied = 0;  // reports that moved a job forward
};

class StatusPoller {
 public:
  StatusPoller(JobStore& store, std::vector<StatusPollTarget> targets, const Clock& clock,
               boost::asio::io_context& io);
  ~StatusPoller();

  // Starts the rounds on timers. Targets without `enabled` are never polled.
  void start();
  // Stops timers and drops queued requests; answers still in flight are ignored.
  void stop();

  // One step at the clock's current time: starts the rounds that are due, sends the queued
  // requests each provider's rate allows, and returns how long until the next step is due.
  // start() runs steps on a timer; tests drive them with a ManualClock.
  std::chrono::milliseconds runOnce();

  const StatusPollStats& stats() const { return stats_; }
  // Requests started but not yet answered, over all providers.
  int inFlight() const { return inflight_; }

 private:
  struct Provider {
    StatusPollTarget target;
    RateWindow rate;
    TimePoint next_round{};
    std::deque<std::vector<StatusPollCandidate>> queued;  // one entry per request
    // Counted per round for the summary line.
    int round_jobs = 0;
    int round_reports = 0;
    int round_failures = 0;
    int round_pending = 0;
    std::string round_error;
  };

  void startRound(Provider& provider, TimePoint now);
  // Sends what the rate allows now; returns when capacity returns while requests wait.
  std::optional<TimePoint> sendQueued(Provider& provider, TimePoint now);
  void onResponse(Provider& provider, const std::vector<StatusPollCandidate>& jobs,
                  HttpClientResponse response);
  void finishRoundIfDone(Provider& provider);
  void scheduleStep(std::chrono::milliseconds delay);

  JobStore& store_;
  std::vector<std::unique_ptr<Provider>> providers_;
  const Clock& clock_;
  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  bool started_ = false;  // steps run on the timer (start()), not only through runOnce()
  std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
  int inflight_ = 0;
  StatusPollStats stats_;
};

}  // namespace smsbridge
