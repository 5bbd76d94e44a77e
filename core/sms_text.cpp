#include "core/sms_text.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <utility>

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
