#include "core/status_poller.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cmath>

namespace smsbridge {
namespace {

// Most jobs one round claims per provider, whatever the rate: a round stays short, and what it
// leaves is taken by the next.
constexpr int kMaxJobsPerRound = 1000;

// Requests one round makes: what `per_second` allows within `every`, at least one.
int requestsPerRound(const StatusPollSettings& settings) {
  const double seconds = std::chrono::duration<double>(settings.every).count();
  const double requests = settings.per_second > 0 ? settings.per_second * seconds : 1;
  return static_cast<int>(std::clamp(std::floor(requests), 1.0, double(kMaxJobsPerRound)));
}

}  // namespace

StatusPoller::StatusPoller(JobStore& store, std::vector<StatusPollTarget> targets,
                           const Clock& clock, boost::asio::io_context& io)
    : store_(store), clock_(clock), io_(io), timer_(io) {
  for (StatusPollTarget& target : targets) {
    if (!target.settings.enabled || !target.api || !target.transport) continue;
    auto provider = std::make_unique<Provider>();
    provider->rate = RateWindow(target.settings.per_second);
    provider->target = std::move(target);
    providers_.push_back(std::move(provider));
  }
}

StatusPoller::~StatusPoller() { stop(); }

void StatusPoller::start() {
  if (providers_.empty()) return;
  started_ = true;
  for (const auto& provider : providers_) {
    spdlog::info(
        "Polling delivery statuses. provider={} after_s={} every_s={} per_second={} max_age_h={}",
        provider->target.provider,
        std::chrono::duration_cast<std::chrono::seconds>(provider->target.settings.after).count(),
        std::chrono::duration_cast<std::chrono::seconds>(provider->target.settings.every).count(),
        provider->target.settings.per_second,
        std::chrono::duration_cast<std::chrono::hours>(provider->target.settings.max_age).count());
  }
  scheduleStep(std::chrono::milliseconds(0));
}

void StatusPoller::stop() {
  *stopped_ = true;
  started_ = false;
  timer_.cancel();
  for (const auto& provider : providers_) {
    provider->queued.clear();
    provider->target.transport->shutdown();
  }
}

void StatusPoller::scheduleStep(std::chrono::milliseconds delay) {
  if (!started_ || *stopped_) return;
  timer_.expires_after(delay);
  timer_.async_wait([this, stopped = stopped_](const boost::system::error_code& ec) {
    if (ec || *stopped) return;
    scheduleStep(runOnce());
  });
}

std::chrono::milliseconds StatusPoller::runOnce() {
  const TimePoint now = clock_.now();
  std::optional<TimePoint> next;
  auto sooner = [&](TimePoint t) { next = next ? std::min(*next, t) : t; };
  for (const auto& provider : providers_) {
    const bool round_open = !provider->queued.empty() || provider->round_pending > 0;
    if (!round_open && now >= provider->next_round) {
      provider->next_round = now + provider->target.settings.every;
      startRound(*provider, now);
    }
    if (auto wait = sendQueued(*provider, now)) sooner(*wait);
    // A round still waiting for answers starts the next one when it finishes.
    if (provider->queued.empty() && provider->round_pending == 0) sooner(provider->next_round);
  }
  if (!next) return std::chrono::minutes(1);
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(*next - now));
}

void StatusPoller::startRound(Provider& provider, TimePoint now) {
  const StatusPollSettings& settings = provider.target.settings;
  const int per_query = std::max(1, provider.target.api->maxJobsPerQuery());
  StatusPollQuery query;
  query.provider = provider.target.provider;
  query.sent_until = now - settings.after;
  query.sent_from = now - settings.max_age;
  query.limit = std::min(kMaxJobsPerRound, requestsPerRound(settings) * per_query);
  query.min_interval = std::max(settings.every, settings.after);
  auto candidates = store_.claimStatusPolls(query, now);
  ++stats_.rounds;
  if (!candidates) {
    spdlog::warn("Could not read jobs to poll statuses of. provider={} error=\"{}\"",
                 provider.target.provider, candidates.error().toString());
    return;
  }
  if (candidates->empty()) return;
  provider.round_jobs = static_cast<int>(candidates->size());
  provider.round_reports = 0;
  provider.round_failures = 0;
  provider.round_error.clear();
  stats_.jobs_polled += candidates->size();
  for (std::size_t i = 0; i < candidates->size(); i += per_query) {
    auto end = candidates->begin() + std::min(candidates->size(), i + per_query);
    provider.queued.emplace_back(candidates->begin() + i, end);
  }
}

std::optional<TimePoint> StatusPoller::sendQueued(Provider& provider, TimePoint now) {
  while (!provider.queued.empty()) {
    if (!provider.rate.unlimited() && !provider.rate.admits(1, now)) {
      return provider.rate.availableAt(1, now);
    }
    std::vector<StatusPollCandidate> jobs = std::move(provider.queued.front());
    provider.queued.pop_front();
    auto request = provider.target.api->buildStatusQuery(jobs, now);
    if (!request) {
      ++provider.round_failures;
      provider.round_error = request.error().toString();
      finishRoundIfDone(provider);
      continue;
    }
    provider.rate.take(1, now);
    ++provider.round_pending;
    ++inflight_;
    ++stats_.requests;
    provider.target.transport->execute(
        std::move(*request),
        [this, &provider, jobs = std::move(jobs), stopped = stopped_](HttpClientResponse response) {
          if (*stopped) return;
          onResponse(provider, jobs, std::move(response));
        });
  }
  return std::nullopt;
}

void StatusPoller::onResponse(Provider& provider, const std::vector<StatusPollCandidate>& jobs,
                              HttpClientResponse response) {
  --provider.round_pending;
  --inflight_;
  if (response.error != HttpError::kNone) {
    ++provider.round_failures;
    ++stats_.failed_requests;
    provider.round_error =
        std::string(httpErrorName(response.error)) + ": " + response.error_message;
  } else if (auto reports = provider.target.api->parseStatusResponse(response, jobs); !reports) {
    ++provider.round_failures;
    ++stats_.failed_requests;
    provider.round_error = reports.error().toString();
  } else if (!reports->empty()) {
    auto effects = store_.applyDeliveryReports(*reports, clock_.now());
    if (!effects) {
      // Nothing is lost: the jobs stay `sent` and are asked about again.
      ++provider.round_failures;
      provider.round_error = effects.error().toString();
    } else {
      for (ReportEffect effect : *effects) {
        if (effect != ReportEffect::kApplied) continue;
        ++provider.round_reports;
        ++stats_.reports_applied;
      }
    }
  }
  finishRoundIfDone(provider);
}

void StatusPoller::finishRoundIfDone(Provider& provider) {
  if (!provider.queued.empty() || provider.round_pending > 0 || provider.round_jobs == 0) return;
  if (provider.round_failures > 0) {
    spdlog::warn(
        "Status poll round had failures; those jobs are asked about again later. provider={} "
        "jobs={} updated={} failed_requests={} last_error=\"{}\"",
        provider.target.provider, provider.round_jobs, provider.round_reports,
        provider.round_failures, provider.round_error);
  } else if (provider.round_reports > 0) {
    spdlog::info("Status poll round done. provider={} jobs={} updated={}", provider.target.provider,
                 provider.round_jobs, provider.round_reports);
  } else {
    spdlog::debug("Status poll round done; nothing new. provider={} jobs={}",
                  provider.target.provider, provider.round_jobs);
  }
  provider.round_jobs = 0;
  // The next round may be overdue already: look now rather than at the old timer.
  if (started_)
    boost::asio::post(io_, [this, stopped = stopped_] {
      if (!*stopped) scheduleStep(std::chrono::milliseconds(0));
    });
}

}  // namespace smsbridge
