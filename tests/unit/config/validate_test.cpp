#include "config/validate.h"

#include <gtest/gtest.h>

#include "tests/unit/config/test_schema.h"

namespace smsbridge::config {
namespace {

using testing::rootSchema;
using testing::withEnv;

// All diagnostics for `yaml` against the test root schema, one per line.
std::string check(const std::string& yaml) {
  auto doc = Document::loadString(yaml, "shop.yaml", withEnv({{"TWILIO_TOKEN", "t0k3n"}}));
  if (!doc.has_value()) return "load failed: " + doc.error().message();
  Diagnostics out;
  validate(*doc, rootSchema(), out);
  return out.toString();
}

TEST(ValidateTest, ACompleteConfigHasNoDiagnostics) {
  EXPECT_EQ(check("timezone: Europe/Warsaw\n"
                  "sources:\n"
                  "  shop:\n"
                  "    type: postgres\n"
                  "    host: db\n"
                  "    password_file: secrets/pg\n"
                  "    tables: [wp_wc_orders]\n"
                  "  local:\n"
                  "    type: sqlite\n"
                  "    path: shop.db\n"
                  "    poll_interval: 250ms\n"
                  "providers:\n"
                  "  twilio:\n"
                  "    account_sid: AC123\n"
                  "    auth_token: ${TWILIO_TOKEN}\n"
                  "    from: \"+48123456789\"\n"
                  "    verify_tls: no\n"
                  "    price_limit: 0.1\n"
                  "mappings:\n"
                  "  order_shipped:\n"
                  "    source: shop\n"
                  "    table: wp_wc_orders\n"
                  "    on: update\n"
                  "    to: \"{{ billing.phone }}\"\n"
                  "    text: Hi\n"
                  "    lane: otp\n"
                  "routes:\n"
                  "  otp: [twilio]\n"
                  "  default: twilio\n"),
            "");
}

TEST(ValidateTest, UnknownKeyAndWrongTypeAreReportedTogetherSorted) {
  EXPECT_EQ(check("sources: {}\n"
                  "providers:\n"
                  "  twilio:\n"
                  "    account_sid: AC1\n"
                  "    auth_token: t\n"
                  "    max_inflight: abc\n"
                  "    from: \"+48\"\n"
                  "    colour: red\n"),
            "shop.yaml:6:19: providers.twilio.max_inflight: expected an integer, got 'abc'\n"
            "shop.yaml:8:5: providers.twilio.colour: unknown key 'colour' (did you mean "
            "'color'?); allowed keys: account_sid, auth_token, auth_token_file, color, from, "
            "max_inflight, price_limit, timeout, verify_tls");
}

TEST(ValidateTest, UnknownKeyWithoutACloseMatchListsTheAllowedKeys) {
  EXPECT_EQ(check("sources: {}\nfrobnicate: 1\n"),
            "shop.yaml:2:1: frobnicate: unknown key 'frobnicate'; allowed keys: mappings, "
            "providers, routes, sources, timezone, workers");
}

TEST(ValidateTest, MissingRequiredKeysPointAtTheParentMapping) {
  EXPECT_EQ(check("sources:\n"
                  "  shop:\n"
                  "    type: sqlite\n"
                  "providers:\n"
                  "  twilio:\n"
                  "    account_sid: AC1\n"),
            "shop.yaml:3:5: sources.shop.path: required key is missing\n"
            "shop.yaml:6:5: providers.twilio.auth_token: required key is missing; give "
            "'auth_token' (e.g. ${ENV_VAR}) or 'auth_token_file'\n"
            "shop.yaml:6:5: providers.twilio.from: required key is missing");
}

TEST(ValidateTest, MissingOrEmptyRequiredTopLevelKey) {
  EXPECT_EQ(check("timezone: UTC\n"), "shop.yaml:1:1: sources: required key is missing");
  EXPECT_EQ(check("timezone: UTC\nsources:\n"),
            "shop.yaml:2:1: sources: required key has no value");
}

TEST(ValidateTest, EnumValuesOutsideTheListNameTheAllowedOnes) {
  EXPECT_EQ(check("sources: {}\n"
                  "mappings:\n"
                  "  order_shipped:\n"
                  "    source: shop\n"
                  "    table: orders\n"
                  "    on: [insert, updte]\n"
                  "    to: x\n"
                  "    text: y\n"
                  "    lane: transactinal\n"
                  "  order_paid:\n"
                  "    source: shop\n"
                  "    table: orders\n"
                  "    on: remove\n"
                  "    to: x\n"
                  "    text: y\n"),
            "shop.yaml:6:18: mappings.order_shipped.on[1]: invalid value 'updte' (did you mean "
            "'update'?); allowed values: insert, update, delete\n"
            "shop.yaml:9:11: mappings.order_shipped.lane: invalid value 'transactinal' (did you "
            "mean 'transactional'?); allowed values: otp, transactional, marketing\n"
            "shop.yaml:13:9: mappings.order_paid.on: invalid value 'remove'; allowed values: "
            "insert, update, delete");
}

TEST(ValidateTest, VariantKeyMissingOrUnknown) {
  EXPECT_EQ(check("sources:\n"
                  "  a:\n"
                  "    type: postgress\n"
                  "    path: x\n"
                  "    host: y\n"
                  "    bogus: 1\n"
                  "  b:\n"
                  "    mode: poll\n"),
            "shop.yaml:3:11: sources.a.type: invalid value 'postgress' (did you mean "
            "'postgres'?); allowed values: sqlite, postgres\n"
            "shop.yaml:6:5: sources.a.bogus: unknown key 'bogus'; allowed keys: mode, "
            "poll_interval, tables, type\n"
            "shop.yaml:8:5: sources.b.type: required key is missing; allowed values: sqlite, "
            "postgres");
}

TEST(ValidateTest, KeysOfAnotherVariantAreUnknown) {
  EXPECT_EQ(check("sources:\n"
                  "  c:\n"
                  "    type: sqlite\n"
                  "    path: x.db\n"
                  "    host: db\n"),
            "shop.yaml:5:5: sources.c.host: unknown key 'host'; allowed keys: mode, path, "
            "poll_interval, tables, type");
}

TEST(ValidateTest, SecretMayComeFromAFileButNotFromBoth) {
  EXPECT_EQ(check("sources:\n"
                  "  shop:\n"
                  "    type: postgres\n"
                  "    password_file: /run/secrets/pg\n"),
            "");
  EXPECT_EQ(check("sources:\n"
                  "  shop:\n"
                  "    type: postgres\n"
                  "    password: hunter2\n"
                  "    password_file: /run/secrets/pg\n"),
            "shop.yaml:5:5: sources.shop.password_file: give either 'password' or "
            "'password_file', not both");
  EXPECT_EQ(check("sources:\n"
                  "  shop:\n"
                  "    type: postgres\n"
                  "    password_file: [a]\n"),
            "shop.yaml:4:20: sources.shop.password_file: expected the path of a file holding "
            "password, got a list");
}

TEST(ValidateTest, WrongTypesSayWhatWasExpected) {
  EXPECT_EQ(check("timezone: [a]\n"
                  "sources:\n"
                  "  s: {type: sqlite, path: p, poll_interval: 5 sec}\n"
                  "providers:\n"
                  "  twilio: {account_sid: a, auth_token: b, from: c, verify_tls: maybe, "
                  "price_limit: cheap}\n"
                  "routes:\n"
                  "  otp: {a: 1}\n"),
            "shop.yaml:1:11: timezone: expected a string, got a list\n"
            "shop.yaml:3:45: sources.s.poll_interval: expected a duration like 5s or 250ms, got "
            "'5 sec'\n"
            "shop.yaml:5:64: providers.twilio.verify_tls: expected true or false, got 'maybe'\n"
            "shop.yaml:5:84: providers.twilio.price_limit: expected a number, got 'cheap'\n"
            "shop.yaml:7:8: routes.otp: expected a list of strings, got a mapping");
  EXPECT_EQ(check("sources: {}\nproviders: [twilio]\n"),
            "shop.yaml:2:12: providers: expected a mapping, got a list");
  EXPECT_EQ(check("- a\n"), "shop.yaml:1:1: expected a mapping, got a list");
}

TEST(ValidateTest, SecretValuesAreNeverEchoed) {
  static const Schema kSchema{
      .fields = {Field{.key = "pin", .type = FieldType::kInt, .secret = true}}};
  auto doc = Document::loadString("pin: s3cr3t\n", "shop.yaml");
  ASSERT_TRUE(doc.has_value());
  Diagnostics out;
  validate(*doc, kSchema, out);
  EXPECT_EQ(out.toString(),
            "shop.yaml:1:6: pin: expected an integer, got a value that is not shown because it "
            "is secret");
}

TEST(ValidateTest, DuplicateKeysAreReported) {
  EXPECT_EQ(check("timezone: UTC\nsources: {}\ntimezone: CET\n"),
            "shop.yaml:3:1: timezone: duplicate key 'timezone'; first given on line 1");
  EXPECT_EQ(check("sources:\n  shop: {type: sqlite, path: a}\n  shop: {type: sqlite, path: "
                  "b}\n"),
            "shop.yaml:3:3: sources.shop: duplicate key 'shop'; first given on line 2");
}

TEST(ValidateTest, ClosestMatchOnlySuggestsPlausibleTypos) {
  EXPECT_EQ(closestMatch("tabel", {"table", "tables"}), "table");
  EXPECT_EQ(closestMatch("Type", {"type"}), "type");
  EXPECT_EQ(closestMatch("to", {"on"}), "");
  EXPECT_EQ(closestMatch("frobnicate", {"from"}), "");
  EXPECT_EQ(closestMatch("twilo", {"twilio", "smsapi"}), "twilio");
}

}  // namespace
}  // namespace smsbridge::config
