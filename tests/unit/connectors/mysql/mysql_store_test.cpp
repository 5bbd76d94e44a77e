// Which claim locking MysqlStore chooses for a server version, and the SQL each choice runs:
// servers without SKIP LOCKED (MariaDB < 10.6, MySQL < 8.0.1) cannot be started in CI, so the
// decision is tested here and the single-dispatcher lock on the real server
// (tests/integration/mysql_store_test.cpp).

#include "connectors/mysql/mysql_store.h"

#include <gtest/gtest.h>

namespace smsbridge::mysql {
namespace {

TEST(MysqlStoreClaimLockingTest, SkipLockedFromMariaDb106AndMySql801) {
  EXPECT_EQ(claimLockingFor(true, 100600), ClaimLocking::kSkipLocked);
  EXPECT_EQ(claimLockingFor(true, 101106), ClaimLocking::kSkipLocked);
  EXPECT_EQ(claimLockingFor(true, 110402), ClaimLocking::kSkipLocked);
  EXPECT_EQ(claimLockingFor(true, 100519), ClaimLocking::kSingleDispatcher);
  EXPECT_EQ(claimLockingFor(true, 100338), ClaimLocking::kSingleDispatcher);
  // MySQL 8.0.0 was a development release without it.
  EXPECT_EQ(claimLockingFor(false, 80001), ClaimLocking::kSkipLocked);
  EXPECT_EQ(claimLockingFor(false, 80036), ClaimLocking::kSkipLocked);
  EXPECT_EQ(claimLockingFor(false, 80000), ClaimLocking::kSingleDispatcher);
  EXPECT_EQ(claimLockingFor(false, 50744), ClaimLocking::kSingleDispatcher);
  // MariaDB numbers are not MySQL numbers: 10.5 is above 8.0 numerically.
  EXPECT_EQ(claimLockingFor(true, 100500), ClaimLocking::kSingleDispatcher);
}

TEST(MysqlStoreClaimLockingTest, OnlyTheSkipLockedChoiceAsksForIt) {
  const std::string skip = claimDueSql("`sb_messages`", ClaimLocking::kSkipLocked);
  const std::string single = claimDueSql("`sb_messages`", ClaimLocking::kSingleDispatcher);
  EXPECT_TRUE(skip.ends_with(" FOR UPDATE SKIP LOCKED")) << skip;
  EXPECT_TRUE(single.ends_with(" FOR UPDATE")) << single;
  EXPECT_EQ(single.find("SKIP"), std::string::npos) << single;
  for (const std::string& sql : {skip, single}) {
    EXPECT_TRUE(
        sql.starts_with("SELECT id FROM `sb_messages` WHERE status IN ('queued', "
                        "'scheduled') AND lane = ? AND not_before <= ?"))
        << sql;
    EXPECT_NE(sql.find("ORDER BY not_before, id LIMIT ?"), std::string::npos) << sql;
  }
}

TEST(MysqlStoreClaimLockingTest, DispatcherLockNameIsStableShortAndPerStore) {
  const std::string name = dispatcherLockName("shop", "smsbridge_");
  EXPECT_EQ(name, dispatcherLockName("shop", "smsbridge_"));
  EXPECT_TRUE(name.starts_with("smsbridge_dispatcher_")) << name;
  EXPECT_NE(name, dispatcherLockName("shop", "other_"));
  EXPECT_NE(name, dispatcherLockName("shop2", "smsbridge_"));
  EXPECT_LE(dispatcherLockName(std::string(64, 'd'), std::string(60, 'p')).size(), 64u);
}

}  // namespace
}  // namespace smsbridge::mysql
