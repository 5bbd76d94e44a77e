#include "tests/fakes/fake_provider_server.h"

// Boost 1.74's asio headers need <utility> first.
#include <utility>

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/fakes/temp_dir.h"

namespace smsbridge::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Params = std::vector<std::pair<std::string, std::string>>;
using std::chrono::milliseconds;

constexpr const char* kTwilioSid = "AC00000000000000000000000000000001";
constexpr const char* kTwilioPath =
    "/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json";

std::string form(const Params& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k + "=";
    for (char c : v) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        out += c;
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
        out += buf;
      }
    }
  }
  return out;
}

std::string basic(const std::string& user, const std::string& password) {
  std::string in = user + ":" + password;
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return "Basic " + out;
}

Request twilioRequest(const Params& params, const std::string& token = "twilio-auth-token") {
  Request req{http::verb::post, kTwilioPath, 11};
  req.set(http::field::authorization, basic(kTwilioSid, token));
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.body() = form(params);
  return req;
}

Request smsapiRequest(const Params& params, const std::string& token = "smsapi-token") {
  Request req{http::verb::post, "/sms.do", 11};
  req.set(http::field::authorization, "Bearer " + token);
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.body() = form(params);
  return req;
}

Request messageflowRequest(const json& body, const std::string& key = "mf-application-key") {
  Request req{http::verb::post, "/v2.1/sms", 11};
  req.set(http::field::authorization, "mf-authorization");
  req.set("Application-Key", key);
  req.set(http::field::content_type, "application/json");
  req.body() = body.dump();
  return req;
}

Request controlRequest(const std::string& target, const std::string& body) {
  Request req{http::verb::post, target, 11};
  req.body() = body;
  return req;
}

// A small synchronous keep-alive client.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  void write(Request req) {
    req.set(http::field::host, "127.0.0.1");
    req.prepare_payload();
    http::write(socket_, req);
  }

  Response roundTrip(Request req) {
    write(std::move(req));
    Response res;
    http::read(socket_, buffer_, res);
    return res;
  }

  // The answer, or nothing when none came within `wait`; `ec` says how a read failed.
  std::optional<Response> readWithin(milliseconds wait, beast::error_code& ec) {
    Response res;
    bool done = false;
    http::async_read(socket_, buffer_, res, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    io_.restart();
    io_.run_for(wait);
    if (!done) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return std::nullopt;
    }
    if (ec) return std::nullopt;
    return res;
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// Accepts one connection, records its request and answers 200 "OK": the bridge's webhook.
class ReportListener {
 public:
  explicit ReportListener(int expected = 1)
      : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this, expected] {
      try {
        std::vector<Request> requests;
        for (int i = 0; i < expected; ++i) {
          tcp::socket socket(io_);
          acceptor_.accept(socket);
          beast::flat_buffer buffer;
          Request req;
          http::read(socket, buffer, req);
          Response res{http::status::ok, 11};
          res.body() = "OK";
          res.prepare_payload();
          http::write(socket, res);
          requests.push_back(std::move(req));
        }
        received_.set_value(std::move(requests));
      } catch (const std::exception&) {
        received_.set_exception(std::current_exception());
      }
      finished_ = true;
    });
  }
  ~ReportListener() {
    // A blocking accept() is not woken by closing the acceptor: connect to it instead.
    if (!finished_) {
      net::io_context io;
      tcp::socket poke(io);
      beast::error_code ec;
      poke.connect(acceptor_.local_endpoint(), ec);
      poke.close(ec);
    }
    thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }

  // Bounded so a missing report fails the test instead of hanging it.
  std::optional<std::vector<Request>> waitAll() {
    auto future = received_.get_future();
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return std::nullopt;
    return future.get();
  }
  std::optional<Request> wait() {
    auto all = waitAll();
    if (!all) return std::nullopt;
    return std::move(all->front());
  }

 private:
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::promise<std::vector<Request>> received_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

Params parseQuery(std::string_view query) {
  Params out;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    size_t eq = pair.find('=');
    auto decode = [](std::string_view s) {
      std::string out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
          out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          out += s[i] == '+' ? ' ' : s[i];
        }
      }
      return out;
    };
    out.emplace_back(decode(pair.substr(0, eq)),
                     eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1)));
    start = end + 1;
  }
  return out;
}

std::string param(const Params& params, const std::string& name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return "<missing>";
}

class FakeProviderServerTest : public ::testing::Test {
 protected:
  void start() {
    options_.ledger_path = dir_.file("ledger.jsonl");
    options_.dlr_delay = milliseconds(10);
    auto server = FakeProviderServer::start(options_);
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }

  Response send(Request req) { return Client(server_->port()).roundTrip(std::move(req)); }

  Response twilio(const std::string& to = "+48500100200", const std::string& from = "Shop") {
    return send(twilioRequest({{"To", to}, {"From", from}, {"Body", "Hello"}}));
  }

  TempDir dir_;
  FakeProviderOptions options_;
  std::unique_ptr<FakeProviderServer> server_;
};

// ---- pure helpers ---------------------------------------------------------------------------

TEST(TwilioSignatureTest, MatchesTheDocumentedTestVector) {
  // providers.md §3.4, from twilio-python's request validator tests.
  EXPECT_EQ(twilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
                            {{"CallSid", "CA1234567890ABCDE"},
                             {"Digits", "1234"},
                             {"From", "+14158675309"},
                             {"To", "+18005551212"},
                             {"Caller", "+14158675309"}}),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

TEST(TwilioSignatureTest, DependsOnTheToken) {
  EXPECT_NE(twilioSignature("12346", "https://mycompany.com/myapp.php?foo=1&bar=2",
                            {{"CallSid", "CA1234567890ABCDE"},
                             {"Digits", "1234"},
                             {"From", "+14158675309"},
                             {"To", "+18005551212"},
                             {"Caller", "+14158675309"}}),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

TEST(ParseFaultTest, ReadsKindAndOptions) {
  auto f = parseFault("429,count=3,retry_after=2");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FaultKind::kHttp429);
  EXPECT_EQ(f->count, 3);
  EXPECT_EQ(f->retry_after, std::chrono::seconds(2));

  auto d = parseFault("delay,delay=1500ms");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, FaultKind::kDelayedAnswer);
  EXPECT_EQ(d->delay, milliseconds(1500));
  EXPECT_FALSE(d->count.has_value());

  EXPECT_EQ(parseFault("stall")->kind, FaultKind::kStall);
  EXPECT_EQ(parseFault("reset")->kind, FaultKind::kReset);
  EXPECT_EQ(parseFault("none")->kind, FaultKind::kNone);
}

TEST(ParseFaultTest, RejectsUnknownKindsAndOptions) {
  EXPECT_FALSE(parseFault("418"));
  EXPECT_FALSE(parseFault("503,count=0"));
  EXPECT_FALSE(parseFault("503,times=2"));
  EXPECT_FALSE(parseFault("429,retry_after=soon"));
}

// ---- each API: success, authentication, invalid numbers ------------------------------------

TEST_F(FakeProviderServerTest, TwilioAcceptsWithTheCreatedMessage) {
  start();
  Response res = twilio();
  ASSERT_EQ(res.result_int(), 201u);
  json body = json::parse(res.body());
  EXPECT_EQ(body["status"], "queued");
  EXPECT_EQ(body["to"], "+48500100200");
  EXPECT_EQ(body["account_sid"], kTwilioSid);
  std::string sid = body["sid"];
  EXPECT_EQ(sid.size(), 34u);
  EXPECT_EQ(sid.substr(0, 2), "SM");
  EXPECT_EQ(body["num_segments"], "1");  // a string on the real wire too
}

TEST_F(FakeProviderServerTest, TwilioRejectsWrongCredentials) {
  start();
  Response res =
      send(twilioRequest({{"To", "+48500100200"}, {"From", "Shop"}, {"Body", "x"}}, "wrong-token"));
  EXPECT_EQ(res.result_int(), 401u);
  json body = json::parse(res.body());
  EXPECT_EQ(body["code"], 20003);
  EXPECT_EQ(body["status"], 401);
}

TEST_F(FakeProviderServerTest, TwilioRejectsInvalidNumbers) {
  options_.invalid_numbers = {"48500000000"};
  start();
  for (const char* number : {"+48500000000", "0048 500", "+48abc"}) {
    Response res = twilio(number);
    EXPECT_EQ(res.result_int(), 400u) << number;
    EXPECT_EQ(json::parse(res.body())["code"], 21211) << number;
  }
}

TEST_F(FakeProviderServerTest, SmsapiAcceptsWithTheLegacyJsonList) {
  start();
  Response res = send(smsapiRequest({{"format", "json"},
                                     {"to", "48500100200"},
                                     {"message", "Hello"},
                                     {"from", "Shop"},
                                     {"idx", "job-1"}}));
  ASSERT_EQ(res.result_int(), 200u);
  json body = json::parse(res.body());
  EXPECT_EQ(body["count"], 1);
  ASSERT_EQ(body["list"].size(), 1u);
  EXPECT_EQ(body["list"][0]["number"], "48500100200");
  EXPECT_EQ(body["list"][0]["status"], "QUEUE");
  EXPECT_EQ(body["list"][0]["idx"], "job-1");
  EXPECT_FALSE(body["list"][0]["id"].get<std::string>().empty());
  EXPECT_FALSE(body.contains("error"));
}

TEST_F(FakeProviderServerTest, SmsapiAcceptsAJsonBody) {
  start();
  Request req{http::verb::post, "/sms.do?format=json", 11};
  req.set(http::field::authorization, "Bearer smsapi-token");
  req.set(http::field::content_type, "application/json");
  req.body() = json{{"to", "48500100200,48500100201"}, {"message", "Hello"}}.dump();
  Response res = send(req);
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body())["count"], 2);
}

TEST_F(FakeProviderServerTest, SmsapiAnswersInTextWithoutFormatJson) {
  start();
  Response ok = send(smsapiRequest({{"to", "48500100200"}, {"message", "Hello"}}));
  EXPECT_EQ(ok.body().substr(0, 3), "OK:");
  Response bad = send(smsapiRequest({{"to", "12"}, {"message", "Hello"}}));
  EXPECT_EQ(bad.body(), "ERROR:13");
}

TEST_F(FakeProviderServerTest, SmsapiRejectsWrongTokenWithError101) {
  start();
  Response res =
      send(smsapiRequest({{"format", "json"}, {"to", "48500100200"}, {"message", "x"}}, "wrong"));
  EXPECT_EQ(res.result_int(), 200u);  // the legacy endpoint reports errors in the body
  EXPECT_EQ(json::parse(res.body())["error"], 101);
}

TEST_F(FakeProviderServerTest, SmsapiRejectsInvalidNumbersWithError13) {
  options_.invalid_numbers = {"48500000000"};
  start();
  Response res =
      send(smsapiRequest({{"format", "json"}, {"to", "48500000000"}, {"message", "Hello"}}));
  json body = json::parse(res.body());
  EXPECT_EQ(body["error"], 13);
  ASSERT_EQ(body["invalid_numbers"].size(), 1u);
  EXPECT_EQ(body["invalid_numbers"][0]["number"], "48500000000");
}

TEST_F(FakeProviderServerTest, MessageFlowAcceptsWithTheEnvelope) {
  start();
  Response res = send(messageflowRequest({{"sender", "Shop"},
                                          {"message", "Hello"},
                                          {"phoneNumbers", {"+48500100200"}},
                                          {"externalId", "job-7"}}));
  ASSERT_EQ(res.result_int(), 200u);
  json body = json::parse(res.body());
  EXPECT_EQ(body["meta"]["status"], 200);
  EXPECT_EQ(body["meta"]["sentSms"], 1);
  EXPECT_FALSE(body["meta"]["uniqId"].get<std::string>().empty());
  ASSERT_EQ(body["data"].size(), 1u);
  EXPECT_EQ(body["data"][0]["phoneNumber"], "+48500100200");
  EXPECT_EQ(body["data"][0]["externalId"], "job-7");
  EXPECT_TRUE(body["errors"].empty());
}

TEST_F(FakeProviderServerTest, MessageFlowRejectsWrongKeys) {
  start();
  Response res = send(messageflowRequest(
      {{"sender", "Shop"}, {"message", "Hello"}, {"phoneNumbers", {"+48500100200"}}}, "wrong"));
  EXPECT_EQ(res.result_int(), 401u);
  json body = json::parse(res.body());
  EXPECT_EQ(body["meta"]["status"], 401);
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_EQ(body["errors"][0]["message"], "Authorization data is invalid");
}

TEST_F(FakeProviderServerTest, MessageFlowSendsToValidNumbersAndListsTheInvalidOnes) {
  options_.invalid_numbers = {"48500000000"};
  start();
  Response partly = send(messageflowRequest(
      {{"sender", "Shop"}, {"message", "Hi"}, {"phoneNumbers", {"+48500100200", "+48500000000"}}}));
  json body = json::parse(partly.body());
  EXPECT_EQ(partly.result_int(), 200u);
  EXPECT_EQ(body["meta"]["sentSms"], 1);
  EXPECT_EQ(body["meta"]["notSentSms"], 1);
  EXPECT_EQ(body["errors"][0]["meta"]["value"], "+48500000000");

  Response none = send(messageflowRequest(
      {{"sender", "Shop"}, {"message", "Hi"}, {"phoneNumbers", {"48500100200"}}}));
  EXPECT_EQ(none.result_int(), 400u);
  EXPECT_EQ(json::parse(none.body())["meta"]["sentSms"], 0);
}

TEST_F(FakeProviderServerTest, StopsWithStalledAndDelayedConnectionsAndPendingReports) {
  options_.dlr_delay = std::chrono::hours(1);
  start();
  EXPECT_EQ(server_->baseUrl(), "http://127.0.0.1:" + std::to_string(server_->port()));
  ReportListener listener;
  twilio();  // leaves nothing behind
  send(twilioRequest({{"To", "+48500100200"},
                      {"From", "Shop"},
                      {"Body", "x"},
                      {"StatusCallback", listener.url("/never")}}));
  server_->setFault(FakeApi::kTwilio, *parseFault("stall,count=1"));
  Client stalled(server_->port());
  stalled.write(twilioRequest({{"To", "+48500100200"}, {"From", "Shop"}, {"Body", "x"}}));
  server_->setFault(FakeApi::kSmsapi, *parseFault("delay,delay=3600s"));
  Client delayed(server_->port());
  delayed.write(smsapiRequest({{"to", "48500100200"}, {"message", "x"}}));
  while (server_->ledger().size() < 4) std::this_thread::yield();

  // Returning at all is the point: an e2e test's SIGTERM must not hang on open work.
  server_->stop();
  beast::error_code ec;
  EXPECT_FALSE(stalled.readWithin(milliseconds(10'000), ec).has_value());
  EXPECT_NE(ec, net::error::operation_aborted) << "the stalled connection was left open";
  EXPECT_TRUE(server_->callbacks().empty());
}

TEST_F(FakeProviderServerTest, UnknownPathsAre404) {
  start();
  EXPECT_EQ(send(Request{http::verb::get, "/nothing", 11}).result_int(), 404u);
}

// ---- faults ---------------------------------------------------------------------------------

TEST_F(FakeProviderServerTest, ServerErrorsForTheNextNRequestsOnly) {
  start();
  server_->setFault(FakeApi::kTwilio, *parseFault("500,count=2"));
  EXPECT_EQ(twilio().result_int(), 500u);
  Response second = twilio();
  EXPECT_EQ(second.result_int(), 500u);
  EXPECT_EQ(json::parse(second.body())["code"], 20500);
  EXPECT_EQ(twilio().result_int(), 201u);
}

TEST_F(FakeProviderServerTest, FaultsUntilClearedAffectOnlyTheirApi) {
  start();
  server_->setFault(FakeApi::kSmsapi, *parseFault("503"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(send(smsapiRequest({{"to", "48500100200"}, {"message", "x"}})).result_int(), 503u);
  }
  EXPECT_EQ(twilio().result_int(), 201u);
  server_->clearFault(FakeApi::kSmsapi);
  EXPECT_EQ(send(smsapiRequest({{"to", "48500100200"}, {"message", "x"}})).result_int(), 200u);
}

TEST_F(FakeProviderServerTest, TooManyRequestsCarriesRetryAfter) {
  start();
  server_->setFault(FakeApi::kMessageFlow, *parseFault("429,count=1,retry_after=7"));
  Response res = send(messageflowRequest(
      {{"sender", "Shop"}, {"message", "Hello"}, {"phoneNumbers", {"+48500100200"}}}));
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(res[http::field::retry_after], "7");
  EXPECT_EQ(json::parse(res.body())["meta"]["status"], 429);
}

TEST_F(FakeProviderServerTest, StallNeverAnswersButOtherConnectionsAreServed) {
  start();
  server_->setFault(FakeApi::kTwilio, *parseFault("stall,count=1"));
  Client stalled(server_->port());
  stalled.write(twilioRequest({{"To", "+48500100200"}, {"From", "Shop"}, {"Body", "x"}}));
  beast::error_code ec;
  EXPECT_FALSE(stalled.readWithin(milliseconds(300), ec).has_value());
  EXPECT_EQ(ec, net::error::operation_aborted);  // still open: our wait ran out, not the socket

  EXPECT_EQ(twilio().result_int(), 201u);
  auto ledger = server_->ledger();
  ASSERT_EQ(ledger.size(), 2u);
  EXPECT_EQ(ledger[0].outcome, "stall");
  EXPECT_EQ(ledger[0].http_status, 0);
}

TEST_F(FakeProviderServerTest, ResetClosesTheConnectionWithoutAnAnswer) {
  start();
  server_->setFault(FakeApi::kSmsapi, *parseFault("reset,count=1"));
  Client client(server_->port());
  client.write(smsapiRequest({{"to", "48500100200"}, {"message", "x"}}));
  beast::error_code ec;
  EXPECT_FALSE(client.readWithin(milliseconds(10'000), ec).has_value());
  EXPECT_EQ(ec, net::error::connection_reset) << ec.message();
  EXPECT_EQ(server_->ledger().at(0).outcome, "reset");
}

TEST_F(FakeProviderServerTest, DelayedAnswerSendsTheMessageButAnswersLate) {
  start();
  server_->setFault(FakeApi::kTwilio, *parseFault("delay,count=1,delay=2s"));
  Client slow(server_->port());
  slow.write(twilioRequest({{"To", "+48500100200"}, {"From", "Shop"}, {"Body", "x"}}));
  beast::error_code ec;
  EXPECT_FALSE(slow.readWithin(milliseconds(200), ec).has_value());

  // Meanwhile another connection is answered, and the delayed message already counts as sent.
  EXPECT_EQ(twilio().result_int(), 201u);
  auto ledger = server_->ledger();
  ASSERT_EQ(ledger.size(), 2u);
  EXPECT_EQ(ledger[0].outcome, "accepted");
  EXPECT_FALSE(ledger[0].provider_id.empty());

  auto late = slow.readWithin(milliseconds(30'000), ec);
  ASSERT_TRUE(late.has_value()) << ec.message();
  EXPECT_EQ(late->result_int(), 201u);
  EXPECT_EQ(json::parse(late->body())["sid"], ledger[0].provider_id);
}

TEST_F(FakeProviderServerTest, LatencyDelaysEveryAnswer) {
  options_.latency = milliseconds(200);
  start();
  auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(twilio().result_int(), 201u);
  // A lower bound only: the fake must not answer early; how late is for benchmarks.
  EXPECT_GE(std::chrono::steady_clock::now() - before, milliseconds(200));
}

TEST_F(FakeProviderServerTest, ControlEndpointSetsFaults) {
  start();
  EXPECT_EQ(send(controlRequest("/_fake/faults", "twilio=503,count=1")).result_int(), 200u);
  EXPECT_EQ(twilio().result_int(), 503u);
  EXPECT_EQ(twilio().result_int(), 201u);
  EXPECT_EQ(send(controlRequest("/_fake/faults", "twilio=teapot")).result_int(), 400u);
  EXPECT_EQ(send(controlRequest("/_fake/faults", "nobody=503")).result_int(), 400u);
  EXPECT_EQ(send(controlRequest("/_fake/mps", "1")).result_int(), 200u);
  EXPECT_EQ(twilio().result_int(), 201u);
  EXPECT_EQ(twilio().result_int(), 429u);
  // Control requests are not sends: only the four sends are in the ledger.
  EXPECT_EQ(server_->ledger().size(), 4u);
}

// ---- limits and idempotency -----------------------------------------------------------------

TEST_F(FakeProviderServerTest, MpsLimitThrottlesPerSender) {
  options_.mps = 2;
  start();
  EXPECT_EQ(twilio("+48500100200", "Shop").result_int(), 201u);
  EXPECT_EQ(twilio("+48500100201", "Shop").result_int(), 201u);
  Response third = twilio("+48500100202", "Shop");
  EXPECT_EQ(third.result_int(), 429u);
  EXPECT_EQ(json::parse(third.body())["code"], 20429);
  EXPECT_FALSE(third[http::field::retry_after].empty());
  EXPECT_EQ(twilio("+48500100202", "Other").result_int(), 201u);

  // SMSAPI counts every recipient of a request.
  Response batch = send(smsapiRequest({{"format", "json"},
                                       {"from", "Shop"},
                                       {"to", "48500100200,48500100201,48500100202"},
                                       {"message", "x"}}));
  EXPECT_EQ(batch.result_int(), 429u);
  EXPECT_EQ(server_->ledger().at(2).outcome, "throttled");
}

TEST_F(FakeProviderServerTest, SmsapiDuplicateIdxWithCheckIdxIsError53) {
  start();
  Params params = {{"format", "json"},
                   {"to", "48500100200"},
                   {"message", "x"},
                   {"idx", "order-1:completed"},
                   {"check_idx", "1"}};
  Response first = send(smsapiRequest(params));
  EXPECT_TRUE(json::parse(first.body()).contains("list"));
  Response second = send(smsapiRequest(params));
  EXPECT_EQ(second.result_int(), 200u);
  EXPECT_EQ(json::parse(second.body())["error"], 53);

  // Without check_idx the real API sends again, and so does the fake.
  params.pop_back();
  EXPECT_TRUE(json::parse(send(smsapiRequest(params)).body()).contains("list"));
  auto ledger = server_->ledger();
  ASSERT_EQ(ledger.size(), 3u);
  EXPECT_EQ(ledger[1].outcome, "duplicate_idx");
}

TEST_F(FakeProviderServerTest, SmsapiPairsEachIdxWithItsRecipient) {
  start();
  Response batch = send(smsapiRequest({{"format", "json"},
                                       {"to", "48500100200,48500100201"},
                                       {"message", "x"},
                                       {"idx", "a|b"},
                                       {"check_idx", "1"}}));
  json list = json::parse(batch.body())["list"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["idx"], "b");
  Response again = send(smsapiRequest({{"format", "json"},
                                       {"to", "48500100201"},
                                       {"message", "x"},
                                       {"idx", "b"},
                                       {"check_idx", "1"}}));
  EXPECT_EQ(json::parse(again.body())["error"], 53);
}

TEST_F(FakeProviderServerTest, SmsapiDuplicateDoesNotUseTheRateBudget) {
  options_.mps = 1;
  start();
  Params params = {{"format", "json"},
                   {"to", "48500100200"},
                   {"message", "x"},
                   {"idx", "k"},
                   {"check_idx", "1"}};
  EXPECT_TRUE(json::parse(send(smsapiRequest(params)).body()).contains("list"));
  // Already sent: the answer is 53, not a throttling error that would make the bridge retry.
  EXPECT_EQ(json::parse(send(smsapiRequest(params)).body())["error"], 53);
}

// ---- ledger ---------------------------------------------------------------------------------

TEST_F(FakeProviderServerTest, LedgerFileHasOneJsonLinePerRequest) {
  start();
  Request req = twilioRequest(
      {{"To", "+48500100200"}, {"From", "Shop"}, {"Body", "Zażółć"}, {"Attempt", "2"}});
  req.set("X-Bench-Commit-Ts", "1700000000.123456");
  std::string sid = json::parse(send(req).body())["sid"];
  send(smsapiRequest({{"to", "48500100200"}, {"message", "x"}, {"idx", "k1"}}, "bad"));

  // Read while the server still runs: lines are flushed as they are written.
  std::ifstream in(options_.ledger_path);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["api"], "twilio");
  EXPECT_EQ(lines[0]["method"], "POST");
  EXPECT_EQ(lines[0]["path"], kTwilioPath);
  EXPECT_EQ(lines[0]["to"], "+48500100200");
  EXPECT_EQ(lines[0]["from"], "Shop");
  EXPECT_EQ(lines[0]["text"], "Zażółć");
  EXPECT_EQ(lines[0]["attempt"], "2");
  EXPECT_EQ(lines[0]["http_status"], 201);
  EXPECT_EQ(lines[0]["outcome"], "accepted");
  EXPECT_EQ(lines[0]["provider_id"], sid);
  EXPECT_EQ(lines[0]["commit_ts"], "1700000000.123456");
  EXPECT_FALSE(lines[0]["time"].get<std::string>().empty());
  EXPECT_EQ(lines[1]["api"], "smsapi");
  EXPECT_EQ(lines[1]["ref"], "k1");
  EXPECT_EQ(lines[1]["outcome"], "auth_failed");
  EXPECT_EQ(server_->ledger().size(), 2u);
}

// ---- delivery reports -----------------------------------------------------------------------

TEST_F(FakeProviderServerTest, TwilioReportIsASignedForm) {
  start();
  ReportListener listener;
  std::string callback = listener.url("/webhooks/twilio/status?token=t1");
  Response res = send(twilioRequest(
      {{"To", "+48500100200"}, {"From", "Shop"}, {"Body", "x"}, {"StatusCallback", callback}}));
  std::string sid = json::parse(res.body())["sid"];

  auto report = listener.wait();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->method(), http::verb::post);
  EXPECT_EQ(report->target(), "/webhooks/twilio/status?token=t1");
  EXPECT_EQ((*report)[http::field::content_type], "application/x-www-form-urlencoded");
  Params params = parseQuery(report->body());
  EXPECT_EQ(param(params, "MessageSid"), sid);
  EXPECT_EQ(param(params, "MessageStatus"), "delivered");
  EXPECT_EQ(param(params, "To"), "+48500100200");
  EXPECT_EQ(param(params, "AccountSid"), kTwilioSid);
  EXPECT_EQ(param(params, "RawDlrDoneDate").size(), 10u);
  // The signature verifies over the URL and every received parameter, as Twilio's does.
  std::string signature((*report)["X-Twilio-Signature"]);
  EXPECT_EQ(signature, twilioSignature("twilio-auth-token", callback, params));
  EXPECT_NE(signature, twilioSignature("another-token", callback, params));
}

TEST_F(FakeProviderServerTest, SmsapiReportIsAGetWithQueryParameters) {
  options_.dlr_status = "undelivered";
  start();
  ReportListener listener;
  Response res = send(smsapiRequest({{"format", "json"},
                                     {"to", "48500100200"},
                                     {"from", "Shop"},
                                     {"message", "x"},
                                     {"idx", "job-9"},
                                     {"notify_url", listener.url("/dlr?secret=s")}}));
  std::string id = json::parse(res.body())["list"][0]["id"];

  auto report = listener.wait();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->method(), http::verb::get);
  std::string target(report->target());
  ASSERT_EQ(target.substr(0, 14), "/dlr?secret=s&");
  Params params = parseQuery(target.substr(5));
  EXPECT_EQ(param(params, "secret"), "s");
  EXPECT_EQ(param(params, "MsgId"), id);
  EXPECT_EQ(param(params, "status"), "405");  // UNDELIVERED
  EXPECT_EQ(param(params, "idx"), "job-9");
  EXPECT_EQ(param(params, "to"), "48500100200");
  EXPECT_EQ(param(params, "from"), "Shop");
  EXPECT_NE(param(params, "donedate"), "<missing>");
}

TEST_F(FakeProviderServerTest, SmsapiReportCanBeAPost) {
  options_.smsapi_dlr_post = true;
  start();
  ReportListener listener;
  send(smsapiRequest({{"format", "json"},
                      {"to", "48500100200"},
                      {"message", "x"},
                      {"notify_url", listener.url("/dlr")}}));
  auto report = listener.wait();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->method(), http::verb::post);
  EXPECT_EQ(param(parseQuery(report->body()), "status"), "404");  // DELIVERED
}

TEST_F(FakeProviderServerTest, MessageFlowReportIsJson) {
  start();
  ReportListener listener;
  Response res = send(messageflowRequest({{"sender", "Shop"},
                                          {"message", "Hello"},
                                          {"phoneNumbers", {"+48500100200"}},
                                          {"externalId", "job-3"},
                                          {"webhookUrl", listener.url("/webhooks/mf")}}));
  std::string uniq = json::parse(res.body())["meta"]["uniqId"];

  auto report = listener.wait();
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->method(), http::verb::post);
  EXPECT_EQ((*report)[http::field::content_type], "application/json");
  json body = json::parse(report->body());
  EXPECT_EQ(body["externalId"], "job-3");
  EXPECT_EQ(body["phoneNumber"], "+48500100200");
  EXPECT_EQ(body["status"], "Delivered");
  EXPECT_EQ(body["uniqId"], uniq);
}

TEST_F(FakeProviderServerTest, ReportsFollowTheStatusSequenceInOrder) {
  options_.dlr_status = "sent,delivered";
  start();
  ReportListener listener(2);
  send(twilioRequest({{"To", "+48500100200"},
                      {"From", "Shop"},
                      {"Body", "x"},
                      {"StatusCallback", listener.url("/s")}}));
  auto reports = listener.waitAll();
  ASSERT_TRUE(reports.has_value());
  ASSERT_EQ(reports->size(), 2u);
  EXPECT_EQ(param(parseQuery((*reports)[0].body()), "MessageStatus"), "sent");
  EXPECT_EQ(param(parseQuery((*reports)[1].body()), "MessageStatus"), "delivered");
  // Only final delivery outcomes carry the carrier's done date.
  EXPECT_EQ(param(parseQuery((*reports)[0].body()), "RawDlrDoneDate"), "<missing>");
}

TEST_F(FakeProviderServerTest, UnreachableCallbackIsRecordedNotFatal) {
  start();
  // A port nothing listens on: bind one, then close it.
  uint16_t dead_port = 0;
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    dead_port = a.local_endpoint().port();
  }
  std::string url = "http://127.0.0.1:" + std::to_string(dead_port) + "/x";
  EXPECT_EQ(
      send(twilioRequest(
               {{"To", "+48500100200"}, {"From", "Shop"}, {"Body", "x"}, {"StatusCallback", url}}))
          .result_int(),
      201u);
  // Bounded wait for the attempt to be recorded; the server keeps serving meanwhile.
  std::vector<CallbackAttempt> attempts;
  for (int i = 0; i < 1000 && attempts.empty(); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    attempts = server_->callbacks();
  }
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].http_status, 0);
  EXPECT_FALSE(attempts[0].error.empty());
  EXPECT_EQ(twilio().result_int(), 201u);
}

}  // namespace
}  // namespace smsbridge::testing
