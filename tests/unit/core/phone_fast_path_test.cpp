// The fast path's guarantee: wherever it answers, its answer is libphonenumber's, to the letter.
// Generated inputs (every region's example numbers of every type, mutated, lengthened, shortened,
// written nationally, internationally and with the international prefix, with separators, and
// random digit strings) go through both paths, with the number's own region, another region,
// an unknown one and none, under every type policy.

#include <gtest/gtest.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cstddef>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/phone.h"
#include "core/phone_fast_path.h"
#include "core/phone_metadata.h"

namespace smsbridge {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

constexpr PhoneTypePolicy kPolicies[] = {PhoneTypePolicy::kAny, PhoneTypePolicy::kMobileOrUnknown,
                                         PhoneTypePolicy::kMobile};

constexpr PhoneNumberUtil::PhoneNumberType kTypes[] = {
    PhoneNumberUtil::FIXED_LINE,      PhoneNumberUtil::MOBILE,      PhoneNumberUtil::TOLL_FREE,
    PhoneNumberUtil::PREMIUM_RATE,    PhoneNumberUtil::SHARED_COST, PhoneNumberUtil::VOIP,
    PhoneNumberUtil::PERSONAL_NUMBER, PhoneNumberUtil::PAGER,       PhoneNumberUtil::UAN,
    PhoneNumberUtil::VOICEMAIL};

const PhoneNumberUtil& util() { return *PhoneNumberUtil::GetInstance(); }

std::vector<std::string> supportedRegions() {
  std::set<std::string> regions;
  util().GetSupportedRegions(&regions);
  return {regions.begin(), regions.end()};
}

// A number's national significant digits and calling code, as written in one region.
struct Example {
  std::string region;  // "001" for a non-geographic calling code
  std::string calling_code;
  std::string national;
};

std::vector<Example> examples(const std::vector<std::string>& regions) {
  std::vector<Example> out;
  const auto add = [&](const std::string& region, const PhoneNumber& number) {
    std::string national;
    util().GetNationalSignificantNumber(number, &national);
    out.push_back({region, std::to_string(number.country_code()), national});
  };
  for (const std::string& region : regions) {
    for (auto type : kTypes) {
      PhoneNumber number;
      if (util().GetExampleNumberForType(region, type, &number)) add(region, number);
    }
  }
  std::set<int> global;
  util().GetSupportedGlobalNetworkCallingCodes(&global);
  for (int code : global) {
    PhoneNumber number;
    if (util().GetExampleNumberForNonGeoEntity(code, &number)) add("001", number);
  }
  return out;
}

class Inputs {
 public:
  explicit Inputs(unsigned seed) : random_(seed) {}

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
  char digit() { return static_cast<char>('0' + below(10)); }

  // The digits, the same digits grouped with separators as people write them.
  std::string punctuate(const std::string& digits) {
    static constexpr const char* kSeparators[] = {" ", "-", ".", "/", " - "};
    switch (below(4)) {
      case 0:
        return digits;
      case 1: {  // "(22) 123 45 67"
        const std::size_t split = std::min<std::size_t>(digits.size(), 1 + below(3));
        return "(" + digits.substr(0, split) + ") " + digits.substr(split);
      }
      default: {
        const char* separator = kSeparators[below(std::size(kSeparators))];
        std::string out;
        for (std::size_t i = 0; i < digits.size(); ++i) {
          if (i > 0 && below(3) == 0) out += separator;
          out += digits[i];
        }
        return out;
      }
    }
  }

  // The example's national digits changed: as is, one or two digits replaced, longer, shorter.
  std::string mutate(std::string national) {
    switch (below(7)) {
      case 0:
      case 1:
        break;
      case 2:
        national.back() = digit();
        break;
      case 3:
        for (std::size_t n = 1 + below(2); n > 0; --n) national[below(national.size())] = digit();
        break;
      case 4:
        national += digit();
        break;
      case 5:
        if (national.size() > 1) national.pop_back();
        break;
      default:
        national.insert(national.begin() + static_cast<std::ptrdiff_t>(below(national.size() + 1)),
                        digit());
        break;
    }
    return national;
  }

  // One way of writing the number: international with '+', with an international prefix,
  // national with or without the trunk prefix, national behind the calling code without '+'.
  std::string write(const Example& example, const std::string& national) {
    switch (below(8)) {
      case 0:
        return "+" + example.calling_code + national;
      case 1:
        return "+" + example.calling_code + " " + punctuate(national);
      case 2:
        return "(+" + example.calling_code + ") " + punctuate(national);
      case 3:
        return (below(2) == 0 ? "00" : "011") + example.calling_code + punctuate(national);
      case 4:
        return punctuate(national);
      case 5:
        return punctuate(std::string(1, below(3) == 0 ? '1' : '0') + national);
      case 6:
        return example.calling_code + punctuate(national);
      default:
        return "+" + example.calling_code + "0" + punctuate(national);
    }
  }

  std::string randomDigits() {
    static constexpr const char* kStarts[] = {"", "", "+", "0", "00", "+0", "1", "011"};
    std::string digits = kStarts[below(std::size(kStarts))];
    for (std::size_t n = 3 + below(14); n > 0; --n) digits += digit();
    return punctuate(digits);
  }

 private:
  std::mt19937 random_;
};

struct Tally {
  std::size_t inputs = 0;
  std::size_t answered = 0;  // by the fast path
  std::size_t mismatches = 0;
};

std::string describe(const PhoneResult& result) {
  return "\"" + result.e164 + "\" " +
         std::string(result.problem ? phoneProblemName(*result.problem) : "ok") + " \"" +
         result.detail + "\"";
}

// Where the fast path answers, libphonenumber must give the same PhoneResult. Where it defers,
// normalizePhone asks libphonenumber, so there is nothing to compare. The classification does
// not depend on the policy (it is applied afterwards, by code both paths share), so each input
// is compared under one policy, the three taking turns: libphonenumber's cost bounds the number
// of inputs the test can afford.
void compare(const std::string& raw, const std::string& region, Tally& tally) {
  const PhoneTypePolicy policy = kPolicies[tally.inputs++ % std::size(kPolicies)];
  const std::optional<PhoneResult> fast = phone_paths::normalizeWithFastPath(raw, region, policy);
  if (!fast) return;
  ++tally.answered;
  const PhoneResult library = phone_paths::normalizeWithLibphonenumber(raw, region, policy);
  if (fast->e164 != library.e164 || fast->problem != library.problem ||
      fast->detail != library.detail || fast->raw != library.raw) {
    if (++tally.mismatches <= 20) {
      ADD_FAILURE() << "\"" << raw << "\" in \"" << region << "\" policy "
                    << phoneTypePolicyName(policy) << ": fast path " << describe(*fast)
                    << ", libphonenumber " << describe(library);
    }
  }
}

// How many of the numbers libphonenumber finds valid the fast path answers: the comparison
// means something only if that is most of them.
double answeredShareOfValid(const std::vector<std::pair<std::string, std::string>>& inputs) {
  std::size_t valid = 0;
  std::size_t answered = 0;
  for (const auto& [raw, region] : inputs) {
    if (!phone_paths::normalizeWithLibphonenumber(raw, region, PhoneTypePolicy::kAny).ok()) {
      continue;
    }
    ++valid;
    if (phone_paths::normalizeWithFastPath(raw, region, PhoneTypePolicy::kAny)) ++answered;
  }
  std::printf("[ coverage ] the fast path answers %zu of %zu valid numbers\n", answered, valid);
  return valid == 0 ? 0.0 : static_cast<double>(answered) / static_cast<double>(valid);
}

TEST(PhoneFastPathTest, EveryRegionsPatternsCompileWithRe2) {
  const auto& plans = phone_metadata::NumberingPlans::get();
  for (const std::string& region : supportedRegions()) {
    const phone_metadata::RegionPlan* plan = plans.region(region);
    ASSERT_NE(plan, nullptr) << region;
    EXPECT_TRUE(plan->compiled) << region;
    EXPECT_EQ(plan->country_code, util().GetCountryCodeForRegion(region)) << region;
  }
  EXPECT_EQ(plans.region("ZZ"), nullptr);
  EXPECT_EQ(plans.region("pl"), nullptr);  // core/phone passes upper case
  // +1 is shared: the United States first, as libphonenumber orders it.
  ASSERT_NE(plans.callingCode(1), nullptr);
  EXPECT_EQ(plans.callingCode(1)->regions.front()->id, "US");
  EXPECT_GT(plans.callingCode(1)->regions.size(), 10u);
  ASSERT_NE(plans.callingCode(800), nullptr);
  EXPECT_EQ(plans.callingCode(800)->regions.front()->id, "001");
  EXPECT_EQ(plans.callingCode(999), nullptr);
}

TEST(PhoneFastPathTest, AnswersTheCommonShapes) {
  const auto e164 = [](std::string_view raw, std::string_view region) {
    auto answer = classifyCommonPhoneShape(raw, region);
    return answer ? answer->e164 : std::string("(deferred)");
  };
  EXPECT_EQ(e164("600 700 800", "PL"), "+48600700800");
  EXPECT_EQ(e164("+48 600-700-800", "DE"), "+48600700800");
  EXPECT_EQ(e164("(+48) 600 700 800", "ZZ"), "+48600700800");
  EXPECT_EQ(e164("0048 600 700 800", "PL"), "+48600700800");
  EXPECT_EQ(e164("0151 23456789", "DE"), "+4915123456789");  // trunk prefix 0 stripped
  EXPECT_EQ(e164("07400 123456", "GB"), "+447400123456");
  EXPECT_EQ(e164("+1 (201) 555-0123", "PL"), "+12015550123");
  EXPECT_EQ(e164("011 48 600 700 800", "US"), "+48600700800");
  EXPECT_EQ(e164("+800 1234 5678", "ZZ"), "+80012345678");  // non-geographic
  // Italian numbers keep their leading 0.
  EXPECT_EQ(e164("06 1234 5678", "IT"), "+390612345678");

  auto type = classifyCommonPhoneShape("22 123 45 67", "PL");
  ASSERT_TRUE(type);
  EXPECT_EQ(type->type, PhoneNumberUtil::FIXED_LINE);
  type = classifyCommonPhoneShape("+1 201 555 0123", "ZZ");
  ASSERT_TRUE(type);
  EXPECT_EQ(type->type, PhoneNumberUtil::FIXED_LINE_OR_MOBILE);
}

TEST(PhoneFastPathTest, LeavesEverythingUncertainToLibphonenumber) {
  for (const char* raw : {
           "48600700800",          // national number starting with the calling code
           "48 123 45 67",         // likewise (a Radom landline)
           "600 700 800 ext. 12",  // extension
           "tel:+48-600-700-800",  // RFC 3966
           "600 700 8OO",          // letters
           "++48 600 700 800",     // two '+'
           "600\xC2\xA0"
           "700 800",         // no-break space
           "+0 600 700 800",  // no calling code after '+'
           "60070080",        // invalid: too short for Poland
           "+48 60",          // too short after the prefix
           "600 700 800#",    // '#'
           "12",              // two digits
       }) {
    EXPECT_FALSE(classifyCommonPhoneShape(raw, "PL")) << raw;
  }
  EXPECT_FALSE(classifyCommonPhoneShape("600 700 800", "ZZ"));  // no region, not international
}

TEST(PhoneFastPathTest, AnswersExactlyLikeLibphonenumber) {
  const std::vector<std::string> regions = supportedRegions();
  const std::vector<Example> all = examples(regions);
  ASSERT_GT(all.size(), 1000u);
  Inputs inputs(20261122);
  Tally tally;
  const auto regionFor = [&](const Example& example) -> std::string {
    switch (inputs.below(5)) {
      case 0:
        return "";
      case 1:
        return inputs.below(2) == 0 ? "XX" : "pl";
      case 2:
        return regions[inputs.below(regions.size())];
      default:
        return example.region == "001" ? "" : example.region;
    }
  };
  std::vector<std::pair<std::string, std::string>> first_round;
  for (int round = 0; round < 150; ++round) {
    for (const Example& example : all) {
      std::string raw = inputs.write(example, inputs.mutate(example.national));
      std::string region = regionFor(example);
      compare(raw, region, tally);
      if (round == 0) first_round.emplace_back(std::move(raw), std::move(region));
    }
  }
  for (int i = 0; i < 50000; ++i) {
    compare(inputs.randomDigits(), regions[inputs.below(regions.size())], tally);
  }
  std::printf("[ compared ] %zu inputs, %zu answered by the fast path\n", tally.inputs,
              tally.answered);
  EXPECT_EQ(tally.mismatches, 0u);
  EXPECT_GT(answeredShareOfValid(first_round), 0.6);
}

}  // namespace
}  // namespace smsbridge
