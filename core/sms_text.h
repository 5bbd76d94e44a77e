#pragma once

// What a message body costs on the air interface: which alphabet it needs (GSM 03.38 7-bit or
// UCS-2) and how many segments it splits into. Providers bill per segment and some cap the
// count, so this is decided before sending, from the same rules every provider applies
// (reference/providers.md §4). Pure functions; safe from any thread.

#include <string>
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

// Replaces characters GSM 03.38 lacks with the GSM-7 look-alikes a reader expects, so a text
// that only needed UCS-2 for them costs 160 instead of 70 characters per segment (what SMSAPI's
// normalize=1 and Twilio's smart encoding do, but the same for every provider):
//   - letters with diacritics GSM-7 lacks lose them: Polish ą ć ę ł ń ó ś ź ż, Czech and Slovak
//     č ď ě ň ř š ť ů ý á í ú ĺ ľ ô ŕ, Romanian ș ț ă â î (comma and cedilla forms), Hungarian
//     ő ű, Baltic ā ē ė ģ ī į ķ ļ ņ ū ų, Turkish ğ ı İ ş, Croatian đ, French â ê ë î ï ô û ÿ ç,
//     Spanish and Portuguese á í ó ú ã õ, Icelandic ð þ, and œ → oe;
//   - typographic punctuation becomes ASCII: ‘ ’ ‚ ‛ ′ ‹ › ´ ` → ', “ ” „ ‟ ″ « » → ",
//     ‐ ‑ ‒ – — ― − → -, … → ..., • → *, × → x, non-breaking and other wide spaces and tab →
//     space.
// Characters that ARE in GSM-7 stay as they are (é É ä Ä ö Ö ü Ü ß ñ Ñ à è ù ì ò Ç å Å æ Æ ø
// Ø), so German, Swedish or Italian text keeps its accents. A letter written decomposed (NFD:
// "e" + U+0328, as some macOS and web clients send it) is treated like its precomposed form.
// Anything else (emoji, Cyrillic, Greek lowercase, CJK) has no look-alike and is left
// unchanged, so a text containing it still needs UCS-2 — with its diacritics gone for nothing;
// a caller that wants them back then checks analyzeSmsText() of the result and sends the
// original. Invalid UTF-8 is copied byte for byte. Never fails.
std::string transliterateToGsm7(std::string_view utf8);

struct FitResult {
  std::string text;
  SmsTextInfo info;  // of `text`
  bool truncated = false;
};

// `utf8` made to fit `max_segments` (at least 1; less is a kConfig error). A text that fits is
// returned as is. A longer one is a kRejected error "text needs N segments, max_segments is M"
// unless `truncate`: then it is cut to the longest prefix that, with an ellipsis appended
// ("..." when the prefix is GSM-7, "…" when it needs UCS-2, one unit instead of three), fits
// the segments. The cut falls between user-perceived characters (ICU grapheme clusters), so it
// never splits a UTF-8 sequence, an ESC pair, a surrogate pair, a letter from its combining
// marks, a flag or an emoji sequence. Cutting may drop the only non-GSM character, so the
// result can be GSM-7 where the input was UCS-2.
Result<FitResult> fitToSegments(std::string_view utf8, int max_segments, bool truncate);

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
