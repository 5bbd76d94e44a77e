#include "app/bridge_metrics.h"

#include <spdlog/spdlog.h>

#include "core/server.h"

namespace smsbridge {

namespace {

constexpr SendResultKind kSendResultKinds[] = {
    SendResultKind::kAccepted, SendResultKind::kRetryLater, SendResultKind::kFailOver,
    SendResultKind::kRejected, SendResultKind::kDuplicate};

constexpr JobStatus kAllStatuses[] = {
    JobStatus::kScheduled, JobStatus::kQueued,      JobStatus::kSending,  JobStatus::kSent,
    JobStatus::kDelivered, JobStatus::kUndelivered, JobStatus::kExpired,  JobStatus::kFailed,
    JobStatus::kRejected,  JobStatus::kSuppressed,  JobStatus::kCancelled};

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

BridgeMetrics::BridgeMetrics(MetricsRegistry& registry) : registry_(registry) {
  for (Lane lane : kLanesByPriority) {
    enqueued_to_sent_[lane] = &registry_.histogram(
        "smsbridge_enqueued_to_sent_seconds",
        "Time from a job's creation to the provider accepting it, retries and waits included.",
        latencyBuckets(), {{"lane", std::string(laneName(lane))}});
  }
}

SourceMetrics BridgeMetrics::forSource(const std::string& source) {
  MetricLabels labels{{"source", source}};
  SourceMetrics m;
  m.events =
      &registry_.counter("smsbridge_events_captured_total",
                         "Changes read from the source (whether a mapping fired or not).", labels);
  m.enqueued = &registry_.counter("smsbridge_jobs_enqueued_total",
                                  "Jobs the source's changes created in the store.", labels);
  m.duplicates = &registry_.counter(
      "smsbridge_dedup_hits_total",
      "Jobs not created because their dedup key existed: replayed changes, repeated schedules.",
      labels);
  m.commit_to_enqueued = &registry_.histogram(
      "smsbridge_commit_to_enqueued_seconds",
      "Time from a change's commit in the source to its jobs being durable in the store.",
      latencyBuckets(), labels);
  m.capturing = &registry_.gauge("smsbridge_source_capturing",
                                 "1 while the source's capture is connected and reading.", labels);
  return m;
}

void BridgeMetrics::enqueued(const SourceMetrics& metrics, const ChangeBatch& batch,
                             const EnqueueResult& result,
                             std::chrono::system_clock::time_point now) {
  metrics.events->inc(batch.events.size());
  metrics.enqueued->inc(static_cast<std::uint64_t>(result.inserted));
  metrics.duplicates->inc(static_cast<std::uint64_t>(result.duplicates));
  for (const ChangeEvent& event : batch.events) {
    if (event.commit_ts == std::chrono::system_clock::time_point{}) continue;
    // Clocks of two machines: a commit "in the future" counts as no delay rather than negative.
    metrics.commit_to_enqueued->observe(std::max(0.0, seconds(now - event.commit_ts)));
  }
}

void BridgeMetrics::sourceGauges(const std::string& source,
                                 const std::vector<SourceGauge>& gauges) {
  for (const SourceGauge& g : gauges) {
    registry_.gauge(g.name, g.help, {{"source", source}}).set(g.value);
  }
}

BridgeMetrics::ProviderSeries& BridgeMetrics::provider(const std::string& name) {
  auto [it, inserted] = providers_.try_emplace(name);
  ProviderSeries& series = it->second;
  if (inserted) {
    for (SendResultKind kind : kSendResultKinds) {
      series.attempts[kind] = &registry_.counter(
          "smsbridge_provider_attempts_total", "Send attempts per provider and outcome.",
          {{"provider", name}, {"outcome", std::string(sendResultName(kind))}});
    }
    series.rate_limit_waits = &registry_.counter(
        "smsbridge_rate_limit_waits_total",
        "Dispatch rounds in which jobs waited for a provider's rate limit, max_inflight or "
        "Retry-After.",
        {{"provider", name}});
    series.breaker = &registry_.gauge(
        "smsbridge_breaker_state", "Circuit breaker per provider: 0 closed, 1 open, 2 half-open.",
        {{"provider", name}});
  }
  return series;
}

void BridgeMetrics::onAttempt(const std::string& provider_name, SendResultKind outcome) {
  provider(provider_name).attempts[outcome]->inc();
}

void BridgeMetrics::onSent(const SmsJob& job, TimePoint now) {
  auto it = enqueued_to_sent_.find(job.lane);
  if (it == enqueued_to_sent_.end() || job.created_at == TimePoint{}) return;
  it->second->observe(std::max(0.0, seconds(now - job.created_at)));
}

void BridgeMetrics::onRateLimitWait(const std::string& provider_name) {
  provider(provider_name).rate_limit_waits->inc();
}

void BridgeMetrics::onBreakerState(const std::string& provider_name, BreakerState state) {
  double value = state == BreakerState::kClosed ? 0 : state == BreakerState::kOpen ? 1 : 2;
  provider(provider_name).breaker->set(value);
}

StoreStats::StoreStats(JobStore& store, std::chrono::milliseconds max_age)
    : store_(store), max_age_(max_age), thread_([this] { work(); }) {}

StoreStats::~StoreStats() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StoreStats::withReading(std::function<void(const Reading&)> then) {
  Reading fresh;
  {
    std::lock_guard lock(mu_);
    bool is_fresh = last_.at != std::chrono::steady_clock::time_point{} &&
                    std::chrono::steady_clock::now() - last_.at < max_age_;
    if (!is_fresh) {
      waiting_.push_back(std::move(then));
      cv_.notify_all();
      return;
    }
    fresh = last_;
  }
  then(fresh);
}

StoreStats::Reading StoreStats::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

void StoreStats::work() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    auto callbacks = std::move(waiting_);
    waiting_.clear();
    lock.unlock();
    Reading reading;
    auto counts = store_.countByStatusAndLane();
    reading.at = std::chrono::steady_clock::now();
    if (counts) {
      reading.ok = true;
      reading.counts = std::move(*counts);
    } else {
      reading.error = counts.error().toString();
      spdlog::warn("The store did not answer a status count. error=\"{}\"", reading.error);
    }
    lock.lock();
    last_ = reading;
    lock.unlock();
    for (auto& callback : callbacks) callback(reading);
    lock.lock();
  }
}

void Readiness::expectSource(const std::string& source) {
  std::lock_guard lock(mu_);
  capturing_.try_emplace(source, false);
}

void Readiness::setCapturing(const std::string& source, bool capturing) {
  std::lock_guard lock(mu_);
  capturing_[source] = capturing;
}

void Readiness::setStopping() {
  std::lock_guard lock(mu_);
  stopping_ = true;
}

std::vector<std::string> Readiness::problems(const StoreStats::Reading& store) const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(mu_);
    if (stopping_) out.push_back("bridge: shutting down");
    for (const auto& [source, capturing] : capturing_) {
      if (!capturing) out.push_back("source " + source + ": not capturing");
    }
  }
  if (!store.ok) out.push_back("store: " + store.error);
  return out;
}

void registerOperationalEndpoints(Server& server, MetricsRegistry& registry, StoreStats& stats,
                                  const Readiness& readiness) {
  registry.collector("smsbridge_jobs", "Jobs in the store by status and lane.", [&stats] {
    std::vector<MetricSample> samples;
    StoreStats::Reading reading = stats.last();
    if (!reading.ok) return samples;
    // Every status and lane, zeros included, so a series does not vanish when its jobs move on.
    std::map<std::pair<JobStatus, Lane>, std::int64_t> counts;
    for (const auto& c : reading.counts) counts[{c.status, c.lane}] += c.count;
    for (JobStatus status : kAllStatuses) {
      for (Lane lane : kLanesByPriority) {
        auto it = counts.find({status, lane});
        samples.push_back(
            {{{"status", std::string(statusName(status))}, {"lane", std::string(laneName(lane))}},
             it == counts.end() ? 0.0 : static_cast<double>(it->second)});
      }
    }
    return samples;
  });

  server.handle("/healthz", {"GET"}, [](const HttpRequest&, HttpResponder respond) {
    HttpResponse response;
    response.body = "ok\n";
    respond(std::move(response));
  });
  server.handle("/readyz", {"GET"},
                [&stats, &readiness](const HttpRequest&, HttpResponder respond) {
                  stats.withReading([&readiness, respond](const StoreStats::Reading& reading) {
                    std::vector<std::string> problems = readiness.problems(reading);
                    HttpResponse response;
                    response.status = problems.empty() ? 200 : 503;
                    for (const auto& p : problems) response.body += p + "\n";
                    if (problems.empty()) response.body = "ready\n";
                    respond(std::move(response));
                  });
                });
  server.handle("/metrics", {"GET"},
                [&stats, &registry](const HttpRequest&, HttpResponder respond) {
                  stats.withReading([&registry, respond](const StoreStats::Reading&) {
                    HttpResponse response;
                    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
                    response.body = registry.render();
                    respond(std::move(response));
                  });
                });
}

Result<std::unique_ptr<OperationalServer>> OperationalServer::create(const ServerConfig& config,
                                                                     MetricsRegistry& registry,
                                                                     JobStore& store,
                                                                     const Readiness& readiness) {
  auto server = Server::create(config);
  if (!server) return server.error();
  std::unique_ptr<OperationalServer> ops(new OperationalServer());
  ops->server_ = std::move(*server);
  // Counting jobs is a GROUP BY over the whole messages table: at most one every 2 s.
  ops->stats_ = std::make_unique<StoreStats>(store, std::chrono::seconds(2));
  registerOperationalEndpoints(*ops->server_, registry, *ops->stats_, readiness);
  return ops;
}

OperationalServer::~OperationalServer() { stop(); }

Status OperationalServer::start() { return server_->start(); }

unsigned short OperationalServer::port() const { return server_->port(); }

void OperationalServer::stop() {
  // The server first: its handlers may be waiting for a store reading.
  server_->stop();
}

}  // namespace smsbridge
