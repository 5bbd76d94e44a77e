#include "core/phone_metadata.h"

#include <phonenumbers/phonemetadata.pb.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

// libphonenumber's accessors for its compiled-in metadata (a serialized PhoneMetadataCollection).
// They are declared in its internal metadata.h, which is not installed, but exported by the
// library: declaring them here lets the fast path read the very bytes PhoneNumberUtil loads,
// rather than a copy of the metadata that could drift from the installed library.
namespace i18n::phonenumbers {
int metadata_size();
const void* metadata_get();
}  // namespace i18n::phonenumbers

namespace smsbridge::phone_metadata {
namespace {

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumberDesc;

// libphonenumber's name for "no region", which its metadata may carry but never uses.
constexpr std::string_view kUnknownRegion = "ZZ";
constexpr int kMaxCallingCode = 999;

bool isDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::unique_ptr<const re2::RE2> compile(const std::string& pattern, bool& compiled) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  // The patterns are ASCII and so are the digit strings matched against them.
  options.set_encoding(re2::RE2::Options::EncodingLatin1);
  auto regex = std::make_unique<const re2::RE2>(pattern, options);
  if (!regex->ok()) compiled = false;
  return regex;
}

NumberDesc describe(const PhoneNumberDesc& desc, bool& compiled) {
  NumberDesc out;
  out.possible_lengths.assign(desc.possible_length().begin(), desc.possible_length().end());
  // An empty pattern never matches in libphonenumber (RegexBasedMatcher::MatchNationalNumber).
  if (!desc.national_number_pattern().empty()) {
    out.pattern = compile(desc.national_number_pattern(), compiled);
  }
  return out;
}

const PhoneNumberDesc& specialDesc(const PhoneMetadata& metadata, NumberType type) {
  switch (type) {
    case NumberType::PREMIUM_RATE:
      return metadata.premium_rate();
    case NumberType::TOLL_FREE:
      return metadata.toll_free();
    case NumberType::SHARED_COST:
      return metadata.shared_cost();
    case NumberType::VOIP:
      return metadata.voip();
    case NumberType::PERSONAL_NUMBER:
      return metadata.personal_number();
    case NumberType::PAGER:
      return metadata.pager();
    case NumberType::UAN:
      return metadata.uan();
    case NumberType::VOICEMAIL:
      return metadata.voicemail();
    default:
      break;
  }
  return metadata.general_desc();
}

std::unique_ptr<RegionPlan> compilePlan(const PhoneMetadata& metadata) {
  auto plan = std::make_unique<RegionPlan>();
  bool& compiled = plan->compiled;
  plan->id = metadata.id();
  plan->country_code = metadata.country_code();
  plan->general = describe(metadata.general_desc(), compiled);
  plan->general_local_only_lengths.assign(
      metadata.general_desc().possible_length_local_only().begin(),
      metadata.general_desc().possible_length_local_only().end());
  // libphonenumber reads the first general length unchecked; a plan without one is not one
  // this module can reason about.
  if (plan->general.possible_lengths.empty()) compiled = false;
  for (std::size_t i = 0; i < RegionPlan::kSpecialTypes.size(); ++i) {
    plan->special[i] = describe(specialDesc(metadata, RegionPlan::kSpecialTypes[i]), compiled);
  }
  plan->fixed_line = describe(metadata.fixed_line(), compiled);
  plan->mobile = describe(metadata.mobile(), compiled);
  plan->same_mobile_and_fixed_line_pattern = metadata.same_mobile_and_fixed_line_pattern();
  if (metadata.has_leading_digits())
    plan->leading_digits = compile(metadata.leading_digits(), compiled);
  if (isDigits(metadata.international_prefix())) {
    plan->international_prefix_digits = metadata.international_prefix();
  }
  plan->national_prefix_is_plain = metadata.national_prefix_transform_rule().empty() &&
                                   isDigits(metadata.national_prefix_for_parsing());
  if (plan->national_prefix_is_plain) {
    plan->national_prefix_digits = metadata.national_prefix_for_parsing();
  }
  return plan;
}

bool contains(const std::vector<int>& lengths, int length) {
  return std::find(lengths.begin(), lengths.end(), length) != lengths.end();
}

}  // namespace

bool NumberDesc::matchesPattern(std::string_view national_number) const {
  return pattern && re2::RE2::FullMatch(national_number, *pattern);
}

bool NumberDesc::matches(std::string_view national_number) const {
  if (!possible_lengths.empty() &&
      !contains(possible_lengths, static_cast<int>(national_number.size()))) {
    return false;
  }
  return matchesPattern(national_number);
}

const NumberingPlans& NumberingPlans::get() {
  static const NumberingPlans plans;
  return plans;
}

NumberingPlans::NumberingPlans() : by_calling_code_(kMaxCallingCode + 1) {
  PhoneMetadataCollection collection;
  // Unparseable metadata leaves every table empty: each number then goes to libphonenumber.
  if (!collection.ParseFromArray(i18n::phonenumbers::metadata_get(),
                                 i18n::phonenumbers::metadata_size())) {
    return;
  }
  for (const PhoneMetadata& metadata : collection.metadata()) {
    const int code = metadata.country_code();
    if (metadata.id() == kUnknownRegion || code <= 0 || code > kMaxCallingCode) continue;
    plans_.push_back(compilePlan(metadata));
    const RegionPlan* plan = plans_.back().get();
    CallingCodePlan& calling_code = by_calling_code_[static_cast<std::size_t>(code)];
    // The order PhoneNumberUtil's constructor gives them: the main country first, the others in
    // the metadata's order.
    if (metadata.main_country_for_code()) {
      calling_code.regions.insert(calling_code.regions.begin(), plan);
    } else {
      calling_code.regions.push_back(plan);
    }
    if (!plan->compiled) calling_code.compiled = false;
    const std::string& id = plan->id;
    if (id.size() == 2 && id[0] >= 'A' && id[0] <= 'Z' && id[1] >= 'A' && id[1] <= 'Z') {
      by_region_[static_cast<std::size_t>((id[0] - 'A') * 26 + (id[1] - 'A'))] = plan;
    }
  }
}

const RegionPlan* NumberingPlans::region(std::string_view region) const {
  if (region.size() != 2) return nullptr;
  const char a = region[0];
  const char b = region[1];
  if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z') return nullptr;
  return by_region_[static_cast<std::size_t>((a - 'A') * 26 + (b - 'A'))];
}

const CallingCodePlan* NumberingPlans::callingCode(int country_code) const {
  if (country_code <= 0 || country_code > kMaxCallingCode) return nullptr;
  const CallingCodePlan& plan = by_calling_code_[static_cast<std::size_t>(country_code)];
  return plan.regions.empty() ? nullptr : &plan;
}

NumberType numberType(std::string_view national_number, const RegionPlan& plan) {
  if (!plan.general.matches(national_number)) return NumberType::UNKNOWN;
  for (std::size_t i = 0; i < RegionPlan::kSpecialTypes.size(); ++i) {
    if (plan.special[i].matches(national_number)) return RegionPlan::kSpecialTypes[i];
  }
  if (plan.fixed_line.matches(national_number)) {
    return plan.same_mobile_and_fixed_line_pattern || plan.mobile.matches(national_number)
               ? NumberType::FIXED_LINE_OR_MOBILE
               : NumberType::FIXED_LINE;
  }
  // When the two patterns are the same, a number that is not fixed line is not mobile either.
  if (!plan.same_mobile_and_fixed_line_pattern && plan.mobile.matches(national_number)) {
    return NumberType::MOBILE;
  }
  return NumberType::UNKNOWN;
}

const RegionPlan* regionForNumber(std::string_view national_number, const CallingCodePlan& code) {
  if (code.regions.size() == 1) return code.regions.front();
  for (const RegionPlan* plan : code.regions) {
    if (plan->leading_digits) {
      // A prefix match, like libphonenumber's Consume: the number starts with these digits.
      if (plan->leading_digits->Match(national_number, 0, national_number.size(),
                                      re2::RE2::ANCHOR_START, nullptr, 0)) {
        return plan;
      }
    } else if (numberType(national_number, *plan) != NumberType::UNKNOWN) {
      return plan;
    }
  }
  return nullptr;
}

LengthFit testLength(std::string_view national_number, const RegionPlan& plan) {
  const std::vector<int>& lengths = plan.general.possible_lengths;
  // -1 alone: no numbers of this kind exist. compilePlan refuses plans without lengths.
  if (lengths.empty() || lengths.front() == -1) return LengthFit::kInvalidLength;
  const int length = static_cast<int>(national_number.size());
  if (contains(plan.general_local_only_lengths, length)) return LengthFit::kPossibleLocalOnly;
  if (length == lengths.front()) return LengthFit::kPossible;
  if (length < lengths.front()) return LengthFit::kTooShort;
  if (length > lengths.back()) return LengthFit::kTooLong;
  return contains(lengths, length) ? LengthFit::kPossible : LengthFit::kInvalidLength;
}

}  // namespace smsbridge::phone_metadata
