#pragma once

// core/phone's fast path: the shapes numbers mostly have in business records ("600 700 800",
// "+48 600-700-800", "0048 600 700 800", "0151 23456789") read and classified with
// libphonenumber's own numbering plans compiled by RE2 (core/phone_metadata.h), several times
// faster than libphonenumber's Parse + GetNumberType on Debian's ICU build.
//
// It answers only when it is certain libphonenumber would give the same answer, and only for
// valid numbers: everything else (letters, extensions, "tel:" URIs, several '+', non-ASCII
// digits or punctuation, regions whose international or national prefix is a pattern or has a
// transform rule, a national number that may start with the country code, any number that is
// not valid) gets nullopt, and the caller asks libphonenumber, so problems and their detail
// texts stay exactly libphonenumber's. tests/unit/core/phone_fast_path_test.cpp holds the two
// against each other on hundreds of thousands of inputs.
// Pure; safe from any thread.

#include <optional>
#include <string>
#include <string_view>

#include "core/phone_metadata.h"

namespace smsbridge {

struct FastPhoneAnswer {
  std::string e164;                 // "+48600700800"
  phone_metadata::NumberType type;  // never UNKNOWN
};

// `number` is the input without surrounding whitespace. `region` is what core/phone passes to
// libphonenumber's Parse: an upper-case region libphonenumber supports, or "ZZ" for none.
std::optional<FastPhoneAnswer> classifyCommonPhoneShape(std::string_view number,
                                                        std::string_view region);

}  // namespace smsbridge
