#include "providers/webhooks.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/phone.h"
#include "core/sms_text.h"
#include "providers/registry.h"
#include "providers/twilio.h"

namespace smsbridge {

// --- ReportIngest ---

ReportIngest::ReportIngest(JobStore& store, const Clock& clock)
    : ReportIngest(store, clock, Options{}) {}

ReportIngest::ReportIngest(JobStore& store, const Clock& clock, Options options)
    : store_(store), clock_(clock), options_(options), thread_([this] { run(); }) {}

ReportIngest::~ReportIngest() { stop(); }

void ReportIngest::submit(std::vector<DeliveryReport> reports, std::function<void(Status)> done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && !reports.empty()) {
      queue_.push_back(Pending{std::move(reports), std::move(done), nullptr});
      wake_.notify_one();
      return;
    }
  }
  done(reports.empty() ? Status::ok() : internalError("the webhook ingest has stopped"));
}

bool ReportIngest::post(std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  queue_.push_back(Pending{{}, nullptr, std::move(task)});
  wake_.notify_one();
  return true;
}

ReportCounts ReportIngest::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void ReportIngest::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void ReportIngest::run() {
  while (true) {
    std::unique_lock lock(mu_);
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything submitted is done
    if (queue_.front().task) {
      auto task = std::move(queue_.front().task);
      queue_.pop_front();
      lock.unlock();
      task();
      continue;
    }
    // Everything that queued while the previous batch committed goes into this one.
    std::vector<Pending> batch;
    std::size_t size = 0;
    while (!queue_.empty() && !queue_.front().task &&
           (batch.empty() || size + queue_.front().reports.size() <= options_.max_batch)) {
      size += queue_.front().reports.size();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    applyBatch(batch);
  }
}

void ReportIngest::applyBatch(std::vector<Pending>& batch) {
  std::vector<DeliveryReport> reports;
  for (auto& pending : batch) {
    for (auto& report : pending.reports) reports.push_back(std::move(report));
  }
  auto effects = store_.applyDeliveryReports(reports, clock_.now());
  Status status = effects.status();
  if (status.isOk() && effects->size() != reports.size()) {
    status = internalError("the store returned " + std::to_string(effects->size()) +
                           " effects for " + std::to_string(reports.size()) + " reports");
  }
  if (!status.isOk()) {
    spdlog::error(
        "Could not apply delivery reports; the provider will send them again. reports={} "
        "error=\"{}\"",
        reports.size(), status.toString());
    {
      std::lock_guard lock(mu_);
      counts_.failed += reports.size();
    }
    for (auto& pending : batch) pending.done(status);
    return;
  }
  for (std::size_t i = 0; i < reports.size(); ++i) count(reports[i], (*effects)[i]);
  {
    std::lock_guard lock(mu_);
    ++counts_.batches;
  }
  for (auto& pending : batch) pending.done(Status::ok());
}

void ReportIngest::count(const DeliveryReport& report, ReportEffect effect) {
  std::unique_lock lock(mu_);
  switch (effect) {
    case ReportEffect::kApplied:
      ++counts_.applied;
      return;
    case ReportEffect::kNoOp:
      ++counts_.no_op;
      return;
    case ReportEffect::kParked:
      ++counts_.parked;
      lock.unlock();
      spdlog::debug(
          "Delivery report parked until its send result is recorded. provider={} id={} job={}",
          report.provider, report.provider_message_id, report.job_id);
      return;
    case ReportEffect::kUnknownJob:
      break;
  }
  ++counts_.unknown;
  // A provider account shared with another system reports messages we never sent, possibly
  // thousands a minute: one line per interval, with the count of those left out.
  auto now = std::chrono::steady_clock::now();
  if (last_unknown_log_ != std::chrono::steady_clock::time_point{} &&
      now - last_unknown_log_ < options_.unknown_log_interval) {
    ++unknown_since_log_;
    return;
  }
  std::uint64_t skipped = unknown_since_log_;
  unknown_since_log_ = 0;
  last_unknown_log_ = now;
  lock.unlock();
  spdlog::warn(
      "Delivery report for a message id no job has. provider={} id={} job={} status={} "
      "similar_reports_not_logged={}",
      report.provider, report.provider_message_id, report.job_id, report.provider_status, skipped);
}

// --- Inbound settings ---

const config::Schema& inboundSchema() {
  using namespace config;
  static const Schema schema{
      "inbound",
      "SMS that customers send to the bridge's numbers (`/webhooks/<provider>/inbound`): each is "
      "recorded in <prefix>inbound, and keywords opt the sender out of marketing SMS or back "
      "in.",
      {
          stringList("stop_keywords", {"STOP", "STOP ALL", "UNSUBSCRIBE"},
                     "Messages that opt the sender out: marketing jobs to the number become "
                     "`suppressed`. Compared case-insensitively with the whole trimmed message."),
          stringList("start_keywords", {"START"},
                     "Messages that remove the sender from the opt-out list again."),
          str("stop_reply", "",
              "SMS sent back after a stop keyword (transactional lane). Empty: no reply."),
          str("start_reply", "",
              "SMS sent back after a start keyword (transactional lane). Empty: no reply."),
          str("reply_route", "default", "Route the replies are sent through."),
      },
      "",
      {}};
  return schema;
}

namespace {

// Upper-case ASCII, trimmed, inner whitespace runs as one space: the form keywords compare in.
std::string keywordForm(std::string_view text) {
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::toupper(c));
  }
  return out;
}

}  // namespace

InboundSettings parseInboundSettings(const config::Section& section,
                                     config::Diagnostics& diagnostics) {
  InboundSettings settings;
  settings.stop_keywords = section.strings("stop_keywords");
  settings.start_keywords = section.strings("start_keywords");
  settings.stop_reply = section.str("stop_reply");
  settings.start_reply = section.str("start_reply");
  settings.reply_route = section.str("reply_route");
  std::set<std::string> stops;
  for (const auto& keyword : settings.stop_keywords) {
    if (keywordForm(keyword).empty()) {
      diagnostics.add(section.at("stop_keywords", "a keyword cannot be empty"));
    }
    stops.insert(keywordForm(keyword));
  }
  for (const auto& keyword : settings.start_keywords) {
    if (keywordForm(keyword).empty()) {
      diagnostics.add(section.at("start_keywords", "a keyword cannot be empty"));
    } else if (stops.count(keywordForm(keyword))) {
      diagnostics.add(section.at("start_keywords", "'" + keyword + "' is a stop keyword as well"));
    }
  }
  return settings;
}

KeywordMatch matchKeyword(const InboundSettings& settings, std::string_view text) {
  const std::string form = keywordForm(text);
  if (form.empty()) return KeywordMatch::kNone;
  for (const auto& keyword : settings.stop_keywords) {
    if (keywordForm(keyword) == form) return KeywordMatch::kStop;
  }
  for (const auto& keyword : settings.start_keywords) {
    if (keywordForm(keyword) == form) return KeywordMatch::kStart;
  }
  return KeywordMatch::kNone;
}

// --- Handlers ---

namespace {

constexpr std::size_t kLoggedBodyBytes = 512;

HttpResponse plain(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  if (!response.body.empty() && response.body.back() != '\n') response.body += '\n';
  return response;
}

// A body for a log line: at most kLoggedBodyBytes, control characters escaped, so a hostile
// body cannot forge log lines.
std::string loggable(std::string_view body) {
  std::string out;
  for (unsigned char c : body.substr(0, kLoggedBodyBytes)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (body.size() > kLoggedBodyBytes) {
    out += "...(" + std::to_string(body.size()) + " bytes)";
  }
  return out;
}

// Refusals are logged, but a flood of forged callbacks must not flood the log: one line per
// interval per provider, with the number left out.
class RefusalLog {
 public:
  void warn(const std::string& provider, int status, const std::string& why) {
    std::unique_lock lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < kInterval) {
      ++skipped_;
      return;
    }
    std::uint64_t skipped = skipped_;
    skipped_ = 0;
    last_ = now;
    lock.unlock();
    spdlog::warn("Webhook call refused. provider={} http_status={} reason=\"{}\" not_logged={}",
                 provider, status, why, skipped);
  }

 private:
  static constexpr std::chrono::seconds kInterval{10};
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t skipped_ = 0;
};

class ProviderWebhooks : public std::enable_shared_from_this<ProviderWebhooks> {
 public:
  ProviderWebhooks(WebhookProvider provider, ProviderCallbacks callbacks,
                   std::shared_ptr<const WebhookOptions> options, ReportIngest& ingest,
                   JobStore& store, const Clock& clock)
      : provider_(std::move(provider)),
        callbacks_(std::move(callbacks)),
        options_(std::move(options)),
        ingest_(ingest),
        store_(store),
        clock_(clock) {}

  void status(const HttpRequest& request, const HttpResponder& respond) {
    if (auto refusal = refuse(request)) return respond(*refusal);
    auto reports = callbacks_.parse_status(request);
    if (!reports) return respond(parseFailure(reports.error(), request, callbacks_.status_ok));
    const TimePoint now = clock_.now();
    for (auto& report : *reports) {
      report.provider = provider_.name;
      if (report.reported_at == TimePoint{}) report.reported_at = now;
    }
    ingest_.submit(std::move(*reports), [ok = callbacks_.status_ok, respond](Status status) {
      respond(status.isOk() ? ok : plain(503, "the reports could not be stored; send again"));
    });
  }

  void inbound(const HttpRequest& request, const HttpResponder& respond) {
    if (auto refusal = refuse(request)) return respond(*refusal);
    auto sms = callbacks_.parse_inbound(request);
    if (!sms) return respond(parseFailure(sms.error(), request, callbacks_.inbound_ok));
    sms->provider = provider_.name;
    if (sms->received_at == TimePoint{}) sms->received_at = clock_.now();
    PhoneResult phone = normalizePhone(sms->sender, "", PhoneTypePolicy::kAny);
    if (phone.ok()) sms->sender = phone.e164;
    bool posted = ingest_.post([self = shared_from_this(), sms = std::move(*sms), respond] {
      Status status = self->takeInbound(sms);
      if (!status.isOk()) {
        spdlog::error(
            "Could not take an inbound SMS; the provider will send it again. "
            "provider={} id={} error=\"{}\"",
            sms.provider, sms.provider_message_id, status.toString());
        return respond(plain(503, "the message could not be stored; send again"));
      }
      respond(self->callbacks_.inbound_ok);
    });
    if (!posted) respond(plain(503, "shutting down; send again"));
  }

 private:
  // Method, content type, size and authentication; nullopt when the request may be parsed.
  std::optional<HttpResponse> refuse(const HttpRequest& request) {
    auto refusal = [&](int status, std::string why) {
      refusals_.warn(provider_.name, status, why);
      return plain(status, std::move(why));
    };
    const bool get = request.method == "GET" && callbacks_.allow_get;
    if (request.method != "POST" && !get) {
      HttpResponse response = refusal(405, "method not allowed");
      response.headers.emplace_back("Allow", callbacks_.allow_get ? "GET, POST" : "POST");
      return response;
    }
    if (request.body.size() > options_->max_body_bytes) {
      return refusal(413,
                     "body larger than " + std::to_string(options_->max_body_bytes) + " bytes");
    }
    const std::string type = mediaType(request);
    bool query_only = callbacks_.allow_get && request.body.empty();
    if (request.method == "POST" && !query_only &&
        std::find(callbacks_.media_types.begin(), callbacks_.media_types.end(), type) ==
            callbacks_.media_types.end()) {
      return refusal(415, "unsupported content type '" + type + "'");
    }
    if (!authenticated(request)) return refusal(403, "authentication failed");
    return std::nullopt;
  }

  bool authenticated(const HttpRequest& request) {
    const WebhookSecrets& secrets = provider_.secrets;
    bool token_needed = callbacks_.auth == CallbackAuth::kUrlToken || !secrets.token.empty();
    if (token_needed) {
      auto query = decodeForm(request.query);
      const std::string* token = query ? formValue(*query, "token") : nullptr;
      // No configured token authenticates nobody, rather than everybody.
      if (secrets.token.empty() || !token || !constantTimeEquals(*token, secrets.token)) {
        return false;
      }
    }
    if (callbacks_.auth != CallbackAuth::kTwilioSignature) return true;
    const std::string* signature = request.header("x-twilio-signature");
    if (!signature || options_->public_url.empty() || secrets.signing_key.empty()) return false;
    FormParams params;
    if (request.method == "POST" && !request.body.empty()) {
      auto form = decodeForm(request.body);
      if (!form) return false;
      params = std::move(*form);
    }
    return verifyTwilioSignature(secrets.signing_key, options_->public_url + request.target, params,
                                 *signature);
  }

  HttpResponse parseFailure(const Status& error, const HttpRequest& request,
                            const HttpResponse& ok) {
    if (error.category() == ErrorCategory::kProviderPermanent) {
      spdlog::warn(
          "Webhook call of a shape we do not read; answered as taken so the provider does not "
          "retry it. provider={} path={} reason=\"{}\" body=\"{}\"",
          provider_.name, request.path, error.message(), loggable(request.body));
      return ok;
    }
    if (error.category() == ErrorCategory::kRejected) {
      refusals_.warn(provider_.name, 400, error.message());
      return plain(400, error.message());
    }
    spdlog::error("Webhook call failed. provider={} path={} error=\"{}\"", provider_.name,
                  request.path, error.toString());
    return plain(500, "internal error");
  }

  Status takeInbound(const InboundSms& sms) {
    SMSBRIDGE_RETURN_IF_ERROR(store_.recordInbound(sms));
    const InboundSettings& settings = options_->inbound;
    KeywordMatch match = matchKeyword(settings, sms.body);
    if (match == KeywordMatch::kNone) return Status::ok();
    const bool stop = match == KeywordMatch::kStop;
    const std::string keyword = keywordForm(sms.body);
    SMSBRIDGE_RETURN_IF_ERROR(store_.setOptOut(sms.sender, stop, keyword, clock_.now()));
    spdlog::info("Inbound keyword {}. provider={} from={} keyword=\"{}\"",
                 stop ? "opted the sender out" : "opted the sender back in", sms.provider,
                 sms.sender, keyword);
    const std::string& reply = stop ? settings.stop_reply : settings.start_reply;
    if (reply.empty()) return Status::ok();
    return enqueueReply(sms, reply, stop ? "inbound.stop_reply" : "inbound.start_reply");
  }

  // The reply goes out through the dispatcher like any job; its dedup key makes a provider's
  // retry of the same inbound message send no second reply.
  Status enqueueReply(const InboundSms& sms, const std::string& text, const std::string& setting) {
    if (sms.sender.empty() || sms.sender.front() != '+') {
      spdlog::warn(
          "No reply to an inbound keyword: the sender is not a phone number. "
          "provider={} from={}",
          sms.provider, sms.sender);
      return Status::ok();
    }
    const TimePoint now = clock_.now();
    const std::string message_ref = sms.provider_message_id.empty()
                                        ? sms.sender + "@" + formatTimestamp(sms.received_at)
                                        : sms.provider_message_id;
    SmsJob job;
    job.dedup_key = "inbound-reply:" + sms.provider + ":" + message_ref;
    job.source = "inbound";
    job.mapping = setting;
    job.entity_id = message_ref;
    job.recipient_raw = sms.sender;
    job.recipient = sms.sender;
    job.body = text;
    SmsTextInfo info = analyzeSmsText(text);
    job.encoding = info.encoding;
    job.segments = info.segments;
    job.lane = Lane::kTransactional;
    job.route = options_->inbound.reply_route;
    job.status = JobStatus::kQueued;
    job.not_before = now;
    job.created_at = now;
    job.updated_at = now;
    auto enqueued =
        store_.enqueue(std::span<const SmsJob>(&job, 1),
                       Checkpoint{"smsbridge-inbound", sms.provider + ":" + message_ref});
    return enqueued.status();
  }

  WebhookProvider provider_;
  ProviderCallbacks callbacks_;
  std::shared_ptr<const WebhookOptions> options_;
  ReportIngest& ingest_;
  JobStore& store_;
  const Clock& clock_;
  RefusalLog refusals_;
};

}  // namespace

std::vector<WebhookRoute> webhookRoutes(const std::vector<WebhookProvider>& providers,
                                        const WebhookOptions& options, ReportIngest& ingest,
                                        JobStore& store, const Clock& clock) {
  auto shared_options = std::make_shared<const WebhookOptions>(options);
  std::vector<WebhookRoute> routes;
  for (const auto& provider : providers) {
    const ProviderEntry* entry = findProvider(provider.type);
    if (!entry) continue;
    const ProviderCallbacks& callbacks = entry->callbacks;
    auto webhooks = std::make_shared<ProviderWebhooks>(provider, callbacks, shared_options, ingest,
                                                       store, clock);
    const std::string base = "/webhooks/" + provider.name;
    if (callbacks.parse_status) {
      routes.push_back(
          {base + "/status", [webhooks](const HttpRequest& request, HttpResponder respond) {
             webhooks->status(request, respond);
           }});
    }
    if (callbacks.parse_inbound) {
      routes.push_back(
          {base + "/inbound", [webhooks](const HttpRequest& request, HttpResponder respond) {
             webhooks->inbound(request, respond);
           }});
    }
  }
  return routes;
}

}  // namespace smsbridge
