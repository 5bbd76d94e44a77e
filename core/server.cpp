#include "core/server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace smsbridge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Headers bigger than this are an attack or a broken client; webhooks send a few hundred bytes.
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

std::string lowerCased(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct RouteEntry {
  std::vector<std::string> methods;
  HttpHandler handler;
};

// Lets a handler answer from any thread while the server may be shutting down: the answer is
// posted to the io_context only while `open`, which stop() clears before the io_context dies.
struct ResponseGate {
  std::mutex mu;
  bool open = true;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual void start() = 0;
  // Closes the connection when it is between requests; one in progress finishes first.
  virtual void closeIfIdle() = 0;
  virtual void close() = 0;
};

}  // namespace

struct Server::Impl {
  ServerConfig config;
  std::map<std::string, RouteEntry> exact_routes;
  std::map<std::string, RouteEntry> prefix_routes;
  std::shared_ptr<ResponseGate> gate = std::make_shared<ResponseGate>();
  // Server thread only. Declared before `io`: connections still owned by handlers unregister
  // themselves while `io` is destroyed.
  std::map<Connection*, std::weak_ptr<Connection>> connections;
  bool stopping = false;
  bool joined = false;
  std::chrono::steady_clock::time_point last_refusal_warning{};
  std::optional<asio::ssl::context> tls;

  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer grace{io};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::atomic<unsigned short> port{0};
  bool running = false;

  const RouteEntry* route(const std::string& path) const;
  void accept();
  void onAccepted(tcp::socket socket);
  void beginShutdown();
  void finishShutdown();
  void connectionGone(Connection* connection);
};

namespace {

template <typename Stream>
class HttpConnection final : public Connection,
                             public std::enable_shared_from_this<HttpConnection<Stream>> {
 public:
  HttpConnection(Server::Impl& server, Stream stream, std::string remote)
      : server_(server),
        stream_(std::move(stream)),
        remote_(std::move(remote)),
        deadline_(beast::get_lowest_layer(stream_).get_executor()) {}
  ~HttpConnection() override { server_.connectionGone(this); }

  void start() override {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      readHeader();
    } else {
      lowest().expires_after(server_.config.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  spdlog::debug("TLS handshake failed. remote={} error=\"{}\"",
                                                self->remote_, ec.message());
                                  self->close();
                                  return;
                                }
                                self->readHeader();
                              });
    }
  }

  void closeIfIdle() override {
    if (state_ == State::kIdle) close();
  }

  void close() override {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    disarmDeadline();
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
    awaiting_answer_.reset();  // an answer arriving later finds the connection gone
  }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kClosed };

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void readHeader() {
    if (state_ == State::kClosed) return;
    if (server_.stopping) {
      close();
      return;
    }
    state_ = State::kIdle;
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(server_.config.max_body_bytes);
    // Also bounds how long an idle keep-alive connection is kept.
    armDeadline(server_.config.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->onHeader(ec);
                            });
  }

  void onHeader(beast::error_code ec) {
    disarmDeadline();
    if (state_ == State::kClosed) return;
    if (ec) {
      readFailed(ec, "header");
      return;
    }
    state_ = State::kReading;
    const auto& header = parser_->get();
    if (auto it = header.find(http::field::expect);
        it != header.end() && beast::iequals(it->value(), "100-continue")) {
      // curl and others wait for this before sending a body; answered only for bodies we read.
      continue_.emplace(http::status::continue_, header.version());
      lowest().expires_after(server_.config.body_timeout);
      http::async_write(stream_, *continue_,
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec) {
                            self->close();
                            return;
                          }
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    if (state_ == State::kClosed) return;
    armDeadline(server_.config.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->disarmDeadline();
                       if (ec) {
                         self->readFailed(ec, "body");
                         return;
                       }
                       self->dispatch();
                     });
  }

  void readFailed(beast::error_code ec, std::string_view part) {
    if (timed_out_) {
      timedOut(part);
      return;
    }
    if (ec == http::error::body_limit) {
      // The rest of the body is never read, so the connection cannot carry another request.
      spdlog::warn("HTTP request body over the limit; refused. remote={} max_body_bytes={}",
                   remote_, server_.config.max_body_bytes);
      HttpResponse response;
      response.status = 413;
      response.body = "request body too large\n";
      refuse(std::move(response));
      return;
    }
    if (ec == http::error::header_limit) {
      HttpResponse response;
      response.status = 431;
      response.body = "request header too large\n";
      refuse(std::move(response));
      return;
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      HttpResponse response;
      response.status = 400;
      response.body = "malformed request: " + ec.message() + "\n";
      refuse(std::move(response));
      return;
    }
    close();  // the client went away or the server is stopping
  }

  // Reads are bounded by our own timer rather than the stream's expiry: that one closes the
  // socket when it fires, and then there is no telling the client why. When the timer fires
  // it cancels the read, which then fails into readFailed() with timed_out_ set.
  void armDeadline(std::chrono::milliseconds after) {
    lowest().expires_never();
    timed_out_ = false;
    deadline_.expires_after(after);
    deadline_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      // A deadline disarmed (or re-armed) after this wait was already due is not ours.
      if (ec || self->deadline_.expiry() > std::chrono::steady_clock::now()) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->lowest().socket().cancel(ignored);
    });
  }

  // Also cancels the wait, which then lets go of the connection.
  void disarmDeadline() { deadline_.expires_at(std::chrono::steady_clock::time_point::max()); }

  // A client that started a request and stopped sending is told 408 (RFC 9110 §15.5.9), so it
  // knows the request was not taken and may send it again. A connection that has not sent a
  // byte of a request — an idle keep-alive one — is closed without a word: an unasked answer
  // would be read as the answer to the next request it sends. Over TLS the connection is only
  // closed: a TLS stream whose read was cancelled midway is not one to write an answer to.
  void timedOut(std::string_view part) {
    const bool started = part != "header" || buffer_.size() > 0 || parser_->got_some();
    if (!started) {
      close();
      return;
    }
    constexpr bool kPlain = std::is_same_v<Stream, beast::tcp_stream>;
    spdlog::warn("HTTP client too slow; {}. remote={} waiting_for={}",
                 kPlain ? "answered 408" : "connection closed", remote_, part);
    if (!kPlain) {
      close();
      return;
    }
    HttpResponse response;
    response.status = 408;
    response.body = "request timeout\n";
    refuse(std::move(response));
  }

  // Answers a request that was not read to its end, then closes. The client may still be
  // sending; closing at once with its bytes unread would make the kernel reset the connection,
  // and the client would likely see the reset instead of the answer. So: answer, stop sending,
  // and discard what still arrives until the client closes or the body timeout passes.
  void refuse(HttpResponse response) { write(std::move(response), false, /*linger=*/true); }

  void linger() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().expires_after(server_.config.body_timeout);
    lowest().async_read_some(asio::buffer(discard_),
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) {
                                 self->close();
                                 return;
                               }
                               self->linger();
                             });
  }

  void dispatch() {
    state_ = State::kHandling;
    lowest().expires_never();  // the handler may take its time (a durable store write)
    http::request<http::string_body> message = parser_->release();
    keep_alive_ = message.keep_alive();

    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    std::size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = request.target.substr(q + 1);
    for (const auto& field : message) {
      request.headers.emplace_back(
          lowerCased(std::string_view(field.name_string().data(), field.name_string().size())),
          std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote_address = remote_;

    const RouteEntry* route = server_.route(request.path);
    if (!route) {
      HttpResponse response;
      response.status = 404;
      response.body = "not found\n";
      write(std::move(response), keep_alive_);
      return;
    }
    if (!route->methods.empty() && std::find(route->methods.begin(), route->methods.end(),
                                             request.method) == route->methods.end()) {
      HttpResponse response;
      response.status = 405;
      response.body = "method not allowed\n";
      std::string allow;
      for (const auto& m : route->methods) allow += (allow.empty() ? "" : ", ") + m;
      response.headers.emplace_back("Allow", allow);
      write(std::move(response), keep_alive_);
      return;
    }

    // Held until the answer is written or the connection closes, so a handler that answers
    // from another thread needs no reference of its own.
    awaiting_answer_ = this->shared_from_this();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    HttpResponder respond = [weak = this->weak_from_this(), gate = server_.gate,
                             answered](HttpResponse response) {
      if (answered->exchange(true)) return;  // a handler bug; the first answer stands
      std::lock_guard lock(gate->mu);
      if (!gate->open) return;
      auto self = weak.lock();
      if (!self) return;
      auto executor = self->lowest().get_executor();
      asio::post(executor, [self = std::move(self), response = std::move(response)]() mutable {
        self->answer(std::move(response));
      });
    };
    try {
      route->handler(request, std::move(respond));
    } catch (const std::exception& e) {
      // Handlers report errors as responses; an escaped exception is a bug, not a crash.
      spdlog::error("HTTP handler threw; answered 500. path={} error=\"{}\"", request.path,
                    e.what());
      HttpResponse response;
      response.status = 500;
      response.body = "internal error\n";
      answer(std::move(response));
    }
  }

  void answer(HttpResponse response) {
    if (state_ != State::kHandling) return;  // closed meanwhile, or already answered
    write(std::move(response), keep_alive_);
  }

  void write(HttpResponse response, bool keep_alive, bool linger_after = false) {
    if (state_ == State::kClosed) return;
    state_ = State::kWriting;
    keep_alive = keep_alive && !server_.stopping;
    response_.emplace();
    response_->version(11);
    response_->result(static_cast<unsigned>(response.status));
    response_->set(http::field::server, "smsbridge");
    response_->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) response_->set(name, value);
    response_->body() = std::move(response.body);
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    // A client that does not read its answer must not hold the connection forever.
    lowest().expires_after(server_.config.body_timeout);
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this(), keep_alive, linger_after](
                          beast::error_code ec, std::size_t) {
                        self->awaiting_answer_.reset();
                        if (!ec && linger_after) {
                          self->linger();
                        } else if (ec || !keep_alive) {
                          self->close();
                        } else {
                          self->readHeader();
                        }
                      });
  }

  Server::Impl& server_;
  Stream stream_;
  std::string remote_;
  State state_ = State::kIdle;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  bool keep_alive_ = false;
  asio::steady_timer deadline_;
  bool timed_out_ = false;  // the deadline cancelled the read in progress
  std::shared_ptr<HttpConnection> awaiting_answer_;
  char discard_[4096];
};

}  // namespace

Status parseListenAddress(const std::string& text, std::string& host, unsigned short& port) {
  auto bad = [&](const std::string& why) {
    return configError("'" + text + "' is not a listen address (" + why +
                       "); write it as host:port, e.g. 127.0.0.1:8787 or [::1]:8787");
  };
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  std::string h = text.substr(0, colon);
  std::string p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return bad("no host");
  if (h.find(':') != std::string::npos && text.front() != '[') {
    return bad("an IPv6 host needs brackets");
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(p) > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  host = h;
  port = static_cast<unsigned short>(std::stoul(p));
  return Status::ok();
}

const RouteEntry* Server::Impl::route(const std::string& path) const {
  if (auto it = exact_routes.find(path); it != exact_routes.end()) return &it->second;
  const RouteEntry* best = nullptr;
  std::size_t best_length = 0;
  for (const auto& [prefix, entry] : prefix_routes) {
    if (prefix.size() > best_length && path.rfind(prefix, 0) == 0) {
      best = &entry;
      best_length = prefix.size();
    }
  }
  return best;
}

void Server::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping) return;
      // Out of file descriptors and the like: keep serving the connections we have.
      spdlog::warn("HTTP server could not accept a connection. error=\"{}\"", ec.message());
    } else {
      onAccepted(std::move(socket));
    }
    if (!stopping) accept();
  });
}

void Server::Impl::onAccepted(tcp::socket socket) {
  beast::error_code ec;
  tcp::endpoint remote = socket.remote_endpoint(ec);
  std::string remote_text = ec ? "?" : remote.address().to_string();
  if (static_cast<int>(connections.size()) >= config.max_connections) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_warning > std::chrono::seconds(10)) {
      last_refusal_warning = now;
      spdlog::warn("HTTP server at max_connections; closing new connections. max_connections={}",
                   config.max_connections);
    }
    socket.close(ec);
    return;
  }
  std::shared_ptr<Connection> connection;
  if (tls) {
    connection = std::make_shared<HttpConnection<beast::ssl_stream<beast::tcp_stream>>>(
        *this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls),
        std::move(remote_text));
  } else {
    connection = std::make_shared<HttpConnection<beast::tcp_stream>>(
        *this, beast::tcp_stream(std::move(socket)), std::move(remote_text));
  }
  connections[connection.get()] = connection;
  connection->start();
}

void Server::Impl::beginShutdown() {
  stopping = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [raw, weak] : connections) {
    if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) c->closeIfIdle();
  open.clear();  // closed connections go away here, possibly finishing the shutdown
  if (connections.empty()) {
    finishShutdown();
    return;
  }
  spdlog::info("HTTP server stopping; letting requests in progress finish. requests={}",
               connections.size());
  grace.expires_after(config.shutdown_grace);
  grace.async_wait([this](beast::error_code ec) {
    if (ec) return;  // every connection finished in time
    std::vector<std::shared_ptr<Connection>> left;
    for (auto& [raw, weak] : connections) {
      if (auto c = weak.lock()) left.push_back(std::move(c));
    }
    if (!left.empty()) {
      spdlog::warn("HTTP requests still in progress at shutdown; closing them. requests={}",
                   left.size());
    }
    for (auto& c : left) c->close();
    finishShutdown();
  });
}

void Server::Impl::finishShutdown() {
  grace.cancel();
  work.reset();  // io.run() returns once the last connection's handlers have run
}

void Server::Impl::connectionGone(Connection* connection) {
  connections.erase(connection);
  if (!joined && stopping && connections.empty()) finishShutdown();
}

Result<std::unique_ptr<Server>> Server::create(ServerConfig config) {
  auto impl = std::make_shared<Impl>();
  if (config.cert_file.empty() != config.key_file.empty()) {
    return configError("TLS needs both tls.cert_file and tls.key_file");
  }
  if (config.max_connections < 1) return configError("max_connections must be at least 1");
  if (!config.cert_file.empty()) {
    impl->tls.emplace(asio::ssl::context::tls_server);
    auto& ctx = *impl->tls;
    beast::error_code ec;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1,
                    ec);
    ctx.use_certificate_chain_file(config.cert_file, ec);
    if (ec) {
      return configError("cannot use TLS certificate '" + config.cert_file + "': " + ec.message());
    }
    ctx.use_private_key_file(config.key_file, asio::ssl::context::pem, ec);
    if (ec) return configError("cannot use TLS key '" + config.key_file + "': " + ec.message());
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return configError("TLS key '" + config.key_file + "' does not match certificate '" +
                         config.cert_file + "'");
    }
  }
  impl->config = std::move(config);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

void Server::handle(std::string path, std::vector<std::string> methods, HttpHandler handler) {
  RouteEntry entry{std::move(methods), std::move(handler)};
  if (!path.empty() && path.back() == '/' && path != "/") {
    impl_->prefix_routes[std::move(path)] = std::move(entry);
  } else {
    impl_->exact_routes[std::move(path)] = std::move(entry);
  }
}

Status Server::start() {
  Impl& s = *impl_;
  if (s.running) return Status::ok();
  beast::error_code ec;
  tcp::resolver resolver(s.io);
  auto endpoints = resolver.resolve(s.config.host, std::to_string(s.config.port),
                                    tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return configError("cannot listen on " + s.config.host + ": " +
                       (ec ? ec.message() : "no address"));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    return configError("cannot listen on " + s.config.host + ":" + std::to_string(s.config.port) +
                       ": " + ec.message());
  }
  tcp::endpoint bound = s.acceptor.local_endpoint(ec);
  s.port = bound.port();
  s.work.emplace(s.io.get_executor());
  s.accept();
  s.running = true;
  s.thread = std::thread([&s] { s.io.run(); });
  spdlog::info("HTTP server listening. address={} port={} tls={}", bound.address().to_string(),
               bound.port(), s.tls ? "on" : "off");
  return Status::ok();
}

unsigned short Server::port() const { return impl_->port.load(); }

void Server::stop() {
  Impl& s = *impl_;
  if (!s.running) return;
  s.running = false;
  asio::post(s.io, [&s] { s.beginShutdown(); });
  s.thread.join();
  s.joined = true;
  {
    std::lock_guard lock(s.gate->mu);
    s.gate->open = false;
  }
  spdlog::info("HTTP server stopped.");
}

}  // namespace smsbridge
