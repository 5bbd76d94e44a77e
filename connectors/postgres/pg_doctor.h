#pragma once

// `smsbridge doctor` and the least-privilege GRANTs for a PostgreSQL source (DESIGN.md §3).
// Fact gathering (queries) is kept apart from evaluation (pure functions over the facts), so
// the verdicts and their fix statements are unit-tested without a server.
//
// Blocking: runDoctor() connects and queries; everything else is pure.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/doctor.h"
#include "connectors/postgres/pg_logical_source.h"

namespace smsbridge::postgres {

// Server and role facts, one query.
struct PgServerFacts {
  int version_num = 0;  // server_version_num, 150004 for 15.4
  std::string version;  // "15.4"
  std::string user;
  std::string database;
  bool superuser = false;
  bool replication = false;
  bool can_create_in_database = false;  // CREATE on the database: CREATE PUBLICATION needs it
  std::string wal_level;
  int max_replication_slots = 0;
  int slots_in_use = 0;
  int max_wal_senders = 0;
  int senders_in_use = 0;
};

// One captured table as the server has it.
struct PgTableFacts {
  std::string table;  // as configured
  bool exists = false;
  std::string qualified;  // as the server prints it (regclass), quoted where needed
  std::string owner;
  bool is_owner = false;  // the user is the owner or a member of the owning role
  bool can_select = false;
  bool can_trigger = false;
  char replica_identity = 'd';  // pg_class.relreplident: d(efault) n(othing) f(ull) i(ndex)
  std::set<std::string> identity_columns;  // the primary key, or the replica identity index
  std::set<std::string> columns;
  bool trigger_installed = false;  // the bridge's capture trigger is on the table
  bool in_publication = false;     // the bridge's publication has the table
};

struct PgSlotFacts {
  std::string plugin;
  std::string wal_status;           // reserved | extended | unreserved | lost (PG >= 13)
  std::int64_t retained_bytes = 0;  // WAL kept for the slot: current LSN - restart_lsn
};

// Above this much WAL retained by the bridge's slot, doctor warns: the bridge is behind or
// stopped, and the server's disk fills (cdc.md B1 #1).
inline constexpr std::int64_t kRetainedWalWarningBytes = std::int64_t{1} << 30;

// Pure evaluations. `capture` is logical | trigger | poll.
DoctorCheck checkVersion(const PgServerFacts& server, std::string_view capture);
DoctorCheck checkWalLevel(const PgServerFacts& server);
DoctorCheck checkReplicationCapacity(const PgServerFacts& server, bool slot_exists);
DoctorCheck checkReplicationRole(const PgServerFacts& server);
// CREATE PUBLICATION ... FOR TABLE needs the user to own every table and to have CREATE on the
// database. When the publication exists, every table must be in it.
DoctorCheck checkPublication(const PgServerFacts& server, const std::vector<PgTableFacts>& tables,
                             const LogicalNames& names, bool publication_exists);
DoctorCheck checkReplicaIdentity(const TableNeeds& needs, const PgTableFacts& table);
DoctorCheck checkSlot(const std::optional<PgSlotFacts>& slot, const LogicalNames& names,
                      std::int64_t warn_bytes = kRetainedWalWarningBytes);
// The capture trigger is installed, and setup can (re)install it.
DoctorCheck checkTrigger(const PgServerFacts& server, const PgTableFacts& table);
DoctorCheck checkSelect(const PgServerFacts& server, const PgTableFacts& table);
// The bridge's change table, for `trigger` capture. `schema` is where setup creates it.
DoctorCheck checkChangesTable(const PgServerFacts& server, const std::string& prefix, bool exists,
                              bool can_create_in_schema, const std::string& schema);

struct DoctorConfig {
  std::string dsn;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::string slot;         // the source's `slot` key; empty: the default name
  std::string publication;  // the source's `publication` key; empty: the default name
};

// Connects and runs every check for `request.capture`. A connection failure is one FAIL
// check carrying the error, never an exception.
std::vector<DoctorCheck> runDoctor(const DoctorConfig& config, const DoctorRequest& request);

// What a least-privilege role needs for `capture` on `tables`, as statements an administrator
// runs (comments start with "--"). `user` and `database` come from the DSN.
struct GrantRequest {
  std::string user;
  std::string database;
  std::string source;
  std::string capture;
  std::string prefix = "smsbridge_";
  std::vector<std::string> tables;
  bool holds_store = false;  // the store's tables live in this database too
  std::string slot;          // as in DoctorConfig
  std::string publication;
};
std::vector<std::string> grantStatements(const GrantRequest& request);

// The user and database a DSN names (libpq defaults where it names none).
std::pair<std::string, std::string> dsnUserAndDatabase(const std::string& dsn);

}  // namespace smsbridge::postgres
