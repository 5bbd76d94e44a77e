#include "core/sms_text.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/utext.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace smsbridge {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

constexpr int kGsmSingleSeptets = 160;
constexpr int kGsmPartSeptets = 153;
constexpr int kUcs2SingleUnits = 70;
constexpr int kUcs2PartUnits = 67;

struct Decoded {
  char32_t code_point;
  bool valid;
};

// Reads one code point at `pos` and advances past it. An invalid sequence consumes its maximal
// subpart (at least one byte) and yields U+FFFD, the substitution Unicode recommends, so one
// stray byte never swallows the valid character after it.
Decoded decodeNext(std::string_view text, std::size_t& pos) {
  const auto byte_at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte_at(pos++);
  if (lead < 0x80) return {lead, true};

  int trailing = 0;
  char32_t code_point = 0;
  // The first continuation byte's range is narrowed per lead byte; that is what rules out
  // overlong forms, UTF-16 surrogates and values above U+10FFFF (Unicode Table 3-7).
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    trailing = 1;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    trailing = 2;
    code_point = lead & 0x0F;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    trailing = 3;
    code_point = lead & 0x07;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {kReplacement, false};
  }
  for (int i = 0; i < trailing; ++i) {
    if (pos >= text.size()) return {kReplacement, false};
    const unsigned char next = byte_at(pos);
    if (next < low || next > high) return {kReplacement, false};
    code_point = (code_point << 6) | (next & 0x3F);
    ++pos;
    low = 0x80;
    high = 0xBF;
  }
  return {code_point, true};
}

// GSM 03.38 characters outside ASCII, basic table (one septet each).
constexpr char32_t kGsmBasicNonAscii[] = {
    U'£', U'¥', U'è', U'é', U'ù', U'ì', U'ò', U'Ç', U'Ø', U'ø', U'Å', U'å', U'Δ',
    U'Φ', U'Γ', U'Λ', U'Ω', U'Π', U'Ψ', U'Σ', U'Θ', U'Ξ', U'Æ', U'æ', U'ß', U'É',
    U'¤', U'¡', U'Ä', U'Ö', U'Ñ', U'Ü', U'§', U'¿', U'ä', U'ö', U'ñ', U'ü', U'à',
};

// Septets `c` takes in GSM-7: 1 in the basic table, 2 in the extension table (ESC + code),
// 0 when the alphabet lacks it and the text needs UCS-2.
int gsmSeptets(char32_t c) {
  switch (c) {
    case U'\f':
    case U'^':
    case U'{':
    case U'}':
    case U'\\':
    case U'[':
    case U']':
    case U'~':
    case U'|':
    case U'€':
      return 2;
    case U'\n':
    case U'\r':
      return 1;
    case U'`':  // the one printable ASCII character GSM 03.38 lacks
      return 0;
    default:
      break;
  }
  if (c >= 0x20 && c < 0x7F) return 1;
  return std::find(std::begin(kGsmBasicNonAscii), std::end(kGsmBasicNonAscii), c) !=
                 std::end(kGsmBasicNonAscii)
             ? 1
             : 0;
}

int utf16Units(char32_t c) { return c > 0xFFFF ? 2 : 1; }

// Parts a multipart text needs when a character's units must stay within one part: a part
// that cannot fit the next ESC pair or surrogate pair ends one unit short.
template <typename UnitsOf>
int countParts(std::string_view utf8, int units_per_part, UnitsOf units_of) {
  int parts = 1;
  int used = 0;
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    const int units = units_of(decodeNext(utf8, pos).code_point);
    if (used + units > units_per_part) {
      ++parts;
      used = 0;
    }
    used += units;
  }
  return parts;
}

void appendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

struct LookAlike {
  char32_t from;
  std::string_view to;  // GSM-7 basic-table characters only, so the cost stays one septet each
};

// The one transliteration table, sorted by code point for binary search. Only characters
// outside GSM-7 belong here; a GSM-7 character (é, ü, Å, ...) is always kept as it is. Latin
// letters first, then general punctuation (spaces of every width, dashes, quotes, ellipsis).
constexpr LookAlike kGsmLookAlikes[] = {
    {U'\t', " "},     {U'`', "'"},      {U'\u00A0', " "}, {U'«', "\""},     {U'´', "'"},
    {U'»', "\""},     {U'À', "A"},      {U'Á', "A"},      {U'Â', "A"},      {U'Ã', "A"},
    {U'È', "E"},      {U'Ê', "E"},      {U'Ë', "E"},      {U'Ì', "I"},      {U'Í', "I"},
    {U'Î', "I"},      {U'Ï', "I"},      {U'Ð', "D"},      {U'Ò', "O"},      {U'Ó', "O"},
    {U'Ô', "O"},      {U'Õ', "O"},      {U'×', "x"},      {U'Ù', "U"},      {U'Ú', "U"},
    {U'Û', "U"},      {U'Ý', "Y"},      {U'Þ', "Th"},     {U'á', "a"},      {U'â', "a"},
    {U'ã', "a"},      {U'ç', "c"},      {U'ê', "e"},      {U'ë', "e"},      {U'í', "i"},
    {U'î', "i"},      {U'ï', "i"},      {U'ð', "d"},      {U'ó', "o"},      {U'ô', "o"},
    {U'õ', "o"},      {U'ú', "u"},      {U'û', "u"},      {U'ý', "y"},      {U'þ', "th"},
    {U'ÿ', "y"},      {U'Ā', "A"},      {U'ā', "a"},      {U'Ă', "A"},      {U'ă', "a"},
    {U'Ą', "A"},      {U'ą', "a"},      {U'Ć', "C"},      {U'ć', "c"},      {U'Ĉ', "C"},
    {U'ĉ', "c"},      {U'Ċ', "C"},      {U'ċ', "c"},      {U'Č', "C"},      {U'č', "c"},
    {U'Ď', "D"},      {U'ď', "d"},      {U'Đ', "D"},      {U'đ', "d"},      {U'Ē', "E"},
    {U'ē', "e"},      {U'Ĕ', "E"},      {U'ĕ', "e"},      {U'Ė', "E"},      {U'ė', "e"},
    {U'Ę', "E"},      {U'ę', "e"},      {U'Ě', "E"},      {U'ě', "e"},      {U'Ĝ', "G"},
    {U'ĝ', "g"},      {U'Ğ', "G"},      {U'ğ', "g"},      {U'Ġ', "G"},      {U'ġ', "g"},
    {U'Ģ', "G"},      {U'ģ', "g"},      {U'Ĥ', "H"},      {U'ĥ', "h"},      {U'Ħ', "H"},
    {U'ħ', "h"},      {U'Ĩ', "I"},      {U'ĩ', "i"},      {U'Ī', "I"},      {U'ī', "i"},
    {U'Ĭ', "I"},      {U'ĭ', "i"},      {U'Į', "I"},      {U'į', "i"},      {U'İ', "I"},
    {U'ı', "i"},      {U'Ĳ', "IJ"},     {U'ĳ', "ij"},     {U'Ĵ', "J"},      {U'ĵ', "j"},
    {U'Ķ', "K"},      {U'ķ', "k"},      {U'Ĺ', "L"},      {U'ĺ', "l"},      {U'Ļ', "L"},
    {U'ļ', "l"},      {U'Ľ', "L"},      {U'ľ', "l"},      {U'Ŀ', "L"},      {U'ŀ', "l"},
    {U'Ł', "L"},      {U'ł', "l"},      {U'Ń', "N"},      {U'ń', "n"},      {U'Ņ', "N"},
    {U'ņ', "n"},      {U'Ň', "N"},      {U'ň', "n"},      {U'Ō', "O"},      {U'ō', "o"},
    {U'Ŏ', "O"},      {U'ŏ', "o"},      {U'Ő', "O"},      {U'ő', "o"},      {U'Œ', "OE"},
    {U'œ', "oe"},     {U'Ŕ', "R"},      {U'ŕ', "r"},      {U'Ŗ', "R"},      {U'ŗ', "r"},
    {U'Ř', "R"},      {U'ř', "r"},      {U'Ś', "S"},      {U'ś', "s"},      {U'Ŝ', "S"},
    {U'ŝ', "s"},      {U'Ş', "S"},      {U'ş', "s"},      {U'Š', "S"},      {U'š', "s"},
    {U'Ţ', "T"},      {U'ţ', "t"},      {U'Ť', "T"},      {U'ť', "t"},      {U'Ŧ', "T"},
    {U'ŧ', "t"},      {U'Ũ', "U"},      {U'ũ', "u"},      {U'Ū', "U"},      {U'ū', "u"},
    {U'Ŭ', "U"},      {U'ŭ', "u"},      {U'Ů', "U"},      {U'ů', "u"},      {U'Ű', "U"},
    {U'ű', "u"},      {U'Ų', "U"},      {U'ų', "u"},      {U'Ŵ', "W"},      {U'ŵ', "w"},
    {U'Ŷ', "Y"},      {U'ŷ', "y"},      {U'Ÿ', "Y"},      {U'Ź', "Z"},      {U'ź', "z"},
    {U'Ż', "Z"},      {U'ż', "z"},      {U'Ž', "Z"},      {U'ž', "z"},      {U'Ș', "S"},
    {U'ș', "s"},      {U'Ț', "T"},      {U'ț', "t"},      {U'\u2000', " "}, {U'\u2001', " "},
    {U'\u2002', " "}, {U'\u2003', " "}, {U'\u2004', " "}, {U'\u2005', " "}, {U'\u2006', " "},
    {U'\u2007', " "}, {U'\u2008', " "}, {U'\u2009', " "}, {U'\u200A', " "}, {U'‐', "-"},
    {U'‑', "-"},      {U'‒', "-"},      {U'–', "-"},      {U'—', "-"},      {U'―', "-"},
    {U'‘', "'"},      {U'’', "'"},      {U'‚', "'"},      {U'‛', "'"},      {U'“', "\""},
    {U'”', "\""},     {U'„', "\""},     {U'‟', "\""},     {U'•', "*"},      {U'…', "..."},
    {U'\u202F', " "}, {U'′', "'"},      {U'″', "\""},     {U'‹', "'"},      {U'›', "'"},
    {U'−', "-"},
};

static_assert(std::is_sorted(std::begin(kGsmLookAlikes), std::end(kGsmLookAlikes),
                             [](const LookAlike& a, const LookAlike& b) {
                               return a.from < b.from;
                             }),
              "kGsmLookAlikes must stay sorted by code point");

const LookAlike* findLookAlike(char32_t c) {
  const auto it = std::lower_bound(std::begin(kGsmLookAlikes), std::end(kGsmLookAlikes), c,
                                   [](const LookAlike& a, char32_t b) { return a.from < b; });
  return it != std::end(kGsmLookAlikes) && it->from == c ? it : nullptr;
}

// ICU's NFC data, or null if it cannot be loaded (then decomposed letters stay as they are).
const icu::Normalizer2* nfc() {
  static const icu::Normalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

// Offsets where `utf8` may be cut without splitting a user-perceived character, 0 and size()
// included. ICU finds grapheme cluster boundaries; only those that are also our code point
// boundaries are kept, so both readings of invalid UTF-8 agree. Without ICU's break data, code
// point boundaries (which still keep ESC and surrogate pairs whole) are the fallback.
std::vector<std::size_t> cutPoints(std::string_view utf8) {
  std::vector<std::size_t> code_points;
  for (std::size_t pos = 0; pos < utf8.size();) {
    code_points.push_back(pos);
    decodeNext(utf8, pos);
  }
  code_points.push_back(utf8.size());

  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> graphemes(
      icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
  UText* text = utext_openUTF8(nullptr, utf8.data(), static_cast<int64_t>(utf8.size()), &status);
  if (graphemes && U_SUCCESS(status)) graphemes->setText(text, status);
  std::vector<std::size_t> cuts;
  if (graphemes && U_SUCCESS(status)) {
    for (int32_t b = graphemes->first(); b != icu::BreakIterator::DONE; b = graphemes->next()) {
      const auto at = static_cast<std::size_t>(b);
      if (std::binary_search(code_points.begin(), code_points.end(), at)) cuts.push_back(at);
    }
  }
  utext_close(text);
  if (cuts.empty() || cuts.front() != 0 || cuts.back() != utf8.size()) return code_points;
  return cuts;
}

bool isAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool isAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

constexpr std::string_view kSenderRules =
    "a sender is 1 to 11 letters, digits, spaces, '.' or '-' with at least one letter, "
    "or a number: '+' and 8 to 15 digits, or a short code of 3 to 8 digits";

Status senderError(std::string_view sender, std::string_view problem) {
  std::string message = "sender \"";
  message.append(sender);
  message.append("\": ");
  message.append(problem);
  message.append("; ");
  message.append(kSenderRules);
  return configError(std::move(message));
}

}  // namespace

SmsTextInfo analyzeSmsText(std::string_view utf8) {
  SmsTextInfo info;
  int septets = 0;
  int utf16 = 0;
  bool gsm = true;
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    const char32_t c = decodeNext(utf8, pos).code_point;
    ++info.characters;
    utf16 += utf16Units(c);
    const int cost = gsmSeptets(c);
    if (cost == 0) gsm = false;
    septets += cost;
  }
  if (info.characters == 0) return info;

  if (gsm) {
    info.encoding = Encoding::kGsm7;
    info.units = septets;
    info.segments =
        septets <= kGsmSingleSeptets ? 1 : countParts(utf8, kGsmPartSeptets, gsmSeptets);
  } else {
    info.encoding = Encoding::kUcs2;
    info.units = utf16;
    info.segments = utf16 <= kUcs2SingleUnits ? 1 : countParts(utf8, kUcs2PartUnits, utf16Units);
  }
  return info;
}

std::string transliterateToGsm7(std::string_view utf8) {
  const icu::Normalizer2* composer = nfc();
  std::string out;
  out.reserve(utf8.size());
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    const std::size_t begin = pos;
    const Decoded d = decodeNext(utf8, pos);
    if (!d.valid) {
      out.append(utf8.substr(begin, pos - begin));
      continue;
    }
    // A decomposed letter ("e" + U+0328) is composed as far as it goes; the result is used
    // only when it is GSM-7 or has a look-alike, so other decomposed text keeps its bytes.
    char32_t c = d.code_point;
    std::size_t end = pos;
    if (composer != nullptr) {
      char32_t composed = c;
      std::size_t next = pos;
      while (next < utf8.size()) {
        std::size_t after = next;
        const Decoded mark = decodeNext(utf8, after);
        if (!mark.valid) break;
        const UChar32 pair = composer->composePair(static_cast<UChar32>(composed),
                                                   static_cast<UChar32>(mark.code_point));
        if (pair < 0) break;
        composed = static_cast<char32_t>(pair);
        next = after;
      }
      if (next != pos && (gsmSeptets(composed) > 0 || findLookAlike(composed) != nullptr)) {
        c = composed;
        end = next;
      }
    }
    if (const LookAlike* look_alike = findLookAlike(c)) {
      out.append(look_alike->to);
    } else if (end != pos) {
      appendUtf8(c, out);
    } else {
      out.append(utf8.substr(begin, pos - begin));
    }
    pos = end;
  }
  return out;
}

Result<FitResult> fitToSegments(std::string_view utf8, int max_segments, bool truncate) {
  if (max_segments < 1) {
    return configError("max_segments must be at least 1, got " + std::to_string(max_segments));
  }
  FitResult fit{std::string(utf8), analyzeSmsText(utf8), false};
  if (fit.info.segments <= max_segments) return fit;
  if (!truncate) {
    return rejectedError("text needs " + std::to_string(fit.info.segments) +
                         " segments, max_segments is " + std::to_string(max_segments));
  }

  // Longer prefixes never fit better (a GSM-7 prefix fits wherever a longer UCS-2 one does),
  // so the longest prefix that fits is found by bisection. The empty prefix always fits.
  const auto withEllipsis = [&](std::size_t length) {
    std::string text(utf8.substr(0, length));
    text += analyzeSmsText(text).encoding == Encoding::kGsm7 ? "..." : "\u2026";
    return text;
  };
  const std::vector<std::size_t> cuts = cutPoints(utf8);
  std::size_t fits = 0;                    // index into cuts of a prefix known to fit
  std::size_t too_long = cuts.size() - 1;  // ...and of one known not to (the whole text)
  while (too_long - fits > 1) {
    const std::size_t middle = fits + (too_long - fits) / 2;
    if (analyzeSmsText(withEllipsis(cuts[middle])).segments <= max_segments) {
      fits = middle;
    } else {
      too_long = middle;
    }
  }
  fit.text = withEllipsis(cuts[fits]);
  fit.info = analyzeSmsText(fit.text);
  fit.truncated = true;
  return fit;
}

bool isValidUtf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!decodeNext(text, pos).valid) return false;
  }
  return true;
}

Status validateSenderId(std::string_view sender) {
  if (sender.empty()) return senderError(sender, "it is empty");

  if (sender.front() == '+') {
    const std::string_view digits = sender.substr(1);
    if (!std::all_of(digits.begin(), digits.end(), isAsciiDigit)) {
      return senderError(sender, "a '+' number may contain only digits after the '+'");
    }
    if (digits.size() < 8 || digits.size() > 15) {
      return senderError(sender, "a '+' number needs 8 to 15 digits");
    }
    if (digits.front() == '0') {
      return senderError(sender, "no country calling code starts with 0");
    }
    return Status::ok();
  }

  if (std::all_of(sender.begin(), sender.end(), isAsciiDigit)) {
    if (sender.size() < 3 || sender.size() > 8) {
      return senderError(sender,
                         "an all-digit sender is a short code of 3 to 8 digits; write a longer "
                         "number in international form with '+'");
    }
    return Status::ok();
  }

  const auto disallowed = std::find_if_not(sender.begin(), sender.end(), [](char c) {
    return isAsciiLetter(c) || isAsciiDigit(c) || c == ' ' || c == '.' || c == '-';
  });
  if (disallowed != sender.end()) {
    const unsigned char c = static_cast<unsigned char>(*disallowed);
    return senderError(sender, c >= 0x21 && c < 0x7F
                                   ? "it contains '" + std::string(1, *disallowed) + "'"
                                   : std::string("it contains a non-ASCII or control character"));
  }
  if (sender.size() > 11) return senderError(sender, "it is longer than 11 characters");
  if (!std::any_of(sender.begin(), sender.end(), isAsciiLetter)) {
    return senderError(sender, "it has no letter");
  }
  if (sender.front() == ' ' || sender.back() == ' ') {
    // Networks strip or reject these, so what the recipient sees would not match the config.
    return senderError(sender, "it starts or ends with a space");
  }
  return Status::ok();
}

}  // namespace smsbridge
