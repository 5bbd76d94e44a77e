#include "core/phone_fast_path.h"

#include <array>
#include <charconv>

namespace smsbridge {
namespace {

using phone_metadata::CallingCodePlan;
using phone_metadata::LengthFit;
using phone_metadata::NumberingPlans;
using phone_metadata::NumberType;
using phone_metadata::RegionPlan;

// libphonenumber's limits on a national significant number (kMinLengthForNsn, kMaxLengthForNsn)
// and on a calling code (kMaxLengthCountryCode).
constexpr std::size_t kMinNationalLength = 2;
constexpr std::size_t kMaxNationalLength = 17;
constexpr std::size_t kMaxCallingCodeLength = 3;
// More digits than any number libphonenumber accepts with its longest prefixes.
constexpr std::size_t kMaxDigits = 24;

// The separators people type between digit groups. libphonenumber ignores each of them (they are
// in its kValidPunctuation) and none can start an extension, so a number made of digits and
// these reads the same with them removed.
bool isSeparator(char c) {
  return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/';
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// The digits of `number` if it is [separators] ['+'] then digits and separators only.
struct Digits {
  std::array<char, kMaxDigits> buffer;
  std::size_t size = 0;
  bool plus = false;

  std::string_view view() const { return {buffer.data(), size}; }
};

std::optional<Digits> readDigits(std::string_view number) {
  Digits out;
  std::size_t i = 0;
  // libphonenumber drops whatever precedes the first '+' or digit (ExtractPossibleNumber).
  while (i < number.size() && isSeparator(number[i])) ++i;
  if (i < number.size() && number[i] == '+') {
    out.plus = true;
    ++i;
  }
  for (; i < number.size(); ++i) {
    const char c = number[i];
    if (isDigit(c)) {
      if (out.size == kMaxDigits) return std::nullopt;
      out.buffer[out.size++] = c;
    } else if (!isSeparator(c)) {
      return std::nullopt;
    }
  }
  // Fewer than three digits is a different rule in libphonenumber's viability check.
  if (out.size < 3) return std::nullopt;
  return out;
}

int toInt(std::string_view digits) {
  int value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

// libphonenumber's ExtractCountryCode: the shortest leading 1-3 digits that are a calling code.
struct CallingCodeSplit {
  int code = 0;
  const CallingCodePlan* plan = nullptr;
  std::string_view national;
};

std::optional<CallingCodeSplit> splitCallingCode(std::string_view digits) {
  // After '+' or the international prefix a leading 0 is no calling code; libphonenumber then
  // retries the number as a national one, a path left to it.
  if (digits.empty() || digits.front() == '0') return std::nullopt;
  for (std::size_t length = 1; length <= kMaxCallingCodeLength && length <= digits.size();
       ++length) {
    const int code = toInt(digits.substr(0, length));
    if (const CallingCodePlan* plan = NumberingPlans::get().callingCode(code)) {
      return CallingCodeSplit{code, plan, digits.substr(length)};
    }
  }
  return std::nullopt;
}

// libphonenumber's MaybeStripNationalPrefixAndCarrierCode for a plain-digit prefix, followed by
// ParseHelper's check that what remains has a length the region's numbers can have.
std::string_view stripNationalPrefix(std::string_view national, const RegionPlan& plan) {
  const std::string_view prefix = plan.national_prefix_digits;
  if (prefix.empty() || !national.starts_with(prefix)) return national;
  const std::string_view stripped = national.substr(prefix.size());
  // A number that was viable keeps its prefix unless the rest is viable too.
  if (plan.general.matchesPattern(national) && !plan.general.matchesPattern(stripped)) {
    return national;
  }
  switch (phone_metadata::testLength(stripped, plan)) {
    case LengthFit::kTooShort:
    case LengthFit::kPossibleLocalOnly:
    case LengthFit::kInvalidLength:
      return national;
    case LengthFit::kPossible:
    case LengthFit::kTooLong:
      break;
  }
  return stripped;
}

}  // namespace

std::optional<FastPhoneAnswer> classifyCommonPhoneShape(std::string_view number,
                                                        std::string_view region) {
  const std::optional<Digits> digits = readDigits(number);
  if (!digits) return std::nullopt;
  const NumberingPlans& plans = NumberingPlans::get();
  const RegionPlan* home = plans.region(region);
  std::string_view rest = digits->view();

  // Which of libphonenumber's MaybeExtractCountryCode cases this is: '+', the home region's
  // international prefix, or a national number of the home region.
  bool international = digits->plus;
  if (!international) {
    // Without a region only '+' numbers parse; the error detail is libphonenumber's to give.
    if (home == nullptr || !home->compiled) return std::nullopt;
    const std::string_view idd = home->international_prefix_digits;
    if (idd.empty()) return std::nullopt;  // a prefix pattern: cannot tell whether it applies
    if (rest.starts_with(idd)) {
      const std::string_view after = rest.substr(idd.size());
      // "The first digit after the prefix is no 0" is libphonenumber's test that it was one.
      if (after.empty() || after.front() != '0') {
        international = true;
        rest = after;
      }
    }
  }

  int code = 0;
  const CallingCodePlan* calling_code = nullptr;
  const RegionPlan* prefix_plan = nullptr;  // whose national prefix may be stripped
  if (international) {
    if (rest.size() <= kMinNationalLength) return std::nullopt;  // too short after the prefix
    const auto split = splitCallingCode(rest);
    if (!split) return std::nullopt;
    code = split->code;
    calling_code = split->plan;
    rest = split->national;
    // ParseHelper strips the national prefix of the calling code's main region.
    prefix_plan = calling_code->regions.front();
  } else {
    code = home->country_code;
    // libphonenumber may read a national number that starts with the home calling code as an
    // international one written without '+' ("48600700800" in PL) after weighing both readings.
    if (rest.starts_with(std::to_string(code))) return std::nullopt;
    calling_code = plans.callingCode(code);
    prefix_plan = home;
  }
  if (calling_code == nullptr || !calling_code->compiled) return std::nullopt;
  if (!prefix_plan->national_prefix_is_plain) return std::nullopt;
  if (rest.size() < kMinNationalLength) return std::nullopt;

  const std::string_view national = stripNationalPrefix(rest, *prefix_plan);
  if (national.size() < kMinNationalLength || national.size() > kMaxNationalLength) {
    return std::nullopt;
  }
  const RegionPlan* plan = phone_metadata::regionForNumber(national, *calling_code);
  if (plan == nullptr) return std::nullopt;
  const NumberType type = phone_metadata::numberType(national, *plan);
  if (type == NumberType::UNKNOWN) return std::nullopt;

  FastPhoneAnswer answer;
  answer.type = type;
  answer.e164.reserve(1 + kMaxCallingCodeLength + national.size());
  answer.e164 += '+';
  answer.e164 += std::to_string(code);
  answer.e164 += national;
  return answer;
}

}  // namespace smsbridge
