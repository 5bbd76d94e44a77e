// The PostgreSQL doctor's verdicts over gathered facts: level and the exact fix an operator
// would copy, without a server.

#include "connectors/postgres/pg_doctor.h"

#include <gtest/gtest.h>

namespace smsbridge::postgres {
namespace {

PgServerFacts healthyServer() {
  PgServerFacts s;
  s.version_num = 150004;
  s.version = "15.4";
  s.user = "bridge";
  s.database = "shop";
  s.replication = true;
  s.can_create_in_database = true;
  s.wal_level = "logical";
  s.max_replication_slots = 10;
  s.slots_in_use = 1;
  s.max_wal_senders = 10;
  s.senders_in_use = 1;
  return s;
}

PgTableFacts orders() {
  PgTableFacts t;
  t.table = "orders";
  t.exists = true;
  t.qualified = "orders";
  t.owner = "shop_owner";
  t.is_owner = false;
  t.can_select = true;
  t.replica_identity = 'd';
  t.identity_columns = {"id"};
  t.columns = {"id", "status", "phone"};
  return t;
}

TEST(PgDoctorTest, WalLevelOtherThanLogicalFailsWithAlterSystem) {
  PgServerFacts s = healthyServer();
  EXPECT_EQ(checkWalLevel(s).level, CheckLevel::kOk);
  s.wal_level = "replica";
  DoctorCheck c = checkWalLevel(s);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.found.find("replica"), std::string::npos);
  EXPECT_NE(c.fix.find("ALTER SYSTEM SET wal_level = logical;"), std::string::npos) << c.fix;
  EXPECT_NE(c.fix.find("restart"), std::string::npos) << c.fix;
}

TEST(PgDoctorTest, VersionMinimumDependsOnCaptureMode) {
  PgServerFacts s = healthyServer();
  s.version_num = 120010;
  s.version = "12.10";
  EXPECT_EQ(checkVersion(s, "trigger").level, CheckLevel::kFail);  // xid8 needs 13
  EXPECT_EQ(checkVersion(s, "logical").level, CheckLevel::kOk);
}

TEST(PgDoctorTest, RoleWithoutReplicationFailsWithAlterRole) {
  PgServerFacts s = healthyServer();
  s.replication = false;
  DoctorCheck c = checkReplicationRole(s);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.fix.find("ALTER ROLE \"bridge\" REPLICATION;"), std::string::npos) << c.fix;
  s.superuser = true;
  EXPECT_EQ(checkReplicationRole(s).level, CheckLevel::kOk);
}

TEST(PgDoctorTest, FullReplicationSlotsFailUnlessTheBridgeSlotExists) {
  PgServerFacts s = healthyServer();
  s.slots_in_use = 10;
  DoctorCheck c = checkReplicationCapacity(s, false);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.found.find("10 of 10"), std::string::npos) << c.found;
  EXPECT_NE(c.fix.find("ALTER SYSTEM SET max_replication_slots = 11;"), std::string::npos);
  EXPECT_EQ(checkReplicationCapacity(s, true).level, CheckLevel::kOk);
  s.senders_in_use = 10;
  EXPECT_EQ(checkReplicationCapacity(s, true).level, CheckLevel::kWarning);
}

TEST(PgDoctorTest, PublicationOnTablesOfAnotherOwnerPrintsTheCreateForTheOwner) {
  LogicalNames names = logicalNames("smsbridge_", "shop");
  EXPECT_EQ(names.slot, "smsbridge_slot_shop");
  EXPECT_EQ(names.publication, "smsbridge_pub_shop");
  DoctorCheck c = checkPublication(healthyServer(), {orders()}, names, false);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.found.find("orders (owner shop_owner)"), std::string::npos) << c.found;
  EXPECT_NE(c.fix.find("as shop_owner, run: CREATE PUBLICATION \"smsbridge_pub_shop\" FOR TABLE "
                       "orders;"),
            std::string::npos)
      << c.fix;

  PgTableFacts owned = orders();
  owned.is_owner = true;
  EXPECT_EQ(checkPublication(healthyServer(), {owned}, names, false).level,
            CheckLevel::kWarning);  // setup creates it
  PgServerFacts no_create = healthyServer();
  no_create.can_create_in_database = false;
  EXPECT_NE(checkPublication(no_create, {owned}, names, false)
                .fix.find("GRANT CREATE ON DATABASE \"shop\" TO \"bridge\";"),
            std::string::npos);
}

TEST(PgDoctorTest, ExistingPublicationMissingATableFailsWithAlterPublication) {
  LogicalNames names = logicalNames("smsbridge_", "shop");
  PgTableFacts in = orders();
  in.in_publication = true;
  EXPECT_EQ(checkPublication(healthyServer(), {in}, names, true).level, CheckLevel::kOk);
  DoctorCheck c = checkPublication(healthyServer(), {orders()}, names, true);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.fix.find("ALTER PUBLICATION \"smsbridge_pub_shop\" ADD TABLE orders;"),
            std::string::npos)
      << c.fix;
}

TEST(PgDoctorTest, ReplicaIdentityMustCarryTheOldValuesMappingsRead) {
  TableNeeds needs{"orders", {"id", "status"}, {"status"}};
  DoctorCheck c = checkReplicaIdentity(needs, orders());
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.found.find("status"), std::string::npos) << c.found;
  EXPECT_EQ(c.fix, "ALTER TABLE orders REPLICA IDENTITY FULL;");

  TableNeeds key_only{"orders", {"id"}, {"id"}};
  EXPECT_EQ(checkReplicaIdentity(key_only, orders()).level, CheckLevel::kOk);

  PgTableFacts full = orders();
  full.replica_identity = 'f';
  EXPECT_EQ(checkReplicaIdentity(needs, full).level, CheckLevel::kOk);
}

TEST(PgDoctorTest, ReplicaIdentityNothingFailsEvenWithoutOldValues) {
  // The shop's own UPDATE and DELETE fail on a published table without an identity.
  PgTableFacts nothing = orders();
  nothing.replica_identity = 'n';
  DoctorCheck c = checkReplicaIdentity({"orders", {"id"}, {}}, nothing);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.found.find("NOTHING"), std::string::npos);
  EXPECT_EQ(c.fix, "ALTER TABLE orders REPLICA IDENTITY FULL;");
  PgTableFacts no_pk = orders();
  no_pk.identity_columns.clear();
  EXPECT_EQ(checkReplicaIdentity({"orders", {}, {}}, no_pk).level, CheckLevel::kFail);
}

TEST(PgDoctorTest, SlotLostFailsAndRetainedWalWarns) {
  LogicalNames names = logicalNames("smsbridge_", "shop");
  EXPECT_EQ(checkSlot(std::nullopt, names).level, CheckLevel::kWarning);
  EXPECT_EQ(checkSlot(PgSlotFacts{"pgoutput", "reserved", 1 << 20}, names).level, CheckLevel::kOk);
  DoctorCheck lost = checkSlot(PgSlotFacts{"pgoutput", "lost", 0}, names);
  EXPECT_EQ(lost.level, CheckLevel::kFail);
  EXPECT_NE(lost.fix.find("SELECT pg_drop_replication_slot('smsbridge_slot_shop');"),
            std::string::npos)
      << lost.fix;
  DoctorCheck behind = checkSlot(PgSlotFacts{"pgoutput", "extended", 3LL << 30}, names);
  EXPECT_EQ(behind.level, CheckLevel::kWarning);
  EXPECT_NE(behind.found.find("3072 MiB"), std::string::npos) << behind.found;
  EXPECT_EQ(checkSlot(PgSlotFacts{"wal2json", "reserved", 0}, names).level, CheckLevel::kFail);
}

TEST(PgDoctorTest, TriggerNeedsOwnerOrTriggerPrivilegeAndTheInstalledTrigger) {
  PgTableFacts t = orders();
  DoctorCheck none = checkTrigger(healthyServer(), t);
  EXPECT_EQ(none.level, CheckLevel::kFail);
  EXPECT_NE(none.fix.find("GRANT TRIGGER ON orders TO \"bridge\";"), std::string::npos);
  t.can_trigger = true;
  EXPECT_EQ(checkTrigger(healthyServer(), t).level, CheckLevel::kFail);  // not installed
  t.trigger_installed = true;
  EXPECT_EQ(checkTrigger(healthyServer(), t).level, CheckLevel::kWarning);  // re-setup fails
  t.is_owner = true;
  EXPECT_EQ(checkTrigger(healthyServer(), t).level, CheckLevel::kOk);
}

TEST(PgDoctorTest, SelectAndChangesTable) {
  PgTableFacts t = orders();
  t.can_select = false;
  EXPECT_EQ(checkSelect(healthyServer(), t).fix, "GRANT SELECT ON orders TO \"bridge\";");
  DoctorCheck c = checkChangesTable(healthyServer(), "smsbridge_", false, false, "public");
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.fix.find("GRANT CREATE ON SCHEMA \"public\" TO \"bridge\";"), std::string::npos);
  EXPECT_EQ(checkChangesTable(healthyServer(), "smsbridge_", true, false, "public").level,
            CheckLevel::kOk);
}

TEST(PgDoctorTest, MissingColumnIsReportedByName) {
  TableNeeds needs{"orders", {"id", "stauts"}, {}};
  DoctorCheck c = tableColumnsCheck(needs, std::set<std::string>{"id", "status"});
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_NE(c.found.find("stauts"), std::string::npos);
  EXPECT_EQ(tableColumnsCheck(needs, std::nullopt).level, CheckLevel::kFail);
}

TEST(PgDoctorTest, GrantsPerCaptureMode) {
  GrantRequest r;
  r.user = "bridge";
  r.database = "shop";
  r.source = "shop";
  r.capture = "logical";
  r.tables = {"orders", "sales.items"};
  auto logical = grantStatements(r);
  auto has = [](const std::vector<std::string>& lines, const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  EXPECT_TRUE(has(logical, "GRANT SELECT ON \"orders\", \"sales\".\"items\" TO \"bridge\";"));
  EXPECT_TRUE(has(logical, "ALTER ROLE \"bridge\" REPLICATION;"));
  EXPECT_TRUE(has(logical, "GRANT USAGE ON SCHEMA \"sales\" TO \"bridge\";"));
  r.capture = "poll";
  auto poll = grantStatements(r);
  EXPECT_FALSE(has(poll, "ALTER ROLE \"bridge\" REPLICATION;"));
  r.capture = "trigger";
  EXPECT_TRUE(
      has(grantStatements(r), "GRANT TRIGGER ON \"orders\", \"sales\".\"items\" TO \"bridge\";"));
}

TEST(PgDoctorTest, DsnUserAndDatabase) {
  EXPECT_EQ(dsnUserAndDatabase("postgresql://app:secret@db:5432/shop"),
            std::make_pair(std::string("app"), std::string("shop")));
  EXPECT_EQ(dsnUserAndDatabase("host=db user=app dbname=erp password=x"),
            std::make_pair(std::string("app"), std::string("erp")));
}

}  // namespace
}  // namespace smsbridge::postgres
