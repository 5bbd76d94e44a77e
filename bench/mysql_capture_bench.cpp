// Measures MySQL/MariaDB `binlog` capture (COM_BINLOG_DUMP -> the bridge's own row decoder ->
// map -> MysqlStore.enqueue with the checkpoint, the store in the shop's own database as by
// default) against the targets of issue 4, each next to a ceiling measured in the same run on
// the same server:
//
//   raw        the clients' single-row UPDATEs with nothing capturing, as the server is
//              configured (with sync_binlog=1 and innodb_flush_log_at_trx_commit=1 every commit
//              waits for two flushes, so on a slow disk this is an fsync rate);
//   drain      a backlog of committed UPDATEs, read from the binlog by the bridge and by the
//              server's own mariadb-binlog --read-from-remote-server (to /dev/null: framing and
//              text output, no row decoding, no store): capture capacity, independent of the
//              writers;
//   live       the clients writing as fast as they go while the bridge captures: events/s
//              until the last is enqueued;
//   latency    a paced offered load (default 1,000 events/s). Binlog event timestamps have
//              one-second resolution, so every UPDATE sets changed_at = UTC_TIMESTAMP(6), a
//              DATETIME(6) the server fills in as the statement runs, just before its commit;
//              the bridge decodes it from the row image, and the latency is the wall clock at
//              the moment its enqueue returned minus that (same machine, same clock). Also
//              printed: from the commit returning to the client to the enqueue returning;
//   memory     peak RSS of the process (the bridge side plus the small writer clients).
//
// Usage: build/bench/mysql_capture_bench [updates=100000] [clients=4] [rate=1000] [seconds=5]
//                                         [batch_size=500]
// The database comes from $SMSBRIDGE_TEST_MYSQL_DSN (scripts/test-services.sh start writes it
// to build/test-services.env); the user needs REPLICATION SLAVE, REPLICATION CLIENT / BINLOG
// MONITOR and CREATE/DROP. Everything it creates is dropped.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/capture_bench.h"
#include "connectors/mysql/mysql_binlog_source.h"
#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_store.h"
#include "core/clock.h"

namespace {

using namespace smsbridge;
using namespace smsbridge::bench;
using mysql::ConnectionOptions;

constexpr double kTargetEventsPerSecond = 5000;
constexpr double kTargetP99Ms = 100;
constexpr long kTargetRssKb = 64 * 1024;

std::unique_ptr<mysql::Connection> connect(const ConnectionOptions& options) {
  auto conn = mysql::Connection::connect(options);
  if (!conn) die(conn.error().toString());
  return std::move(*conn);
}

void exec(mysql::Connection& conn, const std::string& sql) {
  if (Status s = conn.exec(sql); !s.isOk()) die(sql + ": " + s.toString());
}

std::vector<mysql::ResultRow> query(mysql::Connection& conn, const std::string& sql) {
  auto rows = conn.query(sql);
  if (!rows) die(sql + ": " + rows.error().toString());
  return std::move(*rows);
}

std::string scalar(mysql::Connection& conn, const std::string& sql) {
  auto rows = query(conn, sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0].value_or("NULL");
}

mysql::BinlogPosition binlogEnd(mysql::Connection& conn) {
  auto rows = query(conn, "SHOW MASTER STATUS");
  if (rows.empty() || rows[0].size() < 2 || !rows[0][0] || !rows[0][1]) {
    die("SHOW MASTER STATUS returned no position (is log_bin on?)");
  }
  return mysql::BinlogPosition{*rows[0][0], static_cast<std::uint32_t>(std::stoul(*rows[0][1])),
                               ""};
}

// "2026-11-22 13:40:21.123456" (a DATETIME(6) in UTC) to a wall-clock time, to the microsecond
// (parseTimestamp stops at milliseconds).
std::optional<std::chrono::system_clock::time_point> fromDatetime6(const std::string& text) {
  auto t = parseTimestamp(text);
  if (!t) return std::nullopt;
  const auto dot = text.find('.');
  if (dot != std::string::npos && text.size() >= dot + 7) {
    *t += std::chrono::microseconds(std::atoi(text.substr(dot + 4, 3).c_str()));
  }
  return t;
}

struct Writers {
  ConnectionOptions options;
  std::string table;
  int clients = 4;
  int rows = 1000;
};

// `count` single-row UPDATEs by `w.clients` connections (autocommit, plain text statements),
// as a shop's web workers would make them. UPDATE i sets seq = seq_base + i. With `pace`,
// UPDATE i is due at start + i * pace (an offered load), and `committed_at[i]` receives the
// moment its commit returned. Returns the seconds taken.
double runUpdates(const Writers& w, int count, long long seq_base,
                  std::chrono::nanoseconds pace = {},
                  std::vector<SteadyClock::time_point>* committed_at = nullptr) {
  std::vector<std::thread> threads;
  auto start = SteadyClock::now();
  for (int c = 0; c < w.clients; ++c) {
    threads.emplace_back([&, c] {
      auto conn = connect(w.options);
      for (int i = c; i < count; i += w.clients) {
        if (pace.count() > 0) std::this_thread::sleep_until(start + i * pace);
        exec(*conn,
             "UPDATE " + w.table +
                 " SET status = status + 1, seq = " + std::to_string(seq_base + i) +
                 ", changed_at = UTC_TIMESTAMP(6) WHERE id = " + std::to_string(1 + i % w.rows));
        if (committed_at != nullptr) (*committed_at)[i] = SteadyClock::now();
      }
    });
  }
  for (auto& t : threads) t.join();
  return secondsSince(start);
}

std::string binlogReader() {
  for (const char* candidate : {"/usr/bin/mariadb-binlog", "/usr/bin/mysqlbinlog"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "mysqlbinlog";
}

// Reads the binlog from `from` to `to` over the replication protocol with the server's own
// client, writing its text form to /dev/null; returns its exit code.
int readBinlogRemotely(mysql::Connection& admin, const ConnectionOptions& o,
                       const mysql::BinlogPosition& from, const mysql::BinlogPosition& to) {
  std::string files;
  for (const auto& row : query(admin, "SHOW BINARY LOGS")) {
    const std::string file = row[0].value_or("");
    if (file >= from.file && file <= to.file) files += " '" + file + "'";
  }
  const std::string command =
      binlogReader() + " --no-defaults --read-from-remote-server --host='" + o.host +
      "' --port=" + std::to_string(o.port) + " --user='" + o.user + "' --password='" + o.password +
      "' --start-position=" + std::to_string(from.offset) +
      " --stop-position=" + std::to_string(to.offset) + files + " >/dev/null 2>&1";
  return std::system(command.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const CaptureArgs args = parseCaptureArgs(argc, argv, "SMSBRIDGE_TEST_MYSQL_DSN");
  const auto& [updates, clients, rate, latency_seconds, batch_size, rows, dsn] = args;
  auto options = mysql::parseDsn(dsn);
  if (!options) die(options.error().toString());
  const std::string tag = "bench" + std::to_string(getpid());
  const std::string raw_table = tag + "_raw", table = tag + "_orders", prefix = tag + "_sb_";
  auto admin = connect(*options);
  for (const auto& t : {raw_table, table}) {
    exec(*admin, "CREATE TABLE " + t +
                     " (id INT PRIMARY KEY, status INT NOT NULL, phone VARCHAR(32) NOT NULL, seq "
                     "BIGINT NOT NULL DEFAULT 0, changed_at DATETIME(6) NULL) ENGINE=InnoDB");
    exec(*admin, "INSERT INTO " + t +
                     " (id, status, phone) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + "
                     "1 FROM g WHERE n < " +
                     std::to_string(rows) + ") SELECT n, 0, '+48601234567' FROM g");
  }
  std::printf(
      "smsbridge mysql_capture_bench: %d single-row UPDATEs per phase by %d clients on %d rows; "
      "batch_size=%d; server %s sync_binlog=%s innodb_flush_log_at_trx_commit=%s "
      "binlog_row_metadata=%s\n",
      updates, clients, rows, batch_size, scalar(*admin, "SELECT VERSION()").c_str(),
      scalar(*admin, "SELECT @@global.sync_binlog").c_str(),
      scalar(*admin, "SELECT @@global.innodb_flush_log_at_trx_commit").c_str(),
      scalar(*admin, "SELECT @@global.binlog_row_metadata").c_str());

  // Ceiling: the server alone.
  const double raw_rate =
      updates / runUpdates(Writers{*options, raw_table, clients, rows}, updates, 0);

  mysql::BinlogSourceConfig config;
  config.name = "shop";
  config.connection = *options;
  config.tables = {table};
  config.prefix = prefix;
  config.batch_size = batch_size;
  // Unique among the server's replicas (a bench running beside a test must not evict it).
  config.server_id = 3'900'000'000u + static_cast<std::uint32_t>(getpid() % 100000);
  auto source = mysql::MysqlBinlogSource::create(config);
  if (!source) die(source.error().toString());
  auto store = mysql::MysqlStore::create(*options, prefix);
  if (!store) die(store.error().toString());
  if (Status s = (*store)->migrate(); !s.isOk()) die(s.toString());
  auto engine = orderStatusMappings(table);
  const Writers writers{*options, table, clients, rows};

  // Drain: a committed backlog, then the bridge and mariadb-binlog each read it.
  const mysql::BinlogPosition backlog_start = binlogEnd(*admin);
  runUpdates(writers, updates, 1);
  const mysql::BinlogPosition backlog_end = binlogEnd(*admin);
  const long long latency_base = 1'000'000'000;
  const int latency_events = rate * latency_seconds;
  std::vector<SteadyClock::time_point> committed_at(latency_events), enqueued_at(latency_events);
  std::vector<double> changed_to_enqueued_ms;
  changed_to_enqueued_ms.reserve(latency_events);
  CaptureThread bridge(**source, **store, *engine);
  auto start = SteadyClock::now();
  if (Status s = (*source)->start(backlog_start.toString()); !s.isOk()) die(s.toString());
  // The latency phase's UPDATE i sets seq = latency_base + i.
  bridge.start([&](const ChangeBatch& batch) {
    const auto now = SteadyClock::now();
    const auto wall = std::chrono::system_clock::now();
    for (const ChangeEvent& e : batch.events) {
      const Value* seq = e.after ? e.after->find("seq") : nullptr;
      const Value* changed = e.after ? e.after->find("changed_at") : nullptr;
      if (seq == nullptr || !seq->isInt() || seq->asInt() < latency_base) continue;
      auto i = static_cast<std::size_t>(seq->asInt() - latency_base);
      if (i < enqueued_at.size()) enqueued_at[i] = now;
      auto changed_at = changed != nullptr && changed->isString()
                            ? fromDatetime6(changed->asString())
                            : std::nullopt;
      if (!changed_at) die("a captured row has no readable changed_at");
      changed_to_enqueued_ms.push_back(
          std::chrono::duration<double, std::milli>(wall - *changed_at).count());
    }
  });
  bridge.waitFor(updates);
  const double drain_rate = updates / secondsSince(start);
  // Not skewed by what else the machine runs, unlike the rate.
  const double bridge_us_per_change = bridge.cpuSeconds() * 1e6 / updates;
  const long drain_batches = bridge.batches();
  const std::string drain_breakdown = bridge.breakdown();
  start = SteadyClock::now();
  const int rc = readBinlogRemotely(*admin, *options, backlog_start, backlog_end);
  const double reader_rate = updates / secondsSince(start);

  // Live: the clients write while the bridge captures.
  start = SteadyClock::now();
  const double live_write_seconds = runUpdates(writers, updates, 1);
  bridge.waitFor(2L * updates);
  const double live_rate = updates / secondsSince(start);

  // Latency at an offered load.
  runUpdates(writers, latency_events, latency_base,
             std::chrono::nanoseconds(1'000'000'000LL / std::max(rate, 1)), &committed_at);
  bridge.waitFor(2L * updates + latency_events);
  bridge.stop();
  std::vector<double> commit_to_enqueued_ms;
  for (int i = 0; i < latency_events; ++i) {
    commit_to_enqueued_ms.push_back(std::max(
        0.0, std::chrono::duration<double, std::milli>(enqueued_at[i] - committed_at[i]).count()));
  }
  std::sort(commit_to_enqueued_ms.begin(), commit_to_enqueued_ms.end());
  std::sort(changed_to_enqueued_ms.begin(), changed_to_enqueued_ms.end());
  const long rss_kb = peakRssKb();
  const double p99 = percentile(changed_to_enqueued_ms, 0.99);

  std::printf("  ceiling  raw UPDATEs, as the server is configured  %9.0f updates/s\n", raw_rate);
  if (rc == 0) {
    std::printf("  ceiling  %s of the backlog (remote)   %9.0f changes/s\n",
                binlogReader().substr(binlogReader().rfind('/') + 1).c_str(), reader_rate);
  } else {
    std::printf("  ceiling  %s failed (exit %d); not measured\n", binlogReader().c_str(), rc);
  }
  std::printf(
      "  drain    bridge drains the backlog (%ld batches)    %9.0f events/s  target >= %.0f "
      "%s; %.2f of the binlog reader\n",
      drain_batches, drain_rate, kTargetEventsPerSecond,
      verdict(drain_rate >= kTargetEventsPerSecond), rc == 0 ? drain_rate / reader_rate : 0);
  std::printf("           where the drain's time went: %s\n", drain_breakdown.c_str());
  std::printf("  cost     CPU per change in the drain: capture thread %.1f us\n",
              bridge_us_per_change);
  std::printf("  live     clients write while the bridge captures   %9.0f updates/s  %.2f of raw\n",
              updates / live_write_seconds, (updates / live_write_seconds) / raw_rate);
  std::printf(
      "  live     committed -> enqueued, sustained           %9.0f events/s  target >= %.0f "
      "%s; %.2f of raw\n",
      live_rate, kTargetEventsPerSecond, verdict(live_rate >= kTargetEventsPerSecond),
      live_rate / raw_rate);
  std::printf(
      "  latency  changed_at -> enqueued at %d events/s offered  p50 %.1f ms  p99 %.1f ms  max "
      "%.1f ms  target p99 <= %.0f ms %s\n",
      rate, percentile(changed_to_enqueued_ms, 0.50), p99,
      changed_to_enqueued_ms.empty() ? 0 : changed_to_enqueued_ms.back(), kTargetP99Ms,
      verdict(!changed_to_enqueued_ms.empty() && p99 <= kTargetP99Ms));
  std::printf(
      "           commit returned -> enqueued                 p50 %.1f ms  p99 %.1f ms  max "
      "%.1f ms\n",
      percentile(commit_to_enqueued_ms, 0.50), percentile(commit_to_enqueued_ms, 0.99),
      commit_to_enqueued_ms.empty() ? 0 : commit_to_enqueued_ms.back());
  std::printf(
      "  memory   peak RSS of the bench process (bridge side) %7ld kB  target <= %ld kB %s\n",
      rss_kb, kTargetRssKb, verdict(rss_kb >= 0 && rss_kb <= kTargetRssKb));
  std::printf(
      "  note     live can go no faster than the writers: with sync_binlog=1 and "
      "innodb_flush_log_at_trx_commit=1 each single-row commit waits for its flushes (raw "
      "ceiling above); the drain is the capture capacity\n");

  source->reset();
  store->reset();
  exec(*admin, "SET FOREIGN_KEY_CHECKS = 0");  // the store's tables reference each other
  for (const auto& row :
       query(*admin,
             "SELECT table_name FROM information_schema.tables WHERE table_schema = "
             "DATABASE() AND table_name LIKE '" +
                 tag + "%'")) {
    exec(*admin, "DROP TABLE IF EXISTS `" + row[0].value_or("") + "`");
  }
  return 0;
}
