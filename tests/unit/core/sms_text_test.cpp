#include "core/sms_text.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace smsbridge
