#include "core/sql_session.h"

#include <gtest/gtest.h>

namespace smsbridge {
namespace {

using Names = std::vector<std::string>;

TEST(SqlParameterNames, FindsEachNameOnceInOrder) {
  EXPECT_EQ(sqlParameterNames("SELECT phone FROM a WHERE id = :id AND t = :type OR id2 = :id"),
            (Names{"id", "type"}));
}

TEST(SqlParameterNames, SkipsCastsQuotedTextAndTimes) {
  EXPECT_EQ(sqlParameterNames("SELECT :when::timestamptz, ':not', \":nor\", `:no` WHERE x = :x"),
            (Names{"when", "x"}));
  EXPECT_EQ(sqlParameterNames("SELECT '10:30', 'it''s :quoted' WHERE a = :a"), (Names{"a"}));
  EXPECT_EQ(sqlParameterNames("SELECT a:b, :1, : x"), (Names{}));
}

}  // namespace
}  // namespace smsbridge
