#include "core/http_client.h"

#include "core/result.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

// libcurl's multi_socket API driven by Asio: curl tells us which sockets to watch for which
// events (socketCallback) and when it next needs to run (timerCallback); Asio waits for those
// and hands the readiness back through curl_multi_socket_action. No thread of our own, no
// polling loop.
//
// Socket ownership: curl owns every socket it opens (connections, the resolver's wake-up
// pipe). We watch a dup() of each, so closing our watch never closes curl's descriptor and
// curl closing its descriptor never leaves Asio holding a number the kernel has reused.
// Connection sockets are opened and closed through our callbacks (CURLOPT_OPENSOCKETFUNCTION,
// CURLOPT_CLOSESOCKETFUNCTION), so their watch lives exactly as long as the connection: curl
// announces CURL_POLL_REMOVE each time a kept-alive connection goes idle, and dropping and
// re-creating the watch then (dup, epoll add and delete, close) cost about as much as the
// request itself. Any other socket's watch goes at CURL_POLL_REMOVE, which curl always
// announces before it closes a socket.

namespace smsbridge {

std::string_view httpErrorName(HttpError error) {
  switch (error) {
    case HttpError::kNone:
      return "none";
    case HttpError::kConnect:
      return "connect";
    case HttpError::kConnectTimeout:
      return "connect_timeout";
    case HttpError::kTimeout:
      return "timeout";
    case HttpError::kTls:
      return "tls";
    case HttpError::kTooLarge:
      return "too_large";
    case HttpError::kOther:
      return "other";
  }
  return "other";
}

std::string HttpClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return value;
  }
  return {};
}

namespace {

using Clock = std::chrono::steady_clock;

// Idle easy handles kept for reuse; as many as were in flight at once, up to this.
constexpr std::size_t kMaxIdleEasyHandles = 256;

// curl_global_init is not thread-safe and must run before any other libcurl call; clients may
// be created from several threads (one io_context each), so it runs exactly once.
void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
      spdlog::error("libcurl failed to initialise. error=\"{}\"", curl_easy_strerror(code));
    }
  });
}

std::string lowerCased(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool isTlsFailure(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

// A request's header lines as libcurl takes them. Every send of one provider carries the same
// headers, so the list is built once and shared by the transfers that use it.
struct HeaderList {
  HttpHeaders headers;  // what the list was built from
  curl_slist* list = nullptr;

  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }
};

// One request in flight: the easy handle and everything its callbacks write into.
struct Transfer {
  CURL* easy = nullptr;  // back to the client's idle handles when the transfer ends
  std::shared_ptr<const HeaderList> headers;
  HttpClientRequest request;
  HttpCallback done;
  HttpClientResponse response;
  Clock::time_point started;
  std::size_t max_body = 0;
  bool too_large = false;
  int sends = 0;  // how often libcurl was about to write the request
  bool resend_refused = false;
  char error_buffer[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
  }
};

// The events curl wants on one socket and the Asio watch on our dup of it.
struct SocketWatch {
  SocketWatch(boost::asio::io_context& io, int duplicate) : descriptor(io, duplicate) {}
  boost::asio::posix::stream_descriptor descriptor;
  int wanted = 0;  // CURL_POLL_IN / OUT / INOUT
  bool read_pending = false;
  bool write_pending = false;
};

class CurlHttpClient final : public HttpTransport,
                             public std::enable_shared_from_this<CurlHttpClient> {
 public:
  CurlHttpClient(boost::asio::io_context& io, HttpClientOptions options)
      : io_(io), options_(std::move(options)), timer_(io) {
    multi_ = curl_multi_init();
    if (!multi_) return;
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlHttpClient::socketCallback);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlHttpClient::timerCallback);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options_.max_idle_connections);
    if (options_.max_connections_per_host > 0) {
      curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_connections_per_host);
    }
  }

  ~CurlHttpClient() override { close(); }

  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  void execute(HttpClientRequest request, HttpCallback done) override {
    if (shut_down_) return;  // the contract: no callback after shutdown()
    auto transfer = std::make_unique<Transfer>();
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    transfer->started = Clock::now();
    transfer->max_body = options_.max_response_bytes;

    std::string problem = prepare(*transfer);
    if (problem.empty() && curl_multi_add_handle(multi_, transfer->easy) != CURLM_OK) {
      problem = "curl_multi_add_handle failed";
    }
    if (!problem.empty()) {
      failLater(std::move(transfer), std::move(problem));
      return;
    }
    // curl_multi_add_handle has asked for a timeout of 0 through timerCallback; the transfer
    // starts from that timer, so `done` can never run inside this call.
    CURL* easy = transfer->easy;
    transfers_.emplace(easy, std::move(transfer));
  }

  void shutdown() override {
    shut_down_ = true;
    close();
  }

 private:
  // Everything that can fail before the transfer starts; an empty string means ready.
  std::string prepare(Transfer& t) {
    if (!multi_) return "libcurl multi handle could not be created";
    t.easy = takeEasyHandle();
    if (!t.easy) return "curl_easy_init failed";
    CURL* e = t.easy;
    const HttpClientRequest& r = t.request;

    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_buffer);
    // CURLOPT_PROXY stays unset on purpose: libcurl then reads http_proxy, https_proxy,
    // all_proxy and no_proxy from the environment.

    // Verification is not configurable; only where the trusted roots come from is. A
    // configured CA file or directory replaces the system store rather than adding to it, so
    // pinning a private CA really excludes the public ones.
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty() || !options_.ca_path.empty()) {
      curl_easy_setopt(e, CURLOPT_CAINFO,
                       options_.ca_file.empty() ? nullptr : options_.ca_file.c_str());
      curl_easy_setopt(e, CURLOPT_CAPATH,
                       options_.ca_path.empty() ? nullptr : options_.ca_path.c_str());
    }

    // A declared Content-Length over the cap fails before the body is read; the write
    // callback catches bodies without one.
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_response_bytes));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlHttpClient::writeCallback);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlHttpClient::headerCallback);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &CurlHttpClient::prereqCallback);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
    // The client outlives every connection: they live in its multi handle.
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &CurlHttpClient::openSocketCallback);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &CurlHttpClient::closeSocketCallback);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);

    setMethod(t);
    auto headers = headerList(r.headers);
    if (!headers) return headers.error().message();
    t.headers = std::move(*headers);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers->list);
    return {};
  }

  // The curl_slist for `headers`: the last one built when they are the same (the usual case:
  // every send of a provider has the same headers), else a new one.
  Result<std::shared_ptr<const HeaderList>> headerList(const HttpHeaders& headers) {
    if (last_headers_ && last_headers_->headers == headers) return last_headers_;
    auto built = std::make_shared<HeaderList>();
    built->headers = headers;
    for (const auto& [name, value] : headers) {
      // A line break inside a header would let a value smuggle extra headers or a request.
      if ((name + value).find_first_of("\r\n") != std::string::npos) {
        return Status(ErrorCategory::kInternal, "header " + name + " contains a line break");
      }
      // "Name;" is how curl is told to send a header with an empty value.
      std::string line = value.empty() ? name + ";" : name + ": " + value;
      built->list = curl_slist_append(built->list, line.c_str());
    }
    // Waiting for "100 Continue" costs a round trip (or a second) on every POST with a body.
    built->list = curl_slist_append(built->list, "Expect:");
    last_headers_ = built;
    return std::shared_ptr<const HeaderList>(std::move(built));
  }

  // An idle easy handle, or a new one. curl_easy_init allocates and sets up a large handle
  // (buffers included); curl_easy_reset on a used one is far cheaper, and per request both
  // showed in profiles.
  CURL* takeEasyHandle() {
    if (idle_easy_.empty()) return curl_easy_init();
    CURL* easy = idle_easy_.back();
    idle_easy_.pop_back();
    return easy;
  }

  // Keeps a finished transfer's handle for the next request, with every option back at its
  // default, so nothing of one request (method, body, headers) leaks into the next.
  void recycleEasyHandle(CURL* easy) {
    if (!easy) return;
    if (closing_ || idle_easy_.size() >= kMaxIdleEasyHandles) {
      curl_easy_cleanup(easy);
      return;
    }
    curl_easy_reset(easy);
    idle_easy_.push_back(easy);
  }

  static void setMethod(Transfer& t) {
    CURL* e = t.easy;
    const HttpClientRequest& r = t.request;
    if (r.method == "GET" && r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
      return;
    }
    if (r.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
      return;
    }
    if (!r.body.empty() || r.method == "POST") {
      // The body lives in the Transfer until curl is done with it, so no copy is needed.
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
    }
    if (r.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }

  void failLater(std::unique_ptr<Transfer> transfer, std::string problem) {
    // No URL in the log: some provider APIs carry credentials in the query string.
    spdlog::warn("HTTP request could not be started. error=\"{}\"", problem);
    std::shared_ptr<Transfer> owned(std::move(transfer));
    boost::asio::post(io_, [self = shared_from_this(), owned, problem = std::move(problem)] {
      if (self->shut_down_) return;
      HttpClientResponse response;
      response.error = HttpError::kOther;
      response.error_message = problem;
      owned->done(std::move(response));
    });
  }

  // ---- libcurl callbacks (run inside curl calls; they only touch Asio and our maps) ----

  static int socketCallback(CURL* /*easy*/, curl_socket_t fd, int what, void* self_ptr,
                            void* /*socketp*/) {
    auto* self = static_cast<CurlHttpClient*>(self_ptr);
    if (what == CURL_POLL_REMOVE) {
      self->idle(fd);
    } else {
      self->watch(fd, what);
    }
    return 0;
  }

  static curl_socket_t openSocketCallback(void* self_ptr, curlsocktype /*purpose*/,
                                          curl_sockaddr* address) {
    auto* self = static_cast<CurlHttpClient*>(self_ptr);
    curl_socket_t fd = ::socket(address->family, address->socktype, address->protocol);
    if (fd == CURL_SOCKET_BAD) return fd;
    self->connections_.insert(fd);
    return fd;
  }

  static int closeSocketCallback(void* self_ptr, curl_socket_t fd) {
    auto* self = static_cast<CurlHttpClient*>(self_ptr);
    self->connections_.erase(fd);
    self->unwatch(fd);
    return ::close(fd);
  }

  static int timerCallback(CURLM* /*multi*/, long timeout_ms, void* self_ptr) {
    static_cast<CurlHttpClient*>(self_ptr)->armTimer(timeout_ms);
    return 0;
  }

  static size_t writeCallback(char* data, size_t size, size_t count, void* transfer_ptr) {
    auto* t = static_cast<Transfer*>(transfer_ptr);
    size_t bytes = size * count;
    if (t->response.body.size() + bytes > t->max_body) {
      t->too_large = true;
      return 0;  // anything but `bytes` aborts the transfer with CURLE_WRITE_ERROR
    }
    t->response.body.append(data, bytes);
    return bytes;
  }

  // When a reused connection closes before any reply, libcurl sends the request again on a
  // fresh one. The server may have taken the first copy, so for us that resend can be a
  // duplicate SMS: refuse it and report the outcome as ambiguous instead.
  static int prereqCallback(void* transfer_ptr, char* /*remote_ip*/, char* /*local_ip*/,
                            int /*remote_port*/, int /*local_port*/) {
    auto* t = static_cast<Transfer*>(transfer_ptr);
    if (++t->sends == 1) return CURL_PREREQFUNC_OK;
    t->resend_refused = true;
    return CURL_PREREQFUNC_ABORT;
  }

  static size_t headerCallback(char* data, size_t size, size_t count, void* transfer_ptr) {
    auto* t = static_cast<Transfer*>(transfer_ptr);
    size_t bytes = size * count;
    std::string_view line(data, bytes);
    // A status line starts a new response (a proxy's CONNECT reply, a 1xx); only the headers
    // of the final one are the response's.
    if (line.starts_with("HTTP/")) {
      t->response.headers.clear();
      return bytes;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;  // the blank line ending the headers
    t->response.headers.emplace_back(lowerCased(trimmed(line.substr(0, colon))),
                                     std::string(trimmed(line.substr(colon + 1))));
    return bytes;
  }

  // ---- Asio side ----

  void watch(curl_socket_t fd, int what) {
    auto it = sockets_.find(fd);
    if (it == sockets_.end()) {
      int duplicate = ::dup(fd);
      if (duplicate < 0) {
        // The transfer then ends by its timeout instead of hanging.
        spdlog::warn("Could not watch an HTTP connection. error=\"dup failed\"");
        return;
      }
      it = sockets_.emplace(fd, std::make_shared<SocketWatch>(io_, duplicate)).first;
    }
    it->second->wanted = what;
    armWaits(fd, it->second);
  }

  // curl no longer wants events on `fd`. A connection keeps its watch while it waits in curl's
  // cache; its wait handlers see that nothing is wanted.
  void idle(curl_socket_t fd) {
    if (!connections_.contains(fd)) {
      unwatch(fd);
      return;
    }
    auto it = sockets_.find(fd);
    if (it != sockets_.end()) it->second->wanted = 0;
  }

  void unwatch(curl_socket_t fd) {
    auto it = sockets_.find(fd);
    if (it == sockets_.end()) return;
    boost::system::error_code ignored;
    it->second->descriptor.close(ignored);  // pending waits complete with operation_aborted
    sockets_.erase(it);
  }

  void armWaits(curl_socket_t fd, const std::shared_ptr<SocketWatch>& w) {
    auto self = weak_from_this().lock();
    if (!self || closing_) return;  // called from close(): nothing may be armed any more
    if ((w->wanted & CURL_POLL_IN) && !w->read_pending) {
      w->read_pending = true;
      w->descriptor.async_wait(boost::asio::posix::descriptor_base::wait_read,
                               [self, fd, w](const boost::system::error_code& ec) {
                                 w->read_pending = false;
                                 self->onReady(fd, w, CURL_POLL_IN, ec);
                               });
    }
    if ((w->wanted & CURL_POLL_OUT) && !w->write_pending) {
      w->write_pending = true;
      w->descriptor.async_wait(boost::asio::posix::descriptor_base::wait_write,
                               [self, fd, w](const boost::system::error_code& ec) {
                                 w->write_pending = false;
                                 self->onReady(fd, w, CURL_POLL_OUT, ec);
                               });
    }
  }

  void onReady(curl_socket_t fd, const std::shared_ptr<SocketWatch>& w, int direction,
               const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted || closing_) return;
    auto it = sockets_.find(fd);
    // The watch was replaced or removed meanwhile, or curl no longer wants this direction.
    if (it == sockets_.end() || it->second != w || !(w->wanted & direction)) return;
    int mask = direction == CURL_POLL_IN ? CURL_CSELECT_IN : CURL_CSELECT_OUT;
    if (ec) mask |= CURL_CSELECT_ERR;
    drive(fd, mask);
    // Still wanted after curl ran: wait again (armWaits skips directions already waiting).
    it = sockets_.find(fd);
    if (!closing_ && it != sockets_.end() && it->second == w) armWaits(fd, w);
  }

  // curl asks for a timeout of 0 ("run me now") on every curl_multi_add_handle and moves its
  // deadline as transfers start and end. Re-arming the Asio timer for each costs a
  // timerfd_settime call per request, so a 0 becomes a posted handler instead, and the timer is
  // only ever moved earlier: when it fires before curl's current deadline it waits again for
  // that deadline rather than waking curl early.
  void armTimer(long timeout_ms) {
    if (timeout_ms < 0) {
      deadline_.reset();
      return;
    }
    if (timeout_ms == 0) {
      deadline_.reset();
      postDrive();
      return;
    }
    deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    if (timer_armed_ && timer_.expiry() <= *deadline_) return;
    startTimer(*deadline_);
  }

  void startTimer(Clock::time_point expiry) {
    auto self = weak_from_this().lock();
    if (!self || closing_) return;
    timer_armed_ = true;
    timer_.expires_at(expiry);  // a wait still pending completes with operation_aborted
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec == boost::asio::error::operation_aborted || self->closing_) return;
      self->onTimer();
    });
  }

  void onTimer() {
    timer_armed_ = false;
    if (!deadline_) return;  // curl withdrew its timeout meanwhile
    if (Clock::now() < *deadline_) {
      startTimer(*deadline_);
      return;
    }
    deadline_.reset();
    drive(CURL_SOCKET_TIMEOUT, 0);
  }

  void postDrive() {
    if (drive_posted_) return;
    auto self = weak_from_this().lock();
    if (!self || closing_) return;
    drive_posted_ = true;
    boost::asio::post(io_, [self] {
      self->drive_posted_ = false;
      if (self->closing_) return;
      self->drive(CURL_SOCKET_TIMEOUT, 0);
    });
  }

  void drive(curl_socket_t fd, int mask) {
    int running = 0;
    curl_multi_socket_action(multi_, fd, mask, &running);
    finishCompleted();
  }

  // Hands every finished transfer to its callback. A callback may call execute() (adds a
  // handle; safe here, outside any curl call) or shutdown() (stops the loop).
  void finishCompleted() {
    while (!closing_) {
      int left = 0;
      CURLMsg* message = curl_multi_info_read(multi_, &left);
      if (!message) return;
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      CURLcode code = message->data.result;
      auto it = transfers_.find(easy);
      if (it == transfers_.end()) continue;
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      transfers_.erase(it);
      curl_multi_remove_handle(multi_, easy);
      HttpClientResponse response = finish(*transfer, code);
      HttpCallback done = std::move(transfer->done);
      recycleEasyHandle(std::exchange(transfer->easy, nullptr));
      transfer.reset();
      done(std::move(response));
    }
  }

  HttpClientResponse finish(Transfer& t, CURLcode code) {
    HttpClientResponse r = std::move(t.response);
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t.started);
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    r.status = static_cast<int>(status);
    r.error = classify(t, code);
    if (t.resend_refused) {
      r.error_message =
          "the reused connection closed before any reply; the request may have arrived, so it "
          "was not sent again";
    } else if (r.error == HttpError::kTooLarge) {
      r.error_message =
          "response exceeds max_response_bytes=" + std::to_string(options_.max_response_bytes);
    } else if (r.error != HttpError::kNone) {
      r.error_message = t.error_buffer[0] ? t.error_buffer : curl_easy_strerror(code);
    }
    return r;
  }

  static HttpError classify(Transfer& t, CURLcode code) {
    if (code == CURLE_OK) return HttpError::kNone;
    if (t.too_large || code == CURLE_FILESIZE_EXCEEDED) return HttpError::kTooLarge;
    if (t.resend_refused) return HttpError::kOther;
    switch (code) {
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        return HttpError::kConnect;
      case CURLE_OPERATION_TIMEDOUT: {
        // Whether the request had started to leave decides between "never sent" and
        // "ambiguous"; curl stamps the pre-transfer time once the connection (and TLS
        // handshake) is ready and the request is about to be written.
        curl_off_t pretransfer = 0;
        curl_easy_getinfo(t.easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
        return pretransfer > 0 ? HttpError::kTimeout : HttpError::kConnectTimeout;
      }
      default:
        return isTlsFailure(code) ? HttpError::kTls : HttpError::kOther;
    }
  }

  // Drops every transfer without running its callback and releases curl and the sockets.
  void close() {
    if (closing_) return;
    closing_ = true;
    if (multi_) {
      for (auto& [easy, transfer] : transfers_) curl_multi_remove_handle(multi_, easy);
    }
    transfers_.clear();
    if (multi_) curl_multi_cleanup(multi_);  // closes idle connections; may call unwatch()
    multi_ = nullptr;
    for (CURL* easy : idle_easy_) curl_easy_cleanup(easy);
    idle_easy_.clear();
    last_headers_.reset();
    boost::system::error_code ignored;
    for (auto& [fd, w] : sockets_) w->descriptor.close(ignored);
    sockets_.clear();
    timer_.cancel();
  }

  boost::asio::io_context& io_;
  HttpClientOptions options_;
  boost::asio::steady_timer timer_;
  CURLM* multi_ = nullptr;
  std::map<CURL*, std::unique_ptr<Transfer>> transfers_;
  std::vector<CURL*> idle_easy_;
  std::shared_ptr<const HeaderList> last_headers_;
  std::map<curl_socket_t, std::shared_ptr<SocketWatch>> sockets_;
  std::set<curl_socket_t> connections_;        // sockets curl opened through openSocketCallback
  std::optional<Clock::time_point> deadline_;  // curl's pending timeout, if any
  bool timer_armed_ = false;
  bool drive_posted_ = false;
  bool shut_down_ = false;
  bool closing_ = false;
};

}  // namespace

std::shared_ptr<HttpTransport> makeHttpClient(boost::asio::io_context& io,
                                              HttpClientOptions options) {
  initCurlOnce();
  return std::make_shared<CurlHttpClient>(io, std::move(options));
}

}  // namespace smsbridge
