#include "core/http_client.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "tests/fakes/temp_dir.h"
#include "tests/fakes/test_http_server.h"

namespace smsbridge {
namespace {

using std::chrono::milliseconds;
using testing::CannedResponse;
using testing::RecordedRequest;
using testing::TempDir;
using testing::TestHttpServer;

// Sets or unsets an environment variable for one test and puts the old value back afterwards.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::string name, const char* value = nullptr) : name_(std::move(name)) {
    if (const char* old = getenv(name_.c_str())) old_ = old;
    if (value) {
      setenv(name_.c_str(), value, 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

CannedResponse reply(int status, std::string body, bool chunked = false) {
  CannedResponse r;
  r.status = status;
  r.body = std::move(body);
  r.chunked = chunked;
  return r;
}

HttpClientRequest get(std::string url) {
  HttpClientRequest request;
  request.method = "GET";
  request.url = std::move(url);
  return request;
}

class HttpClientTest : public ::testing::Test {
 protected:
  // Runs the client's io_context until `done` holds; false when its work ran out first (a
  // callback that never came).
  bool runUntil(const std::function<bool()>& done) {
    io_.restart();
    while (!done()) {
      if (io_.run_one() == 0) return false;
    }
    return true;
  }

  // Runs the client's io_context while waiting for something only the server sees. Polls,
  // because nothing happens on the client side meanwhile; the bound only stops a broken test
  // from hanging.
  bool runUntilServer(const std::function<bool()>& done) {
    io_.restart();
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      io_.run_for(milliseconds(5));
      io_.restart();
    }
    return true;
  }

  HttpClientResponse send(HttpTransport& client, HttpClientRequest request) {
    std::optional<HttpClientResponse> response;
    client.execute(std::move(request), [&](HttpClientResponse r) { response = std::move(r); });
    EXPECT_FALSE(response) << "the callback ran inside execute()";
    EXPECT_TRUE(runUntil([&] { return response.has_value(); }));
    if (response) return *response;
    HttpClientResponse missing;
    missing.error = HttpError::kOther;
    missing.error_message = "no callback";
    return missing;
  }

  std::shared_ptr<HttpTransport> client() { return makeHttpClient(io_, options_); }

  // An ambient proxy would swallow the loopback requests these tests make.
  ScopedEnv http_proxy_{"http_proxy"};
  ScopedEnv https_proxy_{"https_proxy"};
  ScopedEnv https_proxy_upper_{"HTTPS_PROXY"};
  ScopedEnv all_proxy_{"all_proxy"};
  ScopedEnv all_proxy_upper_{"ALL_PROXY"};
  ScopedEnv no_proxy_{"no_proxy"};
  ScopedEnv no_proxy_upper_{"NO_PROXY"};

  boost::asio::io_context io_;
  HttpClientOptions options_;
  TestHttpServer server_;
};

TEST_F(HttpClientTest, GetReturnsStatusHeadersAndBody) {
  server_.respondWith([](const RecordedRequest&) {
    CannedResponse r = reply(404, "gone");
    r.headers = {{"X-Reply", "yes"}, {"Retry-After", " 7 "}};
    return r;
  });
  options_.user_agent = "smsbridge-test/1";
  auto c = client();
  HttpClientRequest request = get(server_.url("/messages?id=42"));
  request.headers = {{"Authorization", "Bearer secret"}, {"X-Empty", ""}};

  HttpClientResponse response = send(*c, request);

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "gone");
  EXPECT_EQ(response.header("x-reply"), "yes");
  EXPECT_EQ(response.header("Retry-After"), "7");
  for (const auto& [name, value] : response.headers) {
    EXPECT_EQ(name, [&] {
      std::string lower = name;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return lower;
    }()) << "header names must be lower-cased";
  }
  ASSERT_EQ(server_.requestCount(), 1u);
  RecordedRequest seen = server_.requests()[0];
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/messages?id=42");
  EXPECT_EQ(seen.header("authorization"), "Bearer secret");
  EXPECT_EQ(seen.header("user-agent"), "smsbridge-test/1");
  bool empty_header_sent = false;
  for (const auto& [name, value] : seen.headers) empty_header_sent |= name == "x-empty";
  EXPECT_TRUE(empty_header_sent);
}

TEST_F(HttpClientTest, PostSendsBodyWithoutExpectContinue) {
  server_.respondWith(
      [](const RecordedRequest& r) { return reply(201, "echo:" + std::to_string(r.body.size())); });
  auto c = client();
  HttpClientRequest request;
  request.url = server_.url("/sms");
  // Large enough that libcurl would ask for "100 Continue" unless told not to.
  request.body = std::string(2 * 1024 * 1024, 'x');
  request.headers = {{"Content-Type", "application/json"}};

  HttpClientResponse response = send(*c, request);

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "echo:" + std::to_string(request.body.size()));
  ASSERT_EQ(server_.requestCount(), 1u);
  RecordedRequest seen = server_.requests()[0];
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.body, request.body);
  EXPECT_EQ(seen.header("content-type"), "application/json");
  EXPECT_EQ(seen.header("expect"), "");
}

TEST_F(HttpClientTest, LargeResponsesArriveWhole) {
  // Several megabytes take many socket wake-ups; a missed one would stall until the timeout.
  options_.max_response_bytes = 8 * 1024 * 1024;
  auto c = client();
  for (bool chunked : {false, true}) {
    std::string body(3 * 1024 * 1024 + 17, 'z');
    body[12345] = 'y';
    server_.respondWith(
        [body, chunked](const RecordedRequest&) { return reply(200, body, chunked); });

    HttpClientResponse response = send(*c, get(server_.url("/large")));

    EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
    EXPECT_TRUE(response.body == body) << "chunked=" << chunked;
  }
}

TEST_F(HttpClientTest, HostNamesWork) {
  // localhost may resolve to ::1 first, where nothing listens; 127.0.0.1 must still be reached.
  auto c = client();

  HttpClientResponse response =
      send(*c, get("http://localhost:" + std::to_string(server_.port()) + "/named"));

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  EXPECT_EQ(response.status, 200);
}

TEST_F(HttpClientTest, OtherMethodsKeepTheirNameAndBody) {
  auto c = client();
  HttpClientRequest del = get(server_.url("/x"));
  del.method = "DELETE";
  HttpClientRequest patch = get(server_.url("/y"));
  patch.method = "PATCH";
  patch.body = "{\"a\":1}";
  HttpClientRequest empty_post;
  empty_post.url = server_.url("/z");

  EXPECT_EQ(send(*c, del).status, 200);
  EXPECT_EQ(send(*c, patch).status, 200);
  EXPECT_EQ(send(*c, empty_post).status, 200);

  auto seen = server_.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "DELETE");
  EXPECT_EQ(seen[0].body, "");
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[1].body, "{\"a\":1}");
  EXPECT_EQ(seen[2].method, "POST");
  EXPECT_EQ(seen[2].header("content-length"), "0");
}

// Easy handles and header lists are reused from one request to the next: nothing of a request
// may carry over into the following one.
TEST_F(HttpClientTest, ARequestCarriesNothingOfThePreviousOne) {
  auto c = client();
  HttpClientRequest post;
  post.url = server_.url("/a");
  post.body = "to=1";
  post.headers = {{"Authorization", "Basic first"}, {"Content-Type", "text/plain"}};
  HttpClientRequest same_headers = post;
  same_headers.body = "to=2";
  HttpClientRequest other_headers = post;
  other_headers.headers = {{"X-Other", "2"}};
  HttpClientRequest plain_get = get(server_.url("/b"));

  for (const HttpClientRequest& request : {post, same_headers, other_headers, plain_get}) {
    EXPECT_EQ(send(*c, request).status, 200);
  }

  auto seen = server_.requests();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].header("authorization"), "Basic first");
  EXPECT_EQ(seen[1].header("authorization"), "Basic first");
  EXPECT_EQ(seen[1].body, "to=2");
  EXPECT_EQ(seen[2].header("authorization"), "");
  EXPECT_EQ(seen[2].header("x-other"), "2");
  EXPECT_EQ(seen[3].method, "GET");
  EXPECT_EQ(seen[3].body, "");
  EXPECT_EQ(seen[3].header("x-other"), "");
  EXPECT_EQ(seen[3].header("content-type"), "");
}

TEST_F(HttpClientTest, HeaderWithALineBreakIsRefusedBeforeSending) {
  auto c = client();
  HttpClientRequest request = get(server_.url("/inject"));
  request.headers = {{"X-Note", "a\r\nX-Injected: 1"}};

  HttpClientResponse response = send(*c, request);

  EXPECT_EQ(response.error, HttpError::kOther);
  EXPECT_EQ(server_.requestCount(), 0u);
}

TEST_F(HttpClientTest, SequentialRequestsReuseOneConnection) {
  auto c = client();
  int completed = 0;
  int failures = 0;
  std::function<void()> next = [&] {
    c->execute(get(server_.url("/n")), [&](HttpClientResponse r) {
      if (r.error != HttpError::kNone || r.status != 200) ++failures;
      if (++completed < 50) next();
    });
  };
  next();

  ASSERT_TRUE(runUntil([&] { return completed == 50; }));
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(server_.requestCount(), 50u);
  EXPECT_EQ(server_.connectionsAccepted(), 1u);
}

TEST_F(HttpClientTest, ManyConcurrentRequestsAllComplete) {
  server_.respondWith([](const RecordedRequest& r) { return reply(200, std::string(r.target)); });
  auto c = client();
  constexpr int kRequests = 200;
  int completed = 0;
  int wrong = 0;
  for (int i = 0; i < kRequests; ++i) {
    std::string path = "/r" + std::to_string(i);
    c->execute(get(server_.url(path)), [&, path](HttpClientResponse r) {
      ++completed;
      if (r.error != HttpError::kNone || r.status != 200 || r.body != path) ++wrong;
    });
  }

  ASSERT_TRUE(runUntil([&] { return completed == kRequests; }));
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(server_.requestCount(), static_cast<std::size_t>(kRequests));
}

TEST_F(HttpClientTest, MaxConnectionsPerHostLimitsConnections) {
  options_.max_connections_per_host = 2;
  auto c = client();
  int completed = 0;
  int failures = 0;
  for (int i = 0; i < 20; ++i) {
    c->execute(get(server_.url("/limited")), [&](HttpClientResponse r) {
      ++completed;
      if (r.error != HttpError::kNone) ++failures;
    });
  }

  ASSERT_TRUE(runUntil([&] { return completed == 20; }));
  EXPECT_EQ(failures, 0);
  EXPECT_LE(server_.connectionsAccepted(), 2u);
}

TEST_F(HttpClientTest, RefusedConnectionIsConnectError) {
  unsigned short closed_port = 0;
  {
    // A port that was just free and has nobody listening on it.
    boost::asio::io_context scratch;
    boost::asio::ip::tcp::acceptor probe(
        scratch, {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(0)});
    closed_port = probe.local_endpoint().port();
  }
  auto c = client();

  HttpClientResponse response =
      send(*c, get("http://127.0.0.1:" + std::to_string(closed_port) + "/refused"));

  EXPECT_EQ(response.error, HttpError::kConnect) << response.error_message;
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error_message.empty());
}

TEST_F(HttpClientTest, ServerThatNeverAnswersIsTimeout) {
  server_.setBehaviour(TestHttpServer::Behaviour::kStallAfterRequest);
  options_.timeout = milliseconds(300);
  auto c = client();

  HttpClientResponse response = send(*c, get(server_.url("/slow")));

  EXPECT_EQ(response.error, HttpError::kTimeout) << response.error_message;
  EXPECT_EQ(response.status, 0);
  EXPECT_GT(response.elapsed.count(), 0);
  EXPECT_EQ(server_.requestCount(), 1u);  // it did leave: the outcome is ambiguous
}

// The client moves its timer only earlier and lets it fire early rather than re-arming it for
// every request. Here it is first armed for the quick request started just before the stalled
// one, fires a moment before the stalled one's deadline, and must wait again for that.
TEST_F(HttpClientTest, TimeoutFiresWhileOtherRequestsComeAndGo) {
  TestHttpServer stalling;
  stalling.setBehaviour(TestHttpServer::Behaviour::kStallAfterRequest);
  options_.timeout = milliseconds(300);
  auto c = client();
  int answered = 0;
  int failures = 0;
  std::function<void()> next = [&] {
    c->execute(get(server_.url("/quick")), [&](HttpClientResponse r) {
      if (r.error != HttpError::kNone) ++failures;
      if (++answered < 20) next();
    });
  };
  next();
  std::optional<HttpClientResponse> stalled;
  c->execute(get(stalling.url("/slow")), [&](HttpClientResponse r) { stalled = std::move(r); });

  // Bounded: a lost deadline would leave the stalled request waiting forever.
  ASSERT_TRUE(runUntilServer([&] { return stalled.has_value() && answered == 20; }));
  EXPECT_EQ(stalled->error, HttpError::kTimeout) << stalled->error_message;
  EXPECT_EQ(failures, 0);
}

TEST_F(HttpClientTest, HandshakeThatNeverCompletesIsConnectTimeout) {
  // TCP connects, but the TLS handshake gets no answer: the request never left.
  server_.setBehaviour(TestHttpServer::Behaviour::kStallOnAccept);
  options_.connect_timeout = milliseconds(300);
  auto c = client();
  std::string url = server_.url("/tls");
  url.replace(0, 4, "https");

  HttpClientResponse response = send(*c, get(url));

  EXPECT_EQ(response.error, HttpError::kConnectTimeout) << response.error_message;
  EXPECT_EQ(server_.requestCount(), 0u);
}

TEST_F(HttpClientTest, ResponseOverTheCapIsTooLarge) {
  options_.max_response_bytes = 1024;
  auto c = client();
  for (bool chunked : {false, true}) {
    server_.respondWith([chunked](const RecordedRequest&) {
      return reply(200, std::string(64 * 1024, 'b'), chunked);
    });
    HttpClientResponse response = send(*c, get(server_.url("/big")));
    EXPECT_EQ(response.error, HttpError::kTooLarge) << "chunked=" << chunked;
    EXPECT_LE(response.body.size(), 1024u);
  }
}

TEST_F(HttpClientTest, ResponseExactlyAtTheCapIsAccepted) {
  options_.max_response_bytes = 1024;
  server_.respondWith(
      [](const RecordedRequest&) { return reply(200, std::string(1024, 'b'), true); });
  auto c = client();

  HttpClientResponse response = send(*c, get(server_.url("/exact")));

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  EXPECT_EQ(response.body.size(), 1024u);
}

TEST_F(HttpClientTest, ConnectionClosedMidResponseIsOther) {
  server_.setBehaviour(TestHttpServer::Behaviour::kCloseMidResponse);
  auto c = client();

  HttpClientResponse response = send(*c, get(server_.url("/cut")));

  EXPECT_EQ(response.error, HttpError::kOther) << response.error_message;
}

TEST_F(HttpClientTest, RequestIsNeverSentTwiceWhenAReusedConnectionDies) {
  // The server takes the second request on a kept-alive connection and closes without an
  // answer. libcurl would quietly resend it on a fresh connection: a possible duplicate SMS.
  auto c = client();
  ASSERT_EQ(send(*c, get(server_.url("/warm-up"))).status, 200);
  server_.setBehaviour(TestHttpServer::Behaviour::kCloseAfterRequest);
  HttpClientRequest post;
  post.url = server_.url("/sms");
  post.body = "to=+48123456789";

  HttpClientResponse response = send(*c, post);

  EXPECT_EQ(response.error, HttpError::kOther) << response.error_message;
  int copies = 0;
  for (const auto& r : server_.requests()) copies += r.target == "/sms";
  EXPECT_EQ(copies, 1);
}

TEST_F(HttpClientTest, HttpProxyFromTheEnvironmentIsUsed) {
  // The test server plays the proxy: a proxied request carries the absolute URI.
  ScopedEnv proxy("http_proxy", server_.url("").c_str());
  auto c = client();

  HttpClientResponse response = send(*c, get("http://provider.invalid/v1/sms?x=1"));

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  EXPECT_EQ(response.status, 200);
  ASSERT_EQ(server_.requestCount(), 1u);
  EXPECT_EQ(server_.requests()[0].target, "http://provider.invalid/v1/sms?x=1");
}

TEST_F(HttpClientTest, NoProxyExemptsAHost) {
  ScopedEnv proxy("http_proxy", "http://127.0.0.1:1");  // would be refused if it were used
  ScopedEnv exempt("no_proxy", "127.0.0.1");
  auto c = client();

  HttpClientResponse response = send(*c, get(server_.url("/direct")));

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  ASSERT_EQ(server_.requestCount(), 1u);
  EXPECT_EQ(server_.requests()[0].target, "/direct");
}

TEST_F(HttpClientTest, ShutdownWithRequestsInFlightRunsNoCallback) {
  server_.setBehaviour(TestHttpServer::Behaviour::kStallAfterRequest);
  auto c = client();
  int callbacks = 0;
  for (int i = 0; i < 5; ++i)
    c->execute(get(server_.url("/held")), [&](HttpClientResponse) { ++callbacks; });
  ASSERT_TRUE(runUntilServer([&] { return server_.requestCount() == 5; }));

  c->shutdown();
  c->shutdown();  // idempotent
  c->execute(get(server_.url("/after")), [&](HttpClientResponse) { ++callbacks; });
  io_.restart();
  io_.run();  // returns once nothing is left waiting

  EXPECT_EQ(callbacks, 0);
}

TEST_F(HttpClientTest, ShutdownFromACallbackStopsTheRest) {
  auto c = client();
  int callbacks = 0;
  for (int i = 0; i < 10; ++i) {
    c->execute(get(server_.url("/s")), [&](HttpClientResponse) {
      ++callbacks;
      c->shutdown();
    });
  }
  ASSERT_TRUE(runUntil([&] { return callbacks >= 1; }));
  io_.restart();
  io_.run();

  EXPECT_EQ(callbacks, 1);
}

TEST_F(HttpClientTest, ClientOutlivesItsLastReferenceWhileTransfersRun) {
  std::optional<HttpClientResponse> response;
  makeHttpClient(io_, options_)->execute(get(server_.url("/orphan")), [&](HttpClientResponse r) {
    response = std::move(r);
  });

  ASSERT_TRUE(runUntil([&] { return response.has_value(); }));
  EXPECT_EQ(response->error, HttpError::kNone) << response->error_message;
}

TEST_F(HttpClientTest, DestroyingEverythingWithTransfersInFlightIsSafe) {
  server_.setBehaviour(TestHttpServer::Behaviour::kStallAfterRequest);
  int callbacks = 0;
  {
    boost::asio::io_context io;
    auto c = makeHttpClient(io, options_);
    for (int i = 0; i < 3; ++i)
      c->execute(get(server_.url("/x")), [&](HttpClientResponse) { ++callbacks; });
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (server_.requestCount() < 3 && std::chrono::steady_clock::now() < give_up) {
      io.run_for(milliseconds(5));
      io.restart();
    }
    ASSERT_EQ(server_.requestCount(), 3u);
    c.reset();
  }  // the io_context goes with handlers that still hold the client
  EXPECT_EQ(callbacks, 0);
}

class HttpsClientTest : public HttpClientTest {
 protected:
  void SetUp() override {
    identity_ = testing::makeSelfSignedIdentity();
    tls_server_ = std::make_unique<TestHttpServer>(identity_);
    ca_file_ = dir_.file("ca.pem");
    std::ofstream(ca_file_) << identity_.certificate_pem;
    other_ca_file_ = dir_.file("other.pem");
    std::ofstream(other_ca_file_) << testing::makeSelfSignedIdentity().certificate_pem;
  }

  TempDir dir_;
  testing::TlsIdentity identity_;
  std::unique_ptr<TestHttpServer> tls_server_;
  std::string ca_file_;
  std::string other_ca_file_;
};

TEST_F(HttpsClientTest, TrustedCaFileSucceeds) {
  options_.ca_file = ca_file_;
  auto c = client();

  HttpClientResponse response = send(*c, get(tls_server_->url("/secure")));

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
}

TEST_F(HttpsClientTest, TrustedCaDirectorySucceeds) {
  // A CA directory holds certificates named by subject hash, as c_rehash lays them out.
  BIO* bio = BIO_new_mem_buf(identity_.certificate_pem.data(),
                             static_cast<int>(identity_.certificate_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  ASSERT_NE(cert, nullptr);
  char name[32];
  snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(cert));
  X509_free(cert);
  BIO_free(bio);
  std::filesystem::create_directory(dir_.file("cas"));
  std::ofstream(dir_.file("cas/" + std::string(name))) << identity_.certificate_pem;
  options_.ca_path = dir_.file("cas");
  auto c = client();

  HttpClientResponse response = send(*c, get(tls_server_->url("/secure")));

  EXPECT_EQ(response.error, HttpError::kNone) << response.error_message;
  EXPECT_EQ(response.status, 200);
}

TEST_F(HttpsClientTest, RequestsOverTlsReuseOneConnection) {
  options_.ca_file = ca_file_;
  auto c = client();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(send(*c, get(tls_server_->url("/again"))).status, 200);
  }
  EXPECT_EQ(tls_server_->connectionsAccepted(), 1u);
}

TEST_F(HttpsClientTest, UnrelatedCaFileIsTlsError) {
  options_.ca_file = other_ca_file_;
  auto c = client();

  HttpClientResponse response = send(*c, get(tls_server_->url("/secure")));

  EXPECT_EQ(response.error, HttpError::kTls) << response.error_message;
  EXPECT_EQ(tls_server_->requestCount(), 0u);
}

TEST_F(HttpsClientTest, SystemStoreDoesNotTrustASelfSignedServer) {
  auto c = client();

  HttpClientResponse response = send(*c, get(tls_server_->url("/secure")));

  EXPECT_EQ(response.error, HttpError::kTls) << response.error_message;
  EXPECT_EQ(tls_server_->requestCount(), 0u);
}

TEST_F(HttpsClientTest, CertificateForAnotherHostIsTlsError) {
  testing::TlsIdentity elsewhere = testing::makeSelfSignedIdentity("DNS:elsewhere.example");
  TestHttpServer server(elsewhere);
  std::ofstream(dir_.file("elsewhere.pem")) << elsewhere.certificate_pem;
  options_.ca_file = dir_.file("elsewhere.pem");  // trusted, but names another host
  auto c = client();

  HttpClientResponse response = send(*c, get(server.url("/secure")));

  EXPECT_EQ(response.error, HttpError::kTls) << response.error_message;
  EXPECT_EQ(server.requestCount(), 0u);
}

TEST(HttpErrorNameTest, NamesEveryError) {
  EXPECT_EQ(httpErrorName(HttpError::kNone), "none");
  EXPECT_EQ(httpErrorName(HttpError::kConnectTimeout), "connect_timeout");
  EXPECT_EQ(httpErrorName(HttpError::kTooLarge), "too_large");
}

}  // namespace
}  // namespace smsbridge
