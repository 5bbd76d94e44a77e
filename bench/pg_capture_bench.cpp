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
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/pg_logical_source.h"
#include "connectors/postgres/pg_store.h"
#include "core/mapping.h"

namespace {

using namespace smsbridge;
using Clock = std::chrono::steady_clock;

constexpr double kTargetEventsPerSecond = 10000;
constexpr double kTargetP99Ms = 50;
constexpr long kTargetRssKb = 64 * 1024;
constexpr int kSyncCeilingSample = 5000;

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
                  std::vector<Clock::time_point>* committed_at = nullptr) {
  std::vector<std::thread> threads;
  auto start = Clock::now();
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
        if (committed_at != nullptr) (*committed_at)[i] = Clock::now();
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

long procStatusKb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::string(field).size());
  }
  return -1;
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

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
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

// The bridge's capture loop as app/run.cpp runs it (poll, map, enqueue with the checkpoint,
// acknowledge), on its own thread. For every enqueued change with seq >= latency_base it notes
// when the enqueue returned, in enqueued_at[seq - latency_base].
class Bridge {
 public:
  Bridge(postgres::PgLogicalSource& source, postgres::PostgresStore& store,
         const MappingEngine& engine)
      : source_(source), store_(store), engine_(engine) {}
  ~Bridge() { stop(); }

  void start(long long latency_base, std::vector<Clock::time_point>* enqueued_at) {
    latency_base_ = latency_base;
    enqueued_at_ = enqueued_at;
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits until `total` jobs are enqueued since the bridge was created. Woken per batch rather
  // than polling: on a 2-core box a thread waking every 200 us takes CPU from the capture.
  void waitFor(long total) {
    for (long seen = progress_; enqueued_ < total && !failed_; seen = progress_) {
      progress_.wait(seen);
    }
    if (failed_) die("capture failed");
  }
  long batches() const { return batches_; }
  // CPU seconds the capture thread used up to its latest enqueue.
  double cpuSeconds() const { return cpu_seconds_; }
  // Seconds spent in each step of non-empty batches so far: where the time goes.
  std::string breakdown() const {
    auto sec = [](long long ns) { return static_cast<double>(ns) / 1e9; };
    char text[160];
    std::snprintf(text, sizeof text, "read+decode %.2f s, map %.2f s, enqueue %.2f s, ack %.2f s",
                  sec(poll_ns_), sec(map_ns_), sec(enqueue_ns_), sec(ack_ns_));
    return text;
  }

 private:
  void loop() {
    while (!stopping_) {
      auto t0 = Clock::now();
      auto batch = source_.poll(std::chrono::milliseconds(100));
      auto t1 = Clock::now();
      if (!batch) {
        std::fprintf(stderr, "poll: %s\n", batch.error().toString().c_str());
        fail();
        return;
      }
      if (batch->position.empty()) continue;
      auto jobs = engine_.map(batch->events, std::chrono::system_clock::now());
      auto t2 = Clock::now();
      auto r = store_.enqueue(jobs, Checkpoint{"shop", batch->position});
      auto t3 = Clock::now();
      if (!r) {
        std::fprintf(stderr, "enqueue: %s\n", r.error().toString().c_str());
        fail();
        return;
      }
      auto now = Clock::now();
      if (enqueued_at_ != nullptr) {
        for (const ChangeEvent& e : batch->events) {
          const Value* seq = e.after ? e.after->find("seq") : nullptr;
          if (seq == nullptr || !seq->isInt() || seq->asInt() < latency_base_) continue;
          auto i = static_cast<std::size_t>(seq->asInt() - latency_base_);
          if (i < enqueued_at_->size()) (*enqueued_at_)[i] = now;
        }
      }
      ++batches_;
      cpu_seconds_ = threadCpuSeconds();
      enqueued_ += r->inserted;
      ++progress_;
      progress_.notify_all();
      if (Status s = source_.acknowledge(batch->position); !s.isOk()) {
        std::fprintf(stderr, "acknowledge: %s\n", s.toString().c_str());
      }
      poll_ns_ += (t1 - t0).count();
      map_ns_ += (t2 - t1).count();
      enqueue_ns_ += (t3 - t2).count();
      ack_ns_ += (Clock::now() - t3).count();
    }
  }

  void fail() {
    failed_ = true;
    ++progress_;
    progress_.notify_all();
  }

  postgres::PgLogicalSource& source_;
  postgres::PostgresStore& store_;
  const MappingEngine& engine_;
  long long latency_base_ = 0;
  std::vector<Clock::time_point>* enqueued_at_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> failed_{false};
  std::atomic<long> enqueued_{0};
  std::atomic<long> batches_{0};
  std::atomic<long> progress_{0};  // bumped after every batch and on failure, for waitFor()
  std::atomic<double> cpu_seconds_{0};
  std::atomic<long long> poll_ns_{0}, map_ns_{0}, enqueue_ns_{0}, ack_ns_{0};
};

const char* verdict(bool ok) { return ok ? "ok" : "MISSED"; }

}  // namespace

int main(int argc, char** argv) {
  const int updates = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 4;
  const int rate = argc > 3 ? std::atoi(argv[3]) : 1000;
  const int latency_seconds = argc > 4 ? std::atoi(argv[4]) : 5;
  const int batch_size = argc > 5 ? std::atoi(argv[5]) : 500;  // the sources' batch_size default
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
  auto engine = mappings(table);
  Writers writers{dsn, table, clients, rows, false};

  // Drain: a committed backlog, then the bridge and pg_recvlogical each read it from its slot.
  runUpdates(writers, updates, 1);
  const std::string backlog_end = scalar(admin, "SELECT pg_current_wal_lsn()");
  const long long latency_base = 1'000'000'000;
  const int latency_events = rate * latency_seconds;
  std::vector<Clock::time_point> committed_at(latency_events), enqueued_at(latency_events);
  Bridge bridge(**source, **store, *engine);
  auto start = Clock::now();
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
  bridge.start(latency_base, &enqueued_at);
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
  start = Clock::now();
  std::string command = recvlogicalBinary() + " -d '" + dsn + "' --slot " + recv_slot +
                        " --start --no-loop -o proto_version=1 -o publication_names=" + prefix +
                        "pub_shop -f /dev/null --endpos " + backlog_end + " >/dev/null 2>&1";
  const int rc = std::system(command.c_str());
  const double recv_rate = updates / secondsSince(start);

  // Live: the clients write while the bridge captures.
  start = Clock::now();
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
  auto percentile = [&](double p) {
    return latency_ms.empty()
               ? 0.0
               : latency_ms[std::min(
                     latency_ms.size() - 1,
                     static_cast<std::size_t>(p * static_cast<double>(latency_ms.size())))];
  };
  const long rss_kb = procStatusKb("VmHWM:");

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
      rate, percentile(0.50), percentile(0.99), latency_ms.empty() ? 0 : latency_ms.back(),
      kTargetP99Ms, verdict(percentile(0.99) <= kTargetP99Ms));
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
