#pragma once

// `smsbridge doctor` and the least-privilege GRANTs for a MySQL / MariaDB source (DESIGN.md §3,
// cdc.md C2). Fact gathering (SHOW GLOBAL VARIABLES, SHOW GRANTS, information_schema) is kept
// apart from evaluation (pure functions over the facts), so the verdicts and their fix
// statements are unit-tested without a server.
//
// Blocking: runDoctor() connects and queries; everything else is pure.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/doctor.h"
#include "connectors/mysql/mysql_connection.h"

namespace smsbridge::mysql {

struct MysqlServerFacts {
  std::string version;  // SELECT VERSION(): "10.11.6-MariaDB-0+deb12u1"
  bool mariadb = false;
  unsigned long version_num = 0;  // 101106 for 10.11.6
  std::string user;               // CURRENT_USER(): "shop@%"
  std::string database;
  std::map<std::string, std::string> variables;  // SHOW GLOBAL VARIABLES, names lower case
  std::vector<std::string> grants;               // SHOW GRANTS FOR CURRENT_USER()
};

// One `GRANT ... ON ... TO` line. `db` and `table` are "*" for the wildcard; `db` may be a
// LIKE pattern (`shop\_%`). Column privileges ("SELECT (a, b)") are left out: they do not
// cover a whole table.
struct GrantLine {
  std::set<std::string> privileges;  // upper case, "ALL PRIVILEGES" as "ALL"
  std::string db;
  std::string table;
};
std::vector<GrantLine> parseGrants(const std::vector<std::string>& lines);
// Whether the grants give `privilege` on `db`.`table` (table "*": on the whole database; db
// "*": globally).
bool hasPrivilege(const std::vector<GrantLine>& grants, std::string_view privilege,
                  const std::string& db, const std::string& table);

// 'user'@'host' for GRANT statements, from CURRENT_USER()'s "user@host".
std::string grantee(const std::string& current_user);

// Pure evaluations. `capture` is binlog | trigger | poll.
DoctorCheck checkVersion(const MysqlServerFacts& server);
DoctorCheck checkLogBin(const MysqlServerFacts& server);
DoctorCheck checkBinlogFormat(const MysqlServerFacts& server);
DoctorCheck checkBinlogRowImage(const MysqlServerFacts& server);
DoctorCheck checkBinlogRowMetadata(const MysqlServerFacts& server);
DoctorCheck checkSyncBinlog(const MysqlServerFacts& server);
// `replica_ids`: server_ids SHOW SLAVE HOSTS lists (nullopt: the user may not list them).
DoctorCheck checkServerId(const MysqlServerFacts& server,
                          const std::optional<std::vector<std::uint32_t>>& replica_ids,
                          std::uint32_t bridge_id);
// What the binlog retention check weighs against the server's expiry setting.
struct BinlogRetentionFacts {
  std::string checkpoint;  // the stored position ("binlog.000042:1234;gtid=0-1-9"), or empty
  std::optional<std::chrono::seconds> checkpoint_age;  // since the store saved it
  // SHOW BINARY LOGS, oldest first; the last one is the file the server writes now (nullopt:
  // not readable by this user).
  std::optional<std::vector<std::string>> binary_logs;
  // Where the recovery statement deletes the checkpoint.
  std::string source;
  std::string checkpoints_table = "smsbridge_checkpoints";
};
// FAIL when the checkpoint's file is no longer on the server (its changes are lost to the
// bridge; the fix lists the recovery steps). A warning when the checkpoint sits in a file the
// server no longer writes and is older than half the retention (the bridge is stopped or far
// behind, and the file will be purged), or when retention itself is shorter than a weekend.
DoctorCheck checkBinlogRetention(const MysqlServerFacts& server, const BinlogRetentionFacts& facts);
// For the source that holds the store: whether several bridge instances can claim jobs side
// by side (SKIP LOCKED) or only one at a time (mysql_store.h, ClaimLocking).
DoctorCheck checkJobClaiming(const MysqlServerFacts& server);
DoctorCheck checkReplicationGrants(const MysqlServerFacts& server);
DoctorCheck checkTablePrivilege(const MysqlServerFacts& server, std::string_view privilege,
                                const std::string& table);
// Creating triggers while the binlog is on needs SUPER or log_bin_trust_function_creators.
DoctorCheck checkTriggerCreation(const MysqlServerFacts& server);
DoctorCheck checkIsolation(const MysqlServerFacts& server);

struct DoctorConfig {
  ConnectionOptions connection;
  std::uint32_t replica_server_id = 0;  // the source's `server_id` key (binlog mode)
};

// Connects and runs every check for `request.capture`. A connection failure is one FAIL
// check carrying the error, never an exception.
std::vector<DoctorCheck> runDoctor(const DoctorConfig& config, const DoctorRequest& request);

// What a least-privilege user needs for `capture` on `tables`, as GRANT statements (comments
// start with "--"). `user` and `database` come from the DSN; the host is '%' unless known.
struct GrantRequest {
  std::string user;
  std::string host = "%";
  std::string database;
  std::string capture;
  std::string prefix = "smsbridge_";
  std::vector<std::string> tables;
  bool holds_store = false;  // the store's tables live in this database too
};
std::vector<std::string> grantStatements(const GrantRequest& request);

}  // namespace smsbridge::mysql
