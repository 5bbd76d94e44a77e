// `smsbridge send`: one SMS through the configured providers and routes, now, for an
// administrator checking credentials, sender IDs and routing before going live.
//
// The SMS takes the real path (Dispatcher: route and country rules, breakers, rate limits,
// retries, failover) but its job lives in a private SQLite store in a temporary directory,
// removed afterwards. So it never lands in the production store, a running daemon can never
// claim or resend it, and `send` works against a read-only or unreachable store.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/bridge_config.h"
#include "app/commands.h"
#include "connectors/sqlite/sqlite_db.h"
#include "connectors/sqlite/sqlite_store.h"
#include "core/forwarding_job_store.h"
#include "core/phone.h"
#include "core/sms_text.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// RetryLater is retried, but a person is waiting at the terminal: never longer than this
// after the job was created, and never more often than kMaxAttempts in all.
constexpr milliseconds kRetryWindow{30'000};
constexpr int kMaxAttempts = 4;
constexpr milliseconds kRetryMax{10'000};
// Beyond the retry window: time for the last request to time out and be recorded.
constexpr milliseconds kGiveUpAfter{kRetryWindow + milliseconds(90'000)};

// Job ids are what providers use for idempotency (SMSAPI `idx`, MessageFlow `externalId`). A
// fresh store would number this job 1, the same as the daemon's first job: SMSAPI would then
// answer "already sent" for one of them and that SMS would silently never go out. Ids of
// one-off sends start far above any id a production store reaches, and differ per run.
std::int64_t firstJobId() {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return 7'000'000'000'000'000'000 + micros % 1'000'000'000'000'000'000;
}

// A temporary directory removed when the command ends, however it ends.
class ScratchDir {
 public:
  static Result<ScratchDir> create() {
    std::error_code ec;
    fs::path base = fs::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string pattern = (base / "smsbridge-send-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return internalError("cannot create a temporary directory under " + base.string());
    }
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

Result<std::unique_ptr<JobStore>> privateStore(const ScratchDir& dir) {
  const std::string path = dir.file("send.db");
  auto store = sqlite::SqliteStore::create(path, "smsbridge_", milliseconds(5'000));
  if (!store) return store.error();
  if (Status s = (*store)->migrate(); !s.isOk()) return s;
  auto db =
      sqlite::Database::open(path, sqlite::Database::OpenMode::kExisting, milliseconds(5'000));
  if (!db) return db.error();
  if (Status s = (*db)->exec("INSERT INTO sqlite_sequence (name, seq) VALUES "
                             "('smsbridge_messages', " +
                             std::to_string(firstJobId()) + ")");
      !s.isOk()) {
    return s;
  }
  return std::unique_ptr<JobStore>(std::move(*store));
}

std::string describeAttempt(int number, const AttemptRecord& a) {
  auto elapsed = std::chrono::duration_cast<milliseconds>(a.finished_at - a.started_at).count();
  std::string line =
      "attempt " + std::to_string(number) + ": provider=" + a.provider + " outcome=" + a.outcome;
  line += " http=" + (a.http_status == 0 ? std::string("-") : std::to_string(a.http_status));
  if (!a.error_code.empty()) line += " error=" + a.error_code;
  line += " elapsed=" + std::to_string(elapsed) + "ms";
  if (!a.error_message.empty()) line += " reason=\"" + a.error_message + "\"";
  return line;
}

// The private store, seen through: every outcome the dispatcher records is printed as it
// happens, and the first final one ends the command.
class ReportingStore final : public JobStore {
 public:
  ReportingStore(std::unique_ptr<JobStore> inner, std::function<void(const JobOutcome&)> on_final)
      : inner_(std::move(inner)), on_final_(std::move(on_final)) {}

  Status migrate() override { return inner_->migrate(); }
  std::vector<std::string> migrationSql() const override { return inner_->migrationSql(); }
  Status checkSchema() override { return inner_->checkSchema(); }
  Result<EnqueueResult> enqueue(std::span<const SmsJob> jobs,
                                const Checkpoint& checkpoint) override {
    return inner_->enqueue(jobs, checkpoint);
  }
  Result<std::optional<std::string>> loadCheckpoint(const std::string& source) override {
    return inner_->loadCheckpoint(source);
  }
  Result<std::map<std::string, std::string>> loadShadow(const std::string& source,
                                                        const std::string& table,
                                                        std::span<const std::string> pks) override {
    return inner_->loadShadow(source, table, pks);
  }
  Result<std::vector<SmsJob>> claimDue(Lane lane, int limit, const std::string& owner,
                                       milliseconds lease, TimePoint now) override {
    return inner_->claimDue(lane, limit, owner, lease, now);
  }
  Status recordOutcome(const JobOutcome& outcome, const std::string& owner,
                       TimePoint now) override {
    Status s = inner_->recordOutcome(outcome, owner, now);
    show(outcome);
    return s;
  }
  std::vector<Status> recordOutcomes(std::span<const JobOutcome> outcomes, const std::string& owner,
                                     TimePoint now) override {
    std::vector<Status> statuses = inner_->recordOutcomes(outcomes, owner, now);
    for (const JobOutcome& outcome : outcomes) show(outcome);
    return statuses;
  }
  Result<int> requeueExpiredLeases(TimePoint now) override {
    return inner_->requeueExpiredLeases(now);
  }
  Result<int> holdExpiredLeases(TimePoint now, std::span<const std::string> routes) override {
    return inner_->holdExpiredLeases(now, routes);
  }
  Result<ReportEffect> applyDeliveryReport(const DeliveryReport& report, TimePoint now) override {
    return inner_->applyDeliveryReport(report, now);
  }
  Result<std::vector<ReportEffect>> applyDeliveryReports(std::span<const DeliveryReport> reports,
                                                         TimePoint now) override {
    return inner_->applyDeliveryReports(reports, now);
  }
  Result<std::vector<DeliveryReport>> dropParkedReports(TimePoint parked_before) override {
    return inner_->dropParkedReports(parked_before);
  }
  Status recordInbound(const InboundSms& sms) override { return inner_->recordInbound(sms); }
  Status setOptOut(const std::string& recipient, bool opted_out, const std::string& reason,
                   TimePoint now) override {
    return inner_->setOptOut(recipient, opted_out, reason, now);
  }
  Result<bool> isOptedOut(const std::string& recipient) override {
    return inner_->isOptedOut(recipient);
  }
  void setOptOutLanes(std::vector<Lane> lanes) override {
    inner_->setOptOutLanes(std::move(lanes));
  }
  Result<std::vector<std::pair<JobStatus, int>>> countByStatus() override {
    return inner_->countByStatus();
  }

 private:
  void show(const JobOutcome& outcome) {
    for (const AttemptRecord& a : outcome.attempts) {
      std::printf("%s\n", describeAttempt(++attempts_, a).c_str());
    }
    if (outcome.status == JobStatus::kQueued) {
      auto wait = std::chrono::duration_cast<milliseconds>(outcome.not_before -
                                                           std::chrono::system_clock::now());
      // The reason is the last attempt's, printed just above.
      std::printf("retry in %lldms\n", static_cast<long long>(std::max<std::int64_t>(
                                           0, static_cast<std::int64_t>(wait.count()))));
    }
    std::fflush(stdout);
    if (outcome.status != JobStatus::kQueued && on_final_) on_final_(outcome);
  }

  std::unique_ptr<JobStore> inner_;
  std::function<void(const JobOutcome&)> on_final_;
  int attempts_ = 0;
};

int usageError(const std::string& message) {
  std::fprintf(stderr, "smsbridge send: %s\n", message.c_str());
  return 1;
}

// --route, or the only route, or the one called `default`.
Result<std::string> chooseRoute(const BridgeConfig& cfg, const std::string& wanted) {
  std::string names;
  for (const auto& [name, route] : cfg.routes) names += (names.empty() ? "" : ", ") + name;
  if (!wanted.empty()) {
    if (cfg.routes.count(wanted)) return wanted;
    return configError("no route named '" + wanted + "'; the config has: " + names);
  }
  if (cfg.routes.size() == 1) return cfg.routes.begin()->first;
  if (cfg.routes.count("default")) return std::string("default");
  return configError(
      "the config has several routes and none is called 'default'; choose one "
      "with --route: " +
      names);
}

// The job `options` describe, checked as a mapping's job would be, and shown to the user.
Result<SmsJob> buildJob(const BridgeConfig& cfg, const SendOptions& options) {
  SmsJob job;
  if (!options.lane.empty()) {
    auto lane = parseLane(options.lane);
    if (!lane) return configError("--lane must be otp, transactional or marketing");
    job.lane = *lane;
  }
  auto route = chooseRoute(cfg, options.route);
  if (!route) return route.error();
  PhoneResult phone = normalizePhone(options.to, cfg.defaults.region, cfg.defaults.phone_types);
  if (!phone.ok()) {
    return configError("cannot send to '" + options.to +
                       "': " + std::string(phoneProblemName(*phone.problem)) + ": " + phone.detail);
  }
  if (!isValidUtf8(options.text)) return configError("--text is not valid UTF-8");
  SmsTextInfo text = analyzeSmsText(options.text);
  if (text.segments == 0) return configError("--text is empty");
  std::string sender = options.sender.empty() ? cfg.defaults.sender : options.sender;
  if (!sender.empty()) {
    if (Status s = validateSenderId(sender); !s.isOk()) return s;
  }

  std::string providers;
  for (const auto& p : cfg.routes.at(*route).providersFor(phone.e164)) {
    providers += (providers.empty() ? "" : ", ") + p;
  }
  std::printf("to:        %s\n", phone.e164.c_str());
  std::printf("sender:    %s\n", sender.empty() ? "(provider default)" : sender.c_str());
  std::printf("text:      %s, %d segment%s, %d characters\n",
              std::string(encodingName(text.encoding)).c_str(), text.segments,
              text.segments == 1 ? "" : "s", text.characters);
  std::printf("route:     %s → %s\n", route->c_str(), providers.c_str());
  std::printf("lane:      %s\n", std::string(laneName(job.lane)).c_str());
  std::fflush(stdout);

  job.dedup_key = "send:" + std::to_string(::getpid());
  job.source = "smsbridge-send";
  job.mapping = "send";
  job.recipient_raw = options.to;
  job.recipient = phone.e164;
  job.sender = sender;
  job.body = options.text;
  job.encoding = text.encoding;
  job.segments = text.segments;
  job.route = *route;
  job.status = JobStatus::kQueued;
  job.created_at = SystemClock::instance().now();
  job.not_before = job.created_at;
  return job;
}

// The configured dispatcher, with retries bounded for someone waiting at a terminal.
DispatcherConfig sendDispatcherConfig(const BridgeConfig& cfg, Lane lane) {
  DispatcherConfig dispatch = cfg.dispatcher;
  dispatch.owner = "smsbridge-send@" + std::to_string(::getpid());
  dispatch.poll_interval = milliseconds(50);
  dispatch.retry_max = std::min(dispatch.retry_max, kRetryMax);
  if (!dispatch.lane_retry.count(lane)) {
    dispatch.lane_retry[lane].max_attempts = cfg.dispatcher.max_attempts;
  }
  RetryPolicy& retry = dispatch.lane_retry[lane];
  retry.max_attempts = std::min(retry.max_attempts, kMaxAttempts);
  retry.max_age = retry.max_age ? std::min(*retry.max_age, kRetryWindow) : kRetryWindow;
  return dispatch;
}

}  // namespace

int sendCommand(const SendOptions& options) {
  config::Diagnostics diagnostics;
  auto cfg = loadBridgeConfig(options.config, {}, diagnostics);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", diagnostics.toString().c_str());
    return 1;
  }
  // Attempts and the result go to stdout; the log (stderr) only carries anomalies, such as an
  // ambiguous attempt or a provider being paused.
  if (Status s = setupLogging("warn", cfg->log_format); !s.isOk()) return usageError(s.message());
  auto job = buildJob(*cfg, options);
  if (!job) return usageError(job.error().message());

  auto fail = [](const Status& status) {
    std::fprintf(stderr, "smsbridge send: %s\n", status.toString().c_str());
    return 1;
  };
  auto scratch = ScratchDir::create();
  if (!scratch) return fail(scratch.error());
  auto private_store = privateStore(*scratch);
  if (!private_store) return fail(private_store.error());

  boost::asio::io_context io;
  std::map<std::string, std::unique_ptr<Provider>> providers;
  std::map<std::string, Provider*> provider_ptrs;
  for (const NamedProvider& p : cfg->providers) {
    auto provider = p.create(io);
    if (!provider) return fail(provider.error().withContext("provider '" + p.name + "'"));
    // Delivery reports are not awaited: `send` ends when a provider accepted the SMS.
    (*provider)->setDeliveryReportSink([](const DeliveryReport&) {});
    provider_ptrs[p.name] = provider->get();
    providers[p.name] = std::move(*provider);
  }

  std::optional<JobOutcome> final_outcome;
  std::unique_ptr<Dispatcher> dispatcher;
  bool stopping = false;
  auto stop = [&] {
    if (stopping) return;
    stopping = true;
    dispatcher->stop([&] {
      for (auto& [name, provider] : providers) provider->shutdown();
      io.stop();
    });
  };
  ReportingStore store(std::move(*private_store), [&](const JobOutcome& outcome) {
    final_outcome = outcome;
    boost::asio::post(io, stop);
  });

  dispatcher =
      std::make_unique<Dispatcher>(sendDispatcherConfig(*cfg, job->lane), store, provider_ptrs,
                                   cfg->routes, SystemClock::instance(), io);

  auto enqueued =
      store.enqueue(std::span<const SmsJob>(&*job, 1), Checkpoint{"smsbridge-send", "1"});
  if (!enqueued) return fail(enqueued.error());

  boost::asio::steady_timer give_up(io, kGiveUpAfter);
  give_up.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    std::printf("result:    no final answer within %llds; giving up\n",
                static_cast<long long>(kGiveUpAfter.count() / 1000));
    stop();
  });
  // A first Ctrl-C waits for an outstanding request to be answered, so its outcome is printed
  // and the temporary store removed; a second one does not wait.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::printf("result:    interrupted; waiting for outstanding requests (again to quit now)\n");
    std::fflush(stdout);
    signals.async_wait([](const boost::system::error_code& again, int) {
      if (!again) std::_Exit(130);
    });
    stop();
  });
  dispatcher->start();
  io.run();

  if (!final_outcome) return 1;
  const JobOutcome& o = *final_outcome;
  if (o.status == JobStatus::kSent) {
    std::printf("result:    accepted by %s, provider message id %s%s%s\n", o.provider.c_str(),
                o.provider_message_id.empty() ? "(none)" : o.provider_message_id.c_str(),
                o.status_reason.empty() ? "" : " — ", o.status_reason.c_str());
    return 0;
  }
  std::printf("result:    %s: %s\n", std::string(statusName(o.status)).c_str(),
              o.status_reason.c_str());
  return 1;
}

}  // namespace smsbridge
