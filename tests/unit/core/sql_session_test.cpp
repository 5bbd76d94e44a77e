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

TEST(SqlParameterNames, SkipsComments) {
  EXPECT_EQ(sqlParameterNames("SELECT 1 -- :not\nFROM t /* :nor */ WHERE a = :a"), (Names{"a"}));
}

TEST(ReplaceSqlParameters, ReplacesEveryOccurrenceAndNothingElse) {
  int n = 0;
  std::vector<std::string> order;
  std::string sql = replaceSqlParameters("SELECT ':x', :a::int -- :b\nWHERE b = :b OR a = :a",
                                         [&](const std::string& name) {
                                           order.push_back(name);
                                           return "$" + std::to_string(++n);
                                         });
  EXPECT_EQ(sql, "SELECT ':x', $1::int -- :b\nWHERE b = $2 OR a = $3");
  EXPECT_EQ(order, (Names{"a", "b", "a"}));
}

}  // namespace
}  // namespace smsbridge
