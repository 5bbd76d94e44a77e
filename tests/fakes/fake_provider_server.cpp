#include "tests/fakes/fake_provider_server.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace smsbridge::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Params = std::vector<std::pair<std::string, std::string>>;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using json = nlohmann::json;

namespace {

constexpr std::string_view kTwilioApiVersion = "2010-04-01";
constexpr std::chrono::seconds kCallbackTimeout{5};

// ---------------------------------------------------------------------------------------------
// Small text helpers: the fake parses forms and URLs itself so it depends on nothing under test.

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string urlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string urlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Params parseForm(std::string_view body) {
  Params out;
  if (body.empty()) return out;
  for (const auto& pair : split(body, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string::npos) {
      out.emplace_back(urlDecode(pair), "");
    } else {
      out.emplace_back(urlDecode(pair.substr(0, eq)), urlDecode(pair.substr(eq + 1)));
    }
  }
  return out;
}

std::string formEncode(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += urlEncode(name) + "=" + urlEncode(value);
  }
  return out;
}

std::string paramOf(const Params& params, std::string_view name) {
  for (const auto& [n, v] : params) {
    if (n == name) return v;
  }
  return {};
}

std::string base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(3 * in.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  if (!in.empty() && in.back() == '=') ++padding;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string digitsOf(std::string_view number) {
  std::string out;
  for (char c : number) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// MessageFlow and Twilio take E.164 with '+'.
bool isE164(std::string_view number) {
  if (number.size() < 8 || number.size() > 16 || number[0] != '+' || number[1] == '0') {
    return false;
  }
  return allDigits(number.substr(1));
}

// SMSAPI's PhoneNumber pattern is [0-9]{8,16}; a leading '+' is tolerated.
bool isSmsapiNumber(std::string_view number) {
  if (!number.empty() && number[0] == '+') number.remove_prefix(1);
  return number.size() >= 8 && number.size() <= 16 && allDigits(number);
}

std::string isoTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string formatTime(std::chrono::system_clock::time_point t, const char* format) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "http://host[:port]/path?query"; callbacks to https are not supported by the fake.
struct Url {
  std::string host;
  std::string port;
  std::string target;
};

std::optional<Url> parseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  url.remove_prefix(kScheme.size());
  size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  Url out;
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    out.host = std::string(authority);
    out.port = "80";
  } else {
    out.host = std::string(authority.substr(0, colon));
    out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || !allDigits(out.port)) return std::nullopt;
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public helpers

std::string_view fakeApiName(FakeApi api) {
  switch (api) {
    case FakeApi::kMessageFlow:
      return "messageflow";
    case FakeApi::kSmsapi:
      return "smsapi";
    case FakeApi::kTwilio:
      return "twilio";
  }
  return "unknown";
}

std::optional<FakeApi> parseFakeApi(std::string_view name) {
  for (FakeApi api : {FakeApi::kMessageFlow, FakeApi::kSmsapi, FakeApi::kTwilio}) {
    if (fakeApiName(api) == name) return api;
  }
  return std::nullopt;
}

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  std::string t = trim(text);
  size_t digits = 0;
  while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
  if (digits == 0) return configError("'" + t + "' is not a duration (e.g. 50ms, 2s)");
  int64_t value = 0;
  std::from_chars(t.data(), t.data() + digits, value);
  std::string unit = t.substr(digits);
  if (unit.empty() || unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "s") return std::chrono::milliseconds(value * 1000);
  if (unit == "m") return std::chrono::milliseconds(value * 60'000);
  return configError("'" + t + "' has an unknown unit; use ms, s or m");
}

Result<Fault> parseFault(std::string_view spec) {
  auto parts = split(spec, ',');
  Fault fault;
  std::string kind = trim(parts[0]);
  if (kind == "none") {
    fault.kind = FaultKind::kNone;
  } else if (kind == "500") {
    fault.kind = FaultKind::kHttp500;
  } else if (kind == "503") {
    fault.kind = FaultKind::kHttp503;
  } else if (kind == "429") {
    fault.kind = FaultKind::kHttp429;
  } else if (kind == "stall") {
    fault.kind = FaultKind::kStall;
  } else if (kind == "reset") {
    fault.kind = FaultKind::kReset;
  } else if (kind == "delay") {
    fault.kind = FaultKind::kDelayedAnswer;
  } else {
    return configError("unknown fault '" + kind +
                       "'; expected none, 500, 503, 429, stall, reset or delay");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string option = trim(parts[i]);
    size_t eq = option.find('=');
    std::string key = option.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : option.substr(eq + 1);
    if (key == "count") {
      int count = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
      if (ec != std::errc() || ptr != value.data() + value.size() || count < 1) {
        return configError("fault count '" + value + "' must be a positive integer");
      }
      fault.count = count;
    } else if (key == "retry_after" || key == "delay") {
      // Retry-After is a number of seconds on the wire; let a bare number mean that here too.
      if (key == "retry_after" && allDigits(value)) value += "s";
      auto duration = parseDuration(value);
      if (!duration) return duration.error();
      if (key == "delay") {
        fault.delay = *duration;
      } else {
        fault.retry_after = std::chrono::duration_cast<std::chrono::seconds>(*duration);
      }
    } else {
      return configError("unknown fault option '" + key +
                         "'; expected count, retry_after or delay");
    }
  }
  return fault;
}

std::string twilioSignature(std::string_view auth_token, std::string_view url, Params params) {
  std::sort(params.begin(), params.end());
  params.erase(std::unique(params.begin(), params.end()), params.end());
  std::string data(url);
  for (const auto& [name, value] : params) data += name + value;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &digest_len);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

// ---------------------------------------------------------------------------------------------
// The server

namespace {

// A send request with the API-specific field names already resolved.
struct SendRequest {
  FakeApi api{};
  std::vector<std::string> to;
  std::string from;
  std::string text;
  std::vector<std::string> refs;  // idx per recipient (SMSAPI) or externalId (MessageFlow)
  std::string raw_ref;
  std::string callback_url;
  std::string attempt;
  bool smsapi_json = false;
  bool smsapi_check_idx = false;
  bool body_ok = true;  // the body parsed as the API's content type
};

// One accepted recipient, for the answer and its delivery report.
struct Accepted {
  std::string to;
  std::string ref;
  std::string id;
};

// An accepted message as status queries see it.
struct AcceptedMessage {
  FakeApi api{};
  std::string id;
  std::string ref;
  std::string to;
  std::string from;
  Clock::time_point accepted_at;
};

struct CallbackJob {
  FakeApi api{};
  std::string url;
  Accepted message;
  std::string from;
  std::string batch_id;  // MessageFlow uniqId
};

enum class Action { kAnswer, kStall, kReset };

struct Reply {
  Response response;
  Action action = Action::kAnswer;
  std::chrono::milliseconds wait{0};
};

Response jsonResponse(http::status status, const json& body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = body.dump();
  return res;
}

Response textResponse(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  return res;
}

}  // namespace

class FakeProviderServer::Impl {
 public:
  explicit Impl(FakeProviderOptions options)
      : options_(std::move(options)), rng_(std::random_device{}()) {
    io_.emplace();
    acceptor_.emplace(*io_);
    faults_ = options_.faults;
    latency_ = options_.latency;
    mps_ = options_.mps;
    dlr_status_ = options_.dlr_status;
    id_prefix_ = rng_();
  }

  ~Impl() { stop(); }

  Status listen() {
    beast::error_code ec;
    auto address = net::ip::make_address(options_.listen_address, ec);
    if (ec) return configError("bad listen address '" + options_.listen_address + "'");
    tcp::endpoint endpoint(address, options_.port);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return transientError("cannot listen on " + options_.listen_address + ":" +
                            std::to_string(options_.port) + ": " + ec.message());
    }
    endpoint_ = acceptor_->local_endpoint();
    port_ = endpoint_.port();
    if (!options_.ledger_path.empty()) {
      ledger_file_ = std::fopen(options_.ledger_path.c_str(), "w");
      if (ledger_file_ == nullptr) {
        return configError("cannot open the ledger file '" + options_.ledger_path + "'");
      }
    }
    return Status::ok();
  }

  void run() {
    net::co_spawn(*io_, accept(), net::detached);
    int threads = std::max(1, options_.threads);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_->run(); });
  }

  void stop() {
    std::call_once(stopped_, [this] {
      io_->stop();
      for (auto& t : threads_) t.join();
      threads_.clear();
      acceptor_.reset();
      io_.reset();
      if (ledger_file_ != nullptr) std::fclose(ledger_file_);
      ledger_file_ = nullptr;
    });
  }

  uint16_t port() const { return port_; }
  std::string baseUrl() const {
    auto address = endpoint_.address();
    std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return "http://" + host + ":" + std::to_string(port_);
  }

  void setFault(FakeApi api, Fault fault) {
    std::lock_guard lock(mu_);
    faults_[api] = fault;
  }
  void setLatency(std::chrono::milliseconds latency) {
    std::lock_guard lock(mu_);
    latency_ = latency;
  }
  void setMps(int mps) {
    std::lock_guard lock(mu_);
    mps_ = mps;
    windows_.clear();
  }
  void setDlrStatus(std::string status) {
    std::lock_guard lock(mu_);
    dlr_status_ = std::move(status);
  }
  std::vector<LedgerEntry> ledger() const {
    std::lock_guard lock(mu_);
    return ledger_;
  }
  std::vector<CallbackAttempt> callbacks() const {
    std::lock_guard lock(mu_);
    return callbacks_;
  }

 private:
  net::awaitable<void> accept() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket(*io_);
      co_await acceptor_->async_accept(socket, net::redirect_error(net::use_awaitable, ec));
      if (ec == net::error::operation_aborted) co_return;
      if (ec) continue;
      socket.set_option(tcp::no_delay(true), ec);
      net::co_spawn(*io_, session(std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> session(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      beast::error_code ec;
      Request request;
      co_await http::async_read(socket, buffer, request,
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      Reply reply = handle(request);
      if (reply.action == Action::kReset) {
        // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        socket.set_option(net::socket_base::linger(true, 0), ec);
        socket.close(ec);
        co_return;
      }
      if (reply.action == Action::kStall) {
        co_await drainUntilClosed(socket);
        co_return;
      }
      if (reply.wait.count() > 0) {
        net::steady_timer timer(*io_, reply.wait);
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      reply.response.keep_alive(request.keep_alive());
      reply.response.prepare_payload();
      co_await http::async_write(socket, reply.response,
                                 net::redirect_error(net::use_awaitable, ec));
      if (ec || !request.keep_alive()) break;
    }
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
  }

  // A stalled connection stays open until the client gives up.
  net::awaitable<void> drainUntilClosed(tcp::socket& socket) {
    char scratch[512];
    for (;;) {
      beast::error_code ec;
      co_await socket.async_read_some(net::buffer(scratch),
                                      net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  // ---- request handling ----------------------------------------------------------------------

  Reply handle(const Request& request) {
    std::string_view target(request.target().data(), request.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query =
        path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view();

    if (path.substr(0, 7) == "/_fake/") return control(request, path);

    LedgerEntry entry;
    entry.time = isoTime(std::chrono::system_clock::now());
    entry.method = std::string(request.method_string());
    entry.path = std::string(path);
    entry.commit_ts = std::string(request["X-Bench-Commit-Ts"]);

    if (request.method() == http::verb::get) {
      if (auto reply = statusQuery(request, path, query, entry)) return std::move(*reply);
    }

    std::optional<FakeApi> api;
    std::string twilio_sid;
    if (request.method() == http::verb::post && path == "/v2.1/sms") {
      api = FakeApi::kMessageFlow;
    } else if (request.method() == http::verb::post && path == "/sms.do") {
      api = FakeApi::kSmsapi;
    } else if (request.method() == http::verb::post) {
      constexpr std::string_view kPrefix = "/2010-04-01/Accounts/";
      constexpr std::string_view kSuffix = "/Messages.json";
      if (path.size() > kPrefix.size() + kSuffix.size() &&
          path.substr(0, kPrefix.size()) == kPrefix &&
          path.substr(path.size() - kSuffix.size()) == kSuffix) {
        api = FakeApi::kTwilio;
        twilio_sid =
            std::string(path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size()));
      }
    }
    if (!api) {
      entry.api = "unknown";
      entry.http_status = 404;
      entry.outcome = "not_found";
      record(std::move(entry));
      return {textResponse(http::status::not_found, "no such endpoint\n")};
    }
    entry.api = std::string(fakeApiName(*api));

    SendRequest send = parseSend(*api, request, query);
    entry.to = join(send.to, ",");
    entry.from = send.from;
    entry.text = send.text;
    entry.ref = send.raw_ref;
    entry.attempt = send.attempt;

    std::lock_guard lock(mu_);
    Reply reply = decide(send, request, twilio_sid, entry);
    entry.http_status =
        reply.action == Action::kAnswer ? static_cast<int>(reply.response.result_int()) : 0;
    recordLocked(std::move(entry));
    return reply;
  }

  // Everything below runs under mu_: faults, limits and the idx registry are shared state.
  Reply decide(const SendRequest& send, const Request& request, const std::string& twilio_sid,
               LedgerEntry& entry) {
    Fault fault = takeFault(send.api);
    if (auto reply = faultReply(send.api, fault, entry)) return std::move(*reply);

    Reply reply = withLatency(process(send, request, twilio_sid, entry));
    if (fault.kind == FaultKind::kDelayedAnswer) reply.wait = fault.delay;
    return reply;
  }

  // The answer a fault replaces the normal one with; nullopt when the request is processed.
  std::optional<Reply> faultReply(FakeApi api, const Fault& fault, LedgerEntry& entry) {
    switch (fault.kind) {
      case FaultKind::kStall:
        entry.outcome = "stall";
        return Reply{Response{}, Action::kStall};
      case FaultKind::kReset:
        entry.outcome = "reset";
        return Reply{Response{}, Action::kReset};
      case FaultKind::kHttp500:
        entry.outcome = "fault_500";
        return withLatency(serverError(api, http::status::internal_server_error));
      case FaultKind::kHttp503:
        entry.outcome = "fault_503";
        return withLatency(serverError(api, http::status::service_unavailable));
      case FaultKind::kHttp429:
        entry.outcome = "fault_429";
        return withLatency(throttled(api, fault.retry_after));
      case FaultKind::kNone:
      case FaultKind::kDelayedAnswer:
        break;
    }
    return std::nullopt;
  }

  // ---- status queries (status polling) --------------------------------------------------------

  // Answers GET Messages/{sid}.json (Twilio), GET sms.do?status= (SMSAPI) and GET /v2.1/sms
  // (MessageFlow) about the messages this server accepted; nullopt for any other GET.
  std::optional<Reply> statusQuery(const Request& request, std::string_view path,
                                   std::string_view query, LedgerEntry& entry) {
    std::optional<FakeApi> api;
    std::string account_sid;
    std::string message_sid;
    constexpr std::string_view kPrefix = "/2010-04-01/Accounts/";
    constexpr std::string_view kMessages = "/Messages/";
    constexpr std::string_view kJson = ".json";
    if (path == "/v2.1/sms") {
      api = FakeApi::kMessageFlow;
      entry.ref = std::string(query);
    } else if (path == "/sms.do") {
      api = FakeApi::kSmsapi;
      entry.ref = paramOf(parseForm(query), "status");
    } else if (path.substr(0, kPrefix.size()) == kPrefix && path.ends_with(kJson)) {
      std::string_view rest = path.substr(kPrefix.size(), path.size() - kPrefix.size() - 5);
      auto at = rest.find(kMessages);
      if (at == std::string_view::npos) return std::nullopt;
      api = FakeApi::kTwilio;
      account_sid = std::string(rest.substr(0, at));
      message_sid = std::string(rest.substr(at + kMessages.size()));
      entry.ref = message_sid;
    }
    if (!api) return std::nullopt;
    entry.api = std::string(fakeApiName(*api));
    std::lock_guard lock(mu_);
    Reply reply = statusReply(*api, request, account_sid, message_sid, entry);
    entry.http_status =
        reply.action == Action::kAnswer ? static_cast<int>(reply.response.result_int()) : 0;
    recordLocked(std::move(entry));
    return reply;
  }

  Reply statusReply(FakeApi api, const Request& request, const std::string& account_sid,
                    const std::string& message_sid, LedgerEntry& entry) {
    if (auto reply = faultReply(api, takeFault(api), entry)) return std::move(*reply);
    SendRequest who;
    who.api = api;
    if (!authorized(api, request, account_sid)) {
      entry.outcome = "auth_failed";
      return withLatency(authError(who));
    }
    entry.outcome = "status";
    switch (api) {
      case FakeApi::kTwilio: {
        for (const auto& m : accepted_) {
          if (m.api != api || m.id != message_sid) continue;
          std::string status = statusNow(m);
          json body = {{"sid", m.id},
                       {"account_sid", account_sid},
                       {"to", m.to},
                       {"from", m.from},
                       {"status", status},
                       {"error_code", nullptr},
                       {"error_message", nullptr}};
          if (status == "expired") {
            body["status"] = "undelivered";
            body["error_code"] = 30036;
            body["error_message"] = "Validity Period Expired";
          } else if (status == "undelivered" || status == "failed") {
            body["error_code"] = status == "failed" ? 30008 : 30003;
          }
          return withLatency(jsonResponse(http::status::ok, body));
        }
        entry.outcome = "not_found";
        return withLatency(jsonResponse(http::status::not_found,
                                        {{"code", 20404},
                                         {"message", "The requested resource was not found"},
                                         {"more_info", "https://www.twilio.com/docs/errors/20404"},
                                         {"status", 404}}));
      }
      case FakeApi::kSmsapi: {
        json list = json::array();
        for (const auto& id : split(entry.ref, '|')) {
          for (const auto& m : accepted_) {
            if (m.api != api || m.id != id) continue;
            std::string name = statusNow(m);
            for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            list.push_back({{"id", m.id},
                            {"points", 0.165},
                            {"number", digitsOf(m.to)},
                            {"submitted_number", digitsOf(m.to)},
                            {"status", name},
                            {"error", nullptr},
                            {"idx", m.ref},
                            {"parts", 1}});
          }
        }
        if (list.empty()) {
          entry.outcome = "not_found";
          return withLatency(smsapiError(who, 301, "Not exists ID message"));
        }
        return withLatency(
            jsonResponse(http::status::ok, {{"count", list.size()}, {"list", list}}));
      }
      case FakeApi::kMessageFlow: {
        // [inference] Listed with the documented status names; the API's numeric data[].status
        // values are not public (providers.md §1.2).
        json data = json::array();
        for (const auto& m : accepted_) {
          if (m.api != api) continue;
          data.push_back({{"sender", m.from},
                          {"phoneNumber", m.to},
                          {"externalId", m.ref},
                          {"status", messageflowStatus(statusNow(m))},
                          {"numberOfParts", 1}});
        }
        if (data.empty()) {
          entry.outcome = "not_found";
          return withLatency(jsonResponse(
              http::status::not_found,
              {{"data", json::array()}, {"errors", json::array()}, {"meta", {{"status", 404}}}}));
        }
        return withLatency(jsonResponse(
            http::status::ok, {{"data", data},
                               {"errors", json::array()},
                               {"meta", {{"numberOfData", data.size()}, {"status", 200}}}}));
      }
    }
    return withLatency(textResponse(http::status::not_found, "no such endpoint\n"));
  }

  // What a status query says about an accepted message now: "sent" until dlr_delay has
  // passed, then each status of the dlr_status sequence in turn, like its callbacks.
  std::string statusNow(const AcceptedMessage& m) const {
    std::vector<std::string> statuses = split(dlr_status_, ',');
    if (statuses.empty()) return "sent";
    auto elapsed = Clock::now() - m.accepted_at;
    std::size_t step = options_.dlr_delay.count() <= 0
                           ? statuses.size()
                           : static_cast<std::size_t>(elapsed / options_.dlr_delay);
    if (step == 0) return "sent";
    return trim(statuses[std::min(step, statuses.size()) - 1]);
  }

  Reply withLatency(Response response) { return {std::move(response), Action::kAnswer, latency_}; }

  Fault takeFault(FakeApi api) {
    auto it = faults_.find(api);
    if (it == faults_.end() || it->second.kind == FaultKind::kNone) return {};
    Fault fault = it->second;
    if (it->second.count && --*it->second.count <= 0) faults_.erase(it);
    return fault;
  }

  Response process(const SendRequest& send, const Request& request, const std::string& twilio_sid,
                   LedgerEntry& entry) {
    if (!authorized(send.api, request, twilio_sid)) {
      entry.outcome = "auth_failed";
      return authError(send);
    }
    if (auto bad = missingField(send)) {
      entry.outcome = "bad_request";
      return badRequest(send, *bad);
    }
    std::vector<std::string> valid;
    std::vector<std::string> invalid;
    std::vector<std::string> valid_refs;
    for (size_t i = 0; i < send.to.size(); ++i) {
      if (numberValid(send.api, send.to[i])) {
        valid.push_back(send.to[i]);
        // SMSAPI pairs the i-th '|'-separated idx with the i-th recipient; MessageFlow's
        // externalId covers the whole request.
        if (send.api == FakeApi::kSmsapi) {
          valid_refs.push_back(i < send.refs.size() ? send.refs[i] : "");
        } else {
          valid_refs.push_back(send.raw_ref);
        }
      } else {
        invalid.push_back(send.to[i]);
      }
    }
    if (valid.empty()) {
      entry.outcome = "invalid_number";
      return invalidNumber(send, invalid);
    }
    // Before the rate limit: a duplicate sends nothing, so it must not use up the budget.
    if (send.api == FakeApi::kSmsapi && send.smsapi_check_idx) {
      for (const auto& ref : valid_refs) {
        if (!ref.empty() && used_idx_.contains(ref)) {
          entry.outcome = "duplicate_idx";
          return smsapiError(send, 53, "Duplicated idx");
        }
      }
    }
    if (!withinMps(send, valid.size())) {
      entry.outcome = "throttled";
      return throttled(send.api, std::chrono::seconds(1));
    }
    std::vector<Accepted> accepted;
    for (size_t i = 0; i < valid.size(); ++i) {
      accepted.push_back({valid[i], valid_refs[i], newMessageId(send.api)});
      if (send.api == FakeApi::kSmsapi && !valid_refs[i].empty()) used_idx_.insert(valid_refs[i]);
    }
    for (const auto& a : accepted) {
      accepted_.push_back({send.api, a.id, a.ref, a.to, send.from, Clock::now()});
    }
    std::string batch_id = send.api == FakeApi::kMessageFlow ? hexId(32) : "";
    entry.outcome = "accepted";
    std::vector<std::string> ids;
    for (const auto& a : accepted) ids.push_back(a.id);
    entry.provider_id = send.api == FakeApi::kMessageFlow ? batch_id : join(ids, ",");
    if (!send.callback_url.empty()) {
      for (const auto& a : accepted) {
        net::co_spawn(*io_, deliverReport({send.api, send.callback_url, a, send.from, batch_id}),
                      net::detached);
      }
    }
    return success(send, accepted, invalid, batch_id);
  }

  SendRequest parseSend(FakeApi api, const Request& request, std::string_view query) {
    SendRequest send;
    send.api = api;
    const std::string& body = request.body();
    auto content_type = request[http::field::content_type];
    bool is_json = content_type.find("application/json") != beast::string_view::npos;
    if (api == FakeApi::kMessageFlow) {
      json doc = json::parse(body, nullptr, false);
      if (doc.is_discarded() || !doc.is_object()) {
        send.body_ok = false;
        return send;
      }
      send.from = stringField(doc, "sender");
      send.text = stringField(doc, "message");
      send.raw_ref = stringField(doc, "externalId");
      send.callback_url = stringField(doc, "webhookUrl");
      if (doc.contains("phoneNumbers") && doc["phoneNumbers"].is_array()) {
        for (const auto& n : doc["phoneNumbers"]) {
          if (n.is_string()) send.to.push_back(n.get<std::string>());
        }
      }
      return send;
    }
    if (api == FakeApi::kTwilio) {
      Params form = parseForm(body);
      send.to = {paramOf(form, "To")};
      if (send.to[0].empty()) send.to.clear();
      send.from = paramOf(form, "From");
      if (send.from.empty()) send.from = paramOf(form, "MessagingServiceSid");
      send.text = paramOf(form, "Body");
      send.callback_url = paramOf(form, "StatusCallback");
      send.attempt = paramOf(form, "Attempt");
      return send;
    }
    // SMSAPI takes its parameters from the query, a form body or a JSON body alike.
    Params params = parseForm(query);
    if (is_json) {
      json doc = json::parse(body, nullptr, false);
      if (doc.is_discarded() || !doc.is_object()) {
        send.body_ok = false;
      } else {
        for (const auto& [key, value] : doc.items()) {
          if (value.is_string()) {
            params.emplace_back(key, value.get<std::string>());
          } else if (value.is_array()) {
            std::vector<std::string> parts;
            for (const auto& v : value)
              parts.push_back(v.is_string() ? v.get<std::string>() : v.dump());
            params.emplace_back(key, join(parts, ","));
          } else if (value.is_boolean()) {
            params.emplace_back(key, value.get<bool>() ? "1" : "0");
          } else {
            params.emplace_back(key, value.dump());
          }
        }
      }
    } else {
      Params form = parseForm(body);
      params.insert(params.end(), form.begin(), form.end());
    }
    for (const auto& n : split(paramOf(params, "to"), ',')) {
      if (!trim(n).empty()) send.to.push_back(trim(n));
    }
    send.from = paramOf(params, "from");
    if (send.from.empty()) send.from = "Test";
    send.text = paramOf(params, "message");
    send.raw_ref = paramOf(params, "idx");
    if (!send.raw_ref.empty()) send.refs = split(send.raw_ref, '|');
    send.callback_url = paramOf(params, "notify_url");
    send.smsapi_json = paramOf(params, "format") == "json";
    send.smsapi_check_idx = paramOf(params, "check_idx") == "1";
    return send;
  }

  static std::string stringField(const json& doc, const char* name) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  bool authorized(FakeApi api, const Request& request, const std::string& twilio_sid) const {
    const FakeCredentials& c = options_.credentials;
    switch (api) {
      case FakeApi::kMessageFlow:
        return request[http::field::authorization] == c.messageflow_authorization &&
               request["Application-Key"] == c.messageflow_application_key;
      case FakeApi::kSmsapi:
        return request[http::field::authorization] == "Bearer " + c.smsapi_token;
      case FakeApi::kTwilio: {
        auto header = request[http::field::authorization];
        if (header.substr(0, 6) != "Basic ") return false;
        auto rest = header.substr(6);
        auto decoded = base64Decode(std::string_view(rest.data(), rest.size()));
        return decoded && twilio_sid == c.twilio_account_sid &&
               *decoded == c.twilio_account_sid + ":" + c.twilio_auth_token;
      }
    }
    return false;
  }

  // The first required field a request lacks, as the API names it.
  static std::optional<std::string> missingField(const SendRequest& send) {
    if (!send.body_ok) return "body";
    switch (send.api) {
      case FakeApi::kMessageFlow:
        if (send.from.empty()) return "sender";
        if (send.text.empty()) return "message";
        if (send.to.empty()) return "phoneNumbers";
        break;
      case FakeApi::kSmsapi:
        if (send.to.empty()) return "to";
        if (send.text.empty()) return "message";
        break;
      case FakeApi::kTwilio:
        if (send.to.empty()) return "To";
        if (send.from.empty()) return "From";
        if (send.text.empty()) return "Body";
        break;
    }
    return std::nullopt;
  }

  bool numberValid(FakeApi api, const std::string& number) const {
    bool well_formed = api == FakeApi::kSmsapi ? isSmsapiNumber(number) : isE164(number);
    return well_formed && !options_.invalid_numbers.contains(digitsOf(number));
  }

  // A sliding one-second window per (API, sender): "0 requests above MPS in any 1 s window".
  bool withinMps(const SendRequest& send, size_t messages) {
    if (mps_ <= 0) return true;
    auto& window = windows_[std::string(fakeApiName(send.api)) + "|" + send.from];
    auto now = Clock::now();
    while (!window.empty() && now - window.front() >= std::chrono::seconds(1)) window.pop_front();
    if (window.size() + messages > static_cast<size_t>(mps_)) return false;
    for (size_t i = 0; i < messages; ++i) window.push_back(now);
    return true;
  }

  // Unique within the run (the counter), varied across runs (the prefix).
  std::string hexId(size_t length) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(id_prefix_),
                  static_cast<unsigned long long>(++id_counter_));
    return std::string(buf).substr(0, length);
  }

  std::string newMessageId(FakeApi api) {
    switch (api) {
      case FakeApi::kMessageFlow:
        return hexId(32);
      case FakeApi::kSmsapi: {
        uint64_t counter = ++id_counter_;
        return std::to_string(7'000'000'000'000'000'000ULL +
                              (id_prefix_ % 1'000'000) * 1'000'000'000'000ULL +
                              counter % 1'000'000'000'000ULL);
      }
      case FakeApi::kTwilio:
        return "SM" + hexId(32);
    }
    return {};
  }

  // ---- answers per API -----------------------------------------------------------------------

  static json messageflowEnvelope(int status, json data, json errors, size_t sent, size_t not_sent,
                                  const std::string& uniq_id) {
    size_t error_count = errors.size();
    size_t data_count = data.size();
    return {{"data", std::move(data)},
            {"errors", std::move(errors)},
            {"meta",
             {{"sentSms", sent},
              {"notSentSms", not_sent},
              {"accountBalance", "1000.00"},
              {"numberOfErrors", error_count},
              {"numberOfData", data_count},
              {"status", status},
              {"uniqId", uniq_id}}}};
  }

  static json messageflowError(std::string title, std::string message, std::string code,
                               std::string parameter = "", std::string value = "") {
    return {
        {"title", std::move(title)},
        {"message", std::move(message)},
        {"code", std::move(code)},
        {"meta",
         {{"source", "body"}, {"parameter", std::move(parameter)}, {"value", std::move(value)}}}};
  }

  static Response twilioError(http::status status, int code, std::string message) {
    return jsonResponse(
        status, {{"code", code},
                 {"message", std::move(message)},
                 {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
                 {"status", static_cast<int>(status)}});
  }

  // The legacy sms.do answers errors with HTTP 200 (providers.md §2.3).
  static Response smsapiError(const SendRequest& send, int code, std::string message,
                              json invalid_numbers = nullptr,
                              http::status status = http::status::ok) {
    if (!send.smsapi_json) return textResponse(status, "ERROR:" + std::to_string(code));
    json body = {{"error", code}, {"message", std::move(message)}};
    if (!invalid_numbers.is_null()) body["invalid_numbers"] = std::move(invalid_numbers);
    return jsonResponse(status, body);
  }

  Response authError(const SendRequest& send) {
    switch (send.api) {
      case FakeApi::kMessageFlow:
        return jsonResponse(
            http::status::unauthorized,
            messageflowEnvelope(401, json::array(),
                                json::array({messageflowError(
                                    "Unauthorized", "Authorization data is invalid", "401")}),
                                0, 0, hexId(32)));
      case FakeApi::kSmsapi:
        return smsapiError(send, 101, "Authorization failed");
      case FakeApi::kTwilio:
        return twilioError(http::status::unauthorized, 20003, "Authenticate");
    }
    return {};
  }

  Response badRequest(const SendRequest& send, const std::string& field) {
    switch (send.api) {
      case FakeApi::kMessageFlow:
        return jsonResponse(
            http::status::bad_request,
            messageflowEnvelope(400, json::array(),
                                json::array({messageflowError(
                                    "Validation error", field + " is required", "400", field)}),
                                0, 0, hexId(32)));
      case FakeApi::kSmsapi:
        if (field == "to") return smsapiError(send, 13, "No correct phone numbers");
        return smsapiError(send, 11, "Message too long or there is no message");
      case FakeApi::kTwilio:
        if (field == "To") {
          return twilioError(http::status::bad_request, 21604, "A 'To' phone number is required.");
        }
        if (field == "From") {
          return twilioError(http::status::bad_request, 21603,
                             "A 'From' phone number is required.");
        }
        return twilioError(http::status::bad_request, 21602, "Message body is required.");
    }
    return {};
  }

  Response invalidNumber(const SendRequest& send, const std::vector<std::string>& invalid) {
    switch (send.api) {
      case FakeApi::kMessageFlow: {
        json errors = json::array();
        for (const auto& n : invalid) {
          errors.push_back(messageflowError("Invalid phone number",
                                            "The phone number " + n + " is invalid", "400",
                                            "phoneNumbers", n));
        }
        return jsonResponse(http::status::bad_request,
                            messageflowEnvelope(400, json::array(), std::move(errors), 0,
                                                invalid.size(), hexId(32)));
      }
      case FakeApi::kSmsapi:
        return smsapiError(send, 13, "No correct phone numbers", smsapiInvalidNumbers(invalid));
      case FakeApi::kTwilio:
        return twilioError(http::status::bad_request, 21211,
                           "The 'To' number " + invalid.front() + " is not a valid phone number.");
    }
    return {};
  }

  static json smsapiInvalidNumbers(const std::vector<std::string>& invalid) {
    json out = json::array();
    for (const auto& n : invalid) {
      out.push_back(
          {{"number", digitsOf(n)}, {"submitted_number", n}, {"message", "Invalid phone number"}});
    }
    return out;
  }

  Response serverError(FakeApi api, http::status status) {
    int code = static_cast<int>(status);
    switch (api) {
      case FakeApi::kMessageFlow:
        return jsonResponse(
            status, messageflowEnvelope(
                        code, json::array(),
                        json::array({messageflowError("Server error", "Internal server error",
                                                      std::to_string(code))}),
                        0, 0, hexId(32)));
      case FakeApi::kSmsapi:
        return jsonResponse(status, {{"error", 999}, {"message", "Internal system error"}});
      case FakeApi::kTwilio:
        return twilioError(status, code == 503 ? 20503 : 20500,
                           code == 503 ? "Service Unavailable" : "Internal Server Error");
    }
    return {};
  }

  Response throttled(FakeApi api, std::chrono::seconds retry_after) {
    Response res;
    switch (api) {
      case FakeApi::kMessageFlow:
        res = jsonResponse(
            http::status::too_many_requests,
            messageflowEnvelope(
                429, json::array(),
                json::array({messageflowError("Too Many Requests", "Rate limit exceeded", "429")}),
                0, 0, hexId(32)));
        break;
      case FakeApi::kSmsapi:
        // [recall] legacy codes 202/203 mean "too many requests"; the SDKs also handle 429.
        res = jsonResponse(http::status::too_many_requests,
                           {{"error", 203}, {"message", "Too many requests"}});
        break;
      case FakeApi::kTwilio:
        res = twilioError(http::status::too_many_requests, 20429, "Too Many Requests");
        break;
    }
    res.set(http::field::retry_after, std::to_string(std::max<int64_t>(0, retry_after.count())));
    return res;
  }

  Response success(const SendRequest& send, const std::vector<Accepted>& accepted,
                   const std::vector<std::string>& invalid, const std::string& batch_id) {
    int64_t now = unixNow();
    switch (send.api) {
      case FakeApi::kMessageFlow: {
        json data = json::array();
        for (const auto& a : accepted) {
          data.push_back({{"sender", send.from},
                          {"phoneNumber", a.to},
                          {"externalId", send.raw_ref},
                          {"status", 0},
                          {"statusTime", now},
                          {"createTime", now},
                          {"smsPrice", 0},
                          {"currency", 0},
                          {"numberOfParts", 1}});
        }
        json errors = json::array();
        for (const auto& n : invalid) {
          errors.push_back(messageflowError("Invalid phone number",
                                            "The phone number " + n + " is invalid", "400",
                                            "phoneNumbers", n));
        }
        return jsonResponse(http::status::ok,
                            messageflowEnvelope(200, std::move(data), std::move(errors),
                                                accepted.size(), invalid.size(), batch_id));
      }
      case FakeApi::kSmsapi: {
        if (!send.smsapi_json) {
          std::vector<std::string> lines;
          for (const auto& a : accepted) lines.push_back("OK:" + a.id + ":0.165");
          return textResponse(http::status::ok, join(lines, ";"));
        }
        json list = json::array();
        for (const auto& a : accepted) {
          list.push_back({{"id", a.id},
                          {"points", 0.165},
                          {"number", digitsOf(a.to)},
                          {"date_sent", now},
                          {"submitted_number", a.to},
                          {"status", "QUEUE"},
                          {"error", nullptr},
                          {"idx", a.ref.empty() ? json(nullptr) : json(a.ref)},
                          {"parts", 1}});
        }
        json body = {{"count", accepted.size()}, {"list", std::move(list)}};
        if (!invalid.empty()) body["invalid_numbers"] = smsapiInvalidNumbers(invalid);
        return jsonResponse(http::status::ok, body);
      }
      case FakeApi::kTwilio: {
        const Accepted& a = accepted.front();
        const std::string& sid = options_.credentials.twilio_account_sid;
        std::string date =
            formatTime(std::chrono::system_clock::now(), "%a, %d %b %Y %H:%M:%S +0000");
        std::string uri = "/2010-04-01/Accounts/" + sid + "/Messages/" + a.id;
        return jsonResponse(http::status::created,
                            {{"sid", a.id},
                             {"account_sid", sid},
                             {"api_version", kTwilioApiVersion},
                             {"body", send.text},
                             {"status", "queued"},
                             {"direction", "outbound-api"},
                             {"from", send.from},
                             {"to", a.to},
                             {"messaging_service_sid", nullptr},
                             {"num_segments", "1"},
                             {"num_media", "0"},
                             {"price", nullptr},
                             {"price_unit", nullptr},
                             {"error_code", nullptr},
                             {"error_message", nullptr},
                             {"date_created", date},
                             {"date_sent", nullptr},
                             {"date_updated", date},
                             {"uri", uri + ".json"},
                             {"subresource_uris", {{"media", uri + "/Media.json"}}}});
      }
    }
    return {};
  }

  // ---- control endpoint for the standalone program ------------------------------------------

  // POST /_fake/faults "twilio=503,count=2" | POST /_fake/latency "50ms" | POST /_fake/mps "10"
  // | POST /_fake/dlr_status "undelivered"
  Reply control(const Request& request, std::string_view path) {
    std::string body = trim(request.body());
    if (request.method() != http::verb::post) {
      return {textResponse(http::status::method_not_allowed, "POST only\n")};
    }
    auto fail = [](const Status& s) {
      return Reply{textResponse(http::status::bad_request, s.message() + "\n")};
    };
    if (path == "/_fake/faults") {
      size_t eq = body.find('=');
      auto api = parseFakeApi(body.substr(0, eq));
      if (eq == std::string::npos || !api) {
        return fail(configError("expected <api>=<fault>, api one of messageflow, smsapi, twilio"));
      }
      auto fault = parseFault(body.substr(eq + 1));
      if (!fault) return fail(fault.error());
      setFault(*api, *fault);
    } else if (path == "/_fake/latency") {
      auto latency = parseDuration(body);
      if (!latency) return fail(latency.error());
      setLatency(*latency);
    } else if (path == "/_fake/mps") {
      int mps = -1;
      std::from_chars(body.data(), body.data() + body.size(), mps);
      if (mps < 0) return fail(configError("mps must be a non-negative integer"));
      setMps(mps);
    } else if (path == "/_fake/dlr_status") {
      setDlrStatus(body);
    } else {
      return {textResponse(http::status::not_found, "no such control endpoint\n")};
    }
    spdlog::info("Fake provider reconfigured. endpoint={} value={}", path, body);
    return {textResponse(http::status::ok, "ok\n")};
  }

  // ---- ledger ---------------------------------------------------------------------------------

  void record(LedgerEntry entry) {
    std::lock_guard lock(mu_);
    recordLocked(std::move(entry));
  }

  void recordLocked(LedgerEntry entry) {
    if (ledger_file_ != nullptr) {
      json line = {{"time", entry.time},       {"api", entry.api},
                   {"method", entry.method},   {"path", entry.path},
                   {"to", entry.to},           {"from", entry.from},
                   {"text", entry.text},       {"ref", entry.ref},
                   {"attempt", entry.attempt}, {"http_status", entry.http_status},
                   {"outcome", entry.outcome}, {"provider_id", entry.provider_id}};
      if (!entry.commit_ts.empty()) line["commit_ts"] = entry.commit_ts;
      std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
      std::fwrite(text.data(), 1, text.size(), ledger_file_);
      // Flushed per line so a test or benchmark can read the ledger while the server runs.
      std::fflush(ledger_file_);
    }
    if (options_.ledger_in_memory) ledger_.push_back(std::move(entry));
  }

  // ---- delivery reports -----------------------------------------------------------------------

  std::string currentDlrStatus() {
    std::lock_guard lock(mu_);
    return dlr_status_;
  }

  // One report per status in the configured sequence ("sent,delivered"), each `dlr_delay`
  // after the one before, like a provider reporting progress.
  net::awaitable<void> deliverReport(CallbackJob job) {
    for (const auto& status : split(currentDlrStatus(), ',')) {
      beast::error_code ec;
      net::steady_timer timer(*io_, options_.dlr_delay);
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      CallbackAttempt attempt{std::string(fakeApiName(job.api)), job.url, 0, ""};
      auto url = parseHttpUrl(job.url);
      if (!url) {
        attempt.error = "only http:// callback URLs are supported";
      } else {
        Request request = buildReport(job, *url, trim(status));
        attempt = co_await post(std::move(attempt), *url, std::move(request));
      }
      if (attempt.http_status < 200 || attempt.http_status >= 300) {
        spdlog::warn(
            "Fake provider could not deliver a report. api={} url={} http_status={} error={}",
            attempt.api, attempt.url, attempt.http_status, attempt.error);
      }
      std::lock_guard lock(mu_);
      callbacks_.push_back(std::move(attempt));
    }
  }

  net::awaitable<CallbackAttempt> post(CallbackAttempt attempt, Url url, Request request) {
    beast::error_code ec;
    tcp::resolver resolver(*io_);
    auto endpoints = co_await resolver.async_resolve(url.host, url.port,
                                                     net::redirect_error(net::use_awaitable, ec));
    beast::tcp_stream stream(*io_);
    stream.expires_after(kCallbackTimeout);
    if (!ec) co_await stream.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
    if (!ec)
      co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, ec));
    beast::flat_buffer buffer;
    Response response;
    if (!ec)
      co_await http::async_read(stream, buffer, response,
                                net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      attempt.error = ec.message();
    } else {
      attempt.http_status = static_cast<int>(response.result_int());
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return attempt;
  }

  Request buildReport(const CallbackJob& job, const Url& url, const std::string& status) {
    Request request{http::verb::post, url.target, 11};
    request.set(http::field::host, url.host + ":" + url.port);
    request.set(http::field::user_agent, "smsbridge-fake-provider");
    auto now = std::chrono::system_clock::now();
    switch (job.api) {
      case FakeApi::kTwilio: {
        Params params = {{"MessageSid", job.message.id},
                         {"SmsSid", job.message.id},
                         {"AccountSid", options_.credentials.twilio_account_sid},
                         {"From", job.from},
                         {"To", job.message.to},
                         {"MessageStatus", status},
                         {"SmsStatus", status},
                         {"ApiVersion", std::string(kTwilioApiVersion)}};
        if (status == "delivered" || status == "undelivered") {
          params.emplace_back("RawDlrDoneDate", formatTime(now, "%y%m%d%H%M"));
        }
        if (status == "undelivered" || status == "failed") {
          params.emplace_back("ErrorCode", status == "failed" ? "30008" : "30003");
        }
        request.set(http::field::content_type, "application/x-www-form-urlencoded");
        request.set("X-Twilio-Signature",
                    twilioSignature(options_.credentials.twilio_auth_token, job.url, params));
        request.body() = formEncode(params);
        break;
      }
      case FakeApi::kSmsapi: {
        Params params = {{"MsgId", job.message.id},
                         {"status", smsapiStatusCode(status)},
                         {"idx", job.message.ref},
                         {"donedate", std::to_string(unixNow())},
                         {"username", "fake"},
                         {"points", "0.165"},
                         {"from", job.from},
                         {"to", digitsOf(job.message.to)},
                         {"mcc", "260"},
                         {"mnc", "1"}};
        if (options_.smsapi_dlr_post) {
          request.set(http::field::content_type, "application/x-www-form-urlencoded");
          request.body() = formEncode(params);
        } else {
          request.method(http::verb::get);
          std::string target = url.target;
          target += target.find('?') == std::string::npos ? '?' : '&';
          request.target(target + formEncode(params));
        }
        break;
      }
      case FakeApi::kMessageFlow: {
        // [inference] The DLR field names are not public (providers.md §1.4): this shape
        // reuses the send response's names so the bridge's parser has one vocabulary.
        request.set(http::field::content_type, "application/json");
        request.body() = json{{"type", "sms_delivery_report"},
                              {"uniqId", job.batch_id},
                              {"externalId", job.message.ref},
                              {"phoneNumber", job.message.to},
                              {"sender", job.from},
                              {"status", messageflowStatus(status)},
                              {"statusTime", unixNow()}}
                             .dump();
        break;
      }
    }
    request.prepare_payload();
    return request;
  }

  // providers.md §2.4 [recall]: 402 EXPIRED, 403 SENT, 404 DELIVERED, 405 UNDELIVERED,
  // 406 FAILED.
  static std::string smsapiStatusCode(const std::string& status) {
    if (status == "delivered") return "404";
    if (status == "undelivered") return "405";
    if (status == "expired") return "402";
    if (status == "failed") return "406";
    if (status == "sent") return "403";
    return "408";  // UNKNOWN
  }

  // The documented vocabulary is Delivered, Undelivered, Expired; "failed" is reported as
  // Undelivered and anything else (e.g. "sent") capitalised.
  static std::string messageflowStatus(std::string status) {
    if (status == "failed") return "Undelivered";
    if (!status.empty())
      status[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(status[0])));
    return status;
  }

  FakeProviderOptions options_;
  // Optional so stop() can destroy them: that destroys every suspended connection coroutine
  // and so closes its socket; a stopped server must not leave clients hanging.
  std::optional<net::io_context> io_;
  std::optional<tcp::acceptor> acceptor_;
  tcp::endpoint endpoint_;
  std::vector<std::thread> threads_;
  std::once_flag stopped_;
  uint16_t port_ = 0;

  mutable std::mutex mu_;
  std::map<FakeApi, Fault> faults_;
  std::chrono::milliseconds latency_{0};
  int mps_ = 0;
  std::string dlr_status_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> windows_;
  std::unordered_set<std::string> used_idx_;
  std::vector<AcceptedMessage> accepted_;  // what status queries answer about
  std::vector<LedgerEntry> ledger_;
  std::vector<CallbackAttempt> callbacks_;
  std::FILE* ledger_file_ = nullptr;
  std::mt19937_64 rng_;
  uint64_t id_prefix_ = 0;
  uint64_t id_counter_ = 0;
};

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<FakeProviderServer>> FakeProviderServer::start(FakeProviderOptions options) {
  auto impl = std::make_shared<Impl>(std::move(options));
  SMSBRIDGE_RETURN_IF_ERROR(impl->listen());
  impl->run();
  return std::unique_ptr<FakeProviderServer>(new FakeProviderServer(std::move(impl)));
}

FakeProviderServer::FakeProviderServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
FakeProviderServer::~FakeProviderServer() { stop(); }

uint16_t FakeProviderServer::port() const { return impl_->port(); }
std::string FakeProviderServer::baseUrl() const { return impl_->baseUrl(); }
void FakeProviderServer::setFault(FakeApi api, Fault fault) { impl_->setFault(api, fault); }
void FakeProviderServer::clearFault(FakeApi api) { impl_->setFault(api, Fault{}); }
void FakeProviderServer::setLatency(std::chrono::milliseconds latency) {
  impl_->setLatency(latency);
}
void FakeProviderServer::setMps(int mps) { impl_->setMps(mps); }
void FakeProviderServer::setDlrStatus(std::string status) {
  impl_->setDlrStatus(std::move(status));
}
std::vector<LedgerEntry> FakeProviderServer::ledger() const { return impl_->ledger(); }
std::vector<CallbackAttempt> FakeProviderServer::callbacks() const { return impl_->callbacks(); }
void FakeProviderServer::stop() { impl_->stop(); }

}  // namespace smsbridge::testing
