#include "core/json_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace smsbridge {
namespace {

TEST(JsonTextTest, AppendJsonStringWritesWhatNlohmannDumps) {
  std::string tricky = "quote\" backslash\\ slash/ del\x7f Zażółć \xF0\x9F\x98\x80 ";
  for (int c = 0; c < 0x20; ++c) tricky += static_cast<char>(c);

  std::string out = "x";
  appendJsonString(out, tricky);

  EXPECT_EQ(out, "x" + nlohmann::json(tricky).dump());
  std::string empty;
  appendJsonString(empty, "");
  EXPECT_EQ(empty, "\"\"");
}

}  // namespace
}  // namespace smsbridge
