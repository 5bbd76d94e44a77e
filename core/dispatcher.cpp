#include "core/dispatcher.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

namespace smsbridge {

// Runs blocking store calls one at a time, in the order they were submitted, on a thread of its
// own, and posts what each returns to the io_context. The order matters: a delivery report
// submitted after a batch of outcomes is applied after them, as DESIGN.md §2.4 requires.
class StoreWorker {
 public:
  using Work = std::function<std::function<void()>()>;

  explicit StoreWorker(boost::asio::io_context& io) : io_(io), thread_([this] { loop(); }) {}
  // Finishes the call in progress and drops the rest.
  ~StoreWorker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  void submit(Work work) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(work));
    }
    wake_.notify_one();
  }

 private:
  void loop() {
    while (true) {
      Work work;
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      boost::asio::post(io_, work());
    }
  }

  boost::asio::io_context& io_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Work> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: it starts running loop() as soon as it is constructed
};

namespace {

std::size_t laneIndex(Lane lane) {
  for (std::size_t i = 0; i < std::size(kLanesByPriority); ++i) {
    if (kLanesByPriority[i] == lane) return i;
  }
  return std::size(kLanesByPriority) - 1;
}

std::chrono::milliseconds until(TimePoint from, TimePoint to) {
  if (to <= from) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(to - from);
}

}  // namespace

const std::vector<std::string>& Route::providersFor(const std::string& recipient) const {
  const std::vector<std::string>* best = &providers;
  std::size_t best_length = 0;
  for (const auto& [prefix, list] : countries) {
    if (prefix.size() > best_length && recipient.rfind(prefix, 0) == 0) {
      best = &list;
      best_length = prefix.size();
    }
  }
  return *best;
}

Dispatcher::Dispatcher(DispatcherConfig config, JobStore& store,
                       std::map<std::string, Provider*> providers,
                       std::map<std::string, Route> routes, const Clock& clock,
                       boost::asio::io_context& io)
    : config_(std::move(config)),
      store_(store),
      routes_(std::move(routes)),
      clock_(clock),
      io_(io),
      timer_(io) {
  for (auto& [name, provider] : providers) {
    Slot& slot = slots_[name];
    slot.provider = provider;
    if (auto it = config_.limits.find(name); it != config_.limits.end()) slot.limits = it->second;
    slot.messages = RateWindow(slot.limits.messages_per_second);
    slot.segments = RateWindow(slot.limits.segments_per_second);
    slot.breaker = CircuitBreaker(slot.limits.breaker);
  }
  for (const auto& [name, route] : routes_) {
    if (route.in_doubt == InDoubtPolicy::kHold) hold_routes_.push_back(name);
  }
  default_retry_.max_attempts = config_.max_attempts;
  if (config_.store_thread) {
    worker_ = std::make_unique<StoreWorker>(io_);
    claim_worker_ = std::make_unique<StoreWorker>(io_);
  }
}

Dispatcher::~Dispatcher() {
  claim_worker_.reset();
  worker_.reset();
}

void Dispatcher::start() { scheduleTick(std::chrono::milliseconds(0)); }

void Dispatcher::submit(std::function<std::function<void()>()> work) {
  submit(std::move(work), worker_.get());
}

void Dispatcher::submit(std::function<std::function<void()>()> work, StoreWorker* worker) {
  ++store_pending_;
  if (!worker) {
    std::function<void()> then = work();
    --store_pending_;
    then();
    return;
  }
  std::weak_ptr<int> alive = alive_;
  worker->submit([this, alive, work = std::move(work)]() -> std::function<void()> {
    std::function<void()> then = work();
    return [this, alive, then = std::move(then)] {
      if (alive.expired()) return;
      --store_pending_;
      then();
    };
  });
}

void Dispatcher::maybeDrained() {
  if (!stopping_ || !drained_ || inflight_ > 0 || claiming_ || store_pending_ > 0) return;
  auto cb = std::move(drained_);
  drained_ = nullptr;
  cb();
}

void Dispatcher::stop(std::function<void()> drained) {
  stopping_ = true;
  timer_.cancel();
  drained_ = std::move(drained);
  // Jobs claimed but not sent go back now rather than when their lease expires.
  for (auto& lane : waiting_) {
    for (auto& flight : lane) {
      JobOutcome outcome;
      outcome.job_id = flight->job.id;
      outcome.status = JobStatus::kQueued;
      outcome.status_reason = "released unsent at shutdown";
      outcome.not_before = clock_.now();
      outcome.attempts = std::move(flight->attempts);
      finished_.push_back({flight, std::move(outcome)});
    }
    lane.clear();
  }
  flushOutcomes(/*force=*/true);
  if (drained_ && (inflight_ > 0 || claiming_ || store_pending_ > 0)) {
    spdlog::info("Draining in-flight sends. inflight={}", inflight_);
  }
  maybeDrained();
}

void Dispatcher::scheduleTick(std::chrono::milliseconds delay) {
  if (stopping_) return;
  if (tick_scheduled_) {
    // An earlier wake-up wins over the one already set.
    if (timer_.expiry() <= boost::asio::steady_timer::clock_type::now() + delay) return;
    timer_.cancel();
  }
  tick_scheduled_ = true;
  timer_.expires_after(delay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    tick_scheduled_ = false;
    if (!ec) tick();
  });
}

std::chrono::milliseconds Dispatcher::runOnce() {
  if (stopping_) return config_.poll_interval;
  in_tick_ = true;
  TimePoint now = clock_.now();
  sweepLeases(now);
  claimed_full_ = false;
  claim(now);
  // Set when the claim ran inline and filled its batch: more is probably due right away.
  bool claimed_full = claimed_full_;
  std::optional<TimePoint> wake = sendWaiting(now);
  // With the store worker the claim above has not come back yet, or found the waiting jobs
  // enough; now that they are sent, the next batch is leased while these are at the provider.
  if (worker_) claim(now);
  in_tick_ = false;
  if (observer_) {
    for (const auto& [name, slot] : slots_)
      observer_->onBreakerState(name, slot.breaker.state(now));
  }

  // A full claim suggests more is due right away (from the store thread, onClaimed brings the
  // next round forward itself); a provider's capacity returns at `wake`.
  std::chrono::milliseconds delay = config_.poll_interval;
  if (claimed_full && waitingCount() == 0) delay = std::chrono::milliseconds(0);
  if (wake) delay = std::min(delay, until(now, *wake));
  return delay;
}

void Dispatcher::tick() {
  if (stopping_) return;
  scheduleTick(runOnce());
}

void Dispatcher::sweepLeases(TimePoint now) {
  if (now < next_lease_sweep_ || sweeping_) return;
  next_lease_sweep_ = now + std::max(config_.lease / 4, std::chrono::milliseconds(250));
  sweeping_ = true;
  submit([this, now, hold_routes = hold_routes_]() -> std::function<void()> {
    // Jobs leased by a dispatcher that died (SIGKILL, power loss) are in doubt: the request may
    // have reached the provider. Routes that hold such jobs come first; the rest are resent.
    int held = 0, requeued = 0;
    if (!hold_routes.empty()) {
      if (auto n = store_.holdExpiredLeases(now, hold_routes); !n) {
        spdlog::warn("Could not hold in-doubt jobs. error=\"{}\"", n.error().toString());
      } else if (*n > 0) {
        held = *n;
        spdlog::warn(
            "Jobs whose lease expired were held, not resent (in_doubt: hold); the provider may "
            "have sent them. Check and requeue by hand if needed. count={}",
            *n);
      }
    }
    if (auto n = store_.requeueExpiredLeases(now); !n) {
      spdlog::warn("Could not requeue expired leases. error=\"{}\"", n.error().toString());
    } else if (*n > 0) {
      requeued = *n;
      spdlog::warn(
          "Requeued jobs whose lease expired; they were in doubt and will be sent "
          "again. count={}",
          *n);
    }
    return [this, held, requeued] {
      sweeping_ = false;
      stats_.held += static_cast<std::uint64_t>(held);
      stats_.ambiguous += static_cast<std::uint64_t>(requeued);
      maybeDrained();
    };
  });
}

std::size_t Dispatcher::waitingCount() const {
  std::size_t n = 0;
  for (const auto& lane : waiting_) n += lane.size();
  return n;
}

void Dispatcher::claim(TimePoint now) {
  // Jobs already waiting for capacity are enough work: claiming more would only hold leases.
  // Up to a batch may wait beside the max_inflight being sent, so a freed send slot finds its
  // next job already leased.
  if (claiming_ || waitingCount() >= static_cast<std::size_t>(config_.batch_size)) return;
  int budget = config_.max_inflight + config_.batch_size - inflight_;
  // A claim costs a transaction whatever its size: wait until half a batch fits. Sends never
  // starve for it: below that, the jobs already claimed fill every send slot.
  if (std::min(budget, config_.batch_size) < std::max(1, config_.batch_size / 2)) return;
  claiming_ = true;
  const int limit = std::min(config_.batch_size, budget);
  auto work = [this, now, limit]() -> std::function<void()> {
    auto jobs =
        store_.claimDueByPriority(kLanesByPriority, limit, config_.owner, config_.lease, now);
    if (!jobs) {
      spdlog::warn("Could not claim jobs; retrying. error=\"{}\"", jobs.error().toString());
      return [this] { onClaimed({}, false); };
    }
    bool more_due = static_cast<int>(jobs->size()) == limit;
    return [this, claimed = std::move(*jobs), more_due]() mutable {
      onClaimed(std::move(claimed), more_due);
    };
  };
  // Claims have a worker of their own: a claim queued in front of an outcome commit would hold
  // every send slot waiting for that commit a claim longer.
  submit(std::move(work), claim_worker_.get());
}

void Dispatcher::onClaimed(std::vector<SmsJob> jobs, bool more_due) {
  claiming_ = false;
  for (SmsJob& job : jobs) {
    auto flight = std::make_shared<InFlight>();
    flight->job = std::move(job);
    ++inflight_;
    if (stopping_) {
      // Claimed while the dispatcher was stopping: back to the queue unsent.
      JobOutcome outcome;
      outcome.job_id = flight->job.id;
      outcome.status = JobStatus::kQueued;
      outcome.status_reason = "released unsent at shutdown";
      outcome.not_before = clock_.now();
      finish(flight, std::move(outcome));
      continue;
    }
    auto route = routes_.find(flight->job.route);
    if (route == routes_.end()) {
      JobOutcome outcome;
      outcome.job_id = flight->job.id;
      outcome.status = JobStatus::kFailed;
      outcome.status_reason = "route '" + flight->job.route + "' is not configured";
      finish(flight, std::move(outcome));
      continue;
    }
    flight->providers = &route->second.providersFor(flight->job.recipient);
    waiting_[laneIndex(flight->job.lane)].push_back(std::move(flight));
  }
  if (stopping_) {
    flushOutcomes(/*force=*/true);
    maybeDrained();
    return;
  }
  // Inline (no store thread) this runs inside a round, which sends right after; from the
  // worker, a round sends what came and claims the next batch (an empty claim ends that).
  claimed_full_ = more_due;
  if (!in_tick_ && !jobs.empty()) scheduleTick(std::chrono::milliseconds(0));
}

Dispatcher::Decision Dispatcher::decide(InFlight& flight, TimePoint now,
                                        const std::set<std::string>& blocked) {
  Decision decision;
  std::optional<TimePoint> paused_until;
  for (std::size_t i = flight.route_index; i < flight.providers->size(); ++i) {
    const std::string& name = (*flight.providers)[i];
    auto it = slots_.find(name);
    if (it == slots_.end()) continue;  // config validation names every provider; belt and braces
    Slot& slot = it->second;
    if (!slot.breaker.allows(now)) {
      // A provider that keeps failing is skipped like a failover, until its probe time.
      TimePoint reopens = slot.breaker.reopensAt();
      if (!paused_until || reopens < *paused_until) paused_until = reopens;
      continue;
    }
    decision.provider = name;
    decision.slot = &slot;
    if (slot.retry_after_until > now) {
      // A Retry-After is about the account, not the one message: nothing goes to this
      // provider before it, or the next requests only prolong the throttling.
      decision.kind = Decision::kWait;
      decision.until = slot.retry_after_until;
      return decision;
    }
    double segments = std::max(flight.job.segments, 1);
    if (blocked.count(name) ||
        (slot.limits.max_inflight > 0 && slot.inflight >= slot.limits.max_inflight)) {
      decision.kind = Decision::kWait;  // woken by a completion
      return decision;
    }
    if (!slot.messages.admits(1, now) || !slot.segments.admits(segments, now)) {
      decision.kind = Decision::kWait;
      decision.until =
          std::max(slot.messages.availableAt(1, now), slot.segments.availableAt(segments, now));
      return decision;
    }
    decision.kind = Decision::kSend;
    flight.route_index = i;
    return decision;
  }
  if (paused_until) {
    decision.kind = Decision::kPaused;
    decision.until = *paused_until;
  } else {
    decision.kind = Decision::kExhausted;
  }
  return decision;
}

std::optional<TimePoint> Dispatcher::sendWaiting(TimePoint now) {
  struct Ready {
    std::shared_ptr<InFlight> flight;
    Slot* slot;
    std::string provider;
  };
  std::vector<Ready> ready;
  std::optional<TimePoint> wake;
  // A provider a job is waiting for is closed to every job after it, so capacity goes to the
  // higher lane first and to older jobs first within a lane.
  std::set<std::string> blocked;
  for (auto& lane : waiting_) {
    for (auto it = lane.begin(); it != lane.end();) {
      std::shared_ptr<InFlight> flight = *it;
      if (flight->job.expires_at && *flight->job.expires_at <= now) {
        it = lane.erase(it);
        JobOutcome outcome;
        outcome.job_id = flight->job.id;
        outcome.status = JobStatus::kExpired;
        outcome.status_reason = "expired before it could be sent";
        outcome.attempts = std::move(flight->attempts);
        finish(flight, std::move(outcome));
        continue;
      }
      if (handed_ + static_cast<int>(ready.size()) >= config_.max_inflight) {
        // Every send slot is taken until an outcome is recorded; that wakes a round.
        ++it;
        continue;
      }
      Decision decision = decide(*flight, now, blocked);
      switch (decision.kind) {
        case Decision::kSend: {
          // Take the capacity now, so the next decision sees it gone.
          decision.slot->messages.take(1, now);
          decision.slot->segments.take(std::max(flight->job.segments, 1), now);
          decision.slot->breaker.onStart(now);
          ++decision.slot->inflight;
          ready.push_back({flight, decision.slot, decision.provider});
          it = lane.erase(it);
          continue;
        }
        case Decision::kWait:
          if (!blocked.count(decision.provider)) {
            ++stats_.rate_limited;
            if (observer_) observer_->onRateLimitWait(decision.provider);
          }
          blocked.insert(decision.provider);
          if (decision.until != TimePoint{} && (!wake || decision.until < *wake)) {
            wake = decision.until;
          }
          ++it;
          continue;
        case Decision::kPaused: {
          it = lane.erase(it);
          JobOutcome outcome;
          outcome.job_id = flight->job.id;
          outcome.status = JobStatus::kQueued;
          outcome.status_reason = "every provider on route '" + flight->job.route +
                                  "' is paused after repeated failures (circuit open)";
          outcome.not_before = decision.until;
          outcome.attempts = std::move(flight->attempts);
          finish(flight, std::move(outcome));
          continue;
        }
        case Decision::kExhausted: {
          it = lane.erase(it);
          JobOutcome outcome;
          outcome.job_id = flight->job.id;
          outcome.status = JobStatus::kFailed;
          outcome.status_reason =
              flight->providers->empty()
                  ? "route '" + flight->job.route + "' has no provider for " + flight->job.recipient
                  : "every provider on route '" + flight->job.route + "' refused the message";
          outcome.attempts = std::move(flight->attempts);
          finish(flight, std::move(outcome));
          continue;
        }
      }
    }
  }
  // Sends may complete inline (and fail over back into waiting_), so they start only after the
  // walk over waiting_ is done.
  handed_ += static_cast<int>(ready.size());
  for (Ready& r : ready) send(std::move(r.flight), *r.slot, r.provider, now);
  return wake;
}

void Dispatcher::send(std::shared_ptr<InFlight> flight, Slot& slot, const std::string& provider,
                      TimePoint now) {
  OutgoingSms sms;
  sms.job_id = flight->job.id;
  sms.recipient = flight->job.recipient;
  sms.sender = flight->job.sender;
  sms.body = flight->job.body;
  sms.lane = flight->job.lane;
  sms.segments = flight->job.segments;
  sms.expires_at = flight->job.expires_at;
  sms.attempt = flight->job.attempts + static_cast<int>(flight->attempts.size()) + 1;
  slot.provider->send(sms, [this, flight, provider, now](SendResult result) {
    onResult(flight, provider, now, std::move(result));
  });
}

void Dispatcher::enqueueWaiting(std::shared_ptr<InFlight> flight, bool front) {
  auto& lane = waiting_[laneIndex(flight->job.lane)];
  if (front) {
    lane.push_front(std::move(flight));
  } else {
    lane.push_back(std::move(flight));
  }
  if (!in_tick_) scheduleTick(std::chrono::milliseconds(0));
}

void Dispatcher::onResult(std::shared_ptr<InFlight> flight, const std::string& provider,
                          TimePoint started, SendResult result) {
  TimePoint now = clock_.now();
  AttemptRecord attempt;
  attempt.job_id = flight->job.id;
  attempt.provider = provider;
  attempt.outcome = std::string(sendResultName(result.kind));
  attempt.http_status = result.http_status;
  attempt.error_code = result.error_code;
  attempt.error_message = result.reason;
  attempt.started_at = started;
  attempt.finished_at = now;
  flight->attempts.push_back(std::move(attempt));
  if (observer_) observer_->onAttempt(provider, result.kind);
  if (result.ambiguous) {
    ++stats_.ambiguous;
    spdlog::warn(
        "No answer after the request left; the provider may have sent it, so a retry can "
        "duplicate this SMS. job={} provider={} reason=\"{}\"",
        flight->job.id, provider, result.reason);
  }

  auto slot_it = slots_.find(provider);
  if (slot_it != slots_.end()) {
    Slot& slot = slot_it->second;
    --slot.inflight;
    if (result.kind == SendResultKind::kRetryLater && result.retry_after &&
        result.retry_after->count() > 0 && now + *result.retry_after > slot.retry_after_until) {
      slot.retry_after_until = now + *result.retry_after;
      spdlog::warn(
          "Provider asked to wait before the next request; holding its sends. provider={} "
          "retry_after_ms={} http_status={}",
          provider, result.retry_after->count(), result.http_status);
    }
    bool failure =
        result.kind == SendResultKind::kRetryLater || result.kind == SendResultKind::kFailOver;
    if (failure && slot.breaker.onFailure(now)) {
      ++stats_.breaker_opened;
      spdlog::warn(
          "Provider paused after repeated failures; its routes use the next provider until a "
          "probe succeeds. provider={} failures={} probe_at={}",
          provider, slot.breaker.consecutiveFailures(), formatTimestamp(slot.breaker.reopensAt()));
    } else if (!failure && slot.breaker.onSuccess()) {
      spdlog::info("Provider answers again; resuming it. provider={}", provider);
    }
    if (observer_) observer_->onBreakerState(provider, slot.breaker.state(now));
    // Capacity came back: jobs waiting for it can go.
    if (waitingCount() > 0 && !in_tick_) scheduleTick(std::chrono::milliseconds(0));
  }

  JobOutcome outcome;
  outcome.job_id = flight->job.id;
  outcome.provider = provider;
  switch (result.kind) {
    case SendResultKind::kAccepted:
    case SendResultKind::kDuplicate:
      outcome.status = JobStatus::kSent;
      outcome.provider_message_id = result.provider_message_id;
      outcome.price = result.price;
      outcome.currency = result.currency;
      if (result.kind == SendResultKind::kDuplicate) {
        outcome.status_reason = "provider already had this message";
      }
      break;
    case SendResultKind::kFailOver:
      spdlog::warn("Provider refused the message; failing over. job={} provider={} reason=\"{}\"",
                   flight->job.id, provider, result.reason);
      // A refusal is definite: the job is no longer in doubt at any provider.
      --handed_;
      ++flight->route_index;
      enqueueWaiting(flight, /*front=*/true);
      return;
    case SendResultKind::kRejected:
      outcome.status = JobStatus::kRejected;
      outcome.status_reason = result.reason;
      break;
    case SendResultKind::kRetryLater:
      retryOrGiveUp(flight, std::move(outcome), result);
      return;
  }
  outcome.attempts = std::move(flight->attempts);
  finish(flight, std::move(outcome), /*handed=*/true);
}

void Dispatcher::retryOrGiveUp(std::shared_ptr<InFlight> flight, JobOutcome outcome,
                               const SendResult& result) {
  const RetryPolicy& policy = retryPolicy(flight->job.lane);
  TimePoint now = clock_.now();
  int attempts = flight->job.attempts + static_cast<int>(flight->attempts.size());
  std::chrono::milliseconds delay = backoff(attempts, result.retry_after);
  if (attempts >= policy.max_attempts) {
    outcome.status = JobStatus::kFailed;
    outcome.status_reason =
        "gave up after " + std::to_string(attempts) + " attempts; last: " + result.reason;
  } else if (policy.max_age && flight->job.created_at + *policy.max_age < now + delay) {
    outcome.status = JobStatus::kFailed;
    outcome.status_reason =
        "gave up: the next retry would come after the lane's max_age; last: " + result.reason;
  } else {
    outcome.status = JobStatus::kQueued;
    outcome.status_reason = "retrying: " + result.reason;
    outcome.not_before = now + delay;
  }
  outcome.attempts = std::move(flight->attempts);
  finish(flight, std::move(outcome), /*handed=*/true);
}

const RetryPolicy& Dispatcher::retryPolicy(Lane lane) const {
  auto it = config_.lane_retry.find(lane);
  return it == config_.lane_retry.end() ? default_retry_ : it->second;
}

BreakerState Dispatcher::breakerState(const std::string& provider) const {
  auto it = slots_.find(provider);
  return it == slots_.end() ? BreakerState::kClosed : it->second.breaker.state(clock_.now());
}

void Dispatcher::finish(std::shared_ptr<InFlight> flight, JobOutcome outcome, bool handed) {
  // Outcomes are recorded together: one durable commit per batch, not per SMS. A flush is
  // posted, so it runs right after the handler that produced the outcome.
  finished_.push_back({std::move(flight), std::move(outcome), handed});
  if (static_cast<int>(finished_.size()) >= config_.batch_size) {
    flushOutcomes();
  } else if (!flush_posted_) {
    flush_posted_ = true;
    std::weak_ptr<int> alive = alive_;
    boost::asio::post(io_, [this, alive] {
      if (alive.expired()) return;
      flush_posted_ = false;
      flushOutcomes();
    });
  }
}

void Dispatcher::flushOutcomes(bool force) {
  if (finished_.empty() || (recording_ > 0 && !force)) return;
  std::vector<Finished> batch = std::move(finished_);
  finished_.clear();
  std::vector<JobOutcome> outcomes;
  outcomes.reserve(batch.size());
  for (Finished& f : batch) outcomes.push_back(std::move(f.outcome));
  ++recording_;
  submit([this, batch = std::move(batch), outcomes = std::move(outcomes),
          now = clock_.now()]() mutable -> std::function<void()> {
    std::vector<Status> recorded = store_.recordOutcomes(outcomes, config_.owner, now);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].outcome = std::move(outcomes[i]);
    return [this, batch = std::move(batch), recorded = std::move(recorded)]() mutable {
      onRecorded(std::move(batch), std::move(recorded));
    };
  });
}

void Dispatcher::onRecorded(std::vector<Finished> batch, std::vector<Status> recorded) {
  --recording_;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    logOutcome(batch[i].flight->job, batch[i].outcome, recorded[i]);
    if (batch[i].handed) --handed_;
  }
  inflight_ -= static_cast<int>(batch.size());
  // What was decided while this commit ran goes in the next one.
  flushOutcomes();
  if (stopping_) {
    maybeDrained();
  } else if (!in_tick_ && (waitingCount() > 0 || inflight_ < config_.max_inflight / 2)) {
    // Send slots came back for waiting jobs, or there is room to claim more.
    scheduleTick(std::chrono::milliseconds(0));
  }
}

void Dispatcher::logOutcome(const SmsJob& job, const JobOutcome& outcome, const Status& recorded) {
  if (!recorded.isOk()) {
    // The lease will expire and the job comes back: a possible duplicate, never a loss.
    spdlog::error(
        "Could not record a send outcome; the job will be retried when its lease "
        "expires. job={} status={} error=\"{}\"",
        job.id, statusName(outcome.status), recorded.toString());
    return;
  }
  switch (outcome.status) {
    case JobStatus::kSent:
      ++stats_.sent;
      if (observer_) observer_->onSent(job, clock_.now());
      spdlog::info("SMS sent. job={} to={} segments={} provider={} provider_id={} text=\"{}\"",
                   job.id, job.recipient, job.segments, outcome.provider,
                   outcome.provider_message_id, job.body);
      break;
    case JobStatus::kQueued:
      ++stats_.retried;
      spdlog::warn("Send failed; will retry. job={} at={} reason=\"{}\"", job.id,
                   formatTimestamp(outcome.not_before), outcome.status_reason);
      break;
    case JobStatus::kRejected:
      ++stats_.rejected;
      spdlog::warn("SMS rejected. job={} to={} reason=\"{}\"", job.id, job.recipient,
                   outcome.status_reason);
      break;
    case JobStatus::kExpired:
      ++stats_.expired;
      spdlog::warn("SMS expired before sending. job={} to={}", job.id, job.recipient);
      break;
    default:
      ++stats_.failed;
      spdlog::error("SMS failed. job={} to={} reason=\"{}\"", job.id, job.recipient,
                    outcome.status_reason);
      break;
  }
}

void Dispatcher::onDeliveryReport(const DeliveryReport& report) {
  // The send result must be on record before a report about the same message is applied: the
  // store calls run in order, so the report goes right behind the outcomes decided so far.
  flushOutcomes(/*force=*/true);
  submit([this, report, now = clock_.now()]() -> std::function<void()> {
    applyReport(report, now);
    return [this] { maybeDrained(); };
  });
}

void Dispatcher::applyReport(const DeliveryReport& report, TimePoint now) {
  auto effect = store_.applyDeliveryReport(report, now);
  if (!effect) {
    spdlog::error("Could not apply a delivery report. provider={} id={} error=\"{}\"",
                  report.provider, report.provider_message_id, effect.error().toString());
    return;
  }
  switch (*effect) {
    case ReportEffect::kApplied:
      spdlog::info("Delivery report applied. provider={} id={} status={}", report.provider,
                   report.provider_message_id, statusName(report.status));
      break;
    case ReportEffect::kNoOp:
      spdlog::debug("Delivery report changed nothing (replay or late). provider={} id={}",
                    report.provider, report.provider_message_id);
      break;
    case ReportEffect::kUnknownJob:
      spdlog::warn("Delivery report for an unknown message id. provider={} id={} status={}",
                   report.provider, report.provider_message_id, statusName(report.status));
      break;
    case ReportEffect::kParked:
      spdlog::debug("Delivery report parked until its send result is recorded. provider={} id={}",
                    report.provider, report.provider_message_id);
      break;
  }
}

std::chrono::milliseconds Dispatcher::backoff(int attempt,
                                              std::optional<std::chrono::milliseconds> hint) {
  // Exponential backoff with full jitter; a provider's Retry-After is a floor.
  std::chrono::milliseconds ceiling = config_.retry_base * (1LL << std::min(attempt, 20));
  ceiling = std::min(ceiling, config_.retry_max);
  std::uniform_int_distribution<std::int64_t> dist(0, ceiling.count());
  std::chrono::milliseconds delay(dist(rng_));
  if (hint) delay = std::max(delay, *hint);
  return delay;
}

}  // namespace smsbridge
