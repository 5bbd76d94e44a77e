// Measures PostgreSQL `logical` capture end to end: single-row UPDATEs from several clients
// become durably enqueued jobs (pgoutput → decode → map → PostgresStore.enqueue with the
// checkpoint → acknowledge), next to two ceilings measured in the same run on the same server:
//   - raw: the same UPDATEs by the same clients with nothing capturing them;
//   - pg_recvlogical: PostgreSQL's own client draining the same WAL from a second pgoutput slot
//     to /dev/null (no decoding, no store).
// The bridge runs while the clients write, so its figure is "UPDATEs committed and enqueued".
//
// Usage: build/bench/pg_capture_bench [updates=100000] [clients=4]
// The database comes from $SMSBRIDGE_TEST_PG_DSN (scripts/test-services.sh start writes it to
// build/test-services.env); the role needs REPLICATION. Everything it creates is dropped.

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/pg_logical_source.h"
#include "connectors/postgres/pg_store.h"
#include "core/mapping.h"

namespace {

using namespace smsbridge;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pg_capture_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string scalar(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    die(sql + ": " + error);
  }
  std::string v = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return v;
}

PGconn* connect(const std::string& dsn) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) die(PQerrorMessage(conn));
  scalar(conn, "SET client_min_messages = warning");
  return conn;
}

// `clients` connections, each committing its share of single-row UPDATEs (autocommit, one
// prepared statement), as a shop's web workers would. Returns the seconds taken.
double runUpdates(const std::string& dsn, const std::string& table, int updates, int clients,
                  int rows) {
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      PGconn* conn = connect(dsn);
      PGresult* p = PQprepare(
          conn, "u", ("UPDATE " + table + " SET status = status + 1 WHERE id = $1").c_str(), 1,
          nullptr);
      if (PQresultStatus(p) != PGRES_COMMAND_OK) die(PQresultErrorMessage(p));
      PQclear(p);
      for (int i = c; i < updates; i += clients) {
        std::string id = std::to_string(1 + i % rows);
        const char* values[] = {id.c_str()};
        PGresult* r = PQexecPrepared(conn, "u", 1, values, nullptr, nullptr, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die(PQresultErrorMessage(r));
        PQclear(r);
      }
      PQfinish(conn);
    });
  }
  for (auto& t : threads) t.join();
  return secondsSince(start);
}

std::shared_ptr<MappingEngine> mappings(const std::string& table) {
  MappingSpec spec;
  spec.name = "status_changed";
  spec.source = "shop";
  spec.table = table;
  spec.on = {"update"};
  spec.when = "status != old.status";
  spec.to = "{{ phone }}";
  spec.text = "Order {{ id }} is now in status {{ status }}.";
  MappingDefaults defaults;
  defaults.region = "PL";
  auto m = Mapping::compile(spec, defaults, [](std::string_view key, std::size_t, std::string msg) {
    die("mapping " + std::string(key) + ": " + msg);
  });
  std::vector<Mapping> list;
  list.push_back(std::move(*m));
  return std::make_shared<MappingEngine>(std::move(list));
}

long peakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

std::string recvlogicalBinary() {
  for (const char* candidate :
       {"/usr/lib/postgresql/15/bin/pg_recvlogical", "/usr/bin/pg_recvlogical"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "pg_recvlogical";
}

}  // namespace

int main(int argc, char** argv) {
  const int updates = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 4;
  const int rows = 1000;
  const char* env = std::getenv("SMSBRIDGE_TEST_PG_DSN");
  if (env == nullptr || *env == '\0') {
    die("set SMSBRIDGE_TEST_PG_DSN (e.g. source build/test-services.env after "
        "scripts/test-services.sh start)");
  }
  const std::string dsn = env;
  const std::string tag = "bench" + std::to_string(getpid());
  const std::string raw_table = tag + "_raw", table = tag + "_orders", prefix = tag + "_sb_";
  const std::string recv_slot = tag + "_recv";
  PGconn* admin = connect(dsn);
  for (const auto& t : {raw_table, table}) {
    scalar(admin,
           "CREATE TABLE " + t + " (id int PRIMARY KEY, status int NOT NULL, phone text NOT NULL)");
    scalar(admin, "INSERT INTO " + t + " SELECT g, 0, '+48601234567' FROM generate_series(1, " +
                      std::to_string(rows) + ") g");
  }
  std::printf("smsbridge pg_capture_bench: %d single-row UPDATEs by %d clients on %d rows\n",
              updates, clients, rows);

  // Ceiling 1: the server alone.
  double raw_seconds = runUpdates(dsn, raw_table, updates, clients, rows);

  // The bridge's publication and slot (setup), plus a second slot for pg_recvlogical.
  postgres::LogicalSourceConfig config;
  config.name = "shop";
  config.dsn = dsn;
  config.tables = {table};
  config.prefix = prefix;
  auto source = postgres::PgLogicalSource::create(config);
  if (!source) die(source.error().toString());
  (*source)->setBeforeImageTables({table}, /*apply=*/true);
  if (Status s = (*source)->setup(); !s.isOk()) die(s.toString());
  scalar(admin, "SELECT pg_create_logical_replication_slot('" + recv_slot + "', 'pgoutput')");
  auto store = postgres::PostgresStore::create(dsn, prefix, std::chrono::seconds(10));
  if (!store) die(store.error().toString());
  if (Status s = (*store)->migrate(); !s.isOk()) die(s.toString());
  if (Status s = (*source)->start(""); !s.isOk()) die(s.toString());
  auto engine = mappings(table);

  // The bridge: capture while the clients write, until every UPDATE is a durable job.
  std::atomic<long> enqueued{0};
  std::atomic<bool> failed{false};
  auto start = Clock::now();
  std::thread capture([&] {
    while (enqueued < updates) {
      auto batch = (*source)->poll(std::chrono::milliseconds(100));
      if (!batch) {
        std::fprintf(stderr, "poll: %s\n", batch.error().toString().c_str());
        failed = true;
        return;
      }
      if (batch->position.empty()) continue;
      auto jobs = engine->map(batch->events, std::chrono::system_clock::now());
      auto r = (*store)->enqueue(jobs, Checkpoint{"shop", batch->position});
      if (!r) {
        std::fprintf(stderr, "enqueue: %s\n", r.error().toString().c_str());
        failed = true;
        return;
      }
      enqueued += r->inserted;
      if (Status s = (*source)->acknowledge(batch->position); !s.isOk()) {
        std::fprintf(stderr, "acknowledge: %s\n", s.toString().c_str());
      }
    }
  });
  double write_seconds = runUpdates(dsn, table, updates, clients, rows);
  capture.join();
  double bridge_seconds = secondsSince(start);
  if (failed) die("capture failed");
  const std::string end_lsn = scalar(admin, "SELECT pg_current_wal_lsn()");

  // Ceiling 2: PostgreSQL's own client draining the same WAL (includes its connect time).
  start = Clock::now();
  std::string command = recvlogicalBinary() + " -d '" + dsn + "' --slot " + recv_slot +
                        " --start --no-loop -o proto_version=1 -o publication_names=" + prefix +
                        "pub_shop -f /dev/null --endpos " + end_lsn + " >/dev/null 2>&1";
  int rc = std::system(command.c_str());
  double recv_seconds = secondsSince(start);

  double raw_rate = updates / raw_seconds;
  double bridge_rate = updates / bridge_seconds;
  double recv_rate = updates / recv_seconds;
  std::printf("  ceiling  raw UPDATEs, nothing capturing            %10.0f updates/s\n", raw_rate);
  if (rc == 0) {
    std::printf("  ceiling  pg_recvlogical drain of the same WAL      %10.0f changes/s\n",
                recv_rate);
  } else {
    std::printf("  ceiling  pg_recvlogical failed (exit %d); not measured\n", rc);
  }
  std::printf(
      "  clients  UPDATEs while the bridge captures         %10.0f updates/s  (%.2f of raw)\n",
      updates / write_seconds, (updates / write_seconds) / raw_rate);
  std::printf("  bridge   UPDATE committed -> job enqueued          %10.0f jobs/s  (%.2f of raw",
              bridge_rate, bridge_rate / raw_rate);
  if (rc == 0) std::printf(", %.2f of pg_recvlogical", bridge_rate / recv_rate);
  std::printf(")\n  memory   peak RSS of the bench process (bridge side) %8ld kB\n", peakRssKb());

  source->reset();
  for (int i = 0; i < 50; ++i) {
    if (scalar(admin, "SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('" +
                          config.prefix + "slot_shop', '" + recv_slot + "') AND active") == "0") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  scalar(admin,
         "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
         "slot_name IN ('" +
             config.prefix + "slot_shop', '" + recv_slot + "')");
  scalar(admin, "DROP PUBLICATION IF EXISTS " + prefix + "pub_shop");
  scalar(admin,
         "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE "
         "schemaname = 'public' AND tablename LIKE '" +
             tag +
             "%' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t) || ' "
             "CASCADE'; END LOOP; END $$");
  PQfinish(admin);
  return 0;
}
