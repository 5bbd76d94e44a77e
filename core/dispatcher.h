#pragma once

// Claims due jobs lane by lane (otp before transactional before marketing), sends each along
// its route, and records every outcome in the store. Retry and failover policy lives here and
// only here; providers only classify (DESIGN.md §5).
//
// Threading: the dispatcher runs on one io_context thread. Its store calls (outcome records,
// lease sweeps, delivery reports) run on a store worker thread of its own, one at a time and in
// the order they were made, so HTTP keeps moving while a commit waits for the disk; claims run
// on a second worker, so a claim never holds up the commit that frees send slots. Results come
// back to the io_context thread. With DispatcherConfig::store_thread off they run inline
// instead (tests that drive rounds with a ManualClock).

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/clock.h"
#include "core/job_store.h"
#include "core/provider.h"
#include "core/rate_limit.h"

namespace smsbridge {

enum class InDoubtPolicy {
  kResend,  // requeue: the SMS may arrive twice, but it arrives (default)
  kHold,    // mark failed with an in_doubt reason for an operator to decide: never twice
};

// An ordered list of providers; the first is tried first, the next on failover. Recipients
// under a country prefix can take their own list ("+1" → [twilio]); the longest prefix wins.
struct Route {
  Route() = default;
  Route(std::vector<std::string> providers_) : providers(std::move(providers_)) {}  // NOLINT
  Route(std::initializer_list<std::string> providers_) : providers(providers_) {}   // NOLINT

  std::vector<std::string> providers;
  std::map<std::string, std::vector<std::string>> countries;  // E.164 prefix → providers
  // What happens to jobs of this route found leased in `sending` after their dispatcher died:
  // the request may or may not have reached the provider (DESIGN.md §2.4).
  InDoubtPolicy in_doubt = InDoubtPolicy::kResend;

  const std::vector<std::string>& providersFor(const std::string& recipient) const;
};

struct ProviderLimits {
  double messages_per_second = 0;  // 0: unlimited
  double segments_per_second = 0;  // 0: unlimited
  int max_inflight = 0;            // requests awaiting an answer; 0: only the global limit
  BreakerSettings breaker;
};

struct RetryPolicy {
  int max_attempts = 5;
  std::optional<std::chrono::milliseconds> max_age;  // since the job was created
};

struct DispatcherConfig {
  std::string owner = "smsbridge";  // lease owner: host and pid, so leases are traceable
  // Most jobs claimed per round; also how many claimed jobs may wait for capacity, so the next
  // jobs are already leased when a send slot frees up.
  int batch_size = 50;
  // Most jobs handed to providers whose outcome is not durable yet (request in flight, or
  // answered and waiting for its commit). This bounds the duplicates a crash can cause.
  int max_inflight = 100;
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds lease{60'000};
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{300'000};
  int max_attempts = 5;                          // lanes without their own policy
  std::map<Lane, RetryPolicy> lane_retry;        // per-lane overrides
  std::map<std::string, ProviderLimits> limits;  // by provider name; absent: unlimited
  // Store calls on a worker thread (see above); off: inline on the io_context thread.
  bool store_thread = true;
};

struct DispatcherStats {
  std::uint64_t sent = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t expired = 0;
  // Attempts that may have reached the provider unanswered: timeouts and resets after the
  // request left, and jobs found leased in `sending` after a crash and resent (in_doubt: resend).
  std::uint64_t ambiguous = 0;
  std::uint64_t rate_limited = 0;  // times a send waited for a provider's rate or inflight cap
  std::uint64_t breaker_opened = 0;
  std::uint64_t held = 0;  // in-doubt jobs held instead of resent
};

// Hears what the dispatcher does, for metrics. Called on the dispatcher's thread in the middle
// of its work: implementations must be quick and must not call back into the dispatcher.
class DispatchObserver {
 public:
  virtual ~DispatchObserver() = default;
  // A provider answered a send (or the transport failed): one per attempt.
  virtual void onAttempt(const std::string& /*provider*/, SendResultKind /*outcome*/) {}
  // A job's `sent` status is durable; `now` is when it was recorded.
  virtual void onSent(const SmsJob& /*job*/, TimePoint /*now*/) {}
  // A job waits for a provider's rate limit, max_inflight or Retry-After (once per provider
  // per round, like DispatcherStats::rate_limited).
  virtual void onRateLimitWait(const std::string& /*provider*/) {}
  // Every round, and whenever a result changes it.
  virtual void onBreakerState(const std::string& /*provider*/, BreakerState /*state*/) {}
};

class StoreWorker;

class Dispatcher {
 public:
  // `routes`: route name → route. `providers`: name → provider.
  Dispatcher(DispatcherConfig config, JobStore& store, std::map<std::string, Provider*> providers,
             std::map<std::string, Route> routes, const Clock& clock, boost::asio::io_context& io);
  // Waits for the store calls in progress, if any; results not yet delivered are dropped (their
  // jobs stay leased until the lease expires). stop() first to leave nothing behind.
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Before start(); the observer must outlive the dispatcher. nullptr: none.
  void setObserver(DispatchObserver* observer) { observer_ = observer; }

  void start();
  // Stops claiming new jobs and releases claimed jobs not yet sent; calls `drained` once every
  // in-flight send is recorded and no store call is outstanding.
  void stop(std::function<void()> drained);

  // The path every delivery report takes (sandbox timers, webhooks).
  void onDeliveryReport(const DeliveryReport& report);

  // One round (lease sweep, claims, sends) at the clock's current time; returns how long until
  // the next round is due. start() runs rounds on timers; tests drive them with a ManualClock.
  std::chrono::milliseconds runOnce();

  const DispatcherStats& stats() const { return stats_; }
  BreakerState breakerState(const std::string& provider) const;

 private:
  struct InFlight {
    SmsJob job;
    const std::vector<std::string>* providers = nullptr;  // the route's list for this number
    std::size_t route_index = 0;
    std::vector<AttemptRecord> attempts;
  };
  struct Slot {
    Provider* provider = nullptr;
    ProviderLimits limits;
    RateWindow messages;
    RateWindow segments;
    CircuitBreaker breaker;
    int inflight = 0;
    // The provider asked for no requests before this time (Retry-After on 429/503).
    TimePoint retry_after_until{};
  };
  struct Finished {
    std::shared_ptr<InFlight> flight;
    JobOutcome outcome;
    bool handed = false;  // counted in handed_: a provider got the request
  };
  // What to do with a waiting job now.
  struct Decision {
    enum Kind { kSend, kWait, kPaused, kExhausted } kind = kWait;
    Slot* slot = nullptr;
    std::string provider;
    TimePoint until{};  // kWait: when capacity returns (or epoch: on a completion); kPaused
  };

  void scheduleTick(std::chrono::milliseconds delay);
  void tick();
  void sweepLeases(TimePoint now);
  void claim(TimePoint now);
  void onClaimed(std::vector<SmsJob> jobs, bool more_due);
  // Sends what the providers' limits allow, highest lane first; returns when to look again.
  std::optional<TimePoint> sendWaiting(TimePoint now);
  Decision decide(InFlight& flight, TimePoint now, const std::set<std::string>& blocked);
  void send(std::shared_ptr<InFlight> flight, Slot& slot, const std::string& provider,
            TimePoint now);
  void onResult(std::shared_ptr<InFlight> flight, const std::string& provider, TimePoint started,
                SendResult result);
  void retryOrGiveUp(std::shared_ptr<InFlight> flight, JobOutcome outcome,
                     const SendResult& result);
  void enqueueWaiting(std::shared_ptr<InFlight> flight, bool front);
  // `handed`: the job was counted in handed_ (a provider answered or gave up on it).
  void finish(std::shared_ptr<InFlight> flight, JobOutcome outcome, bool handed = false);
  // Hands the decided outcomes to the store. One commit at a time: outcomes decided while it
  // runs wait and go together in the next one, unless `force` (a report or shutdown must not
  // wait behind them).
  void flushOutcomes(bool force = false);
  void onRecorded(std::vector<Finished> batch, std::vector<Status> recorded);
  // Runs `work` on the store worker (inline without one); the function it returns runs on the
  // io_context thread afterwards.
  void submit(std::function<std::function<void()>()> work);
  // The same on `worker`; nullptr: inline.
  void submit(std::function<std::function<void()>()> work, StoreWorker* worker);
  void maybeDrained();
  // On the store worker: applies one report and logs what it did.
  void applyReport(const DeliveryReport& report, TimePoint now);
  void logOutcome(const SmsJob& job, const JobOutcome& outcome, const Status& recorded);
  std::chrono::milliseconds backoff(int attempt, std::optional<std::chrono::milliseconds> hint);
  const RetryPolicy& retryPolicy(Lane lane) const;
  std::size_t waitingCount() const;

  DispatcherConfig config_;
  JobStore& store_;
  std::map<std::string, Slot> slots_;
  std::map<std::string, Route> routes_;
  std::vector<std::string> hold_routes_;
  RetryPolicy default_retry_;
  const Clock& clock_;
  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;
  std::mt19937_64 rng_{std::random_device{}()};
  // Claimed jobs waiting for a provider's capacity, by lane in priority order.
  std::array<std::deque<std::shared_ptr<InFlight>>, 3> waiting_;
  std::vector<Finished> finished_;  // decided but not yet recorded; still count as in flight
  bool flush_posted_ = false;
  int inflight_ = 0;  // claimed and not yet recorded: waiting, sending, or finished
  int handed_ = 0;    // handed to a provider and not yet recorded (max_inflight)
  bool claiming_ = false;
  bool claimed_full_ = false;  // the last claim filled its batch
  bool sweeping_ = false;
  int recording_ = 0;      // outcome batches handed to the store and not yet back
  int store_pending_ = 0;  // store calls submitted and not yet back
  std::unique_ptr<StoreWorker> worker_;
  std::unique_ptr<StoreWorker> claim_worker_;  // claims only: see the threading note above
  // Results the worker posts check it, so none runs once the dispatcher is gone.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool stopping_ = false;
  bool tick_scheduled_ = false;
  bool in_tick_ = false;  // sends that complete inline must not schedule extra ticks
  std::function<void()> drained_;
  TimePoint next_lease_sweep_{};
  DispatcherStats stats_;
  DispatchObserver* observer_ = nullptr;
};

}  // namespace smsbridge
