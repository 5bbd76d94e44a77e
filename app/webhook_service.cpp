#include "app/webhook_service.h"

#include <future>

#include <spdlog/spdlog.h>

#include "core/server.h"

namespace smsbridge {
namespace {

const char* const kReportsHelp =
    "Delivery reports received over webhooks, by what applying them did: applied (a job moved "
    "forward), no_op (replay or late report), parked (waiting for its send result), unknown (no "
    "job has that id), failed (the store refused the batch; the provider retries).";

}  // namespace

WebhookService::WebhookService(Server& server, const std::vector<WebhookProvider>& providers,
                               const Options& options, JobStore& store, const Clock& clock,
                               MetricsRegistry& registry)
    : store_(store), clock_(clock), options_(options), ingest_(store, clock) {
  auto effect = [&registry](const char* name) {
    return &registry.counter("smsbridge_delivery_reports_total", kReportsHelp, {{"effect", name}});
  };
  series_.applied = effect("applied");
  series_.no_op = effect("no_op");
  series_.parked = effect("parked");
  series_.unknown = effect("unknown");
  series_.failed = effect("failed");
  series_.batches =
      &registry.counter("smsbridge_delivery_report_batches_total",
                        "Store transactions that applied webhook delivery reports.", {});
  series_.parked_dropped = &registry.counter(
      "smsbridge_delivery_reports_parked_dropped_total",
      "Parked delivery reports dropped after server.park_reports_for: no job ever got their "
      "message id.",
      {});

  // Every method reaches the handlers: they answer 405 themselves, in the provider's terms.
  for (WebhookRoute& route : webhookRoutes(providers, options_.webhooks, ingest_, store_, clock_)) {
    spdlog::info("Serving webhook. path={}", route.path);
    server.handle(route.path, {}, std::move(route.handler));
  }
  thread_ = std::thread([this] { timer(); });
}

WebhookService::~WebhookService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  ingest_.stop();
  syncCounters();
}

void WebhookService::timer() {
  auto next_drop = std::chrono::steady_clock::now() + options_.park_for;
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, options_.tick, [this] { return stopping_; })) {
    lock.unlock();
    syncCounters();
    // A report is dropped at most park_for after it becomes old enough: checking more often
    // than a tenth of that only costs queries.
    if (std::chrono::steady_clock::now() >= next_drop) {
      dropOldParkedReports();
      next_drop = std::chrono::steady_clock::now() +
                  std::max(options_.park_for / 10, std::chrono::milliseconds(options_.tick));
    }
    lock.lock();
  }
}

void WebhookService::dropOldParkedReports() {
  std::promise<void> done;
  // On the ingest thread, so a drop never interleaves with a batch of the same reports.
  bool posted = ingest_.post([this, &done] {
    auto dropped = store_.dropParkedReports(clock_.now() - options_.park_for);
    if (!dropped) {
      spdlog::warn("Could not drop old parked delivery reports; trying again later. error=\"{}\"",
                   dropped.error().toString());
    } else if (!dropped->empty()) {
      series_.parked_dropped->inc(dropped->size());
      const DeliveryReport& first = dropped->front();
      spdlog::warn(
          "Dropped parked delivery reports: no job has their message ids. count={} "
          "park_reports_for={}s first_provider={} first_id={}",
          dropped->size(),
          std::chrono::duration_cast<std::chrono::seconds>(options_.park_for).count(),
          first.provider, first.provider_message_id);
    }
    done.set_value();
  });
  if (posted) done.get_future().wait();
}

void WebhookService::syncCounters() {
  ReportCounts now = ingest_.counts();
  std::lock_guard lock(mu_);
  series_.applied->inc(now.applied - exported_.applied);
  series_.no_op->inc(now.no_op - exported_.no_op);
  series_.parked->inc(now.parked - exported_.parked);
  series_.unknown->inc(now.unknown - exported_.unknown);
  series_.failed->inc(now.failed - exported_.failed);
  series_.batches->inc(now.batches - exported_.batches);
  exported_ = now;
}

}  // namespace smsbridge
