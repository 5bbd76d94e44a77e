#pragma once

// One function per CLI command; each returns the process exit code. main.cpp parses the
// command line and calls them.

#include <string>

namespace smsbridge {

struct RunOptions {
  std::string config;
  std::string log_level;   // overrides log.level when set
  std::string log_format;  // overrides log.format when set
};
int runCommand(const RunOptions& options);
// Catches SIGINT/SIGTERM from process start until `run` installs its own handling, so a stop
// requested during start-up is a clean stop rather than a kill.
void installEarlyStopHandler();

struct CheckOptions {
  std::string config;
  bool quiet = false;
};
int checkCommand(const CheckOptions& options);

struct SetupOptions {
  std::string config;
  bool dry_run = false;
  // Make the tables whose mappings read old values send full before images (PostgreSQL
  // logical capture: REPLICA IDENTITY FULL); without it setup only prints the statement.
  bool set_replica_identity = false;
};
int setupCommand(const SetupOptions& options);

struct DoctorOptions {
  std::string config;
};
// Exit 0 when no check failed (warnings do not fail), 1 otherwise.
int doctorCommand(const DoctorOptions& options);

int configSchemaCommand();

struct TestMappingOptions {
  std::string config;
  std::string mapping;
  std::string row;      // JSON object: the row after the change
  std::string old_row;  // JSON object: the row before (makes the change an update)
  std::string op;       // insert | update | delete; default from whether --old is given
  std::string pk = "1";
  int from_db = 0;  // > 0: map this many of the table's most recent rows instead of --row
};
int testMappingCommand(const TestMappingOptions& options);

struct SendOptions {
  std::string config;
  std::string to;      // as a record would hold it; normalised with defaults.region
  std::string text;    // UTF-8
  std::string lane;    // otp | transactional | marketing; default transactional
  std::string route;   // default: the only route, or the one named `default`
  std::string sender;  // default: defaults.sender, then the provider's own
};
// Sends one SMS through the configured routes and providers, printing every attempt. Exit 0
// when a provider accepted it, 1 otherwise. The job lives in a private temporary store.
int sendCommand(const SendOptions& options);

}  // namespace smsbridge
