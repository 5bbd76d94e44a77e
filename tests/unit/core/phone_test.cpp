#include "core/phone.h"

#include <gtest/gtest.h>

#include <string>

namespace smsbridge {
namespace {

// Mobile and fixed-line numbers from the examples in reference/domain.md §D.
TEST(PhoneTest, PolishNationalForms) {
  for (std::string_view raw :
       {"600 700 800", "+48 600-700-800", "48600700800", "0048600700800", "600700800"}) {
    const PhoneResult result = normalizePhone(raw, "PL", PhoneTypePolicy::kMobile);
    EXPECT_TRUE(result.ok()) << raw << ": " << result.detail;
    EXPECT_EQ(result.e164, "+48600700800") << raw;
    EXPECT_EQ(result.raw, raw);
    EXPECT_TRUE(result.detail.empty());
  }
}

TEST(PhoneTest, GermanMobileWithTrunkPrefix) {
  const PhoneResult result = normalizePhone("0151 23456789", "DE", PhoneTypePolicy::kMobile);
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.e164, "+4915123456789");
}

TEST(PhoneTest, RawIsKeptExactly) {
  const PhoneResult result = normalizePhone("  600 700 800\t", "PL", PhoneTypePolicy::kMobile);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.raw, "  600 700 800\t");
  EXPECT_EQ(result.e164, "+48600700800");

  const PhoneResult failed = normalizePhone("abc", "PL", PhoneTypePolicy::kMobile);
  EXPECT_EQ(failed.raw, "abc");
  EXPECT_TRUE(failed.e164.empty());
}

TEST(PhoneTest, RegionIsCaseInsensitive) {
  EXPECT_EQ(normalizePhone("600 700 800", "pl", PhoneTypePolicy::kMobile).e164, "+48600700800");
}

TEST(PhoneTest, InternationalNumberIgnoresTheRegion) {
  EXPECT_EQ(normalizePhone("+48 600 700 800", "DE", PhoneTypePolicy::kMobile).e164, "+48600700800");
  EXPECT_EQ(normalizePhone("+48600700800", "", PhoneTypePolicy::kMobile).e164, "+48600700800");
  EXPECT_EQ(normalizePhone("0048600700800", "DE", PhoneTypePolicy::kMobile).e164, "+48600700800");
}

TEST(PhoneTest, NationalNumberStartingWithTheCountryCodeStaysNational) {
  // A Radom (area 48) landline: prefixing blindly with 48 would misroute it.
  const PhoneResult result = normalizePhone("48 123 45 67", "PL", PhoneTypePolicy::kAny);
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.e164, "+48481234567");
}

TEST(PhoneTest, MissingNumber) {
  for (std::string_view raw : {"", "   ", "\t\r\n"}) {
    const PhoneResult result = normalizePhone(raw, "PL", PhoneTypePolicy::kAny);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.problem, PhoneProblem::kMissing);
    EXPECT_EQ(result.raw, raw);
    EXPECT_FALSE(result.detail.empty());
  }
}

TEST(PhoneTest, Unparseable) {
  for (std::string_view raw : {"abc", "+", "00", "\xff\xfe", "12345678901234567890"}) {
    const PhoneResult result = normalizePhone(raw, "PL", PhoneTypePolicy::kAny);
    ASSERT_FALSE(result.ok()) << raw;
    EXPECT_EQ(result.problem, PhoneProblem::kUnparseable) << raw;
    EXPECT_FALSE(result.detail.empty());
    EXPECT_TRUE(result.e164.empty());
  }
  EXPECT_EQ(normalizePhone("abc", "PL", PhoneTypePolicy::kAny).detail, "not a phone number");
  EXPECT_EQ(normalizePhone(std::string(300, '1'), "PL", PhoneTypePolicy::kAny).problem,
            PhoneProblem::kUnparseable);
}

TEST(PhoneTest, NationalNumberWithoutUsableRegionIsUnparseable) {
  PhoneResult result = normalizePhone("600 700 800", "", PhoneTypePolicy::kAny);
  EXPECT_EQ(result.problem, PhoneProblem::kUnparseable);
  EXPECT_NE(result.detail.find("no region"), std::string::npos) << result.detail;

  result = normalizePhone("600 700 800", "XX", PhoneTypePolicy::kAny);
  EXPECT_EQ(result.problem, PhoneProblem::kUnparseable);
  EXPECT_NE(result.detail.find("\"XX\""), std::string::npos) << result.detail;
}

TEST(PhoneTest, TooShortNumberIsInvalid) {
  // libphonenumber parses "123" as +48 123 and then finds it too short: invalid, not
  // unparseable.
  const PhoneResult result = normalizePhone("123", "PL", PhoneTypePolicy::kAny);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.problem, PhoneProblem::kInvalid);
  EXPECT_NE(result.detail.find("too short"), std::string::npos) << result.detail;
  EXPECT_TRUE(result.e164.empty());
}

TEST(PhoneTest, NumberOutsideTheNumberingPlanIsInvalid) {
  // Right length for Poland, but no Polish number has 8 digits / 10 digits.
  EXPECT_EQ(normalizePhone("60070080", "PL", PhoneTypePolicy::kAny).problem,
            PhoneProblem::kInvalid);
  EXPECT_EQ(normalizePhone("6007008001", "PL", PhoneTypePolicy::kAny).problem,
            PhoneProblem::kInvalid);
}

TEST(PhoneTest, FixedLineDependsOnThePolicy) {
  const std::string_view landline = "22 123 45 67";

  PhoneResult result = normalizePhone(landline, "PL", PhoneTypePolicy::kMobile);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.problem, PhoneProblem::kNotMobile);
  EXPECT_NE(result.detail.find("fixed_line"), std::string::npos) << result.detail;
  EXPECT_TRUE(result.e164.empty());

  EXPECT_EQ(normalizePhone(landline, "PL", PhoneTypePolicy::kMobileOrUnknown).problem,
            PhoneProblem::kNotMobile);

  result = normalizePhone(landline, "PL", PhoneTypePolicy::kAny);
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.e164, "+48221234567");
}

TEST(PhoneTest, FixedLineOrMobileCountsAsMobile) {
  // North American numbers do not say whether they are mobile.
  const PhoneResult result = normalizePhone("+1 201 555 0123", "", PhoneTypePolicy::kMobile);
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.e164, "+12015550123");
}

TEST(PhoneTest, NonGeographicNumberIsNotMobile) {
  EXPECT_EQ(normalizePhone("+800 1234 5678", "", PhoneTypePolicy::kMobile).problem,
            PhoneProblem::kNotMobile);
  EXPECT_EQ(normalizePhone("+800 1234 5678", "", PhoneTypePolicy::kAny).e164, "+80012345678");
}

TEST(PhoneTest, ProblemNames) {
  EXPECT_EQ(phoneProblemName(PhoneProblem::kMissing), "missing");
  EXPECT_EQ(phoneProblemName(PhoneProblem::kUnparseable), "unparseable");
  EXPECT_EQ(phoneProblemName(PhoneProblem::kInvalid), "invalid");
  EXPECT_EQ(phoneProblemName(PhoneProblem::kNotMobile), "not_mobile");
}

TEST(PhoneTest, PolicyNamesRoundTrip) {
  for (PhoneTypePolicy policy :
       {PhoneTypePolicy::kAny, PhoneTypePolicy::kMobileOrUnknown, PhoneTypePolicy::kMobile}) {
    EXPECT_EQ(parsePhoneTypePolicy(phoneTypePolicyName(policy)), policy);
  }
  EXPECT_EQ(parsePhoneTypePolicy("any"), PhoneTypePolicy::kAny);
  EXPECT_EQ(parsePhoneTypePolicy("mobile"), PhoneTypePolicy::kMobile);
  EXPECT_EQ(parsePhoneTypePolicy("mobile_or_unknown"), PhoneTypePolicy::kMobileOrUnknown);
  EXPECT_EQ(parsePhoneTypePolicy(""), std::nullopt);
  EXPECT_EQ(parsePhoneTypePolicy("landline"), std::nullopt);
}

TEST(PhoneTest, RegionCodes) {
  EXPECT_TRUE(isValidRegionCode("PL"));
  EXPECT_TRUE(isValidRegionCode("pl"));
  EXPECT_TRUE(isValidRegionCode("DE"));
  EXPECT_TRUE(isValidRegionCode("US"));
  EXPECT_FALSE(isValidRegionCode(""));
  EXPECT_FALSE(isValidRegionCode("ZZ"));
  EXPECT_FALSE(isValidRegionCode("XX"));
  EXPECT_FALSE(isValidRegionCode("001"));
  EXPECT_FALSE(isValidRegionCode("POL"));
  EXPECT_FALSE(isValidRegionCode("Poland"));
}

// Repeated numbers are answered from a per-thread cache; what it returns must be what a first
// classification returns, whatever was asked in between.
TEST(PhoneTest, RepeatedNumbersGetTheSameAnswerAsTheFirstTime) {
  const auto first_pl = normalizePhone("600 700 800", "PL", PhoneTypePolicy::kMobile);
  const auto first_de = normalizePhone("600 700 800", "DE", PhoneTypePolicy::kMobile);
  EXPECT_EQ(first_pl.e164, "+48600700800");
  EXPECT_NE(first_de.e164, first_pl.e164);  // same text, another region: another answer

  // The type policy applies after the cache: one landline, two policies.
  EXPECT_EQ(normalizePhone("22 123 45 67", "PL", PhoneTypePolicy::kAny).e164, "+48221234567");
  EXPECT_EQ(normalizePhone("22 123 45 67", "PL", PhoneTypePolicy::kMobile).problem,
            PhoneProblem::kNotMobile);
  EXPECT_EQ(normalizePhone("22 123 45 67", "PL", PhoneTypePolicy::kAny).e164, "+48221234567");

  // Unknown regions are named in the detail, so each keeps its own.
  const auto unknown = normalizePhone("600 700 800", "XX", PhoneTypePolicy::kMobile);
  const auto none = normalizePhone("600 700 800", "", PhoneTypePolicy::kMobile);
  EXPECT_NE(unknown.detail.find("\"XX\""), std::string::npos) << unknown.detail;
  EXPECT_NE(none.detail.find("no region was given"), std::string::npos) << none.detail;
  EXPECT_EQ(normalizePhone("600 700 800", "XX", PhoneTypePolicy::kMobile).detail, unknown.detail);

  // Past the cache's size the first numbers are evicted and classified again, alike.
  for (int i = 0; i < 5000; ++i) {
    normalizePhone("+48 600 " + std::to_string(100000 + i), "PL", PhoneTypePolicy::kMobile);
  }
  const auto again = normalizePhone("600 700 800", "PL", PhoneTypePolicy::kMobile);
  EXPECT_EQ(again.e164, first_pl.e164);
  EXPECT_EQ(again.raw, "600 700 800");
  EXPECT_EQ(normalizePhone(" 600 700 800 ", "pl", PhoneTypePolicy::kMobile).raw, " 600 700 800 ");
  EXPECT_EQ(normalizePhone("600 700 800", "DE", PhoneTypePolicy::kMobile).e164, first_de.e164);
}

}  // namespace
}  // namespace smsbridge
