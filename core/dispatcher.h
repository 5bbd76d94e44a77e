#pragma once

// Claims due jobs lane by lane (otp before transactional before marketing), sends each along
// its route, and records every outcome in the store. Retry and failover policy lives here and
// only here; providers only classify (DESIGN.md §5).
//
// Threading: everything runs on one io_context thread. Store calls block that thread briefly.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/clock.h"
#include "core/job_store.h"
#include "core/provider.h"

namespace smsbridge {

struct DispatcherConfig {
  std::string owner = "smsbridge";  // lease owner: host and pid, so leases are traceable
  int batch_size = 50;
  int max_inflight = 100;
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds lease{60'000};
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{300'000};
  int max_attempts = 5;
};

struct DispatcherStats {
  std::uint64_t sent = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t expired = 0;
};

class Dispatcher {
 public:
  // `routes`: route name → ordered provider names. `providers`: name → provider.
  Dispatcher(DispatcherConfig config, JobStore& store, std::map<std::string, Provider*> providers,
             std::map<std::string, std::vector<std::string>> routes, const Clock& clock,
             boost::asio::io_context& io);

  void start();
  // Stops claiming new jobs; calls `drained` once every in-flight send is recorded.
  void stop(std::function<void()> drained);

  // The path every delivery report takes (sandbox timers, webhooks later).
  void onDeliveryReport(const DeliveryReport& report);

  const DispatcherStats& stats() const { return stats_; }

 private:
  struct InFlight {
    SmsJob job;
    std::size_t route_index = 0;
    std::vector<AttemptRecord> attempts;
  };

  void scheduleTick(std::chrono::milliseconds delay);
  void tick();
  void sendNext(std::shared_ptr<InFlight> flight);
  void onResult(std::shared_ptr<InFlight> flight, const std::string& provider, TimePoint started,
                SendResult result);
  void finish(std::shared_ptr<InFlight> flight, JobOutcome outcome);
  void flushOutcomes();
  void logOutcome(const SmsJob& job, const JobOutcome& outcome, const Status& recorded);
  std::chrono::milliseconds backoff(int attempt, std::optional<std::chrono::milliseconds> hint);
  const std::vector<std::string>* routeOf(const SmsJob& job) const;

  DispatcherConfig config_;
  JobStore& store_;
  std::map<std::string, Provider*> providers_;
  std::map<std::string, std::vector<std::string>> routes_;
  const Clock& clock_;
  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  std::mt19937_64 rng_{std::random_device{}()};
  struct Finished {
    std::shared_ptr<InFlight> flight;
    JobOutcome outcome;
  };
  std::vector<Finished> finished_;  // decided but not yet recorded; still count as in flight
  bool flush_posted_ = false;
  int inflight_ = 0;
  bool stopping_ = false;
  bool tick_scheduled_ = false;
  bool in_tick_ = false;  // sends that complete inline must not schedule extra ticks
  std::function<void()> drained_;
  TimePoint next_lease_sweep_{};
  DispatcherStats stats_;
};

}  // namespace smsbridge
