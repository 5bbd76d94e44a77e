// smsbridge: turns business changes in a shop/ERP database into SMS.

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "app/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "smsbridge " SMSBRIDGE_VERSION
      ": captures business changes in a shop, ERP or booking database, turns them into SMS "
      "through YAML mappings, sends them through SMS providers with failover, and writes the "
      "delivery status back into the same database.",
      "smsbridge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SMSBRIDGE_VERSION);

  smsbridge::RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run",
      "Run the bridge: capture changes, enqueue and send SMS, apply delivery reports. "
      "Stops on SIGINT/SIGTERM after draining in-flight sends; exit 0.");
  run_cmd->add_option("-c,--config", run.config, "Config file (YAML)")->required();
  run_cmd->add_option("--log-level", run.log_level,
                      "Override log.level: trace, debug, info, warn, error, off");
  run_cmd->add_option("--log-format", run.log_format, "Override log.format: text or json");

  smsbridge::CheckOptions check;
  auto* check_cmd = app.add_subcommand(
      "check",
      "Validate a config file without touching any database or provider. Prints every problem "
      "as file:line:col: key.path: message. Exit 0 when valid, 1 otherwise.");
  check_cmd->add_option("-c,--config", check.config, "Config file (YAML)")->required();
  check_cmd->add_flag("-q,--quiet", check.quiet, "Print only problems");

  smsbridge::SetupOptions setup;
  auto* setup_cmd = app.add_subcommand(
      "setup",
      "Create or migrate the smsbridge_* store tables and install what each source's capture "
      "mode needs (e.g. triggers). Idempotent: safe to run again after changing mappings.");
  setup_cmd->add_option("-c,--config", setup.config, "Config file (YAML)")->required();
  setup_cmd->add_flag("--dry-run", setup.dry_run, "Print the SQL instead of running it");
  setup_cmd->add_flag("--set-replica-identity", setup.set_replica_identity,
                      "PostgreSQL logical capture: ALTER TABLE ... REPLICA IDENTITY FULL on "
                      "tables whose mappings read old values (old.*, changed(), crossed_*()), so "
                      "updates carry the row before the change. Without it setup prints the "
                      "statement instead.");

  smsbridge::DoctorOptions doctor;
  auto* doctor_cmd = app.add_subcommand(
      "doctor",
      "Connect to the store and every source and check what each source's capture mode needs: "
      "server version and settings (e.g. wal_level, binlog_format, sync_binlog), replication "
      "slot and publication, the user's privileges, replica identity, installed triggers, and "
      "that every mapped table and column exists. Prints one line per check (ok, warning, "
      "FAIL) and, for each problem, the statement or setting that fixes it. Exit 0 when "
      "nothing FAILs (warnings do not fail), 1 otherwise.");
  doctor_cmd->add_option("-c,--config", doctor.config, "Config file (YAML)")->required();

  smsbridge::TestMappingOptions test_mapping;
  auto* test_mapping_cmd = app.add_subcommand(
      "test-mapping",
      "Show the SMS a mapping would create for a row: recipient in E.164, text, encoding, "
      "segments, lane, route, schedule, dedup key, or why there is no job. Nothing is written "
      "and no provider is called; the database is only read, for the mapping's lookups and for "
      "--from-db.");
  test_mapping_cmd->add_option("-c,--config", test_mapping.config, "Config file (YAML)")
      ->required();
  test_mapping_cmd->add_option("-m,--mapping", test_mapping.mapping, "Mapping name")->required();
  auto* row_option =
      test_mapping_cmd->add_option("--row", test_mapping.row,
                                   "The row after the change, as a JSON object, e.g. "
                                   "'{\"status\": \"shipped\", \"phone\": \"600 700 800\"}'");
  test_mapping_cmd
      ->add_option("--from-db", test_mapping.from_db,
                   "Instead of --row: read the N most recent rows (highest primary key) of the "
                   "mapping's table from the real source and show what each would produce, "
                   "as an insert (or, for a mapping that does not run on inserts, as its "
                   "first operation without a before image)")
      ->check(CLI::Range(1, 10000))
      ->excludes(row_option);
  test_mapping_cmd->callback([&] {
    if (test_mapping.row.empty() && test_mapping.from_db == 0) {
      throw CLI::RequiredError("--row or --from-db");
    }
  });
  test_mapping_cmd->add_option("--old", test_mapping.old_row,
                               "The row before the change (JSON object); makes it an update");
  test_mapping_cmd->add_option("--op", test_mapping.op,
                               "insert, update or delete (default: update with --old, else "
                               "insert)");
  test_mapping_cmd->add_option("--pk", test_mapping.pk, "Primary key of the row (default 1)");

  smsbridge::SendOptions send;
  auto* send_cmd = app.add_subcommand(
      "send",
      "Send one SMS now through the configured providers and routes, to check credentials, "
      "sender IDs and routing. The number is normalised (defaults.region) and the text "
      "analysed (encoding, segments); then the SMS takes the daemon's path: the route's "
      "country rules, circuit breakers, failover, and retries of temporary failures for up "
      "to 30 s. Prints every attempt (provider, outcome, HTTP status, error, elapsed time) and "
      "the provider's message id. Does not wait for a delivery report. The job is kept in a "
      "private temporary store, never in the configured one, so a running daemon cannot "
      "claim or resend it. Exit 0 when a provider accepted the SMS, 1 otherwise.");
  send_cmd->add_option("-c,--config", send.config, "Config file (YAML)")->required();
  send_cmd->add_option("--to", send.to, "Recipient, e.g. +48600700800 or '600 700 800'")
      ->required();
  send_cmd->add_option("--text", send.text, "Message text (UTF-8)")->required();
  send_cmd->add_option("--lane", send.lane, "otp, transactional (default) or marketing")
      ->check(CLI::IsMember({"otp", "transactional", "marketing"}));
  send_cmd->add_option("--route", send.route,
                       "Route to send along (default: the only route, or 'default')");
  send_cmd->add_option("--sender", send.sender,
                       "Sender ID (default: defaults.sender, else the provider's)");

  auto* schema_cmd = app.add_subcommand(
      "config-schema", "Print every config key with its type, default and description (Markdown)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*run_cmd) {
      smsbridge::installEarlyStopHandler();
      return smsbridge::runCommand(run);
    }
    if (*check_cmd) return smsbridge::checkCommand(check);
    if (*setup_cmd) return smsbridge::setupCommand(setup);
    if (*doctor_cmd) return smsbridge::doctorCommand(doctor);
    if (*schema_cmd) return smsbridge::configSchemaCommand();
    if (*test_mapping_cmd) return smsbridge::testMappingCommand(test_mapping);
    if (*send_cmd) return smsbridge::sendCommand(send);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smsbridge: internal error: %s\n", e.what());
    return 70;
  }
  return 1;
}
