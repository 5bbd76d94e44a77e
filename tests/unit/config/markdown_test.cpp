#include "config/markdown.h"

#include <gtest/gtest.h>

#include "tests/unit/config/test_schema.h"

namespace smsbridge::config {
namespace {

TEST(MarkdownTest, ListsEveryKeyWithItsFullPath) {
  std::string md = renderSchemaMarkdown(testing::rootSchema());
  for (const char* key : {"`timezone`",
                          "`workers`",
                          "`sources`",
                          "`sources.<name>.type`",
                          "`sources.<name>.mode`",
                          "`sources.<name>.poll_interval`",
                          "`sources.<name>.tables`",
                          "`sources.<name>.path`",
                          "`sources.<name>.host`",
                          "`sources.<name>.port`",
                          "`sources.<name>.password`",
                          "`providers`",
                          "`providers.twilio`",
                          "`providers.twilio.account_sid`",
                          "`providers.twilio.auth_token`",
                          "`providers.twilio.from`",
                          "`providers.twilio.timeout`",
                          "`mappings.<mapping>.source`",
                          "`mappings.<mapping>.on`",
                          "`mappings.<mapping>.lane`",
                          "`routes`"}) {
    EXPECT_NE(md.find(key), std::string::npos) << key << " missing from:\n" << md;
  }
}

TEST(MarkdownTest, RowsCarryTypeDefaultRequiredVariantAndSecret) {
  std::string md = renderSchemaMarkdown(testing::rootSchema());
  EXPECT_NE(md.find("| `sources.<name>.path` (type: sqlite) | string |  | yes | Database file. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `sources.<name>.port` (type: postgres) | integer | `5432` |  | Server "
                    "port. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `sources.<name>.type` | one of `sqlite`, `postgres` |  | yes | Database "
                    "kind. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `mappings.<mapping>.lane` | one of `otp`, `transactional`, `marketing` | "
                    "`transactional` |  | Lane. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `mappings.<mapping>.on` | list of: `insert`, `update`, `delete` | "
                    "`[insert, update]` |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `providers.twilio.auth_token` | secret string |  | yes | Auth token. "
                    "Secret: give it as `${ENV_VAR}` or put it in a file and set "
                    "`auth_token_file` to its path. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `routes` | map of `<route>` → list of strings |"), std::string::npos) << md;
  EXPECT_NE(md.find("Condition \\| expression."), std::string::npos) << md;
  EXPECT_NE(md.find("## `sources.<name>`\n\nA database whose changes become messages."),
            std::string::npos)
      << md;
}

}  // namespace
}  // namespace smsbridge::config
