#include "providers/http_provider.h"

#include "core/json_text.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>

namespace smsbridge {

SendResult classifyTransportError(const HttpClientResponse& response) {
  SendResult result;
  result.kind = SendResultKind::kRetryLater;
  result.error_code = std::string(httpErrorName(response.error));
  switch (response.error) {
    case HttpError::kConnect:
    case HttpError::kConnectTimeout:
    case HttpError::kTls:
      result.ambiguous = false;
      result.reason = "the request did not reach the provider: " + response.error_message;
      break;
    case HttpError::kTimeout:
    case HttpError::kOther:
      result.ambiguous = true;
      result.reason =
          "no complete answer; the provider may have taken the message: " + response.error_message;
      break;
    case HttpError::kTooLarge:
      result.ambiguous = true;
      result.reason = "the answer exceeded max_response_bytes; it may have been an acceptance";
      break;
    case HttpError::kNone:
      // Not a transport error: the caller classifies the response instead.
      result.ambiguous = true;
      result.reason = "internal: classifyTransportError without an error";
      break;
  }
  return result;
}

SendResult classifyHttpStatus(int status, std::string reason) {
  SendResult result;
  result.http_status = status;
  result.reason = std::move(reason);
  if (status == 401 || status == 403) {
    result.kind = SendResultKind::kFailOver;
  } else if (status == 408 || status == 429) {
    // 408: the server gave up reading the request; 429: it refused it unprocessed.
    result.kind = SendResultKind::kRetryLater;
  } else if (status >= 500) {
    result.kind = SendResultKind::kRetryLater;
    result.ambiguous = status == 500 || status == 502 || status == 504;
  } else if (status >= 400) {
    result.kind = SendResultKind::kFailOver;
  } else {
    result.kind = SendResultKind::kRetryLater;
    result.ambiguous = true;
  }
  return result;
}

SendResult classifyHttpResponse(const HttpApi& api, const HttpClientResponse& response,
                                const OutgoingSms& sms, TimePoint now) {
  if (response.error != HttpError::kNone) return classifyTransportError(response);
  SendResult result = api.classifySendResponse(response, sms);
  if (result.http_status == 0) result.http_status = response.status;
  if (!result.retry_after && result.kind == SendResultKind::kRetryLater) {
    result.retry_after = parseRetryAfter(response.header("Retry-After"), now);
  }
  return result;
}

namespace {

std::optional<std::int64_t> parseDigits(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// IMF-fixdate (RFC 9110 §5.6.7), the only HTTP-date form servers may still generate.
std::optional<TimePoint> parseImfFixdate(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  auto number = [&](std::size_t pos, std::size_t len) {
    return parseDigits(text.substr(pos, len));
  };
  auto day = number(5, 2), year = number(12, 4), hour = number(17, 2), minute = number(20, 2),
       second = number(23, 2);
  if (!day || !year || !hour || !minute || !second || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':') {
    return std::nullopt;
  }
  unsigned month = 0;
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (text.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  using namespace std::chrono;
  year_month_day date{std::chrono::year(static_cast<int>(*year)), std::chrono::month(month),
                      std::chrono::day(static_cast<unsigned>(*day))};
  if (month == 0 || !date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  return sys_days(date) + hours(*hour) + minutes(*minute) + seconds(*second);
}

}  // namespace

std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value, TimePoint now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (auto seconds = parseDigits(value)) return std::chrono::seconds(*seconds);
  auto date = parseImfFixdate(value);
  if (!date) return std::nullopt;
  if (*date <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*date - now);
}

HttpProvider::HttpProvider(std::string name, std::shared_ptr<const HttpApi> api,
                           std::shared_ptr<HttpTransport> transport, const Clock& clock)
    : name_(std::move(name)),
      api_(std::move(api)),
      transport_(std::move(transport)),
      clock_(clock) {}

HttpProvider::~HttpProvider() { transport_->shutdown(); }

void HttpProvider::send(const OutgoingSms& sms, SendCallback done) {
  if (*shut_down_) {
    spdlog::warn(
        "A send after shutdown is dropped unsent; its job stays leased. provider={} job={}", name_,
        sms.job_id);
    return;
  }
  auto request = api_->buildSendRequest(sms, clock_.now());
  if (!request) {
    SendResult result;
    result.kind = request.error().category() == ErrorCategory::kRejected
                      ? SendResultKind::kRejected
                      : SendResultKind::kFailOver;
    result.reason = request.error().message();
    done(std::move(result));
    return;
  }
  // The transport runs no callback after shutdown(), which runs before this object goes away;
  // the flag makes that hold even for a transport that calls back late.
  transport_->execute(std::move(*request), [this, sms, done = std::move(done),
                                            shut_down = shut_down_](HttpClientResponse response) {
    if (*shut_down) return;
    SendResult result = classifyHttpResponse(*api_, response, sms, clock_.now());
    if (result.ambiguous) {
      spdlog::warn(
          "A send may have reached the provider without an acceptance; a resend can duplicate "
          "the SMS. provider={} job={} http_status={} error={} reason={}",
          name_, sms.job_id, result.http_status, result.error_code, result.reason);
    }
    done(std::move(result));
  });
}

void HttpProvider::shutdown() {
  *shut_down_ = true;
  transport_->shutdown();
}

std::function<Result<std::unique_ptr<Provider>>(boost::asio::io_context&)> httpProviderFactory(
    HttpProviderSpec spec) {
  return
      [spec = std::move(spec)](boost::asio::io_context& io) -> Result<std::unique_ptr<Provider>> {
        auto transport = makeHttpClient(io, spec.client);
        return std::unique_ptr<Provider>(std::make_unique<HttpProvider>(
            spec.name, spec.api, std::move(transport), SystemClock::instance()));
      };
}

namespace {

// The `status_poll` block every HTTP provider accepts (core/status_poller.h).
const config::Schema& statusPollSchema() {
  using namespace config;
  static const Schema schema{
      "status poll",
      "Asking the provider for delivery statuses, for bridges the provider cannot reach with "
      "delivery-report webhooks (no public URL).",
      {
          boolean("enabled", false,
                  "Poll this provider for the status of jobs that stay `sent` without a final "
                  "status."),
          duration("after", "10m",
                   "How long a job must have been `sent` before it is asked about. Each job is "
                   "asked again once its age has doubled (at 10m, 20m, 40m...)."),
          duration("every", "1m", "How often to look for jobs to ask about."),
          number("per_second", 2,
                 "Most status requests per second to this provider (Twilio asks one message "
                 "per request, SMSAPI 20, MessageFlow lists a time window of up to 50 jobs)."),
          duration("max_age", "48h",
                   "Jobs sent longer ago than this are no longer asked about; they stay `sent`."),
      },
      "",
      {}};
  return schema;
}

}  // namespace

std::vector<config::Field> httpProviderFields() {
  using namespace config;
  return {
      str("base_url",
          "Where the API is, instead of the provider's public endpoint (a proxy, a test "
          "server). `https://` or `http://`, no trailing path."),
      duration("connect_timeout", "5s",
               "Longest wait for a connection. A send that fails to connect is retried without "
               "risk of a duplicate."),
      duration("timeout", "15s",
               "Longest wait for the whole request, connect included. A send that times out "
               "may have reached the provider: it is retried and counted as ambiguous."),
      str("ca_file", "", "PEM bundle of CAs to trust instead of the system's."),
      str("ca_path", "", "Directory of hashed CA certificates to trust instead of the system's."),
      integer("max_response_bytes", 1 << 20,
              "Largest response body read; a longer one counts as an ambiguous failure."),
      str("status_callback_url",
          "Public URL the provider posts delivery reports to (smsbridge's webhook for this "
          "provider). Empty: no per-message callback; reports then come only from a callback "
          "set up in the provider's panel."),
      object("status_poll", statusPollSchema(),
             "Polling delivery statuses instead of (or besides) webhooks."),
      secret("webhook_token",
             "Secret that authenticates this provider's webhooks: give the provider URLs "
             "ending in `?token=<this value>` (`/webhooks/<name>/status`, "
             "`/webhooks/<name>/inbound`); callbacks without it get 403. Twilio callbacks are "
             "checked by their signature instead; a token set for Twilio is required as well. "
             "Empty: webhooks of token-authenticated providers refuse every callback."),
  };
}

namespace {

bool isHttpUrl(std::string_view url) {
  auto rest_after = [&](std::string_view scheme) {
    return url.substr(0, scheme.size()) == scheme && url.size() > scheme.size();
  };
  return rest_after("https://") || rest_after("http://");
}

}  // namespace

std::optional<HttpEndpointConfig> parseHttpEndpoint(const config::Section& section,
                                                    std::string default_base_url,
                                                    config::Diagnostics& diagnostics) {
  HttpEndpointConfig out;
  bool ok = true;
  out.base_url = section.has("base_url") ? section.str("base_url") : std::move(default_base_url);
  while (!out.base_url.empty() && out.base_url.back() == '/') out.base_url.pop_back();
  if (!isHttpUrl(out.base_url)) {
    diagnostics.add(section.at("base_url", "must start with https:// or http://"));
    ok = false;
  }
  out.status_callback_url = section.str("status_callback_url");
  if (!out.status_callback_url.empty() && !isHttpUrl(out.status_callback_url)) {
    diagnostics.add(section.at("status_callback_url", "must start with https:// or http://"));
    ok = false;
  }
  out.client.connect_timeout = section.duration("connect_timeout");
  out.client.timeout = section.duration("timeout");
  for (const char* key : {"connect_timeout", "timeout"}) {
    if (section.duration(key) <= std::chrono::milliseconds(0)) {
      diagnostics.add(section.at(key, "must be longer than 0"));
      ok = false;
    }
  }
  out.client.ca_file = section.resolvePath("ca_file");
  out.client.ca_path = section.resolvePath("ca_path");
  std::int64_t max_bytes = section.integer("max_response_bytes");
  if (max_bytes < 1024) {
    diagnostics.add(section.at("max_response_bytes", "must be at least 1024"));
    ok = false;
  }
  out.client.max_response_bytes = static_cast<std::size_t>(std::max<std::int64_t>(max_bytes, 0));
  config::Section poll = section.object("status_poll");
  out.status_poll.enabled = poll.boolean("enabled");
  out.status_poll.after = poll.duration("after");
  out.status_poll.every = poll.duration("every");
  out.status_poll.per_second = poll.number("per_second");
  out.status_poll.max_age = poll.duration("max_age");
  for (const char* key : {"after", "every", "max_age"}) {
    if (poll.duration(key) <= std::chrono::milliseconds(0)) {
      diagnostics.add(poll.at(key, "must be longer than 0"));
      ok = false;
    }
  }
  if (out.status_poll.per_second <= 0) {
    diagnostics.add(poll.at("per_second", "must be more than 0"));
    ok = false;
  }
  if (out.status_poll.max_age <= out.status_poll.after) {
    diagnostics.add(poll.at("max_age", "must be longer than `after`"));
    ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> readSecret(const config::Section& section, std::string_view key,
                                      config::Diagnostics& diagnostics) {
  auto value = section.secret(key);
  if (!value) {
    diagnostics.add(section.at(key, value.error().message()));
    return std::nullopt;
  }
  return *value;
}

std::optional<WebhookSecrets> parseUrlTokenSecrets(const config::Section& section,
                                                   config::Diagnostics& diagnostics) {
  auto token = readSecret(section, "webhook_token", diagnostics);
  if (!token) return std::nullopt;
  return WebhookSecrets{*token, ""};
}

std::string jsonString(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

nlohmann::json parseJsonMembers(std::string_view text,
                                std::initializer_list<std::string_view> keys) {
  using nlohmann::json;
  auto wanted = [keys](int depth, json::parse_event_t event, json& parsed) {
    if (depth != 1 || event != json::parse_event_t::key) return true;
    const std::string& key = parsed.get_ref<const std::string&>();
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  return json::parse(text, wanted, /*allow_exceptions=*/false);
}

std::optional<double> jsonNumber(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    const std::string text = it->get<std::string>();
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) return value;
  }
  return std::nullopt;
}

std::string digitsOnly(std::string_view phone) {
  std::string out;
  for (char c : phone) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    // Not std::isalnum: it depends on the locale, the wire format does not.
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

std::string formEncode(const FormFields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += percentEncode(name);
    out += '=';
    out += percentEncode(value);
  }
  return out;
}

std::string basicAuthorization(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string plain = std::string(user) + ":" + std::string(password);
  std::string out;
  for (std::size_t i = 0; i < plain.size(); i += 3) {
    std::uint32_t chunk = static_cast<unsigned char>(plain[i]) << 16;
    if (i + 1 < plain.size()) chunk |= static_cast<unsigned char>(plain[i + 1]) << 8;
    if (i + 2 < plain.size()) chunk |= static_cast<unsigned char>(plain[i + 2]);
    out += kAlphabet[(chunk >> 18) & 0x3F];
    out += kAlphabet[(chunk >> 12) & 0x3F];
    out += i + 1 < plain.size() ? kAlphabet[(chunk >> 6) & 0x3F] : '=';
    out += i + 2 < plain.size() ? kAlphabet[chunk & 0x3F] : '=';
  }
  return "Basic " + out;
}

std::int64_t secondsUntil(TimePoint expires_at, TimePoint now) {
  if (expires_at <= now) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(expires_at - now).count();
}

}  // namespace smsbridge
