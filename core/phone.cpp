#include "core/phone.h"

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <array>
#include <set>
#include <string>
#include <utility>

namespace smsbridge {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// libphonenumber's code for "no region": Parse then accepts only international numbers.
constexpr std::string_view kUnknownRegion = "ZZ";

const PhoneNumberUtil& phoneUtil() {
  static PhoneNumberUtil* const util = [] {
    PhoneNumberUtil* instance = PhoneNumberUtil::GetInstance();
    // The default logger writes every parse complaint to stderr; our callers report problems
    // themselves. SetLogger takes ownership.
    instance->SetLogger(new i18n::phonenumbers::NullLogger());
    return instance;
  }();
  return *util;
}

const std::set<std::string>& supportedRegions() {
  static const std::set<std::string> regions = [] {
    std::set<std::string> result;
    phoneUtil().GetSupportedRegions(&result);
    return result;
  }();
  return regions;
}

std::string upperAscii(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return result;
}

std::string_view trimWhitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n\v\f";
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

constexpr std::array<std::pair<PhoneTypePolicy, std::string_view>, 3> kPolicyNames{{
    {PhoneTypePolicy::kAny, "any"},
    {PhoneTypePolicy::kMobileOrUnknown, "mobile_or_unknown"},
    {PhoneTypePolicy::kMobile, "mobile"},
}};

std::string_view numberTypeName(PhoneNumberUtil::PhoneNumberType type) {
  switch (type) {
    case PhoneNumberUtil::FIXED_LINE:
      return "fixed_line";
    case PhoneNumberUtil::MOBILE:
      return "mobile";
    case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
      return "fixed_line_or_mobile";
    case PhoneNumberUtil::TOLL_FREE:
      return "toll_free";
    case PhoneNumberUtil::PREMIUM_RATE:
      return "premium_rate";
    case PhoneNumberUtil::SHARED_COST:
      return "shared_cost";
    case PhoneNumberUtil::VOIP:
      return "voip";
    case PhoneNumberUtil::PERSONAL_NUMBER:
      return "personal_number";
    case PhoneNumberUtil::PAGER:
      return "pager";
    case PhoneNumberUtil::UAN:
      return "uan";
    case PhoneNumberUtil::VOICEMAIL:
      return "voicemail";
    case PhoneNumberUtil::UNKNOWN:
      return "unknown";
  }
  return "unknown";
}

bool policyAccepts(PhoneTypePolicy policy, PhoneNumberUtil::PhoneNumberType type) {
  const bool mobile =
      type == PhoneNumberUtil::MOBILE || type == PhoneNumberUtil::FIXED_LINE_OR_MOBILE;
  switch (policy) {
    case PhoneTypePolicy::kAny:
      return true;
    case PhoneTypePolicy::kMobileOrUnknown:
      return mobile || type == PhoneNumberUtil::UNKNOWN;
    case PhoneTypePolicy::kMobile:
      return mobile;
  }
  return false;
}

std::string parseErrorDetail(PhoneNumberUtil::ErrorType error, std::string_view number,
                             std::string_view region_used, std::string_view region_given) {
  switch (error) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
      if (region_used == kUnknownRegion && !number.starts_with('+')) {
        std::string detail = "no country: the number is not in international form (+...) and ";
        if (region_given.empty()) {
          detail += "no region was given";
        } else {
          detail += "region \"";
          detail += region_given;
          detail += "\" is not a known ISO 3166 country code";
        }
        return detail;
      }
      return "unknown country calling code";
    case PhoneNumberUtil::NOT_A_NUMBER:
      return "not a phone number";
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
      return "too short after the international prefix";
    case PhoneNumberUtil::TOO_SHORT_NSN:
      return "too short to be a phone number";
    case PhoneNumberUtil::TOO_LONG_NSN:
      return "too long to be a phone number";
    case PhoneNumberUtil::NO_PARSING_ERROR:
      break;
  }
  return "cannot be parsed";
}

std::string invalidDetail(const PhoneNumber& number, const std::string& formatted) {
  const std::string country = "+" + std::to_string(number.country_code());
  switch (phoneUtil().IsPossibleNumberWithReason(number)) {
    case PhoneNumberUtil::TOO_SHORT:
      return formatted + " is too short for country code " + country;
    case PhoneNumberUtil::TOO_LONG:
      return formatted + " is too long for country code " + country;
    case PhoneNumberUtil::INVALID_LENGTH:
      return formatted + " has a length no number under country code " + country + " has";
    case PhoneNumberUtil::INVALID_COUNTRY_CODE:
      return formatted + " has an unknown country calling code";
    case PhoneNumberUtil::IS_POSSIBLE:
    case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
      break;
  }
  return formatted + " is not in the numbering plan of country code " + country;
}

PhoneResult failure(PhoneResult result, PhoneProblem problem, std::string detail) {
  result.problem = problem;
  result.detail = std::move(detail);
  return result;
}

}  // namespace

std::string_view phoneProblemName(PhoneProblem problem) {
  switch (problem) {
    case PhoneProblem::kMissing:
      return "missing";
    case PhoneProblem::kUnparseable:
      return "unparseable";
    case PhoneProblem::kInvalid:
      return "invalid";
    case PhoneProblem::kNotMobile:
      return "not_mobile";
  }
  return "unknown";
}

std::string_view phoneTypePolicyName(PhoneTypePolicy policy) {
  for (const auto& [value, name] : kPolicyNames) {
    if (value == policy) return name;
  }
  return "unknown";
}

std::optional<PhoneTypePolicy> parsePhoneTypePolicy(std::string_view name) {
  for (const auto& [value, policy_name] : kPolicyNames) {
    if (policy_name == name) return value;
  }
  return std::nullopt;
}

bool isValidRegionCode(std::string_view region) {
  return supportedRegions().contains(upperAscii(region));
}

PhoneResult normalizePhone(std::string_view raw, std::string_view region, PhoneTypePolicy policy) {
  PhoneResult result;
  result.raw = std::string(raw);

  const std::string_view number = trimWhitespace(raw);
  if (number.empty()) return failure(std::move(result), PhoneProblem::kMissing, "no phone number");

  const std::string upper_region = upperAscii(region);
  const std::string region_used =
      supportedRegions().contains(upper_region) ? upper_region : std::string(kUnknownRegion);

  const PhoneNumberUtil& util = phoneUtil();
  PhoneNumber parsed;
  const auto error = util.Parse(std::string(number), region_used, &parsed);
  if (error != PhoneNumberUtil::NO_PARSING_ERROR) {
    return failure(std::move(result), PhoneProblem::kUnparseable,
                   parseErrorDetail(error, number, region_used, region));
  }

  std::string formatted;
  util.Format(parsed, PhoneNumberUtil::E164, &formatted);
  if (!util.IsValidNumber(parsed)) {
    return failure(std::move(result), PhoneProblem::kInvalid, invalidDetail(parsed, formatted));
  }

  const auto type = util.GetNumberType(parsed);
  if (!policyAccepts(policy, type)) {
    std::string detail = formatted + " is a " + std::string(numberTypeName(type)) +
                         " number and phone type policy \"" +
                         std::string(phoneTypePolicyName(policy)) +
                         "\" accepts mobile numbers only";
    return failure(std::move(result), PhoneProblem::kNotMobile, std::move(detail));
  }

  result.e164 = std::move(formatted);
  return result;
}

}  // namespace smsbridge
