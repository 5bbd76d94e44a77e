#include "core/phone.h"

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <array>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/phone_fast_path.h"

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

// What libphonenumber says about one number in one region, before any type policy.
struct Classified {
  std::string e164;  // empty when the number did not parse
  PhoneNumberUtil::PhoneNumberType type = PhoneNumberUtil::UNKNOWN;
  std::optional<PhoneProblem> problem;  // kUnparseable or kInvalid
  std::string detail;
};

Classified classifyWithLibphonenumber(std::string_view number, std::string_view region_used,
                                      std::string_view region_given) {
  const PhoneNumberUtil& util = phoneUtil();
  Classified out;
  PhoneNumber parsed;
  const auto error = util.Parse(std::string(number), std::string(region_used), &parsed);
  if (error != PhoneNumberUtil::NO_PARSING_ERROR) {
    out.problem = PhoneProblem::kUnparseable;
    out.detail = parseErrorDetail(error, number, region_used, region_given);
    return out;
  }
  util.Format(parsed, PhoneNumberUtil::E164, &out.e164);
  // IsValidNumber is exactly GetNumberType() != UNKNOWN (both match the number against its
  // region's patterns), and the patterns are most of the cost: ask once.
  out.type = util.GetNumberType(parsed);
  if (out.type == PhoneNumberUtil::UNKNOWN) {
    out.problem = PhoneProblem::kInvalid;
    out.detail = invalidDetail(parsed, out.e164);
  }
  return out;
}

// Valid numbers in the common shapes, from the fast path; nullopt leaves it to libphonenumber.
std::optional<Classified> classifyFast(std::string_view number, std::string_view region_used) {
  std::optional<FastPhoneAnswer> answer = classifyCommonPhoneShape(number, region_used);
  if (!answer) return std::nullopt;
  Classified out;
  out.e164 = std::move(answer->e164);
  out.type = answer->type;
  return out;
}

Classified classifyUncached(std::string_view number, std::string_view region_used,
                            std::string_view region_given) {
  if (std::optional<Classified> fast = classifyFast(number, region_used)) return std::move(*fast);
  return classifyWithLibphonenumber(number, region_used, region_given);
}

// A new number costs a few microseconds on the fast path and tens of microseconds in
// libphonenumber, whose ICU regular expressions cost more than all the rest of a mapping. Numbers
// repeat (returning customers, a shop's own alert number, several mappings firing on one change),
// so each thread keeps the recent ones. Two generations bound it: when the current one is full it
// becomes the previous one, and a hit there moves back. Per thread, so no lock; the results depend
// only on the key and the immutable metadata.
class ClassifiedCache {
 public:
  static constexpr std::size_t kGeneration = 2048;

  const Classified& get(std::string_view number, std::string_view region_used,
                        std::string_view region_given) {
    key_.assign(region_used);
    key_ += '|';
    // An unknown region's name appears in the detail, so it is part of the key.
    if (region_used == kUnknownRegion) key_.append(region_given);
    key_ += '|';
    key_.append(number);
    if (auto it = current_.find(key_); it != current_.end()) return it->second;
    if (auto it = previous_.find(key_); it != previous_.end()) {
      return insert(std::move(it->second));
    }
    return insert(classifyUncached(number, region_used, region_given));
  }

 private:
  const Classified& insert(Classified value) {
    if (current_.size() >= kGeneration) {
      previous_ = std::move(current_);
      current_.clear();
    }
    return current_.insert_or_assign(key_, std::move(value)).first->second;
  }

  std::string key_;
  std::unordered_map<std::string, Classified> current_;
  std::unordered_map<std::string, Classified> previous_;
};

const Classified& classify(std::string_view number, std::string_view region_used,
                           std::string_view region_given) {
  thread_local ClassifiedCache cache;
  return cache.get(number, region_used, region_given);
}

PhoneResult failure(PhoneResult result, PhoneProblem problem, std::string detail) {
  result.problem = problem;
  result.detail = std::move(detail);
  return result;
}

PhoneResult missing(PhoneResult result) {
  return failure(std::move(result), PhoneProblem::kMissing, "no phone number");
}

// The region libphonenumber parses in: `upper_region` when it knows it, otherwise none.
std::string_view regionForParsing(const std::string& upper_region) {
  return supportedRegions().contains(upper_region) ? std::string_view(upper_region)
                                                   : kUnknownRegion;
}

// The classification's verdict under the type policy.
PhoneResult decide(PhoneResult result, const Classified& classified, PhoneTypePolicy policy) {
  if (classified.problem) {
    return failure(std::move(result), *classified.problem, classified.detail);
  }
  if (!policyAccepts(policy, classified.type)) {
    std::string detail = classified.e164 + " is a " + std::string(numberTypeName(classified.type)) +
                         " number and phone type policy \"" +
                         std::string(phoneTypePolicyName(policy)) +
                         "\" accepts mobile numbers only";
    return failure(std::move(result), PhoneProblem::kNotMobile, std::move(detail));
  }
  result.e164 = classified.e164;
  return result;
}

// normalizePhone's steps around the classification, shared by the paths in phone_paths.
// `classify(number, region_used, region_given)` returns the classification, or null when it has
// none to give (the fast path deferring), and then so does this.
template <typename Classify>
std::optional<PhoneResult> normalizeWith(std::string_view raw, std::string_view region,
                                         PhoneTypePolicy policy, Classify classify) {
  PhoneResult result;
  result.raw = std::string(raw);
  const std::string_view number = trimWhitespace(raw);
  if (number.empty()) return missing(std::move(result));
  const std::string upper_region = upperAscii(region);
  const Classified* classified = classify(number, regionForParsing(upper_region), region);
  if (classified == nullptr) return std::nullopt;
  return decide(std::move(result), *classified, policy);
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
  return *normalizeWith(
      raw, region, policy,
      [](std::string_view number, std::string_view region_used, std::string_view region_given) {
        return &classify(number, region_used, region_given);
      });
}

namespace phone_paths {

PhoneResult normalizeWithLibphonenumber(std::string_view raw, std::string_view region,
                                        PhoneTypePolicy policy) {
  Classified classified;
  return *normalizeWith(
      raw, region, policy,
      [&](std::string_view number, std::string_view region_used, std::string_view region_given) {
        classified = classifyWithLibphonenumber(number, region_used, region_given);
        return &classified;
      });
}

std::optional<PhoneResult> normalizeWithFastPath(std::string_view raw, std::string_view region,
                                                 PhoneTypePolicy policy) {
  std::optional<Classified> classified;
  return normalizeWith(raw, region, policy,
                       [&](std::string_view number, std::string_view region_used,
                           std::string_view) -> const Classified* {
                         classified = classifyFast(number, region_used);
                         return classified ? &*classified : nullptr;
                       });
}

}  // namespace phone_paths

}  // namespace smsbridge
