#include "config/diagnostics.h"

#include <gtest/gtest.h>

namespace smsbridge::config {
namespace {

TEST(ConfigDiagnosticTest, FormatsFileLineColumnKeyPathAndMessage) {
  Diagnostic d{"shop.yaml", 42, 7, "providers.twilio.from", "required key is missing"};
  EXPECT_EQ(d.toString(), "shop.yaml:42:7: providers.twilio.from: required key is missing");
}

TEST(ConfigDiagnosticTest, LeavesOutAnEmptyKeyPathAndAnUnknownPosition) {
  EXPECT_EQ((Diagnostic{"shop.yaml", 3, 1, "", "illegal map value"}).toString(),
            "shop.yaml:3:1: illegal map value");
  EXPECT_EQ((Diagnostic{"shop.yaml", 0, 0, "sources", "required key is missing"}).toString(),
            "shop.yaml: sources: required key is missing");
}

TEST(ConfigDiagnosticsTest, PrintsOnePerLineSortedByLineThenColumn) {
  Diagnostics diagnostics;
  diagnostics.add({"a.yaml", 9, 3, "x", "third"});
  diagnostics.add({"a.yaml", 2, 8, "y", "second"});
  diagnostics.add({"a.yaml", 2, 1, "z", "first"});
  EXPECT_EQ(diagnostics.toString(),
            "a.yaml:2:1: z: first\n"
            "a.yaml:2:8: y: second\n"
            "a.yaml:9:3: x: third");
  EXPECT_EQ(diagnostics.all().front().message, "third");  // all() keeps insertion order
}

TEST(ConfigDiagnosticsTest, RepeatsAppearOnce) {
  Diagnostics diagnostics;
  diagnostics.add({"a.yaml", 2, 1, "z", "same"});
  diagnostics.add({"a.yaml", 2, 1, "z", "same"});
  EXPECT_EQ(diagnostics.toString(), "a.yaml:2:1: z: same");
}

TEST(ConfigDiagnosticsTest, StatusIsOkOnlyWhenEmpty) {
  Diagnostics diagnostics;
  EXPECT_TRUE(diagnostics.toStatus().isOk());
  diagnostics.add({"a.yaml", 1, 1, "k", "bad"});
  Status status = diagnostics.toStatus();
  EXPECT_EQ(status.category(), ErrorCategory::kConfig);
  EXPECT_EQ(status.message(), "a.yaml:1:1: k: bad");
}

}  // namespace
}  // namespace smsbridge::config
