#include "core/server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "tests/fakes/temp_dir.h"
#include "tests/fakes/test_http_server.h"

namespace smsbridge {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// A blocking loopback client. Reads give up after 10 s, so a server bug fails the test instead
// of hanging it; no test relies on that duration.
class Client {
 public:
  explicit Client(unsigned short port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void sendRaw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  void send(http::verb method, const std::string& target, std::string body = "",
            bool keep_alive = true) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(keep_alive);
    request.body() = std::move(body);
    request.prepare_payload();
    http::write(socket_, request);
  }

  // The next response; an error when the server closed the connection or timed out.
  boost::system::error_code read(http::response<http::string_body>& response) {
    boost::system::error_code ec;
    http::read(socket_, buffer_, response, ec);
    return ec;
  }

  http::response<http::string_body> get(const std::string& target) {
    send(http::verb::get, target);
    http::response<http::string_body> response;
    boost::system::error_code ec = read(response);
    EXPECT_FALSE(ec) << ec.message();
    return response;
  }

  // True when the server closed the connection (EOF or reset) rather than answering.
  bool closedByServer() {
    char byte;
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  void close() { socket_.close(); }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

HttpHandler answer(int status, std::string body) {
  return [status, body](const HttpRequest&, HttpResponder respond) {
    HttpResponse response;
    response.status = status;
    response.body = body;
    respond(std::move(response));
  };
}

ServerConfig testConfig() {
  ServerConfig config;
  config.port = 0;
  config.max_body_bytes = 1024;
  config.header_timeout = std::chrono::milliseconds(200);
  config.body_timeout = std::chrono::milliseconds(200);
  return config;
}

std::unique_ptr<Server> startServer(ServerConfig config = testConfig()) {
  auto server = Server::create(std::move(config));
  EXPECT_TRUE(server) << server.error().toString();
  (*server)->handle("/healthz", {"GET"}, answer(200, "ok"));
  return std::move(*server);
}

TEST(ServerTest, HealthzAnswersOkOnTheReportedPort) {
  auto server = startServer();
  ASSERT_TRUE(server->start().isOk());
  ASSERT_NE(server->port(), 0);
  Client client(server->port());
  auto response = client.get("/healthz");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "ok");
  EXPECT_EQ(response[http::field::content_type], "text/plain; charset=utf-8");
}

TEST(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = startServer();
  int calls = 0;
  server->handle("/count", {}, [&](const HttpRequest&, HttpResponder respond) {
    HttpResponse response;
    response.body = std::to_string(++calls);
    respond(std::move(response));
  });
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  for (int i = 1; i <= 3; ++i) {
    auto response = client.get("/count");
    EXPECT_EQ(response.body(), std::to_string(i));
    EXPECT_TRUE(response.keep_alive());
  }
}

TEST(ServerTest, HandlerSeesMethodPathQueryHeadersAndBody) {
  auto server = startServer();
  std::promise<HttpRequest> seen;
  server->handle("/webhooks/", {"POST"}, [&](const HttpRequest& request, HttpResponder respond) {
    seen.set_value(request);
    HttpResponse response;
    response.status = 204;
    respond(std::move(response));
  });
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  client.sendRaw(
      "POST /webhooks/smsapi/status?token=a%20b HTTP/1.1\r\nHost: x\r\nX-Token: Secret\r\n"
      "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
  http::response<http::string_body> response;
  ASSERT_FALSE(client.read(response));
  EXPECT_EQ(response.result_int(), 204);
  HttpRequest request = seen.get_future().get();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/webhooks/smsapi/status?token=a%20b");
  EXPECT_EQ(request.path, "/webhooks/smsapi/status");
  EXPECT_EQ(request.query, "token=a%20b");
  ASSERT_NE(request.header("x-token"), nullptr);
  EXPECT_EQ(*request.header("x-token"), "Secret");
  EXPECT_EQ(request.body, "{\"a\":1}");
  EXPECT_EQ(request.remote_address, "127.0.0.1");
}

TEST(ServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto server = startServer();
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  EXPECT_EQ(client.get("/nope").result_int(), 404);
  client.send(http::verb::post, "/healthz", "x");
  http::response<http::string_body> response;
  ASSERT_FALSE(client.read(response));
  EXPECT_EQ(response.result_int(), 405);
  EXPECT_EQ(response[http::field::allow], "GET");
  // Both answers kept the connection usable.
  EXPECT_EQ(client.get("/healthz").result_int(), 200);
}

TEST(ServerTest, ExactRoutesWinOverPrefixesAndLongerPrefixesOverShorter) {
  auto server = startServer();
  server->handle("/a/", {}, answer(200, "a"));
  server->handle("/a/b/", {}, answer(200, "ab"));
  server->handle("/a/b/c", {}, answer(200, "exact"));
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  EXPECT_EQ(client.get("/a/x").body(), "a");
  EXPECT_EQ(client.get("/a/b/x").body(), "ab");
  EXPECT_EQ(client.get("/a/b/c").body(), "exact");
  EXPECT_EQ(client.get("/a").result_int(), 404);
}

TEST(ServerTest, BodyOverTheLimitIs413AndTheServerKeepsServing) {
  bool called = false;
  auto server = startServer();
  server->handle("/in", {"POST"}, [&](const HttpRequest&, HttpResponder respond) {
    called = true;
    respond(HttpResponse{});
  });
  ASSERT_TRUE(server->start().isOk());
  {
    Client client(server->port());
    client.send(http::verb::post, "/in", std::string(4096, 'x'));
    http::response<http::string_body> response;
    ASSERT_FALSE(client.read(response));
    EXPECT_EQ(response.result_int(), 413);
    EXPECT_FALSE(response.keep_alive());
  }
  {
    // Chunked: the size is known only while reading.
    Client client(server->port());
    client.sendRaw("POST /in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                   std::string(2048, 'y') + "\r\n0\r\n\r\n");
    http::response<http::string_body> response;
    ASSERT_FALSE(client.read(response));
    EXPECT_EQ(response.result_int(), 413);
  }
  EXPECT_FALSE(called);
  Client again(server->port());
  EXPECT_EQ(again.get("/healthz").result_int(), 200);
}

TEST(ServerTest, MalformedRequestIs400AndTheServerKeepsServing) {
  auto server = startServer();
  ASSERT_TRUE(server->start().isOk());
  {
    Client client(server->port());
    client.sendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n");
    http::response<http::string_body> response;
    ASSERT_FALSE(client.read(response));
    EXPECT_EQ(response.result_int(), 400);
  }
  Client again(server->port());
  EXPECT_EQ(again.get("/healthz").result_int(), 200);
}

TEST(ServerTest, AClientThatStallsMidHeaderGets408AndIsDisconnected) {
  auto server = startServer();
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  client.sendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // no blank line: the header never ends
  http::response<http::string_body> response;
  ASSERT_FALSE(client.read(response));
  EXPECT_EQ(response.result_int(), 408);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.closedByServer());
  Client again(server->port());
  EXPECT_EQ(again.get("/healthz").result_int(), 200);
}

TEST(ServerTest, AClientThatStallsMidBodyGets408AndIsDisconnected) {
  bool called = false;
  auto server = startServer();
  server->handle("/in", {"POST"}, [&](const HttpRequest&, HttpResponder respond) {
    called = true;
    respond(HttpResponse{});
  });
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  client.sendRaw("POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part");
  http::response<http::string_body> response;
  ASSERT_FALSE(client.read(response));
  EXPECT_EQ(response.result_int(), 408);
  EXPECT_TRUE(client.closedByServer());
  EXPECT_FALSE(called);
}

// An answer nobody asked for would be taken as the answer to the client's next request.
TEST(ServerTest, AnIdleConnectionIsClosedWithoutAnAnswer) {
  auto server = startServer();
  ASSERT_TRUE(server->start().isOk());
  Client idle(server->port());
  EXPECT_TRUE(idle.closedByServer());
  Client kept_alive(server->port());
  EXPECT_EQ(kept_alive.get("/healthz").result_int(), 200);
  EXPECT_TRUE(kept_alive.closedByServer());  // after header_timeout without a second request
}

TEST(ServerTest, HandlerMayAnswerFromAnotherThread) {
  auto server = startServer();
  std::vector<std::thread> workers;
  server->handle("/later", {}, [&](const HttpRequest& request, HttpResponder respond) {
    workers.emplace_back([respond = std::move(respond), body = request.path] {
      HttpResponse response;
      response.status = 202;
      response.body = body;
      response.headers.emplace_back("X-Answered-By", "worker");
      respond(std::move(response));
    });
  });
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  for (int i = 0; i < 2; ++i) {
    auto response = client.get("/later");
    EXPECT_EQ(response.result_int(), 202);
    EXPECT_EQ(response.body(), "/later");
    EXPECT_EQ(response["X-Answered-By"], "worker");
  }
  server->stop();
  for (auto& t : workers) t.join();
}

TEST(ServerTest, AnAnswerAfterTheClientLeftIsDropped) {
  auto server = startServer();
  std::promise<HttpResponder> pending;
  server->handle("/slow", {}, [&](const HttpRequest&, HttpResponder respond) {
    pending.set_value(std::move(respond));
  });
  ASSERT_TRUE(server->start().isOk());
  HttpResponder respond;
  {
    Client client(server->port());
    client.send(http::verb::get, "/slow");
    respond = pending.get_future().get();
    client.close();
  }
  // The connection may or may not be noticed as gone by now; either way nothing breaks.
  respond(HttpResponse{});
  respond(HttpResponse{});  // a second answer is ignored
  Client again(server->port());
  EXPECT_EQ(again.get("/healthz").result_int(), 200);
  server->stop();
  respond(HttpResponse{});  // and after stop too
}

TEST(ServerTest, StopLetsARequestInProgressFinishAndRefusesNewConnections) {
  auto server = startServer();
  std::promise<HttpResponder> pending;
  server->handle("/slow", {}, [&](const HttpRequest&, HttpResponder respond) {
    pending.set_value(std::move(respond));
  });
  ASSERT_TRUE(server->start().isOk());
  const unsigned short port = server->port();
  Client busy(port);
  Client idle(port);
  EXPECT_EQ(idle.get("/healthz").result_int(), 200);  // keep-alive, now between requests
  busy.send(http::verb::get, "/slow");
  HttpResponder respond = pending.get_future().get();

  std::thread stopper([&] { server->stop(); });
  // The idle connection is closed right after the listener, so once it is, new connections
  // must be refused.
  EXPECT_TRUE(idle.closedByServer());
  boost::system::error_code ec;
  asio::io_context io;
  tcp::socket probe(io);
  probe.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);

  HttpResponse response;
  response.body = "finished";
  respond(std::move(response));
  http::response<http::string_body> got;
  ASSERT_FALSE(busy.read(got));
  EXPECT_EQ(got.body(), "finished");
  EXPECT_FALSE(got.keep_alive());  // the server is going away
  stopper.join();
}

TEST(ServerTest, StopClosesRequestsThatOutlastTheGracePeriod) {
  ServerConfig config = testConfig();
  config.shutdown_grace = std::chrono::milliseconds(50);
  auto server = startServer(config);
  std::promise<HttpResponder> pending;
  server->handle("/never", {}, [&](const HttpRequest&, HttpResponder respond) {
    pending.set_value(std::move(respond));
  });
  ASSERT_TRUE(server->start().isOk());
  Client client(server->port());
  client.send(http::verb::get, "/never");
  HttpResponder respond = pending.get_future().get();
  server->stop();  // returns although the handler never answered
  EXPECT_TRUE(client.closedByServer());
  respond(HttpResponse{});
}

TEST(ServerTest, ConnectionsBeyondTheLimitAreClosed) {
  ServerConfig config = testConfig();
  config.max_connections = 1;
  config.header_timeout = std::chrono::seconds(30);
  auto server = startServer(config);
  ASSERT_TRUE(server->start().isOk());
  Client first(server->port());
  EXPECT_EQ(first.get("/healthz").result_int(), 200);  // accepted and counted
  Client second(server->port());
  EXPECT_TRUE(second.closedByServer());
  EXPECT_EQ(first.get("/healthz").result_int(), 200);
}

TEST(ServerTest, ServesHttpsWithTheConfiguredCertificate) {
  testing::TempDir dir;
  testing::TlsIdentity identity = testing::makeSelfSignedIdentity();
  std::ofstream(dir.file("cert.pem")) << identity.certificate_pem;
  std::ofstream(dir.file("key.pem")) << identity.private_key_pem;
  ServerConfig config = testConfig();
  config.cert_file = dir.file("cert.pem");
  config.key_file = dir.file("key.pem");
  auto server = startServer(config);
  ASSERT_TRUE(server->start().isOk());

  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.add_certificate_authority(asio::buffer(identity.certificate_pem));
  tls.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<tcp::socket> stream(io, tls);
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()));
  stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  stream.handshake(asio::ssl::stream_base::client);
  http::request<http::string_body> request(http::verb::get, "/healthz", 11);
  request.set(http::field::host, "localhost");
  http::write(stream, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "ok");

  // Plain HTTP to the TLS port gets no answer.
  Client plain(server->port());
  plain.send(http::verb::get, "/healthz");
  http::response<http::string_body> ignored;
  EXPECT_TRUE(plain.read(ignored));
}

TEST(ServerTest, CreateRefusesUnusableTlsFiles) {
  testing::TempDir dir;
  testing::TlsIdentity a = testing::makeSelfSignedIdentity();
  testing::TlsIdentity b = testing::makeSelfSignedIdentity();
  std::ofstream(dir.file("cert.pem")) << a.certificate_pem;
  std::ofstream(dir.file("other_key.pem")) << b.private_key_pem;
  ServerConfig config = testConfig();
  config.cert_file = dir.file("cert.pem");
  config.key_file = dir.file("other_key.pem");
  auto mismatched = Server::create(config);
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.error().category(), ErrorCategory::kConfig);
  EXPECT_NE(mismatched.error().message().find("other_key.pem"), std::string::npos)
      << mismatched.error().message();

  config.key_file = dir.file("missing.pem");
  EXPECT_FALSE(Server::create(config));
  config.key_file.clear();
  EXPECT_FALSE(Server::create(config));
}

TEST(ServerTest, StartFailsWhenThePortIsTaken) {
  auto first = startServer();
  ASSERT_TRUE(first->start().isOk());
  ServerConfig config = testConfig();
  config.port = first->port();
  auto second = startServer(config);
  Status s = second->start();
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.category(), ErrorCategory::kConfig);
}

TEST(ServerTest, ParsesListenAddresses) {
  std::string host;
  unsigned short port = 1;
  ASSERT_TRUE(parseListenAddress("127.0.0.1:8787", host, port).isOk());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8787);
  ASSERT_TRUE(parseListenAddress("[::1]:0", host, port).isOk());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(parseListenAddress("localhost:80", host, port).isOk());
  EXPECT_EQ(host, "localhost");
  for (const char* bad : {"8787", ":8787", "host:", "host:65536", "host:8x", "::1:80"}) {
    EXPECT_FALSE(parseListenAddress(bad, host, port).isOk()) << bad;
  }
}

}  // namespace
}  // namespace smsbridge
