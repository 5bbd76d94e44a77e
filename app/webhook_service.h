#pragma once

// The provider webhooks of `smsbridge run` (providers/webhooks.h) on its HTTP server: one
// ReportIngest behind every route, parked delivery reports dropped once they are too old to
// ever meet their send result, and what both did exported on /metrics.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/job_store.h"
#include "core/metrics.h"
#include "providers/webhooks.h"

namespace smsbridge {

class Server;

class WebhookService {
 public:
  struct Options {
    WebhookOptions webhooks;
    // Parked reports older than this are dropped (JobStore::dropParkedReports).
    std::chrono::milliseconds park_for{std::chrono::minutes(10)};
    // How often parked reports are checked and the report counters brought up to date.
    std::chrono::milliseconds tick{std::chrono::seconds(1)};
  };

  // Registers the routes of `providers` on `server` (before its start()) and starts the ingest
  // and the parking timer. The store, clock, registry and server must outlive this object; the
  // server must be stopped before it is destroyed, so no handler reaches a finished ingest.
  WebhookService(Server& server, const std::vector<WebhookProvider>& providers,
                 const Options& options, JobStore& store, const Clock& clock,
                 MetricsRegistry& registry);
  ~WebhookService();  // stops the timer, then finishes and joins the ingest
  WebhookService(const WebhookService&) = delete;
  WebhookService& operator=(const WebhookService&) = delete;

  // Drops the parked reports older than park_for now, on the ingest thread, and waits for it.
  // The timer calls this; tests call it to not wait for the timer.
  void dropOldParkedReports();
  // Copies the ingest's counts into the registry's counters.
  void syncCounters();

 private:
  struct Series {
    Counter* applied = nullptr;
    Counter* no_op = nullptr;
    Counter* parked = nullptr;
    Counter* unknown = nullptr;
    Counter* failed = nullptr;
    Counter* batches = nullptr;
    Counter* parked_dropped = nullptr;
  };

  void timer();

  JobStore& store_;
  const Clock& clock_;
  const Options options_;
  Series series_;
  ReportIngest ingest_;

  std::mutex mu_;
  ReportCounts exported_;  // what the counters hold already; under mu_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace smsbridge
