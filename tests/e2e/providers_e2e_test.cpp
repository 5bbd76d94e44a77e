// End-to-end with providers: the real `smsbridge` binary against the real `fake_provider`
// program (MessageFlow, SMSAPI and Twilio wire formats on one port), a SQLite shop captured by
// triggers, and faults injected into the fake. What each test asserts comes from the fake's
// ledger (which provider got which request, when) and from the store.
//
// Every wait has a generous deadline and no duration is asserted as performance; the only time
// comparison (Retry-After) is a lower bound the bridge must respect.

#include <signal.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/bridge_process.h"
#include "tests/e2e/fake_provider_process.h"
#include "tests/e2e/process.h"
#include "tests/e2e/shop_db.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using std::chrono::seconds;
using testing::SqliteShopDb;
using testing::waitUntil;

constexpr char kTwilioSid[] = "AC00000000000000000000000000000001";

using FakeProvider = testing::FakeProviderProcess;

std::string phoneOf(int order) { return "+48600100" + std::to_string(100 + order); }

// A temp dir with a SQLite shop of `orders` rows, a config for the bridge (trigger capture,
// store in the shop) and the fake provider. `providers`, `routes` and `dispatcher` are YAML
// blocks; "URL" in them becomes the fake's base URL.
class ProvidersTest : public ::testing::Test {
 protected:
  void startFake(std::vector<std::string> args) {
    fake_ = std::make_unique<FakeProvider>(dir_, std::move(args));
  }

  void writeConfig(std::string providers, const std::string& routes,
                   const std::string& dispatcher) {
    providers = std::regex_replace(providers, std::regex("URL"), fake_->baseUrl());
    {
      SqliteShopDb shop(dir_.file("shop.db"));
      shop.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL, phone TEXT)");
      std::string insert = "INSERT INTO orders (id, status, phone) VALUES ";
      for (int i = 1; i <= 20; ++i) {
        insert += (i > 1 ? "," : "") + std::string("(") + std::to_string(i) + ", 'processing', '" +
                  phoneOf(i) + "')";
      }
      shop.exec(insert);
    }
    config_ = dir_.file("smsbridge.yaml");
    std::ofstream(config_) << "defaults: {region: PL, sender: Shop}\n"
                              "sources:\n"
                              "  shop: {type: sqlite, path: shop.db, capture: trigger, "
                              "poll_interval: 50ms}\n"
                              "store: {source: shop}\n"
                              "providers:\n"
                           << providers << "routes:\n"
                           << routes << "dispatcher: " << dispatcher
                           << "\n"
                              "mappings:\n"
                              "  shipped:\n"
                              "    table: orders\n"
                              "    on: [update]\n"
                              "    when: \"status == 'shipped' and old.status != 'shipped'\"\n"
                              "    to: \"{{ phone }}\"\n"
                              "    text: \"Order {{ id }} shipped\"\n";
    ASSERT_TRUE(testing::setupBridge(config_, dir_.file("setup.log")));
    shop_ = std::make_unique<SqliteShopDb>(dir_.file("shop.db"));
  }

  std::unique_ptr<testing::BridgeProcess> startBridge(const std::string& log) {
    return std::make_unique<testing::BridgeProcess>(config_, dir_.file(log));
  }

  void ship(int first, int last) {
    shop_->exec("UPDATE orders SET status = 'shipped' WHERE id BETWEEN " + std::to_string(first) +
                " AND " + std::to_string(last));
  }
  std::int64_t count(const std::string& where) {
    return shop_->scalar("SELECT count(*) FROM smsbridge_messages WHERE " + where);
  }
  std::string providerOf(int order) {
    return shop_->text("SELECT provider FROM smsbridge_messages WHERE entity_id = '" +
                       std::to_string(order) + "'");
  }
  // Stops a bridge cleanly and returns its log.
  std::string stop(testing::BridgeProcess& bridge) {
    EXPECT_TRUE(bridge.stop(seconds(30)));
    return bridge.output();
  }

  testing::TempDir dir_;
  std::unique_ptr<FakeProvider> fake_;
  std::unique_ptr<SqliteShopDb> shop_;
  std::string config_;
};

std::string messageflowYaml(const std::string& name, const std::string& extra) {
  return "  " + name +
         ": {type: messageflow, authorization: mf-authorization, application_key: "
         "mf-application-key, base_url: URL" +
         extra + "}\n";
}
std::string twilioYaml(const std::string& name, const std::string& extra) {
  return "  " + name + ": {type: twilio, account_sid: " + kTwilioSid +
         ", auth_token: twilio-auth-token, from: \"+15005550006\", base_url: URL" + extra + "}\n";
}
std::string smsapiYaml(const std::string& name, const std::string& extra) {
  return "  " + name + ": {type: smsapi, token: smsapi-token, base_url: URL" + extra + "}\n";
}

TEST_F(ProvidersTest, PrimaryFailingWith503MovesToSecondaryAndComesBackAfterRecovery) {
  constexpr int kFailures = 3;
  startFake({"--fault", "messageflow=503"});
  writeConfig(messageflowYaml("primary", ", max_inflight: 1, breaker: {failures: " +
                                             std::to_string(kFailures) + ", open_for: 2s}") +
                  twilioYaml("secondary", ""),
              "  default: [primary, secondary]\n",
              "{poll_interval: 50ms, retry_base: 100ms, retry_max: 500ms, max_attempts: 20}");
  auto bridge = startBridge("run.log");

  ship(1, 4);
  ASSERT_TRUE(waitUntil([&] { return count("status = 'sent'") == 4; }, seconds(60)))
      << bridge->output();
  for (int order = 1; order <= 4; ++order) EXPECT_EQ(providerOf(order), "secondary") << order;

  // The primary got at most `failures` requests before traffic moved, all of them refused.
  auto ledger = fake_->ledger();
  int primary_before_secondary = 0;
  for (const auto& r : ledger) {
    if (r.api == "twilio") break;
    if (r.api == "messageflow") ++primary_before_secondary;
  }
  EXPECT_GE(primary_before_secondary, 1);
  EXPECT_LE(primary_before_secondary, kFailures);
  EXPECT_EQ(fake_->count("messageflow", "accepted"), 0);
  std::set<std::string> at_secondary;
  for (const auto& r : fake_->ledger("twilio")) {
    if (r.outcome == "accepted") {
      EXPECT_TRUE(at_secondary.insert(r.to).second) << r.to;
    }
  }
  EXPECT_EQ(at_secondary.size(), 4u);

  // Recovery: once `open_for` has passed, the probe succeeds and the primary is back.
  fake_->control("/_fake/faults", "messageflow=none");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ship(5, 5);
  ASSERT_TRUE(waitUntil([&] { return count("status = 'sent'") == 5; }, seconds(60)))
      << bridge->output();
  EXPECT_EQ(providerOf(5), "primary");
  ship(6, 7);
  ASSERT_TRUE(waitUntil([&] { return count("status = 'sent'") == 7; }, seconds(60)))
      << bridge->output();
  EXPECT_EQ(providerOf(6), "primary");
  EXPECT_EQ(providerOf(7), "primary");
  EXPECT_EQ(fake_->count("messageflow", "accepted"), 3);
  EXPECT_EQ(fake_->count("twilio", "accepted"), 4);

  std::string log = stop(*bridge);
  EXPECT_NE(log.find("Provider paused after repeated failures"), std::string::npos) << log;
  EXPECT_NE(log.find("Provider answers again"), std::string::npos) << log;
}

TEST_F(ProvidersTest, RetryAfterOf429IsHonouredForEveryRequestToThatProvider) {
  constexpr std::int64_t kRetryAfterMs = 1000;
  startFake({"--fault", "twilio=429,count=3,retry_after=1s"});
  // One request at a time, so every request after a 429 was sent after its answer arrived.
  writeConfig(twilioYaml("twilio", ", max_inflight: 1, breaker: {failures: 0}"),
              "  default: [twilio]\n",
              "{poll_interval: 50ms, retry_base: 100ms, retry_max: 500ms, max_attempts: 20}");
  auto bridge = startBridge("run.log");

  ship(1, 5);
  ASSERT_TRUE(waitUntil([&] { return count("status = 'sent'") == 5; }, seconds(60)))
      << bridge->output();

  auto ledger = fake_->ledger("twilio");
  int throttled = 0;
  for (std::size_t i = 0; i < ledger.size(); ++i) {
    if (ledger[i].outcome != "fault_429") continue;
    ++throttled;
    for (std::size_t k = i + 1; k < ledger.size(); ++k) {
      EXPECT_GE(ledger[k].at_ms - ledger[i].at_ms, kRetryAfterMs)
          << "request " << k << " came before the Retry-After of request " << i << " elapsed";
    }
  }
  EXPECT_EQ(throttled, 3);
  std::set<std::string> accepted;
  for (const auto& r : ledger) {
    if (r.outcome == "accepted") {
      EXPECT_TRUE(accepted.insert(r.to).second) << r.to;
    }
  }
  EXPECT_EQ(accepted.size(), 5u);
  std::string log = stop(*bridge);
  EXPECT_NE(log.find("Provider asked to wait before the next request"), std::string::npos) << log;
}

// Waits until the fake has taken `n` requests of `api` whose answers it is holding back, and
// the store has every shipped job leased, then SIGKILLs the bridge: the ambiguous window.
void crashWhileAnswersAreOutstanding(testing::BridgeProcess& bridge, FakeProvider& fake,
                                     const std::string& api, int n,
                                     const std::function<std::int64_t()>& sending, int jobs) {
  ASSERT_TRUE(
      waitUntil([&] { return fake.count(api, "accepted") >= n && sending() == jobs; }, seconds(60)))
      << bridge.output();
  ASSERT_EQ(bridge.kill(seconds(10)), 128 + SIGKILL);
}

std::uint64_t ambiguousTotal(const std::string& log) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("Dispatch totals:.* ambiguous=(\\d+)"))) return 0;
  return std::stoull(m[1]);
}

TEST_F(ProvidersTest, SmsapiCrashInTheAmbiguousWindowSendsNothingTwice) {
  constexpr int kJobs = 5;
  startFake({"--fault", "smsapi=delay,delay=60s"});
  writeConfig(smsapiYaml("smsapi", ""), "  default: [smsapi]\n",
              "{poll_interval: 50ms, lease: 4s, retry_base: 100ms, max_attempts: 20}");
  auto bridge = startBridge("run1.log");
  ship(1, kJobs);
  crashWhileAnswersAreOutstanding(
      *bridge, *fake_, "smsapi", kJobs, [&] { return count("status = 'sending'"); }, kJobs);

  fake_->control("/_fake/faults", "smsapi=none");
  auto again = startBridge("run2.log");
  ASSERT_TRUE(waitUntil([&] { return count("status = 'sent'") == kJobs; }, seconds(60)))
      << again->output();
  std::string log = stop(*again);

  // Each idx was taken once; every resend was refused as a duplicate and recorded as sent.
  std::map<std::string, int> accepted_per_idx;
  for (const auto& r : fake_->ledger("smsapi")) {
    if (r.outcome == "accepted") ++accepted_per_idx[r.ref];
  }
  EXPECT_EQ(accepted_per_idx.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [idx, n] : accepted_per_idx) EXPECT_EQ(n, 1) << "idx " << idx;
  EXPECT_EQ(fake_->count("smsapi", "duplicate_idx"), kJobs);
  EXPECT_EQ(count("status_reason = 'provider already had this message'"), kJobs);
  EXPECT_GE(ambiguousTotal(log), static_cast<std::uint64_t>(kJobs)) << log;
}

TEST_F(ProvidersTest, TwilioCrashInTheAmbiguousWindowDuplicatesAtMostMaxInflight) {
  constexpr int kJobs = 5;
  constexpr int kMaxInflight = 2;
  startFake({"--fault", "twilio=delay,delay=60s"});
  writeConfig(twilioYaml("twilio", ", max_inflight: " + std::to_string(kMaxInflight)),
              "  default: [twilio]\n",
              "{poll_interval: 50ms, lease: 4s, retry_base: 100ms, max_attempts: 20}");
  auto bridge = startBridge("run1.log");
  ship(1, kJobs);
  crashWhileAnswersAreOutstanding(
      *bridge, *fake_, "twilio", kMaxInflight, [&] { return count("status = 'sending'"); }, kJobs);
  // max_inflight held while the answers were outstanding.
  EXPECT_EQ(fake_->ledger("twilio").size(), static_cast<std::size_t>(kMaxInflight));

  fake_->control("/_fake/faults", "twilio=none");
  auto again = startBridge("run2.log");
  ASSERT_TRUE(waitUntil([&] { return count("status = 'sent'") == kJobs; }, seconds(60)))
      << again->output();
  std::string log = stop(*again);

  std::map<std::string, int> accepted_per_number;
  for (const auto& r : fake_->ledger("twilio")) {
    if (r.outcome == "accepted") ++accepted_per_number[r.to];
  }
  EXPECT_EQ(accepted_per_number.size(), static_cast<std::size_t>(kJobs));
  int duplicates = 0;
  for (const auto& [to, n] : accepted_per_number) duplicates += n - 1;
  EXPECT_GE(duplicates, 1) << "the crash should have hit the ambiguous window";
  EXPECT_LE(duplicates, kMaxInflight);
  // Every possibly duplicated SMS is counted: the in-doubt jobs resent after the crash.
  EXPECT_NE(log.find("Requeued jobs whose lease expired"), std::string::npos) << log;
  EXPECT_GE(ambiguousTotal(log), static_cast<std::uint64_t>(duplicates)) << log;
}

TEST_F(ProvidersTest, TimeoutAfterTheRequestLeftIsCountedAsAmbiguous) {
  // The fake takes the first request but answers after the bridge stopped waiting.
  startFake({"--fault", "twilio=delay,delay=5s,count=1"});
  writeConfig(twilioYaml("twilio", ", timeout: 1s"), "  default: [twilio]\n",
              "{poll_interval: 50ms, retry_base: 100ms, max_attempts: 20}");
  auto bridge = startBridge("run.log");
  ship(1, 1);
  ASSERT_TRUE(waitUntil([&] { return count("status = 'sent'") == 1; }, seconds(60)))
      << bridge->output();
  std::string log = stop(*bridge);

  // Twilio has no idempotency key: the retry is a second SMS, and the bridge says so.
  EXPECT_EQ(fake_->count("twilio", "accepted"), 2);
  EXPECT_NE(log.find("the provider may have sent it, so a retry can duplicate this SMS"),
            std::string::npos)
      << log;
  EXPECT_EQ(ambiguousTotal(log), 1u) << log;
}

class SendCommandTest : public ProvidersTest {
 protected:
  void SetUp() override {
    startFake({"--invalid-number", "+48600999999"});
    writeConfig(messageflowYaml("primary", "") + twilioYaml("secondary", ""),
                "  default: {providers: [primary], countries: {\"+1\": [secondary]}}\n",
                "{poll_interval: 50ms}");
  }
  std::pair<int, std::string> send(const std::string& to) {
    return testing::runSmsbridge({"send", "-c", config_, "--to", to, "--text", "Zażółć gęślą jaźń"},
                                 dir_.file("send.log"));
  }
};

TEST_F(SendCommandTest, AcceptedSmsPrintsTheAttemptAndExitsZero) {
  auto [code, out] = send("600 700 800");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("to:        +48600700800"), std::string::npos) << out;
  EXPECT_NE(out.find("ucs2, 1 segment"), std::string::npos) << out;
  EXPECT_NE(out.find("attempt 1: provider=primary outcome=accepted http=200"), std::string::npos)
      << out;
  EXPECT_NE(out.find("accepted by primary, provider message id "), std::string::npos) << out;
  auto ledger = fake_->ledger("messageflow");
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].to, "+48600700800");
  EXPECT_EQ(ledger[0].outcome, "accepted");
  // The one-off job never lands in the production store.
  EXPECT_EQ(count("1 = 1"), 0);
}

TEST_F(SendCommandTest, NumberTheProviderRejectsExitsOneWithItsReason) {
  auto [code, out] = send("600 999 999");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("outcome=rejected http=400"), std::string::npos) << out;
  EXPECT_NE(out.find("result:    rejected: Invalid phone number"), std::string::npos) << out;
  EXPECT_EQ(fake_->count("messageflow", "invalid_number"), 1);
  EXPECT_EQ(fake_->ledger("twilio").size(), 0u) << "a rejection must not fail over";
}

TEST_F(SendCommandTest, CountryRuleOfTheRoutePicksTheProvider) {
  auto [code, out] = send("+1 415 555 2671");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("route:     default → secondary"), std::string::npos) << out;
  EXPECT_NE(out.find("attempt 1: provider=secondary outcome=accepted http=201"), std::string::npos)
      << out;
  auto ledger = fake_->ledger("twilio");
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].to, "+14155552671");
  EXPECT_EQ(fake_->ledger("messageflow").size(), 0u);
}

TEST_F(SendCommandTest, TemporaryFailureIsRetriedAndEveryAttemptPrinted) {
  fake_->control("/_fake/faults", "messageflow=503,count=1");
  auto [code, out] = send("600 700 800");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("attempt 1: provider=primary outcome=retry_later http=503"), std::string::npos)
      << out;
  EXPECT_NE(out.find("attempt 2: provider=primary outcome=accepted http=200"), std::string::npos)
      << out;
  EXPECT_EQ(fake_->count("messageflow", "accepted"), 1);
}

TEST_F(SendCommandTest, UnknownRouteListsTheConfiguredOnes) {
  auto [code, out] = testing::runSmsbridge(
      {"send", "-c", config_, "--to", "600700800", "--text", "x", "--route", "nope"},
      dir_.file("send.log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("no route named 'nope'; the config has: default"), std::string::npos) << out;
  EXPECT_TRUE(fake_->ledger().empty());
}

TEST_F(SendCommandTest, UnusableNumberIsRefusedBeforeAnyProvider) {
  auto [code, out] = send("12");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("cannot send to '12'"), std::string::npos) << out;
  EXPECT_TRUE(fake_->ledger().empty());
}

}  // namespace
}  // namespace smsbridge
