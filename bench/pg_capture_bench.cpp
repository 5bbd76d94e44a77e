// Measures PostgreSQL `logical` capture (pgoutput -> decode -> map -> PostgresStore.enqueue
// with the checkpoint -> acknowledge) against the targets of issue 3, each next to a ceiling
// measured in the same run on the same server:
//
//   raw        the clients' single-row UPDATEs with nothing capturing, once as the server is
//              configured (synchronous_commit=on: every commit waits for its WAL flush, so on a
//              slow disk this is an fsync rate, not a PostgreSQL rate) and once with
//              synchronous_commit=off in the clients' sessions (the WAL the server can produce);
//   drain      a backlog of committed UPDATEs, drained by the bridge from its slot and by
//              PostgreSQL's own pg_recvlogical (to /dev/null: no decoding, no store) from a
//              second slot over the same WAL: capture capacity, independent of the writers;
//   live       the clients writing (synchronous_commit=off, so they are not the bottleneck)
//              while the bridge captures: "events/s sustained", until the last is enqueued;
//   latency    a paced offered load (default 1,000 events/s, the server's own
//              synchronous_commit) while the bridge captures: per UPDATE, from the moment its
//              commit returned to the client to the moment the bridge's enqueue of it returned;
//   memory     peak RSS of the process (bridge side plus the small libpq writer clients).
//
// Beside the drain it prints the seconds each step of the capture loop took and the WAL the
// store wrote per job: on the reference box the enqueue (store statement plus its durable
// commit) is most of the time, and its WAL is the part of that cost no CPU contention hides.
//
// Usage: build/bench/pg_capture_bench [updates=100000] [clients=4] [rate=1000] [seconds=5]
//                                      [batch_size=500]
// The database comes from $SMSBRIDGE_TEST_PG_DSN (scripts/test-services.sh start writes it to
// build/test-services.env); the role needs REPLICATION. Everything it creates is dropped.

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/capture_bench.h"
#include "connectors/postgres/pg_logical_source.h"
#include "connectors/postgres/pg_store.h"

namespace {

using namespace smsbridge;
using namespace smsbridge::bench;

constexpr double kTargetEventsPerSecond = 10000;
constexpr double kTargetP99Ms = 50;
constexpr long kTargetRssKb = 64 * 1024;
constexpr int kSyncCeilingSample = 5000;

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

struct Writers {
  std::string dsn;
  std::string table;
  int clients = 4;
  int rows = 1000;
  bool synchronous_commit = true;  // false: SET synchronous_commit = off in each session
};

// `count` single-row UPDATEs by `w.clients` connections (autocommit, one prepared statement),
// as a shop's web workers would make them. UPDATE i sets seq = seq_base + i. With `pace`, UPDATE
// i is due at start + i * pace (an offered load), and `committed_at[i]` receives the moment its
// commit returned. Returns the seconds taken.
double runUpdates(const Writers& w, int count, long long seq_base,
                  std::chrono::nanoseconds pace = {},
                  std::vector<SteadyClock::time_point>* committed_at = nullptr) {
  std::vector<std::thread> threads;
  auto start = SteadyClock::now();
  for (int c = 0; c < w.clients; ++c) {
    threads.emplace_back([&, c] {
      PGconn* conn = connect(w.dsn);
      if (!w.synchronous_commit) scalar(conn, "SET synchronous_commit = off");
      PGresult* p = PQprepare(
          conn, "u",
          ("UPDATE " + w.table + " SET status = status + 1, seq = $2 WHERE id = $1").c_str(), 2,
          nullptr);
      if (PQresultStatus(p) != PGRES_COMMAND_OK) die(PQresultErrorMessage(p));
      PQclear(p);
      for (int i = c; i < count; i += w.clients) {
        if (pace.count() > 0) std::this_thread::sleep_until(start + i * pace);
        std::string id = std::to_string(1 + i % w.rows);
        std::string seq = std::to_string(seq_base + i);
        const char* values[] = {id.c_str(), seq.c_str()};
        PGresult* r = PQexecPrepared(conn, "u", 2, values, nullptr, nullptr, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die(PQresultErrorMessage(r));
        PQclear(r);
        if (committed_at != nullptr) (*committed_at)[i] = SteadyClock::now();
      }
      PQfinish(conn);
    });
  }
  for (auto& t : threads) t.join();
  return secondsSince(start);
}

// CPU seconds (user + system) process `pid` of this machine has used; -1 when unreadable (a
// server on another host, or /proc hidden).
double processCpuSeconds(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');  // the command name may hold spaces
  if (pid.empty() || paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::atof(field.c_str());  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// `dsn` with application_name set, so the server's backends for it can be found.
std::string withApplicationName(const std::string& dsn, const std::string& name) {
  if (dsn.find("://") == std::string::npos) return dsn + " application_name=" + name;
  return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
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
  const CaptureArgs args = parseCaptureArgs(argc, argv, "SMSBRIDGE_TEST_PG_DSN");
  const auto& [updates, clients, rate, latency_seconds, batch_size, rows, dsn] = args;
  const std::string tag = "bench" + std::to_string(getpid());
  const std::string raw_table = tag + "_raw", table = tag + "_orders", prefix = tag + "_sb_";
  const std::string recv_slot = tag + "_recv";
  PGconn* admin = connect(dsn);
  for (const auto& t : {raw_table, table}) {
    scalar(admin, "CREATE TABLE " + t +
                      " (id int PRIMARY KEY, status int NOT NULL, phone text NOT NULL, seq bigint "
                      "NOT NULL DEFAULT 0)");
    scalar(admin, "INSERT INTO " + t + " SELECT g, 0, '+48601234567' FROM generate_series(1, " +
                      std::to_string(rows) + ") g");
  }
  std::printf(
      "smsbridge pg_capture_bench: %d single-row UPDATEs per phase by %d clients on %d rows; "
      "batch_size=%d; server synchronous_commit=%s fsync=%s\n",
      updates, clients, rows, batch_size, scalar(admin, "SHOW synchronous_commit").c_str(),
      scalar(admin, "SHOW fsync").c_str());

  // Ceilings: the server alone, with and without a WAL flush per commit. The flushing one is
  // a rate of fsyncs, steady after a few thousand commits; all 100,000 took four minutes of
  // every run on the reference box, so it is measured on a sample.
  Writers raw{dsn, raw_table, clients, rows, true};
  const int sync_sample = std::min(updates, kSyncCeilingSample);
  const double raw_sync_rate = sync_sample / runUpdates(raw, sync_sample, 0);
  raw.synchronous_commit = false;
  const double raw_async_rate = updates / runUpdates(raw, updates, 0);

  // The bridge's publication and slot (setup), plus a second slot for pg_recvlogical.
  postgres::LogicalSourceConfig config;
  config.name = "shop";
  config.dsn = withApplicationName(dsn, tag + "_capture");
  config.tables = {table};
  config.prefix = prefix;
  config.batch_size = batch_size;
  auto source = postgres::PgLogicalSource::create(config);
  if (!source) die(source.error().toString());
  (*source)->setBeforeImageTables({table}, /*apply=*/true);
  if (Status s = (*source)->setup(); !s.isOk()) die(s.toString());
  scalar(admin, "SELECT pg_create_logical_replication_slot('" + recv_slot + "', 'pgoutput')");
  auto store = postgres::PostgresStore::create(withApplicationName(dsn, tag + "_store"), prefix,
                                               std::chrono::seconds(10));
  if (!store) die(store.error().toString());
  if (Status s = (*store)->migrate(); !s.isOk()) die(s.toString());
  auto engine = orderStatusMappings(table);
  Writers writers{dsn, table, clients, rows, false};

  // Drain: a committed backlog, then the bridge and pg_recvlogical each read it from its slot.
  runUpdates(writers, updates, 1);
  const std::string backlog_end = scalar(admin, "SELECT pg_current_wal_lsn()");
  const long long latency_base = 1'000'000'000;
  const int latency_events = rate * latency_seconds;
  std::vector<SteadyClock::time_point> committed_at(latency_events), enqueued_at(latency_events);
  CaptureThread bridge(**source, **store, *engine);
  auto start = SteadyClock::now();
  if (Status s = (*source)->start(""); !s.isOk()) die(s.toString());
  // The CPU each process of the drain spends per change: unlike rates, not skewed by what
  // else the machine runs. The walsender starts decoding as start() returns, a few changes
  // before its first reading.
  const std::string store_pid = scalar(
      admin, "SELECT pid FROM pg_stat_activity WHERE application_name = '" + tag + "_store'");
  const std::string walsender_pid =
      scalar(admin, "SELECT pid FROM pg_stat_activity WHERE application_name = '" + tag +
                        "_capture' AND backend_type = 'walsender'");
  const double store_cpu_start = processCpuSeconds(store_pid);
  const double walsender_cpu_start = processCpuSeconds(walsender_pid);
  // The latency phase's UPDATE i sets seq = latency_base + i.
  bridge.start([&](const ChangeBatch& batch) {
    const auto now = SteadyClock::now();
    for (const ChangeEvent& e : batch.events) {
      const Value* seq = e.after ? e.after->find("seq") : nullptr;
      if (seq == nullptr || !seq->isInt() || seq->asInt() < latency_base) continue;
      auto i = static_cast<std::size_t>(seq->asInt() - latency_base);
      if (i < enqueued_at.size()) enqueued_at[i] = now;
    }
  });
  bridge.waitFor(updates);
  const double drain_rate = updates / secondsSince(start);
  auto microsPerChange = [&](double cpu_start, double cpu_end) {
    return cpu_start < 0 || cpu_end < 0 ? -1.0 : (cpu_end - cpu_start) * 1e6 / updates;
  };
  const double bridge_us = microsPerChange(0, bridge.cpuSeconds());
  const double store_us = microsPerChange(store_cpu_start, processCpuSeconds(store_pid));
  const double walsender_us =
      microsPerChange(walsender_cpu_start, processCpuSeconds(walsender_pid));
  // Nothing else writes meanwhile, so the WAL of the drain is the store's: what each durable
  // enqueue costs the server's disk, however busy the CPUs are.
  const double store_wal_per_job =
      std::atof(scalar(admin, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '" + backlog_end + "')")
                    .c_str()) /
      updates;
  const long drain_batches = bridge.batches();
  const std::string drain_breakdown = bridge.breakdown();
  start = SteadyClock::now();
  std::string command = recvlogicalBinary() + " -d '" + dsn + "' --slot " + recv_slot +
                        " --start --no-loop -o proto_version=1 -o publication_names=" + prefix +
                        "pub_shop -f /dev/null --endpos " + backlog_end + " >/dev/null 2>&1";
  const int rc = std::system(command.c_str());
  const double recv_rate = updates / secondsSince(start);

  // Live: the clients write while the bridge captures.
  start = SteadyClock::now();
  const double live_write_seconds = runUpdates(writers, updates, 1);
  bridge.waitFor(2L * updates);
  const double live_rate = updates / secondsSince(start);

  // Latency at an offered load, with the server's own commit durability.
  writers.synchronous_commit = true;
  runUpdates(writers, latency_events, latency_base,
             std::chrono::nanoseconds(1'000'000'000LL / std::max(rate, 1)), &committed_at);
  bridge.waitFor(2L * updates + latency_events);
  bridge.stop();
  std::vector<double> latency_ms;
  for (int i = 0; i < latency_events; ++i) {
    latency_ms.push_back(std::max(
        0.0, std::chrono::duration<double, std::milli>(enqueued_at[i] - committed_at[i]).count()));
  }
  std::sort(latency_ms.begin(), latency_ms.end());
  const long rss_kb = peakRssKb();

  std::printf(
      "  ceiling  raw UPDATEs, synchronous_commit=on          %9.0f updates/s  (%d of them)\n",
      raw_sync_rate, sync_sample);
  std::printf("  ceiling  raw UPDATEs, synchronous_commit=off         %9.0f updates/s\n",
              raw_async_rate);
  if (rc == 0) {
    std::printf("  ceiling  pg_recvlogical drain of the backlog          %9.0f changes/s\n",
                recv_rate);
  } else {
    std::printf("  ceiling  pg_recvlogical failed (exit %d); not measured\n", rc);
  }
  std::printf(
      "  drain    bridge drains the backlog (%ld batches)    %9.0f events/s  target >= "
      "%.0f %s; %.2f of pg_recvlogical\n",
      drain_batches, drain_rate, kTargetEventsPerSecond,
      verdict(drain_rate >= kTargetEventsPerSecond), rc == 0 ? drain_rate / recv_rate : 0);
  std::printf("           where the drain's time went: %s\n", drain_breakdown.c_str());
  std::printf("           WAL the store wrote per enqueued job: %.0f bytes\n", store_wal_per_job);
  if (store_us >= 0 && walsender_us >= 0) {
    // The capture thread waits for each enqueue, so it and the store backend take turns; the
    // walsender decodes alongside.
    std::printf(
        "  cost     CPU per change in the drain: capture thread %.1f us, store backend %.1f us, "
        "walsender %.1f us; with a free core each: %.0f events/s\n",
        bridge_us, store_us, walsender_us,
        1e6 / std::max(bridge_us + store_us, std::max(walsender_us, 1e-3)));
  } else {
    std::printf(
        "  cost     CPU per change: capture thread %.1f us; the server's processes are "
        "not readable here\n",
        bridge_us);
  }
  std::printf(
      "  live     clients write while the bridge captures   %9.0f updates/s  %.2f of raw "
      "(sync off)\n",
      updates / live_write_seconds, (updates / live_write_seconds) / raw_async_rate);
  std::printf(
      "  live     committed -> enqueued, sustained           %9.0f events/s  target >= "
      "%.0f %s; %.2f of raw (sync off)\n",
      live_rate, kTargetEventsPerSecond, verdict(live_rate >= kTargetEventsPerSecond),
      live_rate / raw_async_rate);
  std::printf(
      "  latency  commit -> enqueued at %d events/s offered   p50 %.1f ms  p99 %.1f ms  max "
      "%.1f ms  target p99 <= %.0f ms %s\n",
      rate, percentile(latency_ms, 0.50), percentile(latency_ms, 0.99),
      latency_ms.empty() ? 0 : latency_ms.back(), kTargetP99Ms,
      verdict(percentile(latency_ms, 0.99) <= kTargetP99Ms));
  std::printf(
      "  memory   peak RSS of the bench process (bridge side) %7ld kB  target <= %ld kB %s\n",
      rss_kb, kTargetRssKb, verdict(rss_kb >= 0 && rss_kb <= kTargetRssKb));
  std::printf(
      "  note     raw sync on/off = %.2f: with synchronous_commit=on each commit waits for "
      "its WAL flush, so the clients, not capture, set the pace\n",
      raw_sync_rate / raw_async_rate);

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
