#pragma once

// The provider webhooks of DESIGN.md §6: `/webhooks/<provider>/status` takes delivery reports,
// `/webhooks/<provider>/inbound` takes SMS customers send us, for every configured provider
// whose type has webhooks (providers/registry.h). They are plain HttpHandlers; the HTTP server
// (core/server) registers the paths this file returns.
//
// What every callback goes through, in order, before anything is written:
//   1. method and content type: 405, 415;  2. body size: 413;
//   3. authentication: Twilio's signature over the public URL, others `?token=`: 403;
//   4. the provider's parser (providers/<type>.h): malformed or invalid UTF-8 → 400; a shape we
//      do not know → logged verbatim (truncated) at warning level and answered 200, so the
//      provider does not retry it forever.
// Delivery reports are then applied in batches by a ReportIngest, and a callback is answered
// only once its reports are durable, so after a crash the provider sends them again (replays
// are no-ops in the store). A store failure answers 503 for the same reason.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/diagnostics.h"
#include "config/schema.h"
#include "config/section.h"
#include "core/clock.h"
#include "core/http_message.h"
#include "core/job_store.h"
#include "providers/callbacks.h"

namespace smsbridge {

// What applying delivery reports did so far, for /metrics. Monotonic counters.
struct ReportCounts {
  std::uint64_t applied = 0;  // a job moved forward
  std::uint64_t no_op = 0;    // replays and late reports
  std::uint64_t parked = 0;   // kept until the send result names the message id
  std::uint64_t unknown = 0;  // no job has that id
  std::uint64_t batches = 0;  // store transactions
  std::uint64_t failed = 0;   // reports whose batch the store refused (answered 503)
};

// Applies the reports of concurrent webhook calls with JobStore::applyDeliveryReports, many
// calls per transaction, on its own thread: the server's threads never wait for the database,
// and at a high callback rate one commit serves many callbacks. Other store work of the
// webhooks (inbound messages) runs on the same thread through post().
//
// Thread-safe. The destructor (or stop()) finishes what was submitted, then joins the thread.
class ReportIngest {
 public:
  struct Options {
    // Most reports per transaction; a call's reports are never split across two.
    std::size_t max_batch = 1000;
    // Reports for unknown ids are logged at most this often (the rest are counted).
    std::chrono::seconds unknown_log_interval{10};
  };

  ReportIngest(JobStore& store, const Clock& clock);
  ReportIngest(JobStore& store, const Clock& clock, Options options);
  ~ReportIngest();
  ReportIngest(const ReportIngest&) = delete;
  ReportIngest& operator=(const ReportIngest&) = delete;

  // Queues `reports`; `done` runs on the ingest thread once they are durable (ok) or the store
  // refused their batch (the error). After stop(), `done` runs at once with an error.
  void submit(std::vector<DeliveryReport> reports, std::function<void(Status)> done);
  // Runs `task` on the ingest thread, in order with the batches around it. False after stop():
  // the task will not run.
  bool post(std::function<void()> task);

  ReportCounts counts() const;
  // Finishes the queued work and joins the thread; idempotent.
  void stop();

 private:
  struct Pending {
    std::vector<DeliveryReport> reports;
    std::function<void(Status)> done;
    std::function<void()> task;  // set instead of reports for post()
  };

  void run();
  void applyBatch(std::vector<Pending>& batch);
  void count(const DeliveryReport& report, ReportEffect effect);

  JobStore& store_;
  const Clock& clock_;
  Options options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  ReportCounts counts_;
  std::chrono::steady_clock::time_point last_unknown_log_{};
  std::uint64_t unknown_since_log_ = 0;
  std::thread thread_;
};

// The `inbound:` section: keywords that opt a sender out of (and back into) marketing SMS,
// and optional replies to them.
struct InboundSettings {
  std::vector<std::string> stop_keywords = {"STOP", "STOP ALL", "UNSUBSCRIBE"};
  std::vector<std::string> start_keywords = {"START"};
  std::string stop_reply;   // empty: no reply
  std::string start_reply;  // empty: no reply
  std::string reply_route = "default";
};

const config::Schema& inboundSchema();
// Reads the section; adds diagnostics for empty keywords and a keyword in both lists.
InboundSettings parseInboundSettings(const config::Section& section,
                                     config::Diagnostics& diagnostics);

// Which keyword list a message matches, compared case-insensitively on the whole text with
// surrounding whitespace trimmed and inner runs of whitespace read as one space.
enum class KeywordMatch { kNone, kStop, kStart };
KeywordMatch matchKeyword(const InboundSettings& settings, std::string_view text);

// One configured provider whose webhooks are served.
struct WebhookProvider {
  std::string name;  // the path segment and DeliveryReport::provider / InboundSms::provider
  std::string type;
  WebhookSecrets secrets;
};

struct WebhookOptions {
  // The bridge's public base URL as providers call it ("https://bridge.example.com"), without
  // a trailing '/'. Behind a reverse proxy the URL the server sees differs from the one Twilio
  // signed, so it is configured, never guessed from the request.
  std::string public_url;
  // Larger bodies get 413 (a status callback is well under 10 kB).
  std::size_t max_body_bytes = 64 * 1024;
  InboundSettings inbound;
};

struct WebhookRoute {
  std::string path;  // "/webhooks/<name>/status", matched exactly (the query is not part of it)
  HttpHandler handler;
};

// The handlers for every provider in `providers` that has webhooks. `ingest`, `store` and
// `clock` must outlive the handlers. Providers of unknown types or without webhooks are left
// out.
std::vector<WebhookRoute> webhookRoutes(const std::vector<WebhookProvider>& providers,
                                        const WebhookOptions& options, ReportIngest& ingest,
                                        JobStore& store, const Clock& clock);

}  // namespace smsbridge
