// JobStore's default claimDueByPriority (lane by lane through claimDue), over the SQLite store,
// which keeps that default; PostgreSQL's one-statement version meets the same checks in
// tests/integration/postgres_store_test.cpp.

#include "core/job_store.h"

#include <gtest/gtest.h>

#include "connectors/sqlite/sqlite_store.h"
#include "core/clock.h"
#include "tests/fakes/claim_priority_checks.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

class JobStoreDefaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = sqlite::SqliteStore::create(dir_.file("store.db"), "smsbridge_",
                                             std::chrono::milliseconds(200));
    ASSERT_TRUE(store) << store.error().toString();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().isOk());
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<sqlite::SqliteStore> store_;
};

TEST_F(JobStoreDefaultsTest, ClaimByPriorityTakesLanesInStrictOrder) {
  testing::checkClaimByPriority(*store_, clock_.now());
}

TEST_F(JobStoreDefaultsTest, ClaimByPrioritySuppressesOptedOutMarketing) {
  testing::checkClaimByPrioritySuppressesOptOuts(*store_, clock_.now());
}

}  // namespace
}  // namespace smsbridge
