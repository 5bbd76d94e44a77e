#include "config/schema.h"

#include <gtest/gtest.h>

namespace smsbridge::config {
namespace {

using std::chrono::milliseconds;

TEST(SchemaDurationTest, ParsesUnitsAndBareSeconds) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("5s"), milliseconds(5000));
  EXPECT_EQ(parseDuration("2m"), milliseconds(120000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(parseDuration("1d"), milliseconds(86400000));
  EXPECT_EQ(parseDuration("1h30m"), milliseconds(5400000));
  EXPECT_EQ(parseDuration("90"), milliseconds(90000));
  EXPECT_EQ(parseDuration("0"), milliseconds(0));
}

TEST(SchemaDurationTest, RejectsAnythingElse) {
  for (const char* bad :
       {"", "s", "5 s", "5sec", "-5s", "1.5s", "5S", "1m30", " 5s", "99999999999999999999s"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
}

TEST(SchemaScalarTest, ParsesIntegersNumbersAndBooleansStrictly) {
  EXPECT_EQ(parseInteger("42"), 42);
  EXPECT_EQ(parseInteger("-7"), -7);
  EXPECT_EQ(parseInteger("+7"), 7);
  EXPECT_FALSE(parseInteger("abc"));
  EXPECT_FALSE(parseInteger("4.0"));
  EXPECT_FALSE(parseInteger("+-4"));
  EXPECT_FALSE(parseInteger(""));
  EXPECT_EQ(parseNumber("0.25"), 0.25);
  EXPECT_EQ(parseNumber("1e3"), 1000.0);
  EXPECT_FALSE(parseNumber("inf"));
  EXPECT_FALSE(parseNumber("1,5"));
  EXPECT_EQ(parseBool("yes"), true);
  EXPECT_EQ(parseBool("False"), false);
  EXPECT_FALSE(parseBool("1"));
}

TEST(SchemaBuilderTest, BuildersWriteDefaultsAsTheUserWouldType) {
  EXPECT_EQ(integer("port", 5432, "").default_text, "5432");
  EXPECT_EQ(number("price", 0.25, "").default_text, "0.25");
  EXPECT_EQ(boolean("tls", false, "").default_text, "false");
  EXPECT_EQ(stringList("on", {"insert", "update"}, "").default_text, "[insert, update]");
  Field lane = required(oneOf("lane", {"otp", "marketing"}, "otp", "Lane."));
  EXPECT_TRUE(lane.required);
  EXPECT_EQ(lane.type, FieldType::kEnum);
  EXPECT_EQ(lane.enum_values.size(), 2u);
  Field token = secret("auth_token", "Token.");
  EXPECT_TRUE(token.secret);
  EXPECT_TRUE(token.default_text.empty());
}

TEST(SchemaBuilderTest, VariantLookup) {
  static const Schema kSqlite{.name = "sqlite"};
  static const Schema kSource{.name = "source",
                              .fields = {oneOf("type", {"sqlite"}, "sqlite", "Kind.")},
                              .variant_key = "type",
                              .variants = {{"sqlite", &kSqlite}}};
  EXPECT_EQ(kSource.variant("sqlite"), &kSqlite);
  EXPECT_EQ(kSource.variant("mysql"), nullptr);
  EXPECT_EQ(kSource.defaultVariant(), "sqlite");
  EXPECT_NE(kSource.find("type"), nullptr);
}

}  // namespace
}  // namespace smsbridge::config
