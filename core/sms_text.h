#pragma once

// What a message body costs on the air interface: which alphabet it needs (GSM 03.38 7-bit or
// UCS-2) and how many segments it splits into. Providers bill per segment and some cap the
// count, so this is decided before sending, from the same rules every provider applies
// (reference/providers.md §4). Pure functions; safe from any thread.

#include <string_view>

#include "core/result.h"
#include "core/sms_job.h"

namespace smsbridge {

struct SmsTextInfo {
  Encoding encoding = Encoding::kGsm7;
  // GSM-7: septets, an extension-table character (€ [ ] ...) counts 2.
  // UCS-2: UTF-16 code units, a character outside the BMP (most emoji) counts 2.
  int units = 0;
  int segments = 0;    // 0 for an empty text: there is nothing to send
  int characters = 0;  // Unicode code points, each invalid UTF-8 sequence counting as one
};

// GSM-7 when every character is in the GSM 03.38 basic set or its extension table, else
// UCS-2. One segment holds 160 septets / 70 UTF-16 units; a longer text is split into parts of
// 153 / 67 (the rest carries the concatenation header). A part never ends in the middle of an
// ESC pair or a surrogate pair, so such a part holds one unit less. Invalid UTF-8 is read as
// U+FFFD per maximal invalid subsequence (which forces UCS-2); it never fails.
SmsTextInfo analyzeSmsText(std::string_view utf8);

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view text);

// Whether `sender` can be a sender ID at all, whichever provider carries it:
//   - alphanumeric: 1 to 11 characters of A-Z a-z 0-9 space . -, with at least one letter and
//     no leading or trailing space;
//   - an international number: '+' and 8 to 15 digits, not starting with 0;
//   - a short code: 3 to 8 digits.
// Anything else is a kConfig error that says which rule it broke. Whether a country or
// provider accepts a given sender (registration, pre-approval) is not checked here.
Status validateSenderId(std::string_view sender);

}  // namespace smsbridge
