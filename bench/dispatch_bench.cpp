// Measures the send path of the bridge: queued jobs → the real Dispatcher → HttpProvider (one
// of the real API adapters) → the libcurl client → a fake provider on loopback, with every
// outcome recorded in the store, once per store (SQLite, PostgreSQL). Printed beside each figure:
// the target from reference/performance.md §7, or a ceiling measured in the same run:
//   - end-to-end SMS/s until every job is `sent` in the store, vs ≥ 5,000/s, and vs the fake
//     provider's own ceiling: a plain libcurl-multi load generator (keep-alive, as many
//     connections as the bridge may have in flight) sending the same requests to the same fake;
//   - the bridge's CPU per SMS, vs ≤ 100 µs. The fake runs as the separate `fake_provider`
//     program, so this process's getrusage() is the bridge's alone (PostgreSQL's work for the
//     store is not in it either);
//   - peak RSS (VmHWM, reset before each run where the kernel allows), vs ≤ 64 MB;
//   - with provider latency (50 ms): SMS/s vs min(rate limit, max_inflight / latency), the
//     most any sender limited to the provider's max_inflight requests in flight can do (Little's
//     law).
//
// Two limits are set. The provider's `max_inflight` (--max-inflight) caps its requests awaiting
// an answer: the concurrency the formula above is about. The dispatcher's `max_inflight`
// (--dispatcher-max-inflight) caps the sends whose outcome is not durable yet, the requests in
// flight plus the answers waiting for their commit, which is what a crash can duplicate. Set
// equal, each send slot stays taken for the latency plus the wait for its outcome's commit, so
// the provider limit is never reached; by default the dispatcher's is the provider's plus one
// batch, room for the answers of one commit.
//
// Targets are printed as MET or MISSED, never failed: the exit code is non-zero only on errors
// (a job not `sent` at the end, a provider that refuses, a database that cannot be reached).
//
// Usage: build/bench/dispatch_bench [--jobs 100000] [--store sqlite|postgres|both]
//            [--provider smsapi|twilio|messageflow] [--latency 50ms] [--latency-jobs 20000]
// The PostgreSQL DSN comes from --pg-dsn, $SMSBRIDGE_TEST_PG_DSN, or the env file
// scripts/test-services.sh writes (build/test-services.env); without one the PostgreSQL runs are
// skipped with a message. Everything the bench creates is dropped.

#include <curl/curl.h>
#include <libpq-fe.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bench/bench_env.h"
#include "config/schema.h"
#include "connectors/postgres/pg_store.h"
#include "connectors/sqlite/sqlite_store.h"
#include "core/dispatcher.h"
#include "core/forwarding_job_store.h"
#include "core/http_client.h"
#include "core/log.h"
#include "providers/http_provider.h"
#include "providers/messageflow.h"
#include "providers/smsapi.h"
#include "providers/twilio.h"
#include "tests/e2e/process.h"
#include "tests/fakes/fake_provider_server.h"

namespace {

using namespace smsbridge;
using Clock = std::chrono::steady_clock;

constexpr double kTargetSmsPerSecond = 5000;
constexpr double kTargetCpuMicros = 100;
constexpr double kTargetRssMb = 64;
// A latency run is OK when it reaches this share of its Little's-law ceiling.
constexpr double kLatencyShareOk = 0.9;
// No outcome recorded for this long means the run is stuck, not slow.
constexpr std::chrono::seconds kStallLimit{30};

struct Options {
  int jobs = 100000;
  std::string store = "both";
  std::string provider = "smsapi";
  std::string latency = "50ms";
  int latency_jobs = 20000;
  int max_inflight = 100;           // the provider's
  int dispatcher_max_inflight = 0;  // 0: max_inflight + batch
  int batch = 50;
  int fake_threads = 1;
  std::string pg_dsn;
  std::string fake_binary = SMSBRIDGE_FAKE_PROVIDER_BINARY;
  std::string log_level = "warn";
};

// Thrown, not exited, so the fake provider processes and the PostgreSQL tables are cleaned up
// on the way out to main().
[[noreturn]] void die(const std::string& what) { throw std::runtime_error(what); }

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double threadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

long peakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), so each run reports its own peak and
// not the one left by setup or by an earlier run. False where the kernel refuses.
bool resetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

// --- The fake provider, as its own process ---

class FakeProviderProcess {
 public:
  FakeProviderProcess(const Options& options, const std::filesystem::path& dir,
                      const std::string& latency)
      : port_file_(dir / ("fake-" + std::to_string(++started_) + ".port")) {
    std::vector<std::string> args = {options.fake_binary,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     port_file_.string(),
                                     "--threads",
                                     std::to_string(options.fake_threads),
                                     "--log-level",
                                     "warn"};
    if (!latency.empty()) {
      args.push_back("--latency");
      args.push_back(latency);
    }
    child_ = std::make_unique<testing::ChildProcess>(std::move(args), port_file_.string() + ".log");
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      std::ifstream in(port_file_);
      if (in >> port_) return;
      if (!child_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    die("the fake provider did not start: " + child_->output());
  }
  ~FakeProviderProcess() {
    child_->signal(SIGTERM);
    child_->wait(std::chrono::seconds(10));
  }

  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static inline int started_ = 0;
  std::filesystem::path port_file_;
  std::unique_ptr<testing::ChildProcess> child_;
  int port_ = 0;
};

// The adapter under test, pointed at the fake with the credentials it accepts.
std::shared_ptr<const HttpApi> makeApi(const std::string& provider, const std::string& base_url) {
  const testing::FakeCredentials credentials;
  if (provider == "smsapi") {
    SmsApiConfig c;
    c.base_url = base_url;
    c.token = credentials.smsapi_token;
    return std::make_shared<SmsApiApi>(c);
  }
  if (provider == "twilio") {
    TwilioConfig c;
    c.base_url = base_url;
    c.account_sid = credentials.twilio_account_sid;
    c.auth_user = credentials.twilio_account_sid;
    c.auth_password = credentials.twilio_auth_token;
    return std::make_shared<TwilioApi>(c);
  }
  MessageFlowConfig c;
  c.base_url = base_url;
  c.authorization = credentials.messageflow_authorization;
  c.application_key = credentials.messageflow_application_key;
  return std::make_shared<MessageFlowApi>(c);
}

// --- Stores ---

SmsJob makeJob(int i) {
  SmsJob j;
  j.dedup_key = "order_shipped|shop|orders|" + std::to_string(i) + "|1";
  j.source = "shop";
  j.mapping = "order_shipped";
  j.entity_table = "orders";
  j.entity_id = std::to_string(i);
  j.recipient_raw = "600 700 800";
  j.recipient = "+48600700800";
  j.sender = "DemoShop";
  j.body = "Hi Anna, your order SO-" + std::to_string(i) + " has shipped. Total: 129.90 EUR.";
  j.segments = 1;
  j.route = "default";
  j.lane = Lane::kTransactional;
  j.created_at = std::chrono::system_clock::now();
  j.not_before = j.created_at;
  return j;
}

// Jobs `first` .. `first + count - 1`; runs on one store take distinct ranges, since a repeated
// dedup key would not be enqueued again.
void enqueueJobs(JobStore& store, int first, int count) {
  constexpr int kBatch = 1000;
  const int end = first + count;
  for (int i = first; i < end; i += kBatch) {
    std::vector<SmsJob> chunk;
    for (int k = i; k < std::min(end, i + kBatch); ++k) chunk.push_back(makeJob(k));
    auto r = store.enqueue(chunk, {"shop", std::to_string(i + kBatch)});
    if (!r) die("enqueue: " + r.error().toString());
  }
}

// Tables of one PostgreSQL run carry their own prefix and go when the run ends.
class PgTables {
 public:
  PgTables(std::string dsn, std::string prefix)
      : dsn_(std::move(dsn)), prefix_(std::move(prefix)) {}
  ~PgTables() {
    PGconn* conn = PQconnectdb(dsn_.c_str());
    if (PQstatus(conn) == CONNECTION_OK) {
      PQclear(PQexec(conn, "SET client_min_messages = warning"));  // no NOTICE per cascade
      std::string sql =
          "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname "
          "= current_schema() AND tablename LIKE '" +
          prefix_ +
          "%' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t) || ' CASCADE'; END LOOP; "
          "END $$";
      PQclear(PQexec(conn, sql.c_str()));
    }
    PQfinish(conn);
  }

 private:
  std::string dsn_;
  std::string prefix_;
};

// --- The bridge run ---
// Times the store calls the dispatcher makes (claims on its claim worker, outcome records and
// lease sweeps on its store worker), so a run can say how busy each worker was, and how many
// jobs each claim and outcomes each commit carried. The two workers call at the same time: the
// totals are guarded.
class TimedStore final : public ForwardingJobStore {
 public:
  struct Totals {
    double claim_seconds = 0, record_seconds = 0, sweep_seconds = 0;
    double cpu_seconds = 0;  // CPU of the calling thread inside the store calls
    int claims = 0, records = 0;
    std::size_t claimed = 0, recorded = 0;
  };

  explicit TimedStore(JobStore& inner) : ForwardingJobStore(inner) {}
  Totals totals() const {
    std::lock_guard lock(mu_);
    return totals_;
  }

  Result<std::vector<SmsJob>> claimDue(Lane lane, int limit, const std::string& owner,
                                       std::chrono::milliseconds lease, TimePoint now) override {
    return timedClaim([&] { return ForwardingJobStore::claimDue(lane, limit, owner, lease, now); });
  }
  Result<std::vector<SmsJob>> claimDueByPriority(std::span<const Lane> lanes, int limit,
                                                 const std::string& owner,
                                                 std::chrono::milliseconds lease,
                                                 TimePoint now) override {
    return timedClaim(
        [&] { return ForwardingJobStore::claimDueByPriority(lanes, limit, owner, lease, now); });
  }
  Status recordOutcome(const JobOutcome& outcome, const std::string& owner,
                       TimePoint now) override {
    return recordOutcomes(std::span(&outcome, 1), owner, now).front();
  }
  std::vector<Status> recordOutcomes(std::span<const JobOutcome> outcomes, const std::string& owner,
                                     TimePoint now) override {
    auto start = Clock::now();
    double cpu = threadCpuSeconds();
    auto r = ForwardingJobStore::recordOutcomes(outcomes, owner, now);
    double cpu_used = threadCpuSeconds() - cpu;
    std::lock_guard lock(mu_);
    totals_.cpu_seconds += cpu_used;
    totals_.record_seconds += secondsSince(start);
    ++totals_.records;
    totals_.recorded += outcomes.size();
    return r;
  }
  Result<int> requeueExpiredLeases(TimePoint now) override {
    auto start = Clock::now();
    auto r = ForwardingJobStore::requeueExpiredLeases(now);
    std::lock_guard lock(mu_);
    totals_.sweep_seconds += secondsSince(start);
    return r;
  }

 private:
  template <typename Claim>
  Result<std::vector<SmsJob>> timedClaim(Claim claim) {
    auto start = Clock::now();
    double cpu = threadCpuSeconds();
    auto r = claim();
    double cpu_used = threadCpuSeconds() - cpu;
    std::lock_guard lock(mu_);
    totals_.cpu_seconds += cpu_used;
    totals_.claim_seconds += secondsSince(start);
    ++totals_.claims;
    if (r) totals_.claimed += r->size();
    return r;
  }

  mutable std::mutex mu_;
  Totals totals_;
};

struct BridgeFigures {
  double seconds = 0;
  double cpu_seconds = 0;
  long peak_rss_kb = -1;
  bool peak_reset = false;
  int sent = 0;      // jobs sent in the store, this run's and earlier runs'
  int sent_now = 0;  // this run's
  TimedStore::Totals store;
};

// Sends the `jobs` due jobs; `sent_total` is how many the store must hold as sent afterwards.
BridgeFigures runBridge(JobStore& store, const Options& options, const std::string& base_url,
                        int jobs, int sent_total) {
  boost::asio::io_context io;
  SystemClock clock;
  HttpProvider provider(options.provider, makeApi(options.provider, base_url),
                        makeHttpClient(io, HttpClientOptions{}), clock);
  DispatcherConfig config;
  config.owner = "dispatch_bench";
  config.batch_size = options.batch;
  config.max_inflight = options.dispatcher_max_inflight;
  config.limits[options.provider].max_inflight = options.max_inflight;
  TimedStore timed(store);
  Dispatcher dispatcher(config, timed, {{options.provider, &provider}},
                        {{"default", Route(std::vector<std::string>{options.provider})}}, clock,
                        io);

  BridgeFigures figures;
  figures.peak_reset = resetPeakRss();
  std::string error;
  boost::asio::steady_timer progress(io);
  std::uint64_t last_done = 0;
  Clock::time_point last_change = Clock::now();
  const double cpu_start = cpuSeconds();
  const auto start = Clock::now();
  // Outcomes are counted once recorded in the store: the clock stops when the last job is
  // durably `sent`, not when its response arrived.
  std::function<void()> watch = [&] {
    progress.expires_after(std::chrono::milliseconds(20));
    progress.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const DispatcherStats& s = dispatcher.stats();
      std::uint64_t done = s.sent + s.failed + s.rejected + s.expired + s.held;
      if (done != last_done) {
        last_done = done;
        last_change = Clock::now();
      }
      bool stalled = Clock::now() - last_change > kStallLimit;
      if (stalled) {
        error = "no outcome recorded for " + std::to_string(kStallLimit.count()) + " s after " +
                std::to_string(done) + " of " + std::to_string(jobs) + " jobs (retried " +
                std::to_string(s.retried) + ")";
      }
      if (done >= static_cast<std::uint64_t>(jobs) || stalled) {
        figures.seconds = secondsSince(start);
        figures.cpu_seconds = cpuSeconds() - cpu_start;
        dispatcher.stop([&] {
          provider.shutdown();
          io.stop();
        });
        return;
      }
      watch();
    });
  };
  dispatcher.start();
  watch();
  io.run();
  figures.peak_rss_kb = peakRssKb();
  figures.store = timed.totals();
  figures.sent_now = jobs;
  if (!error.empty()) die(error);

  auto counts = store.countByStatus();
  if (!counts) die("countByStatus: " + counts.error().toString());
  for (const auto& [status, n] : *counts) {
    if (status == JobStatus::kSent) {
      figures.sent = n;
    } else if (n > 0) {
      die(std::to_string(n) + " jobs ended " + std::string(statusName(status)) +
          ", not sent; see the log (--log-level info)");
    }
  }
  if (figures.sent != sent_total) {
    die(std::to_string(figures.sent) + " of " + std::to_string(sent_total) + " jobs are sent");
  }
  return figures;
}

// --- The fake's own ceiling: libcurl multi, keep-alive, `connections` requests in flight ---

struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
};

std::size_t discardBody(char*, std::size_t size, std::size_t n, void*) { return size * n; }

void prepare(Transfer& t, const HttpApi& api, std::int64_t job_id) {
  OutgoingSms sms;
  sms.job_id = job_id;  // distinct per request: SMSAPI's idx check refuses repeats
  sms.recipient = "+48600700800";
  sms.sender = "DemoShop";
  sms.body = "Hi Anna, your order SO-" + std::to_string(job_id) + " has shipped.";
  sms.segments = 1;
  sms.attempt = 1;
  auto request = api.buildSendRequest(sms, std::chrono::system_clock::now());
  if (!request) die("building a request: " + request.error().toString());
  curl_slist_free_all(t.headers);
  t.headers = nullptr;
  for (const auto& [name, value] : request->headers) {
    t.headers = curl_slist_append(t.headers, (name + ": " + value).c_str());
  }
  curl_easy_setopt(t.easy, CURLOPT_URL, request->url.c_str());
  curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.headers);
  curl_easy_setopt(t.easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(request->body.size()));
  curl_easy_setopt(t.easy, CURLOPT_COPYPOSTFIELDS, request->body.c_str());
  curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, discardBody);
}

double loadCeiling(const HttpApi& api, int requests, int connections) {
  CURLM* multi = curl_multi_init();
  std::vector<Transfer> transfers(static_cast<std::size_t>(connections));
  // Ids far above the bridge's, so none repeats one the fake has already seen.
  std::int64_t next_id = 1'000'000'000;
  int started = 0, finished = 0, failed = 0;
  auto start = Clock::now();
  for (Transfer& t : transfers) {
    t.easy = curl_easy_init();
    if (started >= requests) break;
    prepare(t, api, next_id++);
    curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
    curl_multi_add_handle(multi, t.easy);
    ++started;
  }
  while (finished < requests) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      if (msg->data.result != CURLE_OK || status < 200 || status >= 300) ++failed;
      ++finished;
      curl_multi_remove_handle(multi, t->easy);
      if (started < requests) {
        prepare(*t, api, next_id++);
        curl_multi_add_handle(multi, t->easy);
        ++started;
      }
    }
    if (finished < requests) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  double rate = requests / secondsSince(start);
  for (Transfer& t : transfers) {
    if (t.easy) curl_easy_cleanup(t.easy);
    curl_slist_free_all(t.headers);
  }
  curl_multi_cleanup(multi);
  if (failed > 0) die(std::to_string(failed) + " load-generator requests failed");
  return rate;
}

// --- Reporting ---

void row(const std::string& what, const std::string& figure, const std::string& against,
         const std::string& verdict) {
  std::printf("  %-38s %16s  %-44s %s\n", what.c_str(), figure.c_str(), against.c_str(),
              verdict.c_str());
}

// How busy the dispatcher's store workers were: a store worker near 100% means the outcome
// commits are the limit; the io thread sends meanwhile.
void breakdown(const BridgeFigures& f) {
  const TimedStore::Totals& t = f.store;
  auto share = [&](double seconds) { return seconds / f.seconds * 100; };
  std::printf(
      "    store worker busy: recordOutcomes %.0f%% (%d commits, %.1f outcomes each), lease sweep "
      "%.0f%%, idle %.0f%%; claim worker: claims %.0f%% (%d calls, %.1f jobs each)\n",
      share(t.record_seconds), t.records, t.records ? double(t.recorded) / t.records : 0.0,
      share(t.sweep_seconds), 100 - share(t.record_seconds + t.sweep_seconds),
      share(t.claim_seconds), t.claims, t.claims ? double(t.claimed) / t.claims : 0.0);
  std::printf(
      "    CPU per SMS: in store calls %.1f us (our side of SQL: SQLite itself, libpq/libpqxx), "
      "the rest (dispatcher, provider, HTTP, event loop) %.1f us\n",
      t.cpu_seconds / f.sent_now * 1e6, (f.cpu_seconds - t.cpu_seconds) / f.sent_now * 1e6);
}

const char* verdict(bool ok) { return ok ? "MET" : "MISSED"; }

std::optional<std::string> pgDsn(const Options& options) { return bench::pgDsn(options.pg_dsn); }

void runStore(const std::string& store_name, JobStore& store, const Options& options,
              const std::filesystem::path& dir, std::chrono::milliseconds latency) {
  std::printf("\n%s store\n", store_name.c_str());
  {
    FakeProviderProcess fake(options, dir, "");
    enqueueJobs(store, 0, options.jobs);
    BridgeFigures f = runBridge(store, options, fake.baseUrl(), options.jobs, options.jobs);
    double rate = f.sent / f.seconds;
    double cpu_us = f.cpu_seconds / f.sent * 1e6;
    double rss_mb = f.peak_rss_kb / 1024.0;
    auto api = makeApi(options.provider, fake.baseUrl());
    double ceiling = loadCeiling(*api, options.jobs, options.max_inflight);
    row("end-to-end, " + std::to_string(f.sent) + " jobs sent + recorded",
        fmt::format("{:.0f} SMS/s", rate), fmt::format(">= {:.0f} SMS/s", kTargetSmsPerSecond),
        verdict(rate >= kTargetSmsPerSecond));
    row("fake provider ceiling, " + std::to_string(options.max_inflight) + " keep-alive conns",
        fmt::format("{:.0f} req/s", ceiling),
        fmt::format("bridge/ceiling = {:.2f}", rate / ceiling), "");
    row("bridge CPU per SMS (user + sys)", fmt::format("{:.1f} us", cpu_us),
        fmt::format("<= {:.0f} us ({:.0f}% of a core)", kTargetCpuMicros,
                    f.cpu_seconds / f.seconds * 100),
        verdict(cpu_us <= kTargetCpuMicros));
    row(std::string("peak RSS (VmHWM") + (f.peak_reset ? ", this run)" : ", whole process)"),
        fmt::format("{:.1f} MB", rss_mb), fmt::format("<= {:.0f} MB", kTargetRssMb),
        verdict(rss_mb <= kTargetRssMb));
    breakdown(f);
  }
  if (latency.count() <= 0 || options.latency_jobs <= 0) return;
  {
    FakeProviderProcess fake(options, dir, options.latency);
    // The same store: the first run's jobs are all sent and no longer due.
    enqueueJobs(store, options.jobs, options.latency_jobs);
    BridgeFigures f = runBridge(store, options, fake.baseUrl(), options.latency_jobs,
                                options.jobs + options.latency_jobs);
    double rate = options.latency_jobs / f.seconds;
    // No rate limit is configured, so max_inflight requests per latency is the whole ceiling:
    // min(rate limit, max_inflight / latency) with the rate limit infinite.
    double ceiling = options.max_inflight / std::chrono::duration<double>(latency).count();
    row("provider latency " + options.latency + ", " + std::to_string(options.latency_jobs) +
            " jobs",
        fmt::format("{:.0f} SMS/s", rate),
        fmt::format("min(no rate limit, {}/{}) = {:.0f}/s", options.max_inflight, options.latency,
                    ceiling) +
            fmt::format(" x{:.1f} ({:.2f})", kLatencyShareOk, rate / ceiling),
        verdict(rate >= kLatencyShareOk * ceiling));
    breakdown(f);
    // What the load generator gets from the same slow fake with as many requests in flight:
    // the analytic ceiling assumes a box with time to spare, and this one shows if it has.
    auto api = makeApi(options.provider, fake.baseUrl());
    double measured = loadCeiling(*api, options.latency_jobs, options.max_inflight);
    row("fake provider ceiling at " + options.latency + ", " +
            std::to_string(options.max_inflight) + " conns",
        fmt::format("{:.0f} req/s", measured),
        fmt::format("bridge/ceiling = {:.2f}", rate / measured), "");
  }
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Queued jobs → Dispatcher → HttpProvider → libcurl → fake provider, per store"};
  Options options;
  app.add_option("--jobs", options.jobs, "jobs in the zero-latency run")
      ->check(CLI::PositiveNumber);
  app.add_option("--store", options.store, "sqlite | postgres | both")
      ->check(CLI::IsMember({"sqlite", "postgres", "both"}));
  app.add_option("--provider", options.provider, "the adapter: smsapi | twilio | messageflow")
      ->check(CLI::IsMember({"smsapi", "twilio", "messageflow"}));
  app.add_option("--latency", options.latency, "provider latency of the second run; 0 skips it");
  app.add_option("--latency-jobs", options.latency_jobs, "jobs in the latency run");
  app.add_option("--max-inflight", options.max_inflight,
                 "the provider's max_inflight: requests awaiting an answer")
      ->check(CLI::PositiveNumber);
  app.add_option("--dispatcher-max-inflight", options.dispatcher_max_inflight,
                 "the dispatcher's max_inflight: sends whose outcome is not durable yet; "
                 "default --max-inflight + --batch")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch", options.batch, "dispatcher batch_size")->check(CLI::PositiveNumber);
  app.add_option("--fake-threads", options.fake_threads, "fake provider server threads")
      ->check(CLI::Range(1, 64));
  app.add_option("--pg-dsn", options.pg_dsn, "PostgreSQL for the postgres store");
  app.add_option("--fake-provider", options.fake_binary, "the fake_provider program");
  app.add_option("--log-level", options.log_level,
                 "bridge log level; info logs a line per SMS (send stderr to /dev/null)");
  CLI11_PARSE(app, argc, argv);
  if (options.dispatcher_max_inflight == 0) {
    options.dispatcher_max_inflight = options.max_inflight + options.batch;
  }

  if (Status s = setupLogging(options.log_level, LogFormat::kText); !s.isOk()) die(s.toString());
  auto latency = config::parseDuration(options.latency);
  if (!latency) die("--latency: not a duration such as 50ms or 1s: " + options.latency);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  // Removed on every way out, errors included: the SQLite store and the fakes' logs live here.
  struct ScratchDir {
    std::filesystem::path path;
    ~ScratchDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } scratch{std::filesystem::temp_directory_path() /
            ("smsbridge-bench-" + std::to_string(getpid()))};
  const std::filesystem::path& dir = scratch.path;
  std::filesystem::create_directories(dir);
  std::printf(
      "smsbridge dispatch_bench: %d jobs via %s, provider max_inflight %d, dispatcher "
      "max_inflight %d, batch %d, fake provider threads %d, log level %s; %u CPUs\n",
      options.jobs, options.provider.c_str(), options.max_inflight, options.dispatcher_max_inflight,
      options.batch, options.fake_threads, options.log_level.c_str(),
      std::thread::hardware_concurrency());

  if (options.store != "postgres") {
    auto store = sqlite::SqliteStore::create((dir / "store.db").string(), "smsbridge_",
                                             std::chrono::milliseconds(5000));
    if (!store) die("sqlite store: " + store.error().toString());
    if (Status s = (*store)->migrate(); !s.isOk()) die("sqlite migrate: " + s.toString());
    runStore("SQLite (WAL, synchronous=FULL)", **store, options, dir, *latency);
  }
  if (options.store != "sqlite") {
    auto dsn = pgDsn(options);
    if (!dsn) {
      std::printf(
          "\nPostgreSQL store: skipped, no DSN. Give --pg-dsn, set SMSBRIDGE_TEST_PG_DSN, or run "
          "scripts/test-services.sh start first.\n");
    } else {
      std::string prefix = "bench" + std::to_string(getpid()) + "_";
      PgTables cleanup(*dsn, prefix);
      auto store = postgres::PostgresStore::create(*dsn, prefix, std::chrono::milliseconds(5000));
      if (!store) die("postgres store: " + store.error().toString());
      if (Status s = (*store)->migrate(); !s.isOk()) die("postgres migrate: " + s.toString());
      runStore("PostgreSQL", **store, options, dir, *latency);
    }
  }
  curl_global_cleanup();
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dispatch_bench: %s\n", e.what());
    return 1;
  }
}
