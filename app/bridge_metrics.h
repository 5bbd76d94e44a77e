#pragma once

// What `smsbridge run` reports over HTTP: the bridge's metrics (every name, label and help text
// in one place), the readiness of its parts, and the /healthz, /readyz and /metrics endpoints.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/connector.h"
#include "core/dispatcher.h"
#include "core/job_store.h"
#include "core/metrics.h"
#include "core/server_config.h"

namespace smsbridge {

// The series of one source, looked up once by its capture thread.
struct SourceMetrics {
  Counter* events = nullptr;
  Counter* enqueued = nullptr;
  Counter* duplicates = nullptr;
  Histogram* commit_to_enqueued = nullptr;
  Gauge* capturing = nullptr;
};

// Updates the bridge's series. Capture threads use forSource(); the dispatcher calls the
// DispatchObserver methods on its own thread.
class BridgeMetrics final : public DispatchObserver {
 public:
  explicit BridgeMetrics(MetricsRegistry& registry);

  SourceMetrics forSource(const std::string& source);
  // A batch and its jobs are durable: counts them and observes commit→enqueued per change
  // (changes without a commit time are skipped).
  static void enqueued(const SourceMetrics& metrics, const ChangeBatch& batch,
                       const EnqueueResult& result, std::chrono::system_clock::time_point now);
  // The source's own gauges (retained WAL...), labelled with its name. Capture thread.
  void sourceGauges(const std::string& source, const std::vector<SourceGauge>& gauges);

  void onAttempt(const std::string& provider, SendResultKind outcome) override;
  void onSent(const SmsJob& job, TimePoint now) override;
  void onRateLimitWait(const std::string& provider) override;
  void onBreakerState(const std::string& provider, BreakerState state) override;

 private:
  // Dispatcher thread only, so no lock: the registry's lookup runs once per provider.
  struct ProviderSeries {
    std::map<SendResultKind, Counter*> attempts;
    Counter* rate_limit_waits = nullptr;
    Gauge* breaker = nullptr;
  };
  ProviderSeries& provider(const std::string& name);

  MetricsRegistry& registry_;
  std::map<std::string, ProviderSeries> providers_;
  std::map<Lane, Histogram*> enqueued_to_sent_;
};

// Jobs by status and lane, read from the store at most once per `max_age`, on a thread of its
// own: a scrape or a readiness probe never runs a query on the server thread, and a busy
// Prometheus never makes the store count more than once per `max_age`.
class StoreStats {
 public:
  struct Reading {
    bool ok = false;
    std::string error;  // when !ok
    std::chrono::steady_clock::time_point at{};
    std::vector<JobStore::StatusLaneCount> counts;
  };

  StoreStats(JobStore& store, std::chrono::milliseconds max_age);
  ~StoreStats();  // answers nothing more; waiting callbacks are dropped
  StoreStats(const StoreStats&) = delete;
  StoreStats& operator=(const StoreStats&) = delete;

  // Calls `then` with a reading at most max_age old: inline when the last one is fresh,
  // otherwise from the worker thread once the store answered (or failed).
  void withReading(std::function<void(const Reading&)> then);
  // The last reading, whatever its age.
  Reading last() const;

 private:
  void work();

  JobStore& store_;
  const std::chrono::milliseconds max_age_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Reading last_;
  std::vector<std::function<void(const Reading&)>> waiting_;
  bool stopping_ = false;
  std::thread thread_;
};

// Which parts of the bridge are up, for /readyz. Thread-safe.
class Readiness {
 public:
  void expectSource(const std::string& source);
  void setCapturing(const std::string& source, bool capturing);
  void setStopping();
  // Empty when ready; otherwise one line per part that is not.
  std::vector<std::string> problems(const StoreStats::Reading& store) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, bool> capturing_;
  bool stopping_ = false;
};

class Server;

// /healthz, /readyz and /metrics. `registry` gets the jobs-by-status-and-lane gauge. Everything
// passed must outlive the server.
void registerOperationalEndpoints(Server& server, MetricsRegistry& registry, StoreStats& stats,
                                  const Readiness& readiness);

// The HTTP server of `run` with the endpoints above. This header does not include
// core/server.h, so app/run.cpp, which sees the HTTP client's HttpRequest through the provider
// registry, can own one.
class OperationalServer {
 public:
  // Creates the server and registers the endpoints; nothing listens before start(). The
  // registry, store and readiness must outlive it.
  static Result<std::unique_ptr<OperationalServer>> create(const ServerConfig& config,
                                                           MetricsRegistry& registry,
                                                           JobStore& store,
                                                           const Readiness& readiness);
  ~OperationalServer();
  OperationalServer(const OperationalServer&) = delete;
  OperationalServer& operator=(const OperationalServer&) = delete;

  // For handlers beyond the operational ones (webhooks): register them before start().
  Server& server() { return *server_; }
  Status start();
  // The bound port (the actual one when configured as 0).
  unsigned short port() const;
  // Lets requests in progress finish (up to the grace period), then stops. Idempotent.
  void stop();

 private:
  OperationalServer() = default;
  std::unique_ptr<StoreStats> stats_;
  std::unique_ptr<Server> server_;
};

}  // namespace smsbridge
