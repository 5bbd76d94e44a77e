// libFuzzer target: any text as a recipient number, in one of a few regions. Must never crash,
// and wherever core/phone's fast path answers, libphonenumber must give the same PhoneResult
// under every type policy (core/phone_fast_path.h's promise; the unit test checks it on
// generated numbers, this on whatever the fuzzer finds).

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

#include "core/phone.h"

namespace {

using namespace smsbridge;

// Regions with plain prefixes, with prefix patterns, sharing +1 and +44, unknown, none.
constexpr std::string_view kRegions[] = {"PL", "DE", "GB", "US", "CA", "IT", "FR", "AU",
                                         "BR", "JE", "RU", "IN", "",   "XX", "pl", "001"};

bool same(const PhoneResult& a, const PhoneResult& b) {
  return a.raw == b.raw && a.e164 == b.e164 && a.problem == b.problem && a.detail == b.detail;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view region = kRegions[data[0] % std::size(kRegions)];
  const std::string raw(reinterpret_cast<const char*>(data + 1), size - 1);
  for (PhoneTypePolicy policy :
       {PhoneTypePolicy::kAny, PhoneTypePolicy::kMobileOrUnknown, PhoneTypePolicy::kMobile}) {
    const auto fast = phone_paths::normalizeWithFastPath(raw, region, policy);
    if (!fast) break;  // the fast path does not look at the policy
    if (!same(*fast, phone_paths::normalizeWithLibphonenumber(raw, region, policy))) std::abort();
  }
  const PhoneResult result = normalizePhone(raw, region, PhoneTypePolicy::kMobile);
  if (result.raw != raw || result.ok() != result.e164.starts_with('+')) std::abort();
  return 0;
}
