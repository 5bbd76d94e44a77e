#include "core/sms_text.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smsbridge {
namespace {

std::string repeat(std::string_view piece, int count) {
  std::string result;
  for (int i = 0; i < count; ++i) result.append(piece);
  return result;
}

constexpr std::string_view kEuro = "\u20ac";          // extension table: 2 septets
constexpr std::string_view kPolishA = "\u0105";       // ą: not GSM, 1 UTF-16 unit
constexpr std::string_view kGrinning = "\U0001F600";  // outside the BMP: 2 UTF-16 units

TEST(SmsTextTest, EmptyTextHasNoSegments) {
  const SmsTextInfo info = analyzeSmsText("");
  EXPECT_EQ(info.encoding, Encoding::kGsm7);
  EXPECT_EQ(info.units, 0);
  EXPECT_EQ(info.segments, 0);
  EXPECT_EQ(info.characters, 0);
}

TEST(SmsTextTest, PlainAsciiIsGsm7) {
  const SmsTextInfo info = analyzeSmsText("Order #42 is on its way.");
  EXPECT_EQ(info.encoding, Encoding::kGsm7);
  EXPECT_EQ(info.units, 24);
  EXPECT_EQ(info.characters, 24);
  EXPECT_EQ(info.segments, 1);
}

TEST(SmsTextTest, Gsm7SegmentThresholds) {
  struct Case {
    int length;
    int segments;
  };
  for (const Case c : {Case{1, 1}, Case{160, 1}, Case{161, 2}, Case{306, 2}, Case{307, 3},
                       Case{459, 3}, Case{460, 4}, Case{918, 6}, Case{919, 7}}) {
    const SmsTextInfo info = analyzeSmsText(std::string(c.length, 'a'));
    EXPECT_EQ(info.encoding, Encoding::kGsm7) << c.length;
    EXPECT_EQ(info.units, c.length);
    EXPECT_EQ(info.segments, c.segments) << c.length << " septets";
  }
}

TEST(SmsTextTest, Ucs2SegmentThresholds) {
  struct Case {
    int length;
    int segments;
  };
  for (const Case c : {Case{1, 1}, Case{70, 1}, Case{71, 2}, Case{134, 2}, Case{135, 3},
                       Case{201, 3}, Case{202, 4}, Case{402, 6}, Case{403, 7}}) {
    const SmsTextInfo info = analyzeSmsText(repeat(kPolishA, c.length));
    EXPECT_EQ(info.encoding, Encoding::kUcs2) << c.length;
    EXPECT_EQ(info.units, c.length);
    EXPECT_EQ(info.characters, c.length);
    EXPECT_EQ(info.segments, c.segments) << c.length << " UTF-16 units";
  }
}

TEST(SmsTextTest, ExtensionCharactersCountTwoSeptets) {
  SmsTextInfo info = analyzeSmsText(repeat(kEuro, 80));
  EXPECT_EQ(info.encoding, Encoding::kGsm7);
  EXPECT_EQ(info.units, 160);
  EXPECT_EQ(info.characters, 80);
  EXPECT_EQ(info.segments, 1);

  info = analyzeSmsText(repeat(kEuro, 81));
  EXPECT_EQ(info.units, 162);
  EXPECT_EQ(info.segments, 2);
}

TEST(SmsTextTest, WholeExtensionTableIsGsm7AtTwoSeptetsEach) {
  const SmsTextInfo info = analyzeSmsText("^{}\\[~]|\f\u20ac");
  EXPECT_EQ(info.encoding, Encoding::kGsm7);
  EXPECT_EQ(info.characters, 10);
  EXPECT_EQ(info.units, 20);
}

TEST(SmsTextTest, WholeBasicTableIsGsm7AtOneSeptetEach) {
  // Every position of the 03.38 basic table but ESC, in table order.
  const std::string basic =
      "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
      "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9"
      " !\"#\u00a4%&'()*+,-./0123456789:;<=>?"
      "\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
      "\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0";
  const SmsTextInfo info = analyzeSmsText(basic);
  EXPECT_EQ(info.encoding, Encoding::kGsm7);
  EXPECT_EQ(info.units, info.characters);
  EXPECT_EQ(info.characters, 127);  // 128 table positions minus ESC
}

TEST(SmsTextTest, CharactersOutsideGsm7ForceUcs2) {
  // Backtick and tab are ASCII but not GSM; lowercase ç and the ellipsis look GSM-ish but are
  // not in 03.38 (some providers' counters accept "…", the air interface does not).
  for (std::string_view text : {"`", "a\tb", "\u00e7", "\u2026", "\u00e1"}) {
    EXPECT_EQ(analyzeSmsText(text).encoding, Encoding::kUcs2) << text;
  }
}

TEST(SmsTextTest, PolishDiacriticsNeedUcs2) {
  const SmsTextInfo info = analyzeSmsText("ąę");
  EXPECT_EQ(info.encoding, Encoding::kUcs2);
  EXPECT_EQ(info.units, 2);
  EXPECT_EQ(info.characters, 2);
  EXPECT_EQ(info.segments, 1);
}

TEST(SmsTextTest, OneNonGsmCharacterSwitchesTheWholeText) {
  // 100 GSM characters fit one GSM-7 segment; with one "ł" they take 101 UCS-2 units.
  const SmsTextInfo info = analyzeSmsText(std::string(100, 'a') + "ł");
  EXPECT_EQ(info.encoding, Encoding::kUcs2);
  EXPECT_EQ(info.units, 101);
  EXPECT_EQ(info.segments, 2);
}

TEST(SmsTextTest, EmojiCountsTwoUtf16Units) {
  SmsTextInfo info = analyzeSmsText(kGrinning);
  EXPECT_EQ(info.encoding, Encoding::kUcs2);
  EXPECT_EQ(info.units, 2);
  EXPECT_EQ(info.characters, 1);

  info = analyzeSmsText(repeat(kGrinning, 35));
  EXPECT_EQ(info.units, 70);
  EXPECT_EQ(info.segments, 1);

  info = analyzeSmsText(repeat(kGrinning, 36));
  EXPECT_EQ(info.units, 72);
  EXPECT_EQ(info.segments, 2);
}

TEST(SmsTextTest, EscPairIsNotSplitAcrossParts) {
  // 152 + 2 + 152 = 306 septets would fill two 153-septet parts exactly if the € could be
  // split; kept whole, the first part holds 152 and the last 'a' spills into a third.
  SmsTextInfo info =
      analyzeSmsText(std::string(152, 'a') + std::string(kEuro) + std::string(152, 'a'));
  EXPECT_EQ(info.units, 306);
  EXPECT_EQ(info.segments, 3);

  // The same septets with the € wholly inside the second part fit two parts.
  info = analyzeSmsText(std::string(153, 'a') + std::string(kEuro) + std::string(151, 'a'));
  EXPECT_EQ(info.units, 306);
  EXPECT_EQ(info.segments, 2);
}

TEST(SmsTextTest, SurrogatePairIsNotSplitAcrossParts) {
  // 66 + 2 + 66 = 134 units; the emoji cannot straddle the 67-unit boundary.
  SmsTextInfo info =
      analyzeSmsText(repeat(kPolishA, 66) + std::string(kGrinning) + repeat(kPolishA, 66));
  EXPECT_EQ(info.units, 134);
  EXPECT_EQ(info.segments, 3);

  info = analyzeSmsText(repeat(kPolishA, 67) + std::string(kGrinning) + repeat(kPolishA, 65));
  EXPECT_EQ(info.units, 134);
  EXPECT_EQ(info.segments, 2);
}

TEST(SmsTextTest, InvalidUtf8IsReadAsReplacementCharacters) {
  SmsTextInfo info = analyzeSmsText("abc\xff");
  EXPECT_EQ(info.encoding, Encoding::kUcs2);
  EXPECT_EQ(info.characters, 4);
  EXPECT_EQ(info.units, 4);
  EXPECT_EQ(info.segments, 1);

  // A truncated sequence is one replacement and does not swallow the character after it.
  info = analyzeSmsText(
      "\xe2\x82"
      "a");
  EXPECT_EQ(info.characters, 2);

  // Overlong "/" and an encoded surrogate: every byte is its own replacement.
  EXPECT_EQ(analyzeSmsText("\xc0\xaf").characters, 2);
  EXPECT_EQ(analyzeSmsText("\xed\xa0\x80").characters, 3);
}

TEST(SmsTextTest, ArbitraryBytesNeverBreakTheCounts) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    const SmsTextInfo info = analyzeSmsText(std::string_view(bytes).substr(256 - length));
    EXPECT_GE(info.units, info.characters);
    EXPECT_EQ(info.segments == 0, length == 0);
  }
}

TEST(SmsTextTest, IsValidUtf8) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("zażółć gęślą jaźń"));
  EXPECT_TRUE(isValidUtf8(kGrinning));
  EXPECT_TRUE(isValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the last code point

  EXPECT_FALSE(isValidUtf8("abc\xff"));
  EXPECT_FALSE(isValidUtf8("\x80"));
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // UTF-16 surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xf0\x9f\x98"));      // truncated emoji
}

TEST(SmsTextTest, SenderIdsAccepted) {
  for (std::string_view sender :
       {"Shop", "MyShop.pl", "ACME-24", "Dr Who", "Shop1234567", "+48600700800", "+12015550123",
        "+123456789012345", "123", "7255", "12345678"}) {
    EXPECT_TRUE(validateSenderId(sender).isOk()) << sender;
  }
}

TEST(SmsTextTest, SenderIdsRefusedWithTheRule) {
  for (std::string_view sender : {
           "",                   // empty
           "ShopWithLongName",   // 16 characters
           "Shop_1",             // underscore
           "Sklep Żółw",         // not ASCII
           " Shop",              // leading space
           "Shop ",              // trailing space
           "12-34",              // no letter
           "...",                // no letter
           "12",                 // short code too short
           "123456789",          // too long for a short code, not in + form
           "+4860070",           // 7 digits
           "+1234567890123456",  // 16 digits
           "+0123456789",        // no country code starts with 0
           "+48 600 700 800",    // spaces in a number
       }) {
    const Status status = validateSenderId(sender);
    ASSERT_FALSE(status.isOk()) << "\"" << sender << "\"";
    EXPECT_EQ(status.category(), ErrorCategory::kConfig);
    EXPECT_NE(status.message().find("11"), std::string::npos) << status.message();
  }
  EXPECT_NE(validateSenderId("ShopWithLongName").message().find("longer than 11"),
            std::string::npos);
}

// --- transliteration ---------------------------------------------------------------------

struct LookAlikeCase {
  std::string_view from;
  std::string_view to;
};

// Every row of the transliteration table, spelled out by language so a reviewer can check
// each one.

// Polish.
constexpr LookAlikeCase kPolish[] = {
    {"ą", "a"}, {"Ą", "A"}, {"ć", "c"}, {"Ć", "C"}, {"ę", "e"}, {"Ę", "E"},
    {"ł", "l"}, {"Ł", "L"}, {"ń", "n"}, {"Ń", "N"}, {"ó", "o"}, {"Ó", "O"},
    {"ś", "s"}, {"Ś", "S"}, {"ź", "z"}, {"Ź", "Z"}, {"ż", "z"}, {"Ż", "Z"},
};
// Czech and Slovak (é and ä are GSM-7 and stay).
constexpr LookAlikeCase kCzechAndSlovak[] = {
    {"á", "a"}, {"Á", "A"}, {"č", "c"}, {"Č", "C"}, {"ď", "d"}, {"Ď", "D"}, {"ě", "e"},
    {"Ě", "E"}, {"í", "i"}, {"Í", "I"}, {"ň", "n"}, {"Ň", "N"}, {"ř", "r"}, {"Ř", "R"},
    {"š", "s"}, {"Š", "S"}, {"ť", "t"}, {"Ť", "T"}, {"ú", "u"}, {"Ú", "U"}, {"ů", "u"},
    {"Ů", "U"}, {"ý", "y"}, {"Ý", "Y"}, {"ž", "z"}, {"Ž", "Z"}, {"ĺ", "l"}, {"Ĺ", "L"},
    {"ľ", "l"}, {"Ľ", "L"}, {"ô", "o"}, {"Ô", "O"}, {"ŕ", "r"}, {"Ŕ", "R"},
};
// Romanian, comma-below and the older cedilla forms.
constexpr LookAlikeCase kRomanian[] = {
    {"ș", "s"}, {"Ș", "S"}, {"ş", "s"}, {"Ş", "S"}, {"ț", "t"}, {"Ț", "T"}, {"ţ", "t"},
    {"Ţ", "T"}, {"ă", "a"}, {"Ă", "A"}, {"â", "a"}, {"Â", "A"}, {"î", "i"}, {"Î", "I"},
};
// Hungarian.
constexpr LookAlikeCase kHungarian[] = {{"ő", "o"}, {"Ő", "O"}, {"ű", "u"}, {"Ű", "U"}};
// Baltic.
constexpr LookAlikeCase kBaltic[] = {
    {"ā", "a"}, {"Ā", "A"}, {"ē", "e"}, {"Ē", "E"}, {"ė", "e"}, {"Ė", "E"}, {"ģ", "g"}, {"Ģ", "G"},
    {"ī", "i"}, {"Ī", "I"}, {"į", "i"}, {"Į", "I"}, {"ķ", "k"}, {"Ķ", "K"}, {"ļ", "l"}, {"Ļ", "L"},
    {"ņ", "n"}, {"Ņ", "N"}, {"ū", "u"}, {"Ū", "U"}, {"ų", "u"}, {"Ų", "U"},
};
// Turkish (ş and ç are listed above; ö and ü are GSM-7).
constexpr LookAlikeCase kTurkish[] = {{"ğ", "g"}, {"Ğ", "G"}, {"ı", "i"}, {"İ", "I"}};
// Croatian, Serbian and Icelandic.
constexpr LookAlikeCase kSouthSlavicAndIcelandic[] = {
    {"đ", "d"}, {"Đ", "D"}, {"ð", "d"}, {"Ð", "D"}, {"þ", "th"}, {"Þ", "Th"},
};
// French, Spanish, Portuguese, Italian capitals (à è é ù ì ò ñ Ç are GSM-7).
constexpr LookAlikeCase kWestern[] = {
    {"ç", "c"}, {"À", "A"}, {"Ã", "A"},  {"È", "E"},  {"Ê", "E"}, {"Ë", "E"},
    {"Ì", "I"}, {"Ï", "I"}, {"Ò", "O"},  {"Õ", "O"},  {"Ù", "U"}, {"Û", "U"},
    {"ã", "a"}, {"ê", "e"}, {"ë", "e"},  {"ï", "i"},  {"õ", "o"}, {"û", "u"},
    {"ÿ", "y"}, {"Ÿ", "Y"}, {"œ", "oe"}, {"Œ", "OE"},
};
// The rest of Latin Extended-A (Esperanto, Maltese, Welsh, ...).
constexpr LookAlikeCase kRestOfLatinExtendedA[] = {
    {"Ĉ", "C"}, {"ĉ", "c"}, {"Ċ", "C"}, {"ċ", "c"}, {"Ĕ", "E"},  {"ĕ", "e"},  {"Ĝ", "G"},
    {"ĝ", "g"}, {"Ġ", "G"}, {"ġ", "g"}, {"Ĥ", "H"}, {"ĥ", "h"},  {"Ħ", "H"},  {"ħ", "h"},
    {"Ĩ", "I"}, {"ĩ", "i"}, {"Ĭ", "I"}, {"ĭ", "i"}, {"Ĳ", "IJ"}, {"ĳ", "ij"}, {"Ĵ", "J"},
    {"ĵ", "j"}, {"Ŀ", "L"}, {"ŀ", "l"}, {"Ō", "O"}, {"ō", "o"},  {"Ŏ", "O"},  {"ŏ", "o"},
    {"Ŗ", "R"}, {"ŗ", "r"}, {"Ŝ", "S"}, {"ŝ", "s"}, {"Ŧ", "T"},  {"ŧ", "t"},  {"Ũ", "U"},
    {"ũ", "u"}, {"Ŭ", "U"}, {"ŭ", "u"}, {"Ŵ", "W"}, {"ŵ", "w"},  {"Ŷ", "Y"},  {"ŷ", "y"},
};
// Typographic punctuation, spaces of every width, tab.
constexpr LookAlikeCase kPunctuation[] = {
    {"\t", " "},     {"`", "'"},      {"\u00A0", " "}, {"«", "\""},     {"´", "'"},
    {"»", "\""},     {"×", "x"},      {"\u2000", " "}, {"\u2001", " "}, {"\u2002", " "},
    {"\u2003", " "}, {"\u2004", " "}, {"\u2005", " "}, {"\u2006", " "}, {"\u2007", " "},
    {"\u2008", " "}, {"\u2009", " "}, {"\u200A", " "}, {"‐", "-"},      {"‑", "-"},
    {"‒", "-"},      {"–", "-"},      {"—", "-"},      {"―", "-"},      {"‘", "'"},
    {"’", "'"},      {"‚", "'"},      {"‛", "'"},      {"“", "\""},     {"”", "\""},
    {"„", "\""},     {"‟", "\""},     {"•", "*"},      {"…", "..."},    {"\u202F", " "},
    {"′", "'"},      {"″", "\""},     {"‹", "'"},      {"›", "'"},      {"−", "-"},
};
const std::span<const LookAlikeCase> kLookAlikes[] = {kPolish,
                                                      kCzechAndSlovak,
                                                      kRomanian,
                                                      kHungarian,
                                                      kBaltic,
                                                      kTurkish,
                                                      kSouthSlavicAndIcelandic,
                                                      kWestern,
                                                      kRestOfLatinExtendedA,
                                                      kPunctuation};

std::string codePointUtf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

TEST(SmsTextTransliterationTest, EveryLookAlikeCharacterByCharacter) {
  for (const LookAlikeCase& c : kLookAlikes | std::views::join) {
    EXPECT_EQ(transliterateToGsm7(c.from), c.to) << c.from;
    // Only characters that need UCS-2 are replaced, and only by basic-table GSM-7 characters.
    EXPECT_EQ(analyzeSmsText(c.from).encoding, Encoding::kUcs2) << c.from;
    const SmsTextInfo to = analyzeSmsText(c.to);
    EXPECT_EQ(to.encoding, Encoding::kGsm7) << c.from;
    EXPECT_EQ(to.units, to.characters) << c.from;
  }
}

TEST(SmsTextTransliterationTest, NoOtherCharacterOfTheBmpChanges) {
  std::map<std::string, std::string_view> expected;
  for (const LookAlikeCase& c : kLookAlikes | std::views::join) {
    EXPECT_TRUE(expected.emplace(std::string(c.from), c.to).second) << "listed twice: " << c.from;
  }
  int changed = 0;
  for (char32_t c = 0; c <= 0xFFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;  // surrogates are not characters
    const std::string in = codePointUtf8(c);
    const std::string out = transliterateToGsm7(in);
    if (out == in) continue;
    ++changed;
    const auto it = expected.find(in);
    ASSERT_NE(it, expected.end()) << "U+" << std::hex << static_cast<unsigned>(c) << " changed to '"
                                  << out << "'";
    EXPECT_EQ(out, it->second);
  }
  EXPECT_EQ(changed, static_cast<int>(expected.size()));
}

TEST(SmsTextTransliterationTest, CharactersThatAreGsm7StayAsTheyAre) {
  const std::string gsm =
      "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà^{}\\[~]|€";
  EXPECT_EQ(transliterateToGsm7(gsm), gsm);
  EXPECT_EQ(transliterateToGsm7("Grüße aus Köln, Straße"), "Grüße aus Köln, Straße");
}

TEST(SmsTextTransliterationTest, WholeSentences) {
  struct Case {
    std::string_view from;
    std::string_view to;
  };
  for (const Case& c : {
           Case{"Zażółć gęślą jaźń. ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "Zazolc gesla jazn. ZAZOLC GESLA JAZN"},
           Case{"Příliš žluťoučký kůň úpěl ďábelské ódy", "Prilis zlutoucky kun upel dabelské ody"},
           Case{"Ľúbostný kôň, ŕba, Ĺ", "Lubostny kon, rba, L"},
           Case{"Științe și țări în Brașov; Ştiinţe", "Stiinte si tari in Brasov; Stiinte"},
           Case{"Árvíztűrő tükörfúrógép", "Arvizturo tükörfurogép"},
           Case{"Ağaç, şehir, ılık, İstanbul", "Agac, sehir, ilik, Istanbul"},
           Case{"Rūķīši, ģērbšanās, ąžuolas, ėjimas", "Rukisi, gerbsanas, azuolas, ejimas"},
           Case{"Noël à Paris, ça coûte 5 €", "Noel à Paris, ca coute 5 €"},
           Case{"„Sklep” – zamówienie #12… ‘ok’ • \u00a0gotowe",
                "\"Sklep\" - zamowienie #12... 'ok' *  gotowe"},
       }) {
    const std::string out = transliterateToGsm7(c.from);
    EXPECT_EQ(out, c.to);
    EXPECT_EQ(analyzeSmsText(out).encoding, Encoding::kGsm7) << out;
  }
}

TEST(SmsTextTransliterationTest, CharactersWithoutALookAlikeAreLeftForUcs2) {
  const std::string out = transliterateToGsm7("Привет, żółw 😀 α 中");
  EXPECT_EQ(out, "Привет, zolw 😀 α 中");
  EXPECT_EQ(analyzeSmsText(out).encoding, Encoding::kUcs2);
}

TEST(SmsTextTransliterationTest, DecomposedLettersAreReadAsTheirComposedForm) {
  // NFD, as macOS and some web forms send it: "gęślą" and "über" with combining marks.
  EXPECT_EQ(transliterateToGsm7("ge\u0328s\u0301la\u0328"), "gesla");
  EXPECT_EQ(transliterateToGsm7("u\u0308ber"), "\u00fcber");  // composed ü is GSM-7
  // No GSM-7 form and no look-alike: the bytes stay.
  EXPECT_EQ(transliterateToGsm7("a\u0323"), "a\u0323");
  // A mark that composes no further stays, after the part that did.
  EXPECT_EQ(transliterateToGsm7("e\u0328\u0301"), "e\u0301");
}

TEST(SmsTextTransliterationTest, InvalidUtf8IsCopiedByteForByte) {
  EXPECT_EQ(transliterateToGsm7("a\xff\xc3ł\xe2\x82"), "a\xff\xc3l\xe2\x82");
  EXPECT_EQ(transliterateToGsm7(""), "");
}

// --- fitting into max_segments -------------------------------------------------------------

FitResult fit(std::string_view text, int max_segments) {
  auto result = fitToSegments(text, max_segments, true);
  if (!result) {
    ADD_FAILURE() << result.error().toString();
    return {};
  }
  return *result;
}

TEST(SmsTextFitTest, TextThatFitsIsReturnedAsIs) {
  struct Case {
    std::string text;
    int max_segments;
  };
  for (const Case& c :
       {Case{std::string(160, 'a'), 1}, Case{std::string(306, 'a'), 2},
        Case{repeat(kPolishA, 70), 1}, Case{repeat(kPolishA, 134), 2}, Case{"", 1}}) {
    for (bool truncate : {false, true}) {
      auto result = fitToSegments(c.text, c.max_segments, truncate);
      ASSERT_TRUE(result) << result.error().toString();
      EXPECT_EQ(result->text, c.text);
      EXPECT_FALSE(result->truncated);
      EXPECT_EQ(result->info.segments, analyzeSmsText(c.text).segments);
    }
  }
}

TEST(SmsTextFitTest, TooLongIsRejectedUnlessTruncating) {
  Result<FitResult> result = fitToSegments(std::string(161, 'a'), 1, false);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().category(), ErrorCategory::kRejected);
  EXPECT_EQ(result.error().message(), "text needs 2 segments, max_segments is 1");

  result = fitToSegments(repeat(kPolishA, 403), 6, false);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "text needs 7 segments, max_segments is 6");

  result = fitToSegments("a", 0, true);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().category(), ErrorCategory::kConfig);
}

TEST(SmsTextFitTest, Gsm7IsCutToFillTheSegmentsWithThreeDots) {
  FitResult r = fit(std::string(161, 'a'), 1);
  EXPECT_EQ(r.text, std::string(157, 'a') + "...");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.info.encoding, Encoding::kGsm7);
  EXPECT_EQ(r.info.units, 160);
  EXPECT_EQ(r.info.segments, 1);

  r = fit(std::string(307, 'a'), 2);  // two parts of 153
  EXPECT_EQ(r.text, std::string(303, 'a') + "...");
  EXPECT_EQ(r.info.units, 306);
  EXPECT_EQ(r.info.segments, 2);

  r = fit(std::string(1000, 'a'), 3);
  EXPECT_EQ(r.text, std::string(456, 'a') + "...");
  EXPECT_EQ(r.info.segments, 3);
}

TEST(SmsTextFitTest, Ucs2IsCutToFillTheSegmentsWithOneEllipsis) {
  FitResult r = fit(repeat(kPolishA, 71), 1);
  EXPECT_EQ(r.text, repeat(kPolishA, 69) + "\u2026");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.info.encoding, Encoding::kUcs2);
  EXPECT_EQ(r.info.units, 70);
  EXPECT_EQ(r.info.segments, 1);

  r = fit(repeat(kPolishA, 135), 2);  // two parts of 67
  EXPECT_EQ(r.text, repeat(kPolishA, 133) + "\u2026");
  EXPECT_EQ(r.info.units, 134);
  EXPECT_EQ(r.info.segments, 2);
}

TEST(SmsTextFitTest, CutNeverSplitsAnEscPairOrASurrogatePair) {
  // 156 + € would be 158 septets, and with "..." 161: the € goes whole.
  FitResult r = fit(std::string(156, 'a') + std::string(kEuro) + "aaaa", 1);
  EXPECT_EQ(r.text, std::string(156, 'a') + "...");
  EXPECT_EQ(r.info.units, 159);

  r = fit(repeat(kPolishA, 68) + std::string(kGrinning) + "\u0105\u0105\u0105", 1);
  EXPECT_EQ(r.text, repeat(kPolishA, 68) + "\u2026");
  EXPECT_EQ(r.info.units, 69);
}

TEST(SmsTextFitTest, CutKeepsUserPerceivedCharactersWhole) {
  // Cutting between "e" and its combining acute would leave a GSM-7 "e" that fits; the whole
  // "é" (2 UTF-16 units) does not, so the cut goes before it.
  FitResult r = fit(std::string(69, 'a') + "e\u0301bbb", 1);
  EXPECT_EQ(r.text, std::string(69, 'a') + "...");

  // A flag is two regional indicators; half of one would show as a stray letter.
  r = fit(std::string(66, 'a') + "\U0001F1F5\U0001F1F1bbbbb", 1);
  EXPECT_EQ(r.text, std::string(66, 'a') + "...");
}

// Whatever the text, a truncated result fits, is a prefix of the text plus the ellipsis that
// matches its encoding, and a text that already fits comes back unchanged.
TEST(SmsTextFitTest, ArbitraryTextAlwaysFits) {
  std::mt19937 rng(160);
  const std::vector<std::string> pieces = {
      "a",      " ",        "\u20ac",     "\u0105",
      "\u00e9", "e\u0301",  "\U0001F600", "\U0001F1F5\U0001F1F1",
      "\xff",   "\xe2\x82", "\u200d",     "\n"};
  for (int round = 0; round < 1000; ++round) {
    std::string text;
    const int length = static_cast<int>(rng() % 600);
    for (int i = 0; i < length; ++i) text += pieces[rng() % pieces.size()];
    const int max_segments = 1 + static_cast<int>(rng() % 4);
    const FitResult r = fit(text, max_segments);
    ASSERT_LE(r.info.segments, max_segments) << text;
    EXPECT_EQ(r.info.segments, analyzeSmsText(r.text).segments);
    if (!r.truncated) {
      EXPECT_EQ(r.text, text);
      continue;
    }
    const std::string_view ellipsis = r.info.encoding == Encoding::kGsm7 ? "..." : "\u2026";
    ASSERT_TRUE(r.text.ends_with(ellipsis)) << r.text;
    const std::string_view kept =
        std::string_view(r.text).substr(0, r.text.size() - ellipsis.size());
    EXPECT_TRUE(text.starts_with(kept));
    EXPECT_LT(kept.size(), text.size());
  }
}

TEST(SmsTextFitTest, CuttingOffTheOnlyNonGsmCharacterMakesTheTextGsm7) {
  const FitResult r = fit(std::string(200, 'a') + "\u0142", 1);
  EXPECT_EQ(r.text, std::string(157, 'a') + "...");
  EXPECT_EQ(r.info.encoding, Encoding::kGsm7);
}

}  // namespace
}  // namespace smsbridge
