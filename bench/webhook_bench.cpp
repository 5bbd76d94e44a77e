// Delivery-report ingest over HTTP (issue 7): status callbacks/s applied to the PostgreSQL store
// through the bridge's real HTTP server, webhook routes and ReportIngest, next to the ceilings
// measured in the same run:
//   - the HTTP ceiling: wrk against /healthz on the same server, same connections;
//   - the store ceiling: JobStore::applyDeliveryReports called directly with reports of the
//     same shape (read by the same parser, for other jobs seeded the same way), in batches of
//     the size the ingest formed during the HTTP run (what report_bench measures).
// Target: >= 5,000 reports/s applied on the PostgreSQL store.
//
// Per format (SMSAPI: GET callbacks with `--per-call` reports batched as comma-separated values,
// as SMSAPI sends them; Twilio: one form POST per report, with a valid X-Twilio-Signature), the
// bench seeds `--reports` jobs as `sent` through the store (not timed), writes one callback per
// report (shuffled) to a file, and lets wrk post them over keep-alive connections. The clock
// stops when the ingest has committed every report to the store (its counters, polled every
// --poll-ms), not when the last answer arrives; the store is then checked to hold every one of
// those jobs as `delivered`. Printed: reports/s and calls/s, p50/p99/max
// latency per call (as wrk sees it: closed loop, so coordinated omission applies), the bridge's
// CPU per report (this process's CPU minus the polling thread's; wrk and PostgreSQL are other
// processes), the load generator's CPU, and the mean reports per store transaction.
//
// Why in process and not `smsbridge run`: the server, routes and ingest here are the ones `run`
// composes (OperationalServer + WebhookService), but without capture and dispatch threads, which
// would compete for the two cores and blur the CPU per report.
//
// Usage: build/bench/webhook_bench [--reports 100000] [--format smsapi|twilio|both]
//            [--per-call 10] [--connections 64] [--wrk-threads 1]
// The PostgreSQL DSN comes from --pg-dsn, $SMSBRIDGE_TEST_PG_DSN, or the env file
// scripts/test-services.sh writes (build/test-services.env). Everything the bench creates is
// dropped. Missed targets print MISSED; only errors make it exit non-zero.

#include <libpq-fe.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "app/bridge_metrics.h"
#include "app/webhook_service.h"
#include "bench/bench_env.h"
#include "connectors/postgres/pg_store.h"
#include "core/log.h"
#include "providers/http_provider.h"
#include "providers/smsapi.h"
#include "providers/twilio.h"

namespace {

using namespace smsbridge;
using Clock = std::chrono::steady_clock;

constexpr double kTargetReportsPerSecond = 5000;
// The bridge's own CPU budget per event (reference/performance.md §7.3).
constexpr double kTargetCpuMicros = 40;
// No report applied for this long means the run is stuck, not slow.
constexpr std::chrono::seconds kStallLimit{30};

const char* const kSmsApiToken = "bench-webhook-token";
const char* const kTwilioAuthToken = "bench-twilio-auth-token";
const char* const kTwilioAccount = "AC0123456789abcdef0123456789abcdef";
// Twilio signs the URL it calls; behind a proxy that is the public one, never the local port.
const char* const kPublicUrl = "https://bridge.example.com";

struct Options {
  int reports = 100000;
  std::string format = "both";
  int per_call = 10;
  int connections = 64;
  int wrk_threads = 1;
  int ceiling_reports = 20000;
  int healthz_seconds = 5;
  int poll_ms = 20;
  std::string pg_dsn;
  std::string wrk = "wrk";
  std::string log_level = "warn";
};

// Thrown, not exited, so wrk and the PostgreSQL tables are cleaned up on the way out.
[[noreturn]] void die(const std::string& what) { throw std::runtime_error(what); }

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double seconds(const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; }

double processCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double threadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

// --- PostgreSQL: seeding, polling, cleanup ---

// The jobs' provider message ids, in the shape each provider gives them.
std::string messageIdFor(const std::string& provider, std::int64_t job_id) {
  if (provider == "twilio") return fmt::format("SM{:032x}", job_id);
  return std::to_string(7074294081650000000LL + job_id);
}

SmsJob makeJob(const std::string& tag, int i) {
  SmsJob j;
  j.dedup_key = "webhook_bench|" + tag + "|" + std::to_string(i);
  j.source = "shop";
  j.mapping = "order_shipped";
  j.entity_table = "orders";
  j.entity_id = std::to_string(i);
  j.recipient_raw = "600 700 800";
  j.recipient = "+48600" + std::to_string(100000 + i % 900000);
  j.sender = "DemoShop";
  j.body = "Hi Anna, your order SO-" + std::to_string(i) + " has shipped.";
  j.segments = 1;
  j.route = "default";
  j.lane = Lane::kTransactional;
  j.created_at = std::chrono::system_clock::now();
  j.not_before = j.created_at;
  return j;
}

// Enqueues, claims and records `count` jobs as sent by `provider`; returns their ids.
std::vector<std::int64_t> seedSentJobs(JobStore& store, const std::string& provider,
                                       const std::string& tag, int count) {
  constexpr int kBatch = 1000;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < count; i += kBatch) {
    std::vector<SmsJob> jobs;
    for (int k = i; k < std::min(count, i + kBatch); ++k) jobs.push_back(makeJob(tag, k));
    if (auto r = store.enqueue(jobs, {"shop", tag + std::to_string(i)}); !r) {
      die("enqueue: " + r.error().toString());
    }
    auto claimed = store.claimDue(Lane::kTransactional, kBatch, "webhook_bench",
                                  std::chrono::minutes(5), std::chrono::system_clock::now());
    if (!claimed) die("claimDue: " + claimed.error().toString());
    std::vector<JobOutcome> outcomes;
    for (const SmsJob& job : *claimed) {
      JobOutcome o;
      o.job_id = job.id;
      o.status = JobStatus::kSent;
      o.provider = provider;
      o.provider_message_id = messageIdFor(provider, job.id);
      outcomes.push_back(o);
      ids.push_back(job.id);
    }
    for (const Status& s :
         store.recordOutcomes(outcomes, "webhook_bench", std::chrono::system_clock::now())) {
      if (!s.isOk()) die("recordOutcomes: " + s.toString());
    }
  }
  if (static_cast<int>(ids.size()) != count) {
    die("seeded " + std::to_string(ids.size()) + " of " + std::to_string(count) + " jobs");
  }
  return ids;
}

class PgConnection {
 public:
  explicit PgConnection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) die(std::string("PostgreSQL: ") + PQerrorMessage(conn_));
  }
  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // The first column of the first row of `sql` with one text parameter.
  long long number(const std::string& sql, const std::string& param) {
    const char* values[] = {param.c_str()};
    PGresult* r = PQexecParams(conn_, sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
      std::string error = PQerrorMessage(conn_);
      PQclear(r);
      die("PostgreSQL: " + error);
    }
    long long value = std::atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return value;
  }
  void exec(const std::string& sql) { PQclear(PQexec(conn_, sql.c_str())); }

 private:
  PGconn* conn_;
};

// Tables of the run carry their own prefix and go when the run ends.
class PgTables {
 public:
  PgTables(std::string dsn, std::string prefix)
      : dsn_(std::move(dsn)), prefix_(std::move(prefix)) {}
  ~PgTables() {
    try {
      PgConnection conn(dsn_);
      conn.exec("SET client_min_messages = warning");
      conn.exec(
          "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE "
          "schemaname = current_schema() AND tablename LIKE '" +
          prefix_ +
          "%' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t) || ' CASCADE'; END LOOP; "
          "END $$");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "webhook_bench: could not drop the %s* tables: %s\n", prefix_.c_str(),
                   e.what());
    }
  }

 private:
  std::string dsn_;
  std::string prefix_;
};

// --- Callbacks as providers send them ---

// One HTTP call: a line of the requests file wrk reads (tab-separated; no field has a tab).
struct Callback {
  std::string method;
  std::string target;
  std::string signature;  // X-Twilio-Signature; empty for SMSAPI
  std::string body;       // form body; empty for GET
};

std::string encodeForm(const FormParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    out += (out.empty() ? "" : "&") + percentEncode(name) + "=" + percentEncode(value);
  }
  return out;
}

// SMSAPI's legacy callback (providers.md §2.4): a GET with several reports as comma-separated
// values per parameter; status 404 is DELIVERED.
std::vector<Callback> smsApiCallbacks(const std::vector<std::int64_t>& ids, int per_call) {
  const std::string done = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  std::vector<Callback> calls;
  for (std::size_t i = 0; i < ids.size(); i += per_call) {
    std::string msg_ids, statuses, idx, dates;
    for (std::size_t k = i; k < std::min(ids.size(), i + per_call); ++k) {
      const char* comma = k == i ? "" : ",";
      msg_ids += comma + messageIdFor("smsapi", ids[k]);
      statuses += comma + std::string("404");
      idx += comma + std::to_string(ids[k]);
      dates += comma + done;
    }
    FormParams query = {{"token", kSmsApiToken}, {"MsgId", msg_ids},
                        {"status", statuses},    {"idx", idx},
                        {"donedate", dates},     {"username", "shop"}};
    calls.push_back({"GET", "/webhooks/smsapi/status?" + encodeForm(query), "", ""});
  }
  return calls;
}

// Twilio's status callback: a form POST per report, signed over the public URL and the sorted
// parameters with the account's auth token.
std::vector<Callback> twilioCallbacks(const std::vector<std::int64_t>& ids) {
  const std::string path = "/webhooks/twilio/status";
  std::vector<Callback> calls;
  for (std::int64_t id : ids) {
    const std::string sid = messageIdFor("twilio", id);
    FormParams params = {
        {"SmsSid", sid},          {"SmsStatus", "delivered"},  {"MessageStatus", "delivered"},
        {"To", "+48600700800"},   {"MessageSid", sid},         {"AccountSid", kTwilioAccount},
        {"From", "+15005550006"}, {"ApiVersion", "2010-04-01"}};
    std::string signature = twilioSignature(kTwilioAuthToken, kPublicUrl + path, params);
    calls.push_back({"POST", path, std::move(signature), encodeForm(params)});
  }
  return calls;
}

void writeCallbacks(const std::filesystem::path& file, const std::vector<Callback>& calls) {
  std::ofstream out(file);
  for (const Callback& c : calls) {
    out << c.method << '\t' << c.target << '\t' << c.signature << '\t' << c.body << '\n';
  }
  if (!out) die("cannot write " + file.string());
}

// The reports the bridge's own parser reads from `call`, as the webhook hands them to the
// ingest: for the store ceiling, so both measure the same reports.
std::vector<DeliveryReport> parsedReports(const std::string& provider, const Callback& call) {
  HttpRequest request;
  request.method = call.method;
  request.target = call.target;
  std::size_t q = call.target.find('?');
  request.path = call.target.substr(0, q);
  if (q != std::string::npos) request.query = call.target.substr(q + 1);
  request.body = call.body;
  request.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  auto reports = provider == "twilio" ? parseTwilioStatusCallback(request)
                                      : parseSmsApiStatusCallback(request);
  if (!reports) die("the bench's own callback does not parse: " + reports.error().toString());
  for (DeliveryReport& r : *reports) {
    r.provider = provider;
    if (r.reported_at == TimePoint{}) r.reported_at = std::chrono::system_clock::now();
  }
  return *reports;
}

// --- wrk ---

// Each thread posts every T-th line of the file; a connection whose thread has nothing left
// waits (delay) instead of sending more, so the tail of a run is not other traffic. The bench
// stops wrk with SIGINT once the store holds every report.
const char* const kCallbackScript = R"lua(
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local calls = {}
local next_call = 0

function init(args)
  -- wrk calls request() once on thread 0's state before the run, to check what it returns:
  -- that call gets /healthz, so no callback is lost to it.
  if id == 0 then next_call = -1 end
  local threads = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % threads == id then
      local method, target, signature, body = line:match("^(%u+)\t([^\t]*)\t([^\t]*)\t(.*)$")
      calls[#calls + 1] = {method, target, signature, body}
    end
    n = n + 1
  end
end

function delay()
  if next_call >= #calls then return 3600000 end
  return 0
end

function request()
  next_call = next_call + 1
  local c = next_call >= 1 and calls[next_call] or nil
  if c == nil then return wrk.format("GET", "/healthz") end
  local headers = {}
  if c[4] ~= "" then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  if c[3] ~= "" then headers["X-Twilio-Signature"] = c[3] end
  return wrk.format(c[1], c[2], headers, c[4] ~= "" and c[4] or nil)
end
)lua";

const char* const kDoneScript = R"lua(
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.status + e.timeout))
end
)lua";

struct WrkResult {
  long long requests = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  long long errors = 0;
  double cpu_seconds = 0;  // wrk's own, from wait4()
};

class WrkProcess {
 public:
  WrkProcess(const Options& options, const std::filesystem::path& script,
             const std::filesystem::path& output, const std::string& url,
             const std::string& duration, std::vector<std::string> script_args)
      : output_(output) {
    std::vector<std::string> args = {options.wrk,
                                     "-t",
                                     std::to_string(options.wrk_threads),
                                     "-c",
                                     std::to_string(options.connections),
                                     "-d",
                                     duration,
                                     "--timeout",
                                     "60s",
                                     "-s",
                                     script.string(),
                                     url};
    if (!script_args.empty()) args.push_back("--");
    for (auto& a : script_args) args.push_back(std::move(a));
    // Anything buffered would be written twice: by us and by the child's freopen().
    std::fflush(stdout);
    std::fflush(stderr);
    pid_ = fork();
    if (pid_ < 0) die("fork failed");
    if (pid_ == 0) {
      std::FILE* out = std::freopen(output.c_str(), "w", stdout);
      if (out) dup2(fileno(stdout), STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "cannot run %s\n", argv[0]);
      _exit(127);
    }
  }
  ~WrkProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  WrkProcess(const WrkProcess&) = delete;
  WrkProcess& operator=(const WrkProcess&) = delete;

  bool running() {
    if (exited_) return false;
    int status = 0;
    rusage usage{};
    if (wait4(pid_, &status, WNOHANG, &usage) == pid_) finished(status, usage);
    return !exited_;
  }
  void interrupt() { kill(pid_, SIGINT); }

  // Waits for wrk to exit and reads its result line.
  WrkResult result() {
    if (!exited_) {
      int status = 0;
      rusage usage{};
      wait4(pid_, &status, 0, &usage);
      finished(status, usage);
    }
    std::ifstream in(output_);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::size_t at = text.find("wrk-result ");
    if (at == std::string::npos || exit_code_ != 0) {
      die("wrk failed (exit " + std::to_string(exit_code_) + "): " + text);
    }
    std::map<std::string, long long> values;
    std::istringstream fields(text.substr(at + 11, text.find('\n', at) - at - 11));
    std::string field;
    while (fields >> field) {
      std::size_t eq = field.find('=');
      if (eq != std::string::npos) values[field.substr(0, eq)] = std::atoll(&field[eq + 1]);
    }
    WrkResult r;
    r.requests = values["requests"];
    r.seconds = values["duration_us"] / 1e6;
    r.p50_ms = values["p50_us"] / 1e3;
    r.p99_ms = values["p99_us"] / 1e3;
    r.max_ms = values["max_us"] / 1e3;
    r.errors = values["errors"];
    r.cpu_seconds = cpu_seconds_;
    return r;
  }

 private:
  void finished(int status, const rusage& usage) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    cpu_seconds_ = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  }

  std::filesystem::path output_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  double cpu_seconds_ = 0;
};

// --- The bridge under test: the HTTP server, webhook routes and ingest of `smsbridge run` ---

class Bridge {
 public:
  Bridge(JobStore& store, int connections) {
    ServerConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.max_connections = std::max(256, connections + 16);
    auto created = OperationalServer::create(config, registry_, store, readiness_);
    if (!created) die("server: " + created.error().toString());
    server_ = std::move(*created);
    WebhookService::Options options;
    options.webhooks.public_url = kPublicUrl;
    std::vector<WebhookProvider> providers = {
        {"smsapi", "smsapi", WebhookSecrets{kSmsApiToken, ""}},
        {"twilio", "twilio", WebhookSecrets{"", kTwilioAuthToken}},
    };
    webhooks_ = std::make_unique<WebhookService>(server_->server(), providers, options, store,
                                                 SystemClock::instance(), registry_);
    if (Status s = server_->start(); !s.isOk()) die("server: " + s.toString());
  }
  ~Bridge() {
    server_->stop();  // before the ingest: no handler may reach a finished one
    webhooks_.reset();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  struct Counts {
    std::uint64_t applied = 0, batches = 0, other = 0;
  };
  Counts counts() {
    webhooks_->syncCounters();
    auto value = [&](const char* effect) {
      return registry_.counter("smsbridge_delivery_reports_total", "", {{"effect", effect}})
          .value();
    };
    Counts c;
    c.applied = value("applied");
    c.other = value("no_op") + value("parked") + value("unknown") + value("failed");
    c.batches = registry_.counter("smsbridge_delivery_report_batches_total", "", {}).value();
    return c;
  }

 private:
  MetricsRegistry registry_;
  Readiness readiness_;
  std::unique_ptr<OperationalServer> server_;
  std::unique_ptr<WebhookService> webhooks_;
};

// --- Reporting ---

void row(const std::string& what, const std::string& figure, const std::string& against,
         const std::string& verdict) {
  std::printf("  %-44s %18s  %-36s %s\n", what.c_str(), figure.c_str(), against.c_str(),
              verdict.c_str());
}

const char* verdict(bool met) { return met ? "MET" : "MISSED"; }

struct HttpFigures {
  double seconds = 0;
  double cpu_seconds = 0;
  WrkResult wrk;
  double mean_batch = 0;
};

// Posts `calls` through wrk until the store holds all `reports` jobs of `provider` delivered.
HttpFigures driveCallbacks(const Options& options, Bridge& bridge, const std::string& dsn,
                           const std::string& prefix, const std::string& provider,
                           const std::vector<Callback>& calls, std::size_t reports,
                           const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / (provider + ".calls");
  writeCallbacks(file, calls);
  const std::filesystem::path script = dir / "callbacks.lua";
  std::ofstream(script) << kCallbackScript << kDoneScript;

  PgConnection poll(dsn);
  const std::string remaining_sql =
      "SELECT count(*) FROM " + prefix + "messages WHERE status = 'sent' AND provider = $1";
  if (poll.number(remaining_sql, provider) != static_cast<long long>(reports)) {
    die("the store does not hold the seeded jobs as sent");
  }
  const Bridge::Counts before = bridge.counts();
  HttpFigures f;
  const double poll_cpu_start = threadCpuSeconds();
  const double cpu_start = processCpuSeconds();
  const auto start = Clock::now();
  WrkProcess wrk(options, script, dir / (provider + ".wrk"), bridge.url(), "3600s",
                 {file.string(), std::to_string(options.wrk_threads)});
  // Progress comes from the ingest's counters: a report counts as applied only once its store
  // transaction committed. A COUNT over the table at every poll would cost PostgreSQL more than
  // the reports do; the store is checked once, after the clock stopped.
  std::uint64_t applied = 0;
  Bridge::Counts now = before;
  auto last_change = Clock::now();
  while (applied < reports) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options.poll_ms));
    now = bridge.counts();
    if (now.applied - before.applied != applied) last_change = Clock::now();
    applied = now.applied - before.applied;
    if (now.other != before.other) {
      die(std::to_string(now.other - before.other) +
          " reports were not applied (replay, parked, unknown or refused)");
    }
    if (applied < reports && !wrk.running()) {
      wrk.result();  // dies with wrk's output
      die("wrk ended with " + std::to_string(reports - applied) + " reports not applied");
    }
    if (Clock::now() - last_change > kStallLimit) {
      wrk.interrupt();
      WrkResult r = wrk.result();
      die(fmt::format("wrk: {} calls answered, {} failed; ", r.requests, r.errors) +
          std::to_string(reports - applied) + " reports not applied after " +
          std::to_string(kStallLimit.count()) + " s without progress");
    }
  }
  f.seconds = secondsSince(start);
  f.cpu_seconds = (processCpuSeconds() - cpu_start) - (threadCpuSeconds() - poll_cpu_start);
  wrk.interrupt();
  f.wrk = wrk.result();
  if (f.wrk.errors > 0) {
    die(std::to_string(f.wrk.errors) + " callbacks failed (status >= 400 or socket errors)");
  }
  if (long long left = poll.number(remaining_sql, provider); left != 0) {
    die("the ingest counted every report applied, but " + std::to_string(left) +
        " jobs are still sent in the store");
  }
  if (applied != reports) {
    die("the ingest applied " + std::to_string(applied) + " of " + std::to_string(reports));
  }
  const Bridge::Counts after = now;
  f.mean_batch = static_cast<double>(reports) /
                 static_cast<double>(std::max<std::uint64_t>(1, after.batches - before.batches));
  return f;
}

WrkResult healthzCeiling(const Options& options, Bridge& bridge, const std::filesystem::path& dir) {
  const std::filesystem::path script = dir / "healthz.lua";
  std::ofstream(script) << kDoneScript;
  WrkProcess wrk(options, script, dir / "healthz.wrk", bridge.url() + "/healthz",
                 std::to_string(options.healthz_seconds) + "s", {});
  WrkResult r = wrk.result();
  if (r.errors > 0) die(std::to_string(r.errors) + " /healthz requests failed");
  return r;
}

// The store alone: the same kind of reports, applied in batches of the size the ingest formed.
double storeCeiling(JobStore& store, const std::string& provider,
                    const std::vector<Callback>& calls, std::size_t batch) {
  std::vector<DeliveryReport> reports;
  for (const Callback& call : calls) {
    for (DeliveryReport& r : parsedReports(provider, call)) reports.push_back(std::move(r));
  }
  std::size_t applied = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < reports.size(); i += batch) {
    std::span<const DeliveryReport> slice(reports.data() + i, std::min(batch, reports.size() - i));
    auto effects = store.applyDeliveryReports(slice, std::chrono::system_clock::now());
    if (!effects) die("applyDeliveryReports: " + effects.error().toString());
    for (ReportEffect e : *effects) applied += e == ReportEffect::kApplied;
  }
  const double rate = reports.size() / secondsSince(start);
  if (applied != reports.size()) {
    die("the store applied " + std::to_string(applied) + " of " + std::to_string(reports.size()) +
        " reports");
  }
  return rate;
}

void runFormat(const Options& options, const std::string& provider, JobStore& store, Bridge& bridge,
               const std::string& dsn, const std::string& prefix, const WrkResult& healthz,
               const std::filesystem::path& dir, int round) {
  const int per_call = provider == "smsapi" ? options.per_call : 1;
  std::printf("\n%s: %d reports, %d per call, %d connections\n",
              provider == "smsapi" ? "SMSAPI (GET, batched reports)" : "Twilio (signed form POST)",
              options.reports, per_call, options.connections);
  auto seed_start = Clock::now();
  std::vector<std::int64_t> ids =
      seedSentJobs(store, provider, provider + std::to_string(round), options.reports);
  std::printf("  (seeded %d sent jobs in %.1f s, not timed)\n", options.reports,
              secondsSince(seed_start));
  // Providers report in their own order, not in ours.
  std::mt19937 random(42);
  std::shuffle(ids.begin(), ids.end(), random);
  auto callsFor = [&](const std::vector<std::int64_t>& job_ids) {
    return provider == "twilio" ? twilioCallbacks(job_ids) : smsApiCallbacks(job_ids, per_call);
  };
  const std::vector<Callback> calls = callsFor(ids);

  HttpFigures f = driveCallbacks(options, bridge, dsn, prefix, provider, calls, ids.size(), dir);
  const double rate = ids.size() / f.seconds;
  const double call_rate = calls.size() / f.seconds;
  const double healthz_rate = healthz.requests / healthz.seconds;
  const std::size_t batch = std::max<std::size_t>(1, static_cast<std::size_t>(f.mean_batch + 0.5));
  // Seeded after the HTTP run, which counts every `sent` job of the provider as its own.
  std::vector<std::int64_t> ceiling_ids = seedSentJobs(
      store, provider, provider + "-ceiling" + std::to_string(round), options.ceiling_reports);
  std::shuffle(ceiling_ids.begin(), ceiling_ids.end(), random);
  const double store_rate = storeCeiling(store, provider, callsFor(ceiling_ids), batch);
  const double cpu_us = f.cpu_seconds / ids.size() * 1e6;

  row("reports applied to the store (over HTTP)", fmt::format("{:.0f} reports/s", rate),
      fmt::format(">= {:.0f}/s", kTargetReportsPerSecond),
      verdict(rate >= kTargetReportsPerSecond));
  row("store ceiling: applyDeliveryReports direct", fmt::format("{:.0f} reports/s", store_rate),
      fmt::format("batches of {} (HTTP/store = {:.2f})", batch, rate / store_rate),
      verdict(store_rate >= kTargetReportsPerSecond));
  row("HTTP calls answered", fmt::format("{:.0f} calls/s", call_rate),
      fmt::format("/healthz ceiling {:.0f}/s ({:.2f})", healthz_rate, call_rate / healthz_rate),
      "");
  row("latency per call p50 / p99 / max",
      fmt::format("{:.1f}/{:.1f}/{:.0f} ms", f.wrk.p50_ms, f.wrk.p99_ms, f.wrk.max_ms),
      "answered once durable (closed loop)", "");
  row("bridge CPU per report (user + sys)", fmt::format("{:.1f} us", cpu_us),
      fmt::format("<= {:.0f} us; {:.0f} us/call, {:.0f}% of a core", kTargetCpuMicros,
                  f.cpu_seconds / calls.size() * 1e6, f.cpu_seconds / f.seconds * 100),
      verdict(cpu_us <= kTargetCpuMicros));
  row("load generator (wrk) CPU",
      fmt::format("{:.0f}% of a core", f.wrk.cpu_seconds / f.seconds * 100),
      fmt::format("{:.1f} us per call", f.wrk.cpu_seconds / calls.size() * 1e6), "");
  row("reports per store transaction (mean)", fmt::format("{:.1f}", f.mean_batch),
      "ReportIngest max_batch 1000", "");
}

std::optional<std::string> pgDsn(const Options& options) { return bench::pgDsn(options.pg_dsn); }

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Status callbacks over HTTP → webhook routes → ReportIngest → PostgreSQL store"};
  Options options;
  app.add_option("--reports", options.reports, "delivery reports per format")
      ->check(CLI::PositiveNumber);
  app.add_option("--format", options.format, "smsapi | twilio | both")
      ->check(CLI::IsMember({"smsapi", "twilio", "both"}));
  app.add_option("--per-call", options.per_call, "SMSAPI reports batched in one callback")
      ->check(CLI::Range(1, 100));
  app.add_option("--connections", options.connections, "wrk keep-alive connections")
      ->check(CLI::PositiveNumber);
  app.add_option("--wrk-threads", options.wrk_threads, "wrk threads")->check(CLI::Range(1, 16));
  app.add_option("--ceiling-reports", options.ceiling_reports,
                 "reports applied straight to the store for its ceiling")
      ->check(CLI::PositiveNumber);
  app.add_option("--healthz-seconds", options.healthz_seconds, "length of the /healthz run")
      ->check(CLI::PositiveNumber);
  app.add_option("--poll-ms", options.poll_ms, "how often the store is polled for progress")
      ->check(CLI::PositiveNumber);
  app.add_option("--pg-dsn", options.pg_dsn, "PostgreSQL for the store");
  app.add_option("--wrk", options.wrk, "the wrk program");
  app.add_option("--log-level", options.log_level, "bridge log level");
  CLI11_PARSE(app, argc, argv);
  if (options.connections < options.wrk_threads) die("--connections must be >= --wrk-threads");

  if (Status s = setupLogging(options.log_level, LogFormat::kText); !s.isOk()) die(s.toString());
  auto dsn = pgDsn(options);
  if (!dsn) {
    die("no PostgreSQL: give --pg-dsn, set SMSBRIDGE_TEST_PG_DSN, or run "
        "scripts/test-services.sh start first");
  }
  struct ScratchDir {
    std::filesystem::path path;
    ~ScratchDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } scratch{std::filesystem::temp_directory_path() /
            ("smsbridge-webhook-bench-" + std::to_string(getpid()))};
  std::filesystem::create_directories(scratch.path);

  const std::string prefix = "wbench" + std::to_string(getpid()) + "_";
  PgTables cleanup(*dsn, prefix);
  auto store = postgres::PostgresStore::create(*dsn, prefix, std::chrono::milliseconds(5000));
  if (!store) die("postgres store: " + store.error().toString());
  if (Status s = (*store)->migrate(); !s.isOk()) die("postgres migrate: " + s.toString());

  std::printf("smsbridge webhook_bench: PostgreSQL store, wrk -t%d -c%d, %u CPUs, log level %s\n",
              options.wrk_threads, options.connections, std::thread::hardware_concurrency(),
              options.log_level.c_str());
  Bridge bridge(**store, options.connections);
  const WrkResult healthz = healthzCeiling(options, bridge, scratch.path);
  std::printf(
      "HTTP ceiling: wrk against /healthz on the same server: %.0f requests/s, p50 %.2f ms, "
      "p99 %.2f ms\n",
      healthz.requests / healthz.seconds, healthz.p50_ms, healthz.p99_ms);
  int round = 0;
  for (const char* provider : {"smsapi", "twilio"}) {
    if (options.format != "both" && options.format != provider) continue;
    runFormat(options, provider, **store, bridge, *dsn, prefix, healthz, scratch.path, ++round);
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "webhook_bench: %s\n", e.what());
    return 1;
  }
}
