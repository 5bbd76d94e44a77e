#pragma once

// Recipient numbers as found in business records ("600 700 800", "0048 600-700-800") turned
// into E.164, the one form providers, opt-out lists, dedup keys and rate limits agree on.
// libphonenumber does the parsing (reference/domain.md §D). A number that cannot be used is not
// an error of the bridge: the job is suppressed with the problem's name as its reason.
// Numbers in the common shapes are classified by a fast path over libphonenumber's own metadata
// (core/phone_fast_path.h) that answers only where it gives libphonenumber's answer; the rest go
// to libphonenumber. Pure functions over immutable metadata; safe from any thread. Each thread
// remembers the last few thousand numbers it classified, so a repeated number costs a lookup.

#include <optional>
#include <string>
#include <string_view>

namespace smsbridge {

// Why a recipient cannot be used; the names are the suppression reasons in the store.
enum class PhoneProblem {
  kMissing,      // nothing but whitespace
  kUnparseable,  // not a phone number, or no country could be determined
  kInvalid,      // parses, but no such number exists in that country's numbering plan
  kNotMobile,    // a real number of a type the policy refuses (fixed line, toll free, ...)
};

std::string_view phoneProblemName(PhoneProblem problem);  // "missing" | "unparseable" | ...

// Which number types may receive an SMS. Some fixed lines take SMS as text-to-speech, and
// some countries (US, CA) cannot tell mobile from fixed by the number, hence the choice.
enum class PhoneTypePolicy {
  kAny,  // every valid number
  // Also a valid number whose type is unknown. libphonenumber 8.12 never reports a valid
  // number as UNKNOWN, so today this accepts the same numbers as kMobile; it keeps configs
  // meaningful should the library start to.
  kMobileOrUnknown,
  kMobile,  // mobile and fixed-line-or-mobile
};

std::string_view phoneTypePolicyName(PhoneTypePolicy policy);  // "any" | "mobile" | ...
std::optional<PhoneTypePolicy> parsePhoneTypePolicy(std::string_view name);

struct PhoneResult {
  std::string raw;   // the input exactly as given, for the admin reading the write-back
  std::string e164;  // "+48600700800"; empty unless ok()
  std::optional<PhoneProblem> problem;
  std::string detail;  // a sentence for logs and status_reason; empty when ok()

  bool ok() const { return !problem.has_value(); }
};

// Normalises `raw` to E.164. `region` is the ISO 3166-1 alpha-2 code of the country to assume
// for numbers written without an international prefix (case-insensitive); when it is empty or
// not a region libphonenumber knows, only numbers starting with '+' or an international prefix
// such as "00" can be read. A national number already prefixed with the country code
// ("48600700800" in PL) is recognised.
PhoneResult normalizePhone(std::string_view raw, std::string_view region, PhoneTypePolicy policy);

// Whether libphonenumber has a numbering plan for `region` (case-insensitive, "PL" or "pl").
bool isValidRegionCode(std::string_view region);

// The two classifications behind normalizePhone, each alone and without the per-thread cache,
// for the test that holds them against each other and for the benchmark. Everything else calls
// normalizePhone.
namespace phone_paths {

// libphonenumber alone, as normalizePhone answered before the fast path existed.
PhoneResult normalizeWithLibphonenumber(std::string_view raw, std::string_view region,
                                        PhoneTypePolicy policy);

// The fast path alone; nullopt where it leaves the number to libphonenumber.
std::optional<PhoneResult> normalizeWithFastPath(std::string_view raw, std::string_view region,
                                                 PhoneTypePolicy policy);

}  // namespace phone_paths

}  // namespace smsbridge
