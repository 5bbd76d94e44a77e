// End-to-end webhooks: the real `smsbridge run` with its HTTP server, and the standalone
// fake_provider sending delivery reports over HTTP in each provider's own format (Twilio:
// signed forms; SMSAPI: GET queries with a URL token; MessageFlow: JSON with a URL token). The
// shop and the store share one database, on each engine. Then what a hostile or broken client
// gets: forged signatures, wrong tokens, malformed bodies and stalled requests are answered
// 4xx and write nothing, and the server keeps serving everybody else.
//
// Every wait has a generous deadline; no duration is asserted.

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "providers/http_provider.h"
#include "providers/twilio.h"
#include "tests/e2e/bridge_process.h"
#include "tests/e2e/fake_provider_process.h"
#include "tests/e2e/http_probe.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/test_env.h"

namespace smsbridge {
namespace {

using std::chrono::seconds;
using testing::FakeProviderProcess;
using testing::HttpAnswer;
using testing::httpRequest;
using testing::RawConnection;
using testing::waitUntil;
using json = nlohmann::json;

constexpr char kTwilioSid[] = "AC00000000000000000000000000000001";
constexpr char kTwilioAuthToken[] = "twilio-auth-token";  // what the fake signs with
constexpr char kTwilioNumber[] = "+15005550006";
constexpr char kSmsapiHookToken[] = "smsapi-hook-secret";
constexpr char kMessageflowHookToken[] = "messageflow-hook-secret";
constexpr char kForm[] = "application/x-www-form-urlencoded";
constexpr int kOrders = 12;

// Orders are sent through the providers in turn: 1, 4, 7… by Twilio, 2, 5, 8… by SMSAPI.
const std::vector<std::string> kProviders = {"twilio", "smsapi", "messageflow"};
std::string providerOf(int order) { return kProviders[(order - 1) % kProviders.size()]; }
std::string phoneOf(int order) { return "+48600100" + std::to_string(100 + order); }

class WebhooksE2eTest : public ::testing::Test {
 protected:
  void TearDown() override {
    bridge_.reset();
    fake_.reset();
    if (drop_) drop_();
  }

  // --- the shop's database -------------------------------------------------------------------

  void useSqlite() {
    db_ = std::make_unique<testing::SqliteShopDb>(dir_.file("shop.db"));
    source_yaml_ = "{type: sqlite, path: shop.db, capture: trigger, poll_interval: 50ms}";
  }

  void usePostgres(const std::string& dsn) {
    ::setenv("WEBHOOKS_E2E_PG_DSN", dsn.c_str(), 1);
    auto pg = std::make_unique<testing::PgShopDb>(dsn);
    testing::Shop& shop = pg->pg();
    drop_ = [&shop, tag = tag_, capture = prefix_ + "capture()"] {
      { testing::Cleanup tables{shop, tag, tag + "slot", tag + "publication"}; }
      try {
        shop.exec("DROP FUNCTION IF EXISTS " + capture);
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
        // Best effort, like the tables.
      }
    };
    db_ = std::move(pg);
    drop_();  // what an earlier run with the same pid left
    source_yaml_ =
        "{type: postgres, dsn: \"${WEBHOOKS_E2E_PG_DSN}\", capture: trigger, poll_interval: 50ms}";
  }

  void useMariadb(const std::string& dsn) {
    ::setenv("WEBHOOKS_E2E_MYSQL_DSN", dsn.c_str(), 1);
    db_ = std::make_unique<testing::MysqlShopDb>(dsn);
    text_type_ = "VARCHAR(191)";
    drop_ = [db = db_.get(), tag = tag_] {
      std::string tables = db->text(
          "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables WHERE "
          "table_schema = DATABASE() AND table_name LIKE '" +
          tag + "%'");
      if (tables.empty()) return;
      // The store's tables reference each other; their order does not matter here.
      db->exec("SET FOREIGN_KEY_CHECKS = 0");
      db->exec("DROP TABLE IF EXISTS " + tables);
      db->exec("SET FOREIGN_KEY_CHECKS = 1");
    };
    drop_();
    source_yaml_ =
        "{type: mysql, dsn: \"${WEBHOOKS_E2E_MYSQL_DSN}\", capture: trigger, poll_interval: 50ms}";
  }

  // --- the bridge and the fake provider ------------------------------------------------------

  // Creates the shop's tables, starts the fake (with `fake_args`) and the bridge, and returns
  // once the bridge is ready.
  void start(const std::vector<std::string>& fake_args) {
    db_->exec("CREATE TABLE " + orders_ + " (id INT PRIMARY KEY, status " + text_type_ +
              ", phone " + text_type_ + ", via " + text_type_ + ")");
    db_->exec("CREATE TABLE " + notes_ + " (order_id " + text_type_ + ", status " + text_type_ +
              ", provider " + text_type_ + ")");
    std::string rows;
    for (int order = 1; order <= kOrders; ++order) {
      rows += (order > 1 ? ", (" : "(") + std::to_string(order) + ", 'new', '" + phoneOf(order) +
              "', '" + providerOf(order) + "')";
    }
    db_->exec("INSERT INTO " + orders_ + " VALUES " + rows);

    fake_ = std::make_unique<FakeProviderProcess>(dir_, fake_args);
    port_ = testing::freePort();
    config_ = dir_.file("smsbridge.yaml");
    std::ofstream(config_) << config();
    ASSERT_TRUE(testing::setupBridge(config_, dir_.file("setup.log")));
    bridge_ = std::make_unique<testing::BridgeProcess>(config_, dir_.file("run.log"));
    ASSERT_TRUE(waitUntil([&] { return get("/readyz").status == 200; }, seconds(30)))
        << bridge_->output();
  }

  std::string publicUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Every order has a transactional SMS through its provider when it ships, with a write-back
  // action logging each status change, and a marketing SMS when it gets a promotion.
  std::string config() const {
    const std::string hooks = publicUrl() + "/webhooks/";
    std::string yaml =
        "defaults: {region: PL, sender: Shop}\n"
        "sources:\n"
        "  shop: " +
        source_yaml_ +
        "\n"
        "store: {source: shop, table_prefix: " +
        prefix_ +
        "}\n"
        "server:\n"
        "  listen: 127.0.0.1:" +
        std::to_string(port_) + "\n  public_url: " + publicUrl() +
        "\n"
        "  max_body_bytes: 4096\n"
        "  header_timeout: 1s\n"
        "  body_timeout: 1s\n"
        "providers:\n"
        "  twilio: {type: twilio, account_sid: " +
        kTwilioSid + ", auth_token: " + kTwilioAuthToken + ", from: \"" + kTwilioNumber +
        "\", base_url: " + fake_->baseUrl() + ", status_callback_url: \"" + hooks +
        "twilio/status\"}\n"
        "  smsapi: {type: smsapi, token: smsapi-token, base_url: " +
        fake_->baseUrl() + ", webhook_token: " + kSmsapiHookToken + ", status_callback_url: \"" +
        hooks + "smsapi/status?token=" + kSmsapiHookToken +
        "\"}\n"
        "  messageflow: {type: messageflow, authorization: mf-authorization, "
        "application_key: mf-application-key, base_url: " +
        fake_->baseUrl() + ", webhook_token: " + kMessageflowHookToken +
        ", status_callback_url: \"" + hooks + "messageflow/status?token=" + kMessageflowHookToken +
        "\"}\n"
        "routes:\n"
        "  default: [twilio]\n";
    for (const auto& p : kProviders) yaml += "  " + p + ": [" + p + "]\n";
    yaml +=
        "dispatcher: {poll_interval: 50ms}\n"
        "write_back: {poll_interval: 50ms}\n"
        "mappings:\n";
    for (const auto& p : kProviders) {
      yaml += "  shipped_" + p + ":\n    table: " + orders_ +
              "\n"
              "    on: [update]\n"
              "    when: \"status == 'shipped' and old.status != 'shipped' and via == '" +
              p +
              "'\"\n"
              "    to: \"{{ phone }}\"\n"
              "    text: \"Order {{ id }} shipped\"\n"
              "    route: " +
              p +
              "\n"
              "    write_back:\n"
              "      - sql: \"INSERT INTO " +
              notes_ + " (order_id, status, provider) VALUES (:entity_id, :status, :provider)\"\n";
    }
    yaml += "  promotion:\n    table: " + orders_ +
            "\n"
            "    on: [update]\n"
            "    when: \"status == 'promo' and old.status != 'promo'\"\n"
            "    to: \"{{ phone }}\"\n"
            "    text: \"Order {{ id }}: 20% off your next one\"\n"
            "    lane: marketing\n";
    return yaml;
  }

  HttpAnswer get(const std::string& target) { return httpRequest(port_, "GET", target); }

  // --- what the bridge wrote ------------------------------------------------------------------

  std::string table(const std::string& name) const { return prefix_ + name; }

  void setStatus(int first, int last, const std::string& status) {
    db_->exec("UPDATE " + orders_ + " SET status = '" + status + "' WHERE id BETWEEN " +
              std::to_string(first) + " AND " + std::to_string(last));
  }
  long long messages(const std::string& where) {
    return db_->scalar("SELECT count(*) FROM " + table("messages") + " WHERE " + where);
  }
  std::string messageField(int order, const std::string& column) {
    return db_->text("SELECT " + column + " FROM " + table("messages") + " WHERE entity_id = '" +
                     std::to_string(order) + "' AND mapping LIKE 'shipped%'");
  }
  long long pendingWriteBacks() {
    return db_->scalar("SELECT count(*) FROM " + table("status_changes") +
                       " WHERE done_at IS NULL");
  }

  // Everything a refused callback could have touched, as one comparable line.
  std::string fingerprint() {
    std::string line;
    for (std::string status : {"queued", "sending", "sent", "delivered", "undelivered", "failed",
                               "expired", "suppressed"}) {
      line += status + "=" + std::to_string(messages("status = '" + status + "'")) + " ";
    }
    for (const char* name : {"inbound", "optouts", "status_changes", "reports_parked"}) {
      line += std::string(name) + "=" +
              std::to_string(db_->scalar("SELECT count(*) FROM " + table(name))) + " ";
    }
    return line + "notes=" + std::to_string(db_->scalar("SELECT count(*) FROM " + notes_));
  }

  // --- callbacks as the providers send them ---------------------------------------------------

  // A Twilio callback to `path`, signed with `auth_token` over the public URL.
  HttpAnswer postTwilio(const std::string& path, const FormFields& params,
                        const std::string& auth_token = kTwilioAuthToken) {
    std::string signature = twilioSignature(auth_token, publicUrl() + path, params);
    return httpRequest(port_, "POST", path, kForm, formEncode(params),
                       {{"X-Twilio-Signature", signature}});
  }
  static FormFields twilioReport(const std::string& sid, const std::string& status) {
    return {{"MessageSid", sid},         {"SmsSid", sid},           {"AccountSid", kTwilioSid},
            {"From", kTwilioNumber},     {"MessageStatus", status}, {"SmsStatus", status},
            {"ApiVersion", "2010-04-01"}};
  }
  static FormFields twilioInbound(const std::string& sid, const std::string& from,
                                  const std::string& body) {
    return {{"MessageSid", sid}, {"AccountSid", kTwilioSid}, {"From", from}, {"To", kTwilioNumber},
            {"Body", body},      {"NumMedia", "0"}};
  }
  // SMSAPI reports come as GET queries: 404 is DELIVERED.
  HttpAnswer getSmsapiReport(const std::string& token, int order) {
    return get("/webhooks/smsapi/status?token=" + token +
               "&MsgId=" + messageField(order, "provider_message_id") +
               "&status=404&idx=" + messageField(order, "id") + "&donedate=1700000000");
  }
  std::string messageflowReport(int order) {
    return json{{"type", "sms_delivery_report"},
                {"uniqId", messageField(order, "provider_message_id")},
                {"externalId", messageField(order, "id")},
                {"phoneNumber", phoneOf(order)},
                {"status", "Delivered"}}
        .dump();
  }

  testing::TempDir dir_;
  // Names unique to this run, so parallel or repeated runs on a shared server never meet.
  const std::string tag_ = "wh" + std::to_string(getpid()) + "_";
  const std::string orders_ = tag_ + "orders";
  const std::string notes_ = tag_ + "notes";
  const std::string prefix_ = tag_ + "sb_";
  std::string text_type_ = "TEXT";
  std::unique_ptr<testing::ShopDb> db_;
  std::string source_yaml_;
  std::function<void()> drop_;
  unsigned short port_ = 0;
  std::string config_;
  std::unique_ptr<FakeProviderProcess> fake_;
  std::unique_ptr<testing::BridgeProcess> bridge_;
};

// --- 1. delivery reports from every provider reach `delivered`, write-back runs once ---------

class DeliveryReportsE2eTest : public WebhooksE2eTest {
 protected:
  // Ships six orders (two per provider), lets the fake report delivery to the bridge's
  // webhooks, and checks the store and the write-back action's rows.
  void shipAndCheck() {
    ASSERT_NO_FATAL_FAILURE(start({"--dlr-delay", "50ms"}));
    constexpr int kShipped = 6;
    setStatus(1, kShipped, "shipped");
    bool settled = waitUntil(
        [&] {
          return messages("status = 'delivered'") == kShipped && pendingWriteBacks() == 0 &&
                 db_->scalar("SELECT count(*) FROM " + notes_) == 2 * kShipped;
        },
        seconds(60));
    ASSERT_TRUE(settled) << fingerprint() << "\n" << bridge_->output();

    for (int order = 1; order <= kShipped; ++order) {
      SCOPED_TRACE("order " + std::to_string(order));
      EXPECT_EQ(messageField(order, "provider"), providerOf(order));
      EXPECT_EQ(messageField(order, "status"), "delivered");
      // The action ran once for `sent` and once for `delivered`, and for nothing else.
      const std::string where = " WHERE order_id = '" + std::to_string(order) + "'";
      EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + notes_ + where), 2);
      EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + notes_ + where +
                            " AND status = 'delivered' AND provider = '" + providerOf(order) + "'"),
                1);
      EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + notes_ + where + " AND status = 'sent'"), 1);
    }
    // Every status change was handled and none failed; one marker per action run.
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("status_changes") +
                          " WHERE result IS NULL OR result <> 'done'"),
              0);
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("write_back_done")), 2 * kShipped);
    // Applied from the webhooks (no status polling is configured), each report once.
    const std::string applied =
        "smsbridge_delivery_reports_total{effect=\"applied\"} " + std::to_string(kShipped) + "\n";
    std::string metrics;
    EXPECT_TRUE(waitUntil(
        [&] {
          metrics = get("/metrics").body;
          return metrics.find(applied) != std::string::npos;
        },
        seconds(30)))
        << metrics;
    // Nothing arrived that the bridge could not place.
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("reports_parked")), 0);
    for (const auto& provider : kProviders) {
      EXPECT_EQ(fake_->count(provider, "accepted"), 2) << provider;
    }
  }
};

TEST_F(DeliveryReportsE2eTest, SqliteShopGetsDeliveredFromEveryProvidersCallbacks) {
  useSqlite();
  shipAndCheck();
}

TEST_F(DeliveryReportsE2eTest, PostgresShopGetsDeliveredFromEveryProvidersCallbacks) {
  SMSBRIDGE_REQUIRE_PG_DSN(dsn);
  usePostgres(dsn);
  shipAndCheck();
}

TEST_F(DeliveryReportsE2eTest, MariadbShopGetsDeliveredFromEveryProvidersCallbacks) {
  SMSBRIDGE_REQUIRE_MYSQL_DSN(dsn);
  useMariadb(dsn);
  shipAndCheck();
}

// --- 2, 4. refused callbacks: jobs stay `sent` while the test posts to the webhooks ----------

class RefusedCallbacksE2eTest : public WebhooksE2eTest {
 protected:
  void SetUp() override {
    useSqlite();
    // The fake's own reports come long after the test ended: every report here is the test's.
    ASSERT_NO_FATAL_FAILURE(start({"--dlr-delay", "600s"}));
    setStatus(1, 3, "shipped");  // one order per provider
    ASSERT_TRUE(waitUntil([&] { return messages("status = 'sent'") == 3; }, seconds(60)))
        << fingerprint() << "\n"
        << bridge_->output();
    ASSERT_TRUE(waitUntil([&] { return pendingWriteBacks() == 0; }, seconds(60)));
    before_ = fingerprint();
  }

  std::string before_;
};

TEST_F(RefusedCallbacksE2eTest, ForgedSignaturesAndWrongTokensGet403AndWriteNothing) {
  const std::string sid = messageField(1, "provider_message_id");
  ASSERT_FALSE(sid.empty());

  // Twilio: signed with another auth token, a signature over other parameters, none at all.
  EXPECT_EQ(postTwilio("/webhooks/twilio/status", twilioReport(sid, "delivered"), "forged").status,
            403);
  std::string signed_for_sent = twilioSignature(
      kTwilioAuthToken, publicUrl() + "/webhooks/twilio/status", twilioReport(sid, "sent"));
  EXPECT_EQ(httpRequest(port_, "POST", "/webhooks/twilio/status", kForm,
                        formEncode(twilioReport(sid, "delivered")),
                        {{"X-Twilio-Signature", signed_for_sent}})
                .status,
            403);
  EXPECT_EQ(httpRequest(port_, "POST", "/webhooks/twilio/status", kForm,
                        formEncode(twilioReport(sid, "delivered")))
                .status,
            403);
  EXPECT_EQ(postTwilio("/webhooks/twilio/inbound", twilioInbound("SMforged", phoneOf(1), "STOP"),
                       "forged")
                .status,
            403);

  // Token-authenticated providers: a wrong token, and none.
  EXPECT_EQ(getSmsapiReport("wrong", 2).status, 403);
  EXPECT_EQ(
      get("/webhooks/smsapi/status?MsgId=" + messageField(2, "provider_message_id") + "&status=404")
          .status,
      403);
  EXPECT_EQ(httpRequest(port_, "POST", "/webhooks/smsapi/inbound?token=wrong", kForm,
                        "sms_from=48600100102&sms_to=7910&sms_text=STOP&MsgId=inbound-1")
                .status,
            403);
  EXPECT_EQ(httpRequest(port_, "POST", "/webhooks/messageflow/status?token=wrong",
                        "application/json", messageflowReport(3))
                .status,
            403);
  EXPECT_EQ(httpRequest(port_, "POST",
                        "/webhooks/messageflow/status?token=" + std::string(kSmsapiHookToken),
                        "application/json", messageflowReport(3))
                .status,
            403)
      << "another provider's token";

  EXPECT_EQ(fingerprint(), before_);

  // The same reports, authentic, are taken: the refusals were for authentication alone.
  HttpAnswer twilio = postTwilio("/webhooks/twilio/status", twilioReport(sid, "delivered"));
  EXPECT_EQ(twilio.status, 200) << twilio.raw;
  HttpAnswer smsapi = getSmsapiReport(kSmsapiHookToken, 2);
  EXPECT_EQ(smsapi.status, 200) << smsapi.raw;
  EXPECT_EQ(smsapi.body, "OK");
  HttpAnswer messageflow = httpRequest(
      port_, "POST", "/webhooks/messageflow/status?token=" + std::string(kMessageflowHookToken),
      "application/json", messageflowReport(3));
  EXPECT_EQ(messageflow.status, 200) << messageflow.raw;
  EXPECT_TRUE(waitUntil([&] { return messages("status = 'delivered'") == 3; }, seconds(30)))
      << fingerprint();
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("inbound")), 0);
}

TEST_F(RefusedCallbacksE2eTest, MalformedBodiesGet4xxWriteNothingAndTheServerKeepsServing) {
  const std::string messageflow_status =
      "/webhooks/messageflow/status?token=" + std::string(kMessageflowHookToken);
  const std::string smsapi_status =
      "/webhooks/smsapi/status?token=" + std::string(kSmsapiHookToken);
  const std::string smsapi_inbound =
      "/webhooks/smsapi/inbound?token=" + std::string(kSmsapiHookToken);
  const std::string report = messageflowReport(3);

  HttpAnswer truncated = httpRequest(port_, "POST", messageflow_status, "application/json",
                                     report.substr(0, report.size() / 2));
  EXPECT_EQ(truncated.status, 400) << truncated.raw;

  // Over server.max_body_bytes (4096): refused before the body is read.
  std::string huge = "MsgId=" + messageField(2, "provider_message_id") +
                     "&status=404&pad=" + std::string(8000, 'x');
  HttpAnswer too_big = httpRequest(port_, "POST", smsapi_status, kForm, huge);
  EXPECT_EQ(too_big.status, 413) << too_big.raw;

  HttpAnswer wrong_type =
      httpRequest(port_, "POST", smsapi_status, "text/plain",
                  "MsgId=" + messageField(2, "provider_message_id") + "&status=404");
  EXPECT_EQ(wrong_type.status, 415) << wrong_type.raw;
  HttpAnswer json_as_form =
      httpRequest(port_, "POST", messageflow_status, kForm, messageflowReport(3));
  EXPECT_EQ(json_as_form.status, 415) << json_as_form.raw;

  // Invalid UTF-8, in a form value and in a JSON string.
  HttpAnswer bad_form = httpRequest(port_, "POST", smsapi_inbound, kForm,
                                    "sms_from=48600100102&sms_to=7910&sms_text=%FF%FEST&MsgId=u8");
  EXPECT_EQ(bad_form.status, 400) << bad_form.raw;
  std::string bad_json = report;
  bad_json.insert(bad_json.find("Delivered"), "\xff\xfe");
  HttpAnswer bad_json_answer =
      httpRequest(port_, "POST", messageflow_status, "application/json", bad_json);
  EXPECT_EQ(bad_json_answer.status, 400) << bad_json_answer.raw;

  EXPECT_EQ(fingerprint(), before_);

  // Still serving, and a valid report after all that is applied.
  EXPECT_EQ(get("/healthz").status, 200);
  HttpAnswer valid = httpRequest(port_, "POST", messageflow_status, "application/json", report);
  EXPECT_EQ(valid.status, 200) << valid.raw;
  EXPECT_TRUE(waitUntil([&] { return messageField(3, "status") == "delivered"; }, seconds(30)))
      << fingerprint();
  EXPECT_EQ(messages("status = 'sent'"), 2);
}

// --- 3. inbound STOP through the running bridge ----------------------------------------------

TEST_F(WebhooksE2eTest, InboundStopSuppressesMarketingButNotTransactionalSms) {
  useSqlite();
  ASSERT_NO_FATAL_FAILURE(start({"--dlr-delay", "50ms"}));
  constexpr int kOrder = 10;  // sent through Twilio
  const std::string phone = phoneOf(kOrder);

  const FormFields stop = twilioInbound("SMinbound0001", phone, "stop");
  HttpAnswer answer = postTwilio("/webhooks/twilio/inbound", stop);
  ASSERT_EQ(answer.status, 200) << answer.raw;
  EXPECT_NE(answer.body.find("<Response/>"), std::string::npos) << answer.raw;
  // Twilio retries what it thinks failed: the same message again records nothing new.
  ASSERT_EQ(postTwilio("/webhooks/twilio/inbound", stop).status, 200);

  EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("inbound") +
                        " WHERE provider = 'twilio' AND sender = '" + phone +
                        "' AND body = 'stop' AND provider_message_id = 'SMinbound0001'"),
            1);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("inbound")), 1);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("optouts") + " WHERE recipient = '" +
                        phone + "'"),
            1);

  setStatus(kOrder, kOrder, "promo");
  // Suppression may happen at enqueue or just before sending: wait for where the job ends.
  ASSERT_TRUE(waitUntil(
      [&] {
        return messages("mapping = 'promotion' AND status NOT IN ('queued', 'sending')") == 1;
      },
      seconds(30)))
      << fingerprint() << "\n"
      << bridge_->output();
  EXPECT_EQ(messages("mapping = 'promotion' AND status = 'suppressed'"), 1) << fingerprint();

  // Transactional SMS still go to an opted-out number (optouts.lanes defaults to marketing).
  setStatus(kOrder, kOrder, "shipped");
  ASSERT_TRUE(waitUntil([&] { return messageField(kOrder, "status") == "delivered"; }, seconds(30)))
      << fingerprint() << "\n"
      << bridge_->output();
  auto sent_there = 0;
  for (const auto& request : fake_->ledger()) sent_there += request.to == phone;
  EXPECT_EQ(sent_there, 1) << "only the transactional SMS reached the provider";
}

// --- 5. clients that stall -------------------------------------------------------------------

TEST_F(WebhooksE2eTest, StalledRequestsGet408WhileOthersAreServed) {
  useSqlite();
  ASSERT_NO_FATAL_FAILURE(start({}));
  const std::string target = "/webhooks/smsapi/status?token=" + std::string(kSmsapiHookToken);

  // Half a header, then nothing (server.header_timeout: 1s).
  RawConnection half_header(port_);
  ASSERT_TRUE(half_header.send("POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"));
  // A whole header announcing a body that never comes (server.body_timeout: 1s).
  RawConnection half_body(port_);
  ASSERT_TRUE(half_body.send("POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " +
                             kForm + "\r\nContent-Length: 100\r\n\r\nMsgId=1"));
  // A connection that never says anything, like an idle keep-alive one.
  RawConnection silent(port_);
  ASSERT_TRUE(silent.connected());

  // Meanwhile everybody else is served.
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/healthz").body, "ok\n");

  HttpAnswer header_answer = half_header.readUntilClosed(seconds(30));
  EXPECT_EQ(header_answer.status, 408) << header_answer.raw;
  EXPECT_TRUE(half_header.closedByServer());
  HttpAnswer body_answer = half_body.readUntilClosed(seconds(30));
  EXPECT_EQ(body_answer.status, 408) << body_answer.raw;
  EXPECT_TRUE(half_body.closedByServer());
  // Nothing was asked, so nothing is answered: the connection is just closed.
  HttpAnswer silent_answer = silent.readUntilClosed(seconds(30));
  EXPECT_EQ(silent_answer.raw, "");
  EXPECT_TRUE(silent.closedByServer());

  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + table("reports_parked")), 0);
  EXPECT_NE(bridge_->output().find("HTTP client too slow"), std::string::npos) << bridge_->output();
}

}  // namespace
}  // namespace smsbridge
