// `smsbridge run`: sources → mappings → store → dispatcher → providers, until a signal.

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/bridge_config.h"
#include "app/bridge_metrics.h"
#include "app/commands.h"
#include "app/sql_lookups.h"
#include "app/webhook_service.h"
#include "core/status_poller.h"

namespace smsbridge {
namespace {

volatile std::sig_atomic_t g_early_stop = 0;
void onEarlyStop(int signo) { g_early_stop = signo; }

// Lets capture threads sleep between polls and still stop at once.
class StopSignal {
 public:
  void request() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool requested() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  // Sleeps up to `d`; returns true when stop was requested.
  bool waitFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return stopped_; });
  }
  // Sleeps until the wall clock reads `t`; returns true when stop was requested.
  bool waitUntil(std::chrono::system_clock::time_point t) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, t, [&] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

// One capture thread: poll → map → enqueue with checkpoint → acknowledge. A batch is kept
// until the store has it, so a failed enqueue is retried, never skipped.
class CaptureLoop {
 public:
  CaptureLoop(const SourceFactory& factory, std::unique_ptr<Source> source, JobStore& store,
              const MappingEngine& mappings, LookupRunner& lookups, StopSignal& stop,
              BridgeMetrics& metrics, Readiness& readiness)
      : factory_(factory),
        source_(std::move(source)),
        store_(store),
        mappings_(mappings),
        lookups_(lookups),
        stop_(stop),
        metrics_(metrics),
        source_metrics_(metrics.forSource(factory.name)),
        readiness_(readiness) {}

  // Returns an error only for problems a restart cannot fix (config, lost position).
  Status run() {
    Status s = loop();
    setCapturing(false);
    return s;
  }

 private:
  Status loop() {
    std::chrono::milliseconds backoff{0};
    bool started = false;
    std::optional<ChangeBatch> pending;
    while (!stop_.requested()) {
      if (backoff.count() > 0 && stop_.waitFor(backoff)) break;
      if (!started) {
        auto checkpoint = store_.loadCheckpoint(factory_.name);
        Status s = checkpoint ? source_->start(checkpoint->value_or("")) : checkpoint.error();
        if (!s.isOk()) {
          if (s.category() != ErrorCategory::kTransient) return s;
          backoff = nextBackoff(backoff);
          spdlog::warn("Source unavailable; retrying. source={} in_ms={} error=\"{}\"",
                       factory_.name, backoff.count(), s.toString());
          continue;
        }
        started = true;
        setCapturing(true);
      }
      if (!pending) {
        const auto polled_at = std::chrono::steady_clock::now();
        auto batch = source_->poll(factory_.poll_interval);
        publishSourceGauges(polled_at);
        if (!batch) {
          if (batch.error().category() != ErrorCategory::kTransient) return batch.error();
          backoff = nextBackoff(backoff);
          spdlog::warn("Reading changes failed; retrying. source={} in_ms={} error=\"{}\"",
                       factory_.name, backoff.count(), batch.error().toString());
          started = false;  // resume from the durable checkpoint
          setCapturing(false);
          continue;
        }
        if (batch->position.empty()) {
          backoff = std::chrono::milliseconds(0);
          // Only the rest of the interval: a source that blocks in poll() until something
          // arrives (logical, binlog) has waited it out already, and sleeping again would hold
          // back a change that commits now by up to a whole poll_interval.
          const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - polled_at);
          if (waited < factory_.poll_interval && stop_.waitFor(factory_.poll_interval - waited)) {
            break;
          }
          continue;
        }
        pending = std::move(*batch);
      }
      // A lookup that cannot run now leaves the batch pending: mapped again after the
      // backoff, never stored with missing data or skipped.
      auto jobs = mappings_.map(pending->events, std::chrono::system_clock::now(), lookups_);
      if (!jobs) {
        if (jobs.error().category() != ErrorCategory::kTransient) return jobs.error();
        backoff = nextBackoff(backoff);
        spdlog::warn("Lookup failed; mapping the same batch again. source={} in_ms={} error=\"{}\"",
                     factory_.name, backoff.count(), jobs.error().toString());
        continue;
      }
      auto result =
          store_.enqueue(*jobs, Checkpoint{factory_.name, pending->position, pending->shadow});
      if (!result) {
        if (result.error().category() != ErrorCategory::kTransient) return result.error();
        backoff = nextBackoff(backoff);
        spdlog::warn("Enqueue failed; retrying the same batch. source={} in_ms={} error=\"{}\"",
                     factory_.name, backoff.count(), result.error().toString());
        continue;
      }
      backoff = std::chrono::milliseconds(0);
      BridgeMetrics::enqueued(source_metrics_, *pending, *result, std::chrono::system_clock::now());
      if (result->inserted > 0 || result->duplicates > 0) {
        spdlog::info("Captured changes. source={} changes={} jobs={} duplicates={} position={}",
                     factory_.name, pending->events.size(), result->inserted, result->duplicates,
                     pending->position);
      } else {
        spdlog::debug("Captured changes; no mapping fired. source={} changes={} position={}",
                      factory_.name, pending->events.size(), pending->position);
      }
      if (Status s = source_->acknowledge(pending->position); !s.isOk()) {
        spdlog::warn(
            "Could not acknowledge a position (the next one covers it). source={} "
            "error=\"{}\"",
            factory_.name, s.toString());
      }
      pending.reset();
    }
    return Status::ok();
  }

  void setCapturing(bool capturing) {
    source_metrics_.capturing->set(capturing ? 1 : 0);
    readiness_.setCapturing(factory_.name, capturing);
  }

  // At most once a second: a busy source polls far more often than anyone scrapes.
  void publishSourceGauges(std::chrono::steady_clock::time_point now) {
    if (now - gauges_published_ < std::chrono::seconds(1)) return;
    gauges_published_ = now;
    metrics_.sourceGauges(factory_.name, source_->gauges());
  }

  static std::chrono::milliseconds nextBackoff(std::chrono::milliseconds current) {
    if (current.count() == 0) return std::chrono::milliseconds(250);
    return std::min(current * 2, std::chrono::milliseconds(30'000));
  }

  const SourceFactory& factory_;
  std::unique_ptr<Source> source_;
  JobStore& store_;
  const MappingEngine& mappings_;
  LookupRunner& lookups_;
  StopSignal& stop_;
  BridgeMetrics& metrics_;
  SourceMetrics source_metrics_;
  Readiness& readiness_;
  std::chrono::steady_clock::time_point gauges_published_{};
};

void logSummary(JobStore& store) {
  auto counts = store.countByStatus();
  if (!counts) return;
  std::string line;
  for (auto& [status, n] : *counts) {
    line += (line.empty() ? "" : " ") + std::string(statusName(status)) + "=" + std::to_string(n);
  }
  spdlog::info("Jobs by status: {}", line.empty() ? "none" : line);
}

}  // namespace

void installEarlyStopHandler() {
  std::signal(SIGINT, onEarlyStop);
  std::signal(SIGTERM, onEarlyStop);
}

int runCommand(const RunOptions& options) {
  config::Diagnostics diagnostics;
  config::LoadOptions load;
  load.read_databases = true;  // presets with `auto` parameters look at the database
  auto cfg = loadBridgeConfig(options.config, load, diagnostics);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", diagnostics.toString().c_str());
    std::fprintf(stderr, "smsbridge: not started: the config has problems\n");
    return 1;
  }
  std::string level = options.log_level.empty() ? cfg->log_level : options.log_level;
  LogFormat format = cfg->log_format;
  if (!options.log_format.empty()) {
    format = options.log_format == "json" ? LogFormat::kJson : LogFormat::kText;
  }
  if (Status s = setupLogging(level, format); !s.isOk()) {
    std::fprintf(stderr, "smsbridge: %s\n", s.message().c_str());
    return 1;
  }

  auto fail = [](const Status& status) {
    spdlog::error("Cannot start. error=\"{}\"", status.toString());
    return 1;
  };
  if (Status s = checkLookupSources(*cfg); !s.isOk()) return fail(s);
  auto store = cfg->createStore();
  if (!store) return fail(store.error());
  if (Status s = (*store)->checkSchema(); !s.isOk()) return fail(s);
  // Before any capture thread starts: every status change from here on is logged.
  (*store)->setWriteBackMappings(cfg->write_back_mappings);
  for (const auto& [name, source] : cfg->write_back.sources) {
    if (!source.open_sql) {
      return fail(configError("source '" + name +
                              "' has write-back (actions or the status mirror), but this "
                              "build cannot run SQL on its database type yet"));
    }
  }
  (*store)->setOptOutLanes(cfg->optouts.lanes);

  std::vector<std::pair<const SourceFactory*, std::unique_ptr<Source>>> sources;
  for (const SourceFactory& factory : cfg->sources) {
    std::vector<std::string> tables = cfg->tablesOf(factory);
    if (tables.empty()) {
      // A database that only holds the store (e.g. beside a read-only, polled shop database).
      spdlog::info("Source has no tables to capture; not capturing it. source={}", factory.name);
      continue;
    }
    auto source = factory.create_source(tables, cfg->store.prefix);
    if (!source) return fail(source.error());
    (*source)->attachShadowStore(**store);
    sources.emplace_back(&factory, std::move(*source));
  }

  boost::asio::io_context io;
  std::map<std::string, std::unique_ptr<Provider>> providers;
  std::map<std::string, Provider*> provider_ptrs;
  for (const NamedProvider& p : cfg->providers) {
    auto provider = p.create(io);
    if (!provider) return fail(provider.error().withContext("provider '" + p.name + "'"));
    provider_ptrs[p.name] = provider->get();
    providers[p.name] = std::move(*provider);
  }

  Dispatcher dispatcher(cfg->dispatcher, **store, provider_ptrs, cfg->routes,
                        SystemClock::instance(), io);
  for (auto& [name, provider] : providers) {
    provider->setDeliveryReportSink(
        [&dispatcher](const DeliveryReport& report) { dispatcher.onDeliveryReport(report); });
  }

  std::vector<StatusPollTarget> poll_targets;
  for (const HttpProviderSpec& spec : cfg->status_polls) {
    poll_targets.push_back(
        {spec.name, spec.status_query, makeHttpClient(io, spec.client), spec.status_poll});
  }
  StatusPoller status_poller(**store, std::move(poll_targets), SystemClock::instance(), io);

  // Metrics are kept whether or not a server exposes them: updating them costs next to nothing.
  MetricsRegistry registry;
  BridgeMetrics metrics(registry);
  Readiness readiness;
  dispatcher.setObserver(&metrics);
  for (auto& [factory, source] : sources) readiness.expectSource(factory->name);
  // Declared before the server, so it outlives it: handlers submit to its ingest until the
  // server has stopped.
  std::unique_ptr<WebhookService> webhooks;
  std::unique_ptr<OperationalServer> server;
  if (cfg->server) {
    auto created = OperationalServer::create(cfg->server->http, registry, **store, readiness);
    if (!created) return fail(created.error().withContext("server"));
    server = std::move(*created);
    WebhookService::Options webhook_options;
    webhook_options.webhooks.public_url = cfg->server->public_url;
    webhook_options.webhooks.max_body_bytes = cfg->server->http.max_body_bytes;
    webhook_options.webhooks.inbound = cfg->inbound;
    webhook_options.park_for = cfg->server->park_reports_for;
    webhooks =
        std::make_unique<WebhookService>(server->server(), cfg->webhookProviders(), webhook_options,
                                         **store, SystemClock::instance(), registry);
    if (Status s = server->start(); !s.isOk()) return fail(s.withContext("server"));
  }

  StopSignal stop;
  std::atomic<int> exit_code{0};
  bool shutting_down = false;
  std::vector<std::thread> threads;
  auto shutdown = [&](int code) {
    if (shutting_down) return;
    shutting_down = true;
    if (code != 0) exit_code = code;
    readiness.setStopping();
    stop.request();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    status_poller.stop();
    dispatcher.stop([&] {
      for (auto& [name, provider] : providers) provider->shutdown();
      io.stop();
    });
  };

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("Received {}; stopping capture and draining sends.",
                 signo == SIGINT ? "SIGINT" : "SIGTERM");
    shutdown(0);
  });
  if (g_early_stop != 0) {
    spdlog::info("Stop requested during start-up; stopping.");
    boost::asio::post(io, [&] { shutdown(0); });
  }

  for (auto& [factory, source] : sources) {
    threads.emplace_back([&, factory = factory, source = std::move(source)]() mutable {
      SqlLookupRunner lookups(cfg->sources);
      CaptureLoop loop(*factory, std::move(source), **store, *cfg->mappings, lookups, stop, metrics,
                       readiness);
      Status s = loop.run();
      if (!s.isOk()) {
        spdlog::error("Capture stopped; the bridge shuts down. source={} error=\"{}\"",
                      factory->name, s.toString());
        boost::asio::post(io, [&] { shutdown(1); });
      }
    });
  }
  if (!cfg->write_back.sources.empty()) {
    // Its own thread: a slow or unreachable source database delays write-back, never sending.
    threads.emplace_back([&] {
      WriteBack write_back(cfg->write_back, **store, SystemClock::instance());
      write_back.run([&](std::chrono::milliseconds d) { return stop.waitFor(d); });
    });
    spdlog::info("Write-back running. sources={} mappings={}", cfg->write_back.sources.size(),
                 cfg->write_back_mappings.size());
  }
  if (!cfg->schedules.empty()) {
    threads.emplace_back([&] {
      auto open_sql = [&cfg](const std::string& name) -> Result<std::unique_ptr<SqlSession>> {
        const SourceFactory* source = cfg->findSource(name);
        if (!source || !source->open_sql) {
          return configError("source '" + name + "' cannot run schedule queries");
        }
        return source->open_sql();
      };
      ScheduleRunner runner(cfg->schedules, **store, open_sql, SystemClock::instance(),
                            [&stop](TimePoint until) { return !stop.waitUntil(until); });
      runner.run();
    });
  }
  dispatcher.start();
  status_poller.start();
  spdlog::info("smsbridge {} running. config={} sources={} providers={} mappings={} schedules={}",
               SMSBRIDGE_VERSION, options.config, cfg->sources.size(), cfg->providers.size(),
               cfg->mappings->mappings().size(), cfg->schedules.size());
  io.run();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  // Before the store goes: handlers may still be writing to it.
  if (server) server->stop();
  webhooks.reset();  // applies what the last callbacks submitted
  logSummary(**store);
  const DispatcherStats& stats = dispatcher.stats();
  // Without a server, the one place an operator sees how many SMS may have gone out twice.
  spdlog::info(
      "Dispatch totals: sent={} retried={} failed={} rejected={} expired={} ambiguous={} "
      "held={} breaker_opened={} rate_limited={}",
      stats.sent, stats.retried, stats.failed, stats.rejected, stats.expired, stats.ambiguous,
      stats.held, stats.breaker_opened, stats.rate_limited);
  spdlog::info("smsbridge stopped. exit_code={}", exit_code.load());
  return exit_code;
}

}  // namespace smsbridge
