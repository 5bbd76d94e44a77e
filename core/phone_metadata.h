#pragma once

// libphonenumber's numbering plans (its compiled-in metadata: which digits make a valid number of
// which type in which country) with every pattern compiled by RE2, for core/phone's fast path.
// Debian builds libphonenumber with ICU regular expressions, which cost tens of microseconds per
// number; the same patterns in RE2 cost a fraction of that. The plans are the bytes
// libphonenumber itself loads, so both paths judge a number by the same rules.
// Built once, on first use (thread-safe), immutable afterwards; safe from any thread.

#include <phonenumbers/phonenumberutil.h>
#include <re2/re2.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smsbridge::phone_metadata {

using NumberType = i18n::phonenumbers::PhoneNumberUtil::PhoneNumberType;

// One PhoneNumberDesc: a national number pattern and the lengths numbers of that kind have.
struct NumberDesc {
  std::vector<int> possible_lengths;        // empty: no restriction beyond the pattern
  std::unique_ptr<const re2::RE2> pattern;  // null: the metadata has none, nothing matches

  // libphonenumber's IsMatch: the pattern matches the whole number, lengths not checked.
  bool matchesPattern(std::string_view national_number) const;
  // libphonenumber's IsNumberMatchingDesc: a possible length, then the pattern.
  bool matches(std::string_view national_number) const;
};

// What one region (or one non-geographic calling code, region "001") says about numbers.
struct RegionPlan {
  std::string id;  // "PL", or "001" for a non-geographic calling code such as +800
  int country_code = 0;
  NumberDesc general;
  std::vector<int> general_local_only_lengths;
  // The types in the order libphonenumber's GetNumberTypeHelper tries them, fixed line and
  // mobile last (they are handled apart): see numberType().
  static constexpr std::array<NumberType, 8> kSpecialTypes = {
      NumberType::PREMIUM_RATE, NumberType::TOLL_FREE,       NumberType::SHARED_COST,
      NumberType::VOIP,         NumberType::PERSONAL_NUMBER, NumberType::PAGER,
      NumberType::UAN,          NumberType::VOICEMAIL};
  std::array<NumberDesc, kSpecialTypes.size()> special;
  NumberDesc fixed_line;
  NumberDesc mobile;
  bool same_mobile_and_fixed_line_pattern = false;
  // Picks this region among those sharing a calling code (e.g. CA under +1); null when absent.
  std::unique_ptr<const re2::RE2> leading_digits;
  // The prefix dialled to call abroad ("00"), when it is a plain digit string; empty when it is
  // a pattern (several prefixes, waiting for a tone) this module does not interpret.
  std::string international_prefix_digits;
  // national_prefix_for_parsing ("0"), when it is a plain digit string without a transform
  // rule; `national_prefix_is_plain` is false when it is anything else.
  std::string national_prefix_digits;
  bool national_prefix_is_plain = false;
  // False when RE2 could not compile one of the region's patterns: the fast path leaves its
  // numbers to libphonenumber.
  bool compiled = true;
};

// The regions of one country calling code, its main country first, as libphonenumber orders
// them when it decides which region a number belongs to.
struct CallingCodePlan {
  std::vector<const RegionPlan*> regions;
  bool compiled = true;  // every region's patterns compiled
};

class NumberingPlans {
 public:
  static const NumberingPlans& get();

  // `region` upper-case ("PL"); null for a region libphonenumber does not know.
  const RegionPlan* region(std::string_view region) const;
  // Null for a calling code no region uses.
  const CallingCodePlan* callingCode(int country_code) const;

  NumberingPlans(const NumberingPlans&) = delete;
  NumberingPlans& operator=(const NumberingPlans&) = delete;

 private:
  NumberingPlans();

  std::vector<std::unique_ptr<RegionPlan>> plans_;
  std::array<const RegionPlan*, 26 * 26> by_region_{};  // two upper-case letters
  std::vector<CallingCodePlan> by_calling_code_;        // index: calling code (< 1000)
};

// libphonenumber's GetNumberTypeHelper: the type of a national significant number in `plan`,
// UNKNOWN when it is not a valid number there.
NumberType numberType(std::string_view national_number, const RegionPlan& plan);

// libphonenumber's GetRegionCodeForNumberFromRegionList: which of the calling code's regions a
// national significant number belongs to; null when none claims it.
const RegionPlan* regionForNumber(std::string_view national_number, const CallingCodePlan& code);

enum class LengthFit { kPossible, kPossibleLocalOnly, kTooShort, kTooLong, kInvalidLength };

// libphonenumber's TestNumberLength against the region's general lengths.
LengthFit testLength(std::string_view national_number, const RegionPlan& plan);

}  // namespace smsbridge::phone_metadata
