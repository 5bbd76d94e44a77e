#pragma once

// An in-process HTTP/1.1 server that speaks the send APIs of MessageFlow, SMSAPI and Twilio
// closely enough for our providers, e2e tests and benchmarks to run against it instead of the
// real services (reference/providers.md has the wire contracts it follows), and answers their
// status queries (status polling) about the messages it accepted: `sent` until dlr_delay has
// passed, then the dlr_status sequence, like its callbacks. It can also
// misbehave on purpose: scripted faults, a per-sender MPS limit and added latency, so the
// dispatcher's retry, failover and rate-limit code meets the failures it is written for.
//
// Threads: the server runs its own io_context on `threads` threads, started by start() and
// joined by stop() or the destructor. Every public method may be called from any thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace smsbridge::testing {

enum class FakeApi { kMessageFlow, kSmsapi, kTwilio };

std::string_view fakeApiName(FakeApi api);  // "messageflow" | "smsapi" | "twilio"
std::optional<FakeApi> parseFakeApi(std::string_view name);

// What the server does to a request instead of (or besides) answering it normally.
enum class FaultKind {
  kNone,
  kHttp500,
  kHttp503,
  kHttp429,        // with Retry-After and the API's throttling body
  kStall,          // reads the request, never answers; the request is not processed
  kReset,          // reads the request, then closes with a TCP RST; not processed
  kDelayedAnswer,  // processes the request (the SMS counts as sent) but answers only after
                   // `delay`: the ambiguous "did it go out?" case of a client timeout
};

struct Fault {
  FaultKind kind = FaultKind::kNone;
  // How many of the following requests get the fault; unset means every request until
  // the fault is cleared or replaced.
  std::optional<int> count;
  std::chrono::seconds retry_after{1};      // kHttp429
  std::chrono::milliseconds delay{30'000};  // kDelayedAnswer
};

// Parses "kind[,count=N][,retry_after=DUR][,delay=DUR]" with kind one of
// none|500|503|429|stall|reset|delay, e.g. "503,count=3" or "429,retry_after=2s".
Result<Fault> parseFault(std::string_view spec);

// "50ms", "2s", "1m" or a bare number of milliseconds.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

// The credentials the fake accepts; anything else gets the API's authentication error.
struct FakeCredentials {
  std::string messageflow_authorization = "mf-authorization";
  std::string messageflow_application_key = "mf-application-key";
  std::string smsapi_token = "smsapi-token";
  std::string twilio_account_sid = "AC00000000000000000000000000000001";
  std::string twilio_auth_token = "twilio-auth-token";
};

struct FakeProviderOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, see FakeProviderServer::port()
  int threads = 1;
  FakeCredentials credentials;
  std::map<FakeApi, Fault> faults;
  // Added before every answer, without holding up other connections.
  std::chrono::milliseconds latency{0};
  // Messages per second per (API, sender) over any sliding one-second window; 0 = unlimited.
  int mps = 0;
  // Numbers (digits only, no '+') that each API rejects as invalid, besides malformed ones.
  std::set<std::string> invalid_numbers;
  // Delivery reports go to the callback URL a request named, this long after the send.
  std::chrono::milliseconds dlr_delay{200};
  // The statuses reported, in order, each dlr_delay after the previous: "delivered",
  // "undelivered", "expired", "failed", or a sequence such as "sent,delivered".
  std::string dlr_status = "delivered";
  // SMSAPI callbacks are GET with query parameters by default; POST sends them as a form.
  bool smsapi_dlr_post = false;
  // JSON-lines ledger of every request; empty = no file.
  std::string ledger_path;
  // Also keep the ledger for ledger(); long benchmark runs turn this off to bound memory.
  bool ledger_in_memory = true;
};

// One request the server received, as written to the ledger.
struct LedgerEntry {
  std::string time;  // ISO 8601 UTC with milliseconds
  std::string api;   // fakeApiName(), or "unknown"
  std::string method;
  std::string path;
  std::string to;         // recipients, comma-joined
  std::string from;       // sender / From
  std::string text;       // message / Body
  std::string ref;        // SMSAPI idx, MessageFlow externalId
  std::string attempt;    // Twilio Attempt
  std::string commit_ts;  // X-Bench-Commit-Ts header, for latency benchmarks
  int http_status = 0;    // 0 when no answer was sent (stall, reset)
  std::string outcome;    // accepted, auth_failed, invalid_number, throttled, duplicate_idx,
                          // bad_request, fault_500, fault_503, fault_429, stall, reset, not_found,
                          // status (a status query answered)
  std::string provider_id;  // the message id(s) returned, comma-joined
};

// One delivery-report callback the server attempted.
struct CallbackAttempt {
  std::string api;
  std::string url;
  int http_status = 0;  // 0 when the request failed
  std::string error;
};

// The X-Twilio-Signature for a POST to `url` with form `params`: HMAC-SHA1 keyed with the
// auth token over the URL followed by every name+value sorted by name, base64-encoded.
std::string twilioSignature(std::string_view auth_token, std::string_view url,
                            std::vector<std::pair<std::string, std::string>> params);

class FakeProviderServer {
 public:
  // Binds, starts the threads and returns once the server accepts connections.
  static Result<std::unique_ptr<FakeProviderServer>> start(FakeProviderOptions options);
  ~FakeProviderServer();
  FakeProviderServer(const FakeProviderServer&) = delete;
  FakeProviderServer& operator=(const FakeProviderServer&) = delete;

  uint16_t port() const;
  std::string baseUrl() const;  // "http://<listen address>:<port>"

  void setFault(FakeApi api, Fault fault);
  void clearFault(FakeApi api);
  void setLatency(std::chrono::milliseconds latency);
  void setMps(int mps);
  void setDlrStatus(std::string status);

  std::vector<LedgerEntry> ledger() const;
  std::vector<CallbackAttempt> callbacks() const;

  // Closes every connection and joins the threads; idempotent.
  void stop();

 private:
  class Impl;
  explicit FakeProviderServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace smsbridge::testing
