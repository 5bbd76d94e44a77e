#include "core/dispatcher.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace smsbridge {

Dispatcher::Dispatcher(DispatcherConfig config, JobStore& store,
                       std::map<std::string, Provider*> providers,
                       std::map<std::string, std::vector<std::string>> routes, const Clock& clock,
                       boost::asio::io_context& io)
    : config_(std::move(config)),
      store_(store),
      providers_(std::move(providers)),
      routes_(std::move(routes)),
      clock_(clock),
      io_(io),
      timer_(io) {}

void Dispatcher::start() { scheduleTick(std::chrono::milliseconds(0)); }

void Dispatcher::stop(std::function<void()> drained) {
  stopping_ = true;
  timer_.cancel();
  drained_ = std::move(drained);
  if (inflight_ == 0 && drained_) {
    auto cb = std::move(drained_);
    drained_ = nullptr;
    cb();
  } else {
    spdlog::info("Draining in-flight sends. inflight={}", inflight_);
  }
}

void Dispatcher::scheduleTick(std::chrono::milliseconds delay) {
  if (stopping_ || tick_scheduled_) return;
  tick_scheduled_ = true;
  timer_.expires_after(delay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    tick_scheduled_ = false;
    if (!ec) tick();
  });
}

void Dispatcher::tick() {
  if (stopping_) return;
  in_tick_ = true;
  TimePoint now = clock_.now();
  if (now >= next_lease_sweep_) {
    // Jobs leased by a dispatcher that died (SIGKILL, power loss) come back after their lease.
    if (auto n = store_.requeueExpiredLeases(now); !n) {
      spdlog::warn("Could not requeue expired leases. error=\"{}\"", n.error().toString());
    } else if (*n > 0) {
      spdlog::warn(
          "Requeued jobs whose lease expired; they were in doubt and will be sent "
          "again. count={}",
          *n);
    }
    next_lease_sweep_ = now + std::max(config_.lease / 4, std::chrono::milliseconds(250));
  }
  bool full_batch = false;
  for (Lane lane : kLanesByPriority) {
    int room = std::min(config_.batch_size, config_.max_inflight - inflight_);
    if (room <= 0) break;
    auto jobs = store_.claimDue(lane, room, config_.owner, config_.lease, now);
    if (!jobs) {
      spdlog::warn("Could not claim jobs; retrying. lane={} error=\"{}\"", laneName(lane),
                   jobs.error().toString());
      break;
    }
    if (static_cast<int>(jobs->size()) == room) full_batch = true;
    for (SmsJob& job : *jobs) {
      auto flight = std::make_shared<InFlight>();
      flight->job = std::move(job);
      ++inflight_;
      if (flight->job.expires_at && *flight->job.expires_at <= now) {
        JobOutcome outcome;
        outcome.job_id = flight->job.id;
        outcome.status = JobStatus::kExpired;
        outcome.status_reason = "expired before it could be sent";
        finish(flight, std::move(outcome));
        continue;
      }
      sendNext(flight);
    }
    // Strict priority: a lane below runs only when the lanes above had nothing more.
    if (full_batch) break;
  }
  in_tick_ = false;
  scheduleTick(full_batch ? std::chrono::milliseconds(0) : config_.poll_interval);
}

const std::vector<std::string>* Dispatcher::routeOf(const SmsJob& job) const {
  auto it = routes_.find(job.route);
  return it == routes_.end() ? nullptr : &it->second;
}

void Dispatcher::sendNext(std::shared_ptr<InFlight> flight) {
  const auto* route = routeOf(flight->job);
  if (!route || flight->route_index >= route->size()) {
    JobOutcome outcome;
    outcome.job_id = flight->job.id;
    outcome.status = JobStatus::kFailed;
    outcome.status_reason =
        !route ? "route '" + flight->job.route + "' is not configured"
               : "every provider on route '" + flight->job.route + "' refused the message";
    outcome.attempts = std::move(flight->attempts);
    finish(flight, std::move(outcome));
    return;
  }
  const std::string& provider_name = (*route)[flight->route_index];
  auto it = providers_.find(provider_name);
  if (it == providers_.end()) {
    ++flight->route_index;
    sendNext(flight);
    return;
  }
  OutgoingSms sms;
  sms.job_id = flight->job.id;
  sms.recipient = flight->job.recipient;
  sms.sender = flight->job.sender;
  sms.body = flight->job.body;
  sms.lane = flight->job.lane;
  sms.segments = flight->job.segments;
  sms.expires_at = flight->job.expires_at;
  TimePoint started = clock_.now();
  it->second->send(sms, [this, flight, provider_name, started](SendResult result) {
    onResult(flight, provider_name, started, std::move(result));
  });
}

void Dispatcher::onResult(std::shared_ptr<InFlight> flight, const std::string& provider,
                          TimePoint started, SendResult result) {
  AttemptRecord attempt;
  attempt.job_id = flight->job.id;
  attempt.provider = provider;
  attempt.outcome = std::string(sendResultName(result.kind));
  attempt.http_status = result.http_status;
  attempt.error_code = result.error_code;
  attempt.error_message = result.reason;
  attempt.started_at = started;
  attempt.finished_at = clock_.now();
  flight->attempts.push_back(std::move(attempt));

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
      ++flight->route_index;
      sendNext(flight);
      return;
    case SendResultKind::kRejected:
      outcome.status = JobStatus::kRejected;
      outcome.status_reason = result.reason;
      break;
    case SendResultKind::kRetryLater: {
      int attempts = flight->job.attempts + static_cast<int>(flight->attempts.size());
      if (attempts >= config_.max_attempts) {
        outcome.status = JobStatus::kFailed;
        outcome.status_reason =
            "gave up after " + std::to_string(attempts) + " attempts; last: " + result.reason;
      } else {
        outcome.status = JobStatus::kQueued;
        outcome.status_reason = "retrying: " + result.reason;
        outcome.not_before = clock_.now() + backoff(attempts, result.retry_after);
      }
      break;
    }
  }
  outcome.attempts = std::move(flight->attempts);
  finish(flight, std::move(outcome));
}

void Dispatcher::finish(std::shared_ptr<InFlight> flight, JobOutcome outcome) {
  // Outcomes of one round are recorded together: one durable commit per round, not per SMS.
  // A flush is posted, so it runs right after the handler that produced the outcome.
  finished_.push_back({std::move(flight), std::move(outcome)});
  if (static_cast<int>(finished_.size()) >= config_.batch_size) {
    flushOutcomes();
  } else if (!flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(io_, [this] {
      flush_posted_ = false;
      flushOutcomes();
    });
  }
}

void Dispatcher::flushOutcomes() {
  if (finished_.empty()) return;
  std::vector<Finished> batch = std::move(finished_);
  finished_.clear();
  std::vector<JobOutcome> outcomes;
  outcomes.reserve(batch.size());
  for (const Finished& f : batch) outcomes.push_back(f.outcome);
  std::vector<Status> recorded = store_.recordOutcomes(outcomes, config_.owner, clock_.now());
  for (std::size_t i = 0; i < batch.size(); ++i)
    logOutcome(batch[i].flight->job, outcomes[i], recorded[i]);

  inflight_ -= static_cast<int>(batch.size());
  if (stopping_ && inflight_ == 0 && drained_) {
    auto cb = std::move(drained_);
    drained_ = nullptr;
    cb();
  } else if (!stopping_ && !in_tick_ && inflight_ < config_.max_inflight / 2) {
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
  // The send result must be on record before a report about the same message is applied.
  flushOutcomes();
  auto effect = store_.applyDeliveryReport(report, clock_.now());
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
