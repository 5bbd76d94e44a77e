#include "tests/fakes/test_http_server.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace smsbridge::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lowerCased(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

std::string RecordedRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

TlsIdentity makeSelfSignedIdentity(const std::string& names) {
  // Tests only: failures throw, which fails the test that asked for the identity.
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (!key || !cert) throw std::runtime_error("OpenSSL could not allocate a key or certificate");
  static std::atomic<long> serial{1};
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, names.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("OpenSSL rejected a certificate extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");

  TlsIdentity identity;
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  identity.certificate_pem = bioText(cert_bio);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  identity.private_key_pem = bioText(key_bio);
  BIO_free(key_bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return identity;
}

struct TestHttpServer::Impl {
  std::optional<asio::ssl::context> tls;  // before io: TLS sessions die with io's handlers
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<std::size_t> connections{0};

  mutable std::mutex mutex;  // guards what the test thread and the server thread share:
  Behaviour behaviour = Behaviour::kRespond;
  std::function<CannedResponse(const RecordedRequest&)> responder;
  std::vector<RecordedRequest> requests;

  Behaviour currentBehaviour() {
    std::lock_guard lock(mutex);
    return behaviour;
  }

  CannedResponse record(RecordedRequest request) {
    std::function<CannedResponse(const RecordedRequest&)> reply;
    {
      std::lock_guard lock(mutex);
      requests.push_back(request);
      reply = responder;
    }
    if (reply) return reply(request);
    CannedResponse ok;
    ok.body = "ok";
    return ok;
  }

  unsigned short listen();
  void accept();
};

namespace {

// One connection. Stream is tcp::socket or ssl::stream<tcp::socket>; the session keeps
// itself alive through the handlers it has pending.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(TestHttpServer::Impl& server, Stream stream)
      : server_(server), stream_(std::move(stream)) {}

  void start() {
    if (server_.currentBehaviour() == TestHttpServer::Behaviour::kStallOnAccept) {
      drain();
      return;
    }
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      readRequest();
    } else {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::system::error_code ec) {
                                if (!ec) self->readRequest();
                              });
    }
  }

 private:
  // Reads and discards until the client gives up, so a stalled connection stays open.
  void drain() {
    socket().async_read_some(
        asio::buffer(scratch_),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          if (!ec) self->drain();
        });
  }

  tcp::socket& socket() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      return stream_;
    } else {
      return stream_.next_layer();
    }
  }

  void readRequest() {
    // Big enough for the large-body tests; Beast's default stops at 1 MiB.
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (!ec) self->onRequest();
                     });
  }

  void onRequest() {
    request_ = parser_->release();
    RecordedRequest recorded;
    recorded.method = std::string(request_.method_string());
    recorded.target = std::string(request_.target());
    for (const auto& field : request_) {
      recorded.headers.emplace_back(
          lowerCased(std::string_view(field.name_string().data(), field.name_string().size())),
          std::string(field.value()));
    }
    recorded.body = request_.body();
    CannedResponse reply = server_.record(std::move(recorded));

    switch (server_.currentBehaviour()) {
      case TestHttpServer::Behaviour::kStallAfterRequest:
      case TestHttpServer::Behaviour::kStallOnAccept:
        drain();
        return;
      case TestHttpServer::Behaviour::kCloseMidResponse:
        cutShort();
        return;
      case TestHttpServer::Behaviour::kCloseAfterRequest: {
        boost::system::error_code ignored;
        socket().close(ignored);
        return;
      }
      case TestHttpServer::Behaviour::kRespond:
        respond(std::move(reply));
        return;
    }
  }

  void respond(CannedResponse reply) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(reply.status));
    for (const auto& [name, value] : reply.headers) response_.set(name, value);
    response_.body() = std::move(reply.body);
    response_.keep_alive(request_.keep_alive());
    if (reply.chunked) {
      response_.chunked(true);
    } else {
      response_.prepare_payload();
    }
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return;
                        if (self->response_.keep_alive()) {
                          self->readRequest();
                        } else {
                          boost::system::error_code ignored;
                          self->socket().shutdown(tcp::socket::shutdown_both, ignored);
                        }
                      });
  }

  void cutShort() {
    raw_ = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly part of the body";
    asio::async_write(stream_, asio::buffer(raw_),
                      [self = this->shared_from_this()](boost::system::error_code, std::size_t) {
                        boost::system::error_code ignored;
                        self->socket().close(ignored);
                      });
  }

  TestHttpServer::Impl& server_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::string raw_;
  char scratch_[4096];
};

}  // namespace

void TestHttpServer::Impl::accept() {
  acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) return;  // the acceptor was closed
    ++connections;
    if (tls) {
      std::make_shared<Session<asio::ssl::stream<tcp::socket>>>(
          *this, asio::ssl::stream<tcp::socket>(std::move(socket), *tls))
          ->start();
    } else {
      std::make_shared<Session<tcp::socket>>(*this, std::move(socket))->start();
    }
    accept();
  });
}

unsigned short TestHttpServer::Impl::listen() {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(endpoint.protocol());
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  unsigned short port = acceptor.local_endpoint().port();
  accept();
  thread = std::thread([this] { io.run(); });
  return port;
}

TestHttpServer::TestHttpServer() : impl_(std::make_unique<Impl>()) { port_ = impl_->listen(); }

TestHttpServer::TestHttpServer(TlsIdentity identity) : impl_(std::make_unique<Impl>()) {
  impl_->tls.emplace(asio::ssl::context::tls_server);
  impl_->tls->use_certificate_chain(asio::buffer(identity.certificate_pem));
  impl_->tls->use_private_key(asio::buffer(identity.private_key_pem), asio::ssl::context::pem);
  port_ = impl_->listen();
}

TestHttpServer::~TestHttpServer() {
  impl_->io.stop();
  impl_->thread.join();
}

std::string TestHttpServer::url(std::string_view path) const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
         std::string(path);
}

void TestHttpServer::setBehaviour(Behaviour behaviour) {
  std::lock_guard lock(impl_->mutex);
  impl_->behaviour = behaviour;
}

void TestHttpServer::respondWith(std::function<CannedResponse(const RecordedRequest&)> responder) {
  std::lock_guard lock(impl_->mutex);
  impl_->responder = std::move(responder);
}

std::size_t TestHttpServer::connectionsAccepted() const { return impl_->connections.load(); }

std::size_t TestHttpServer::requestCount() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

std::vector<RecordedRequest> TestHttpServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

}  // namespace smsbridge::testing
