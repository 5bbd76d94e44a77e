// `smsbridge doctor` on the real PostgreSQL from scripts/test-services.sh (wal_level=logical,
// a test role with REPLICATION): the happy path for logical and trigger capture, a role
// without REPLICATION or SELECT, replica identity NOTHING under old. values, and typos.

#include "connectors/postgres/pg_doctor.h"

#include <random>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "connectors/postgres/pg_trigger_source.h"
#include "tests/integration/test_env.h"

namespace smsbridge::postgres {
namespace {

const DoctorCheck* find(const std::vector<DoctorCheck>& checks, const std::string& name) {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string dump(const std::vector<DoctorCheck>& checks) {
  std::string out;
  for (const auto& c : checks) {
    out +=
        std::string(checkLevelName(c.level)) + " " + c.name + ": " + c.found + " | " + c.fix + "\n";
  }
  return out;
}

class PostgresDoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMSBRIDGE_REQUIRE_PG_DSN(dsn);
    dsn_ = dsn;
    std::random_device random;
    tag_ = "pgd" + std::to_string(random() % 1'000'000'000);
    orders_ = tag_ + "_orders";
    exec("CREATE TABLE " + orders_ + " (id serial PRIMARY KEY, status text, phone text)");
  }

  void TearDown() override {
    if (dsn_.empty()) return;
    exec("DROP TABLE IF EXISTS " + orders_ + ", " + prefix() + "changes");
    exec("DROP FUNCTION IF EXISTS " + prefix() + "capture()");
    if (role_created_) exec("DROP ROLE IF EXISTS " + limitedRole());
  }

  void exec(const std::string& sql) {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction txn(conn);
    txn.exec("SET client_min_messages = warning");
    txn.exec(sql);
  }

  std::string prefix() const { return tag_ + "_sb_"; }
  std::string limitedRole() const { return tag_ + "_limited"; }

  DoctorRequest request(const std::string& capture, TableNeeds needs) const {
    DoctorRequest r;
    r.source = tag_;
    r.capture = capture;
    r.prefix = prefix();
    r.tables = {std::move(needs)};
    return r;
  }

  TableNeeds ordersNeeds() const { return {orders_, {"status", "phone"}, {"status"}}; }

  std::string dsn_;
  std::string tag_;
  std::string orders_;
  bool role_created_ = false;
};

TEST_F(PostgresDoctorTest, LogicalOnTheTestServerHasNoFailure) {
  exec("ALTER TABLE " + orders_ + " REPLICA IDENTITY FULL");
  auto checks =
      runDoctor({dsn_, std::chrono::seconds(10), "", ""}, request("logical", ordersNeeds()));
  for (const auto& c : checks) EXPECT_NE(c.level, CheckLevel::kFail) << dump(checks);
  for (const char* name :
       {"server version", "wal_level", "replication capacity", "replication role"}) {
    const DoctorCheck* c = find(checks, name);
    ASSERT_NE(c, nullptr) << name << "\n" << dump(checks);
    EXPECT_EQ(c->level, CheckLevel::kOk) << dump(checks);
  }
  const DoctorCheck* identity = find(checks, "replica identity " + orders_);
  ASSERT_NE(identity, nullptr) << dump(checks);
  EXPECT_EQ(identity->level, CheckLevel::kOk);
  // Neither exists before setup: a warning that says setup creates them.
  const DoctorCheck* publication =
      find(checks, "publication " + logicalNames(prefix(), tag_).publication);
  ASSERT_NE(publication, nullptr) << dump(checks);
  EXPECT_EQ(publication->level, CheckLevel::kWarning);
  EXPECT_NE(publication->fix.find("CREATE PUBLICATION"), std::string::npos);
}

TEST_F(PostgresDoctorTest, TriggerCaptureAfterSetupIsAllOk) {
  TriggerSourceConfig config;
  config.name = tag_;
  config.dsn = dsn_;
  config.tables = {orders_};
  config.prefix = prefix();
  auto source = PgTriggerSource::create(std::move(config));
  ASSERT_TRUE(source) << source.error().toString();

  auto before =
      runDoctor({dsn_, std::chrono::seconds(10), "", ""}, request("trigger", ordersNeeds()));
  ASSERT_NE(find(before, "trigger " + orders_), nullptr) << dump(before);
  EXPECT_EQ(find(before, "trigger " + orders_)->level, CheckLevel::kFail);
  EXPECT_EQ(find(before, "trigger " + orders_)->fix, "smsbridge setup -c <config>");

  Status setup = (*source)->setup();
  ASSERT_TRUE(setup.isOk()) << setup.toString();
  auto after =
      runDoctor({dsn_, std::chrono::seconds(10), "", ""}, request("trigger", ordersNeeds()));
  for (const auto& c : after) EXPECT_EQ(c.level, CheckLevel::kOk) << dump(after);
}

TEST_F(PostgresDoctorTest, RoleWithoutReplicationOrSelectGetsTheGrants) {
  exec("CREATE ROLE " + limitedRole() + " NOLOGIN");
  role_created_ = true;
  exec("GRANT " + limitedRole() + " TO CURRENT_USER");
  // Log in as the test role and become the limited one for the whole session.
  const std::string dsn = dsn_ + (dsn_.find('?') == std::string::npos ? "?" : "&") +
                          "options=-c%20role%3D" + limitedRole();
  auto checks =
      runDoctor({dsn, std::chrono::seconds(10), "", ""}, request("logical", ordersNeeds()));

  const DoctorCheck* role = find(checks, "replication role");
  ASSERT_NE(role, nullptr) << dump(checks);
  EXPECT_EQ(role->level, CheckLevel::kFail);
  EXPECT_NE(role->fix.find("ALTER ROLE \"" + limitedRole() + "\" REPLICATION;"), std::string::npos)
      << role->fix;
  const DoctorCheck* select = find(checks, "SELECT " + orders_);
  ASSERT_NE(select, nullptr) << dump(checks);
  EXPECT_EQ(select->level, CheckLevel::kFail);
  EXPECT_EQ(select->fix, "GRANT SELECT ON " + orders_ + " TO \"" + limitedRole() + "\";");
  // It owns nothing, so the publication must be created by the tables' owner.
  const DoctorCheck* publication =
      find(checks, "publication " + logicalNames(prefix(), tag_).publication);
  ASSERT_NE(publication, nullptr) << dump(checks);
  EXPECT_EQ(publication->level, CheckLevel::kFail);
  EXPECT_NE(publication->fix.find("CREATE PUBLICATION"), std::string::npos) << publication->fix;
}

TEST_F(PostgresDoctorTest, ReplicaIdentityNothingWithOldValuesFailsWithTheAlter) {
  exec("ALTER TABLE " + orders_ + " REPLICA IDENTITY NOTHING");
  auto checks =
      runDoctor({dsn_, std::chrono::seconds(10), "", ""}, request("logical", ordersNeeds()));
  const DoctorCheck* identity = find(checks, "replica identity " + orders_);
  ASSERT_NE(identity, nullptr) << dump(checks);
  EXPECT_EQ(identity->level, CheckLevel::kFail);
  EXPECT_EQ(identity->fix, "ALTER TABLE " + orders_ + " REPLICA IDENTITY FULL;");

  // DEFAULT publishes the key only: old.status is still not there.
  exec("ALTER TABLE " + orders_ + " REPLICA IDENTITY DEFAULT");
  checks = runDoctor({dsn_, std::chrono::seconds(10), "", ""}, request("logical", ordersNeeds()));
  identity = find(checks, "replica identity " + orders_);
  ASSERT_NE(identity, nullptr);
  EXPECT_EQ(identity->level, CheckLevel::kFail);
  EXPECT_NE(identity->found.find("status"), std::string::npos) << identity->found;
}

TEST_F(PostgresDoctorTest, MissingTableAndMistypedColumnFail) {
  DoctorRequest r = request("poll", {orders_, {"status", "phnoe"}, {}});
  r.tables.push_back({tag_ + "_nope", {"id"}, {}});
  auto checks = runDoctor({dsn_, std::chrono::seconds(10), "", ""}, r);
  const DoctorCheck* typo = find(checks, "table " + orders_);
  ASSERT_NE(typo, nullptr) << dump(checks);
  EXPECT_EQ(typo->level, CheckLevel::kFail);
  EXPECT_NE(typo->found.find("phnoe"), std::string::npos);
  const DoctorCheck* missing = find(checks, "table " + tag_ + "_nope");
  ASSERT_NE(missing, nullptr) << dump(checks);
  EXPECT_EQ(missing->level, CheckLevel::kFail);
}

TEST_F(PostgresDoctorTest, ConnectionFailureIsOneFailNotACrash) {
  std::string bad = dsn_;
  auto at = bad.find('@');
  auto colon = bad.rfind(':', at);
  ASSERT_NE(at, std::string::npos);
  bad.replace(colon + 1, at - colon - 1, "wrong-password");
  auto checks =
      runDoctor({bad, std::chrono::seconds(5), "", ""}, request("logical", ordersNeeds()));
  ASSERT_EQ(checks.size(), 1u) << dump(checks);
  EXPECT_EQ(checks[0].name, "connection");
  EXPECT_EQ(checks[0].level, CheckLevel::kFail);
  EXPECT_NE(checks[0].found.find("password"), std::string::npos) << checks[0].found;
}

}  // namespace
}  // namespace smsbridge::postgres
