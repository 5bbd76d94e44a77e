// Measures the durable path of the bridge on SQLite and the mapping engine, each next to a
// ceiling measured in the same run on the same disk (these machines are noisy; ratios hold):
//   - enqueue: JobStore::enqueue (jobs + checkpoint, one transaction per batch) vs. raw INSERTs
//     of rows of the same shape in transactions of the same size;
//   - dispatch bookkeeping: claimDue + recordOutcomes per claimed batch (what the dispatcher
//     does each round), vs. the same raw ceiling;
//   - mapping: events/s of a typical order mapping (when + template + phone + segments).
//
// Usage: build/bench/store_bench [jobs=20000] [batch=50]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "connectors/sqlite/sqlite_db.h"
#include "connectors/sqlite/sqlite_store.h"
#include "core/mapping.h"

namespace {

using namespace smsbridge;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void die(const Status& s) {
  std::fprintf(stderr, "store_bench: %s\n", s.toString().c_str());
  std::exit(1);
}

SmsJob makeJob(int i) {
  SmsJob j;
  j.dedup_key = "order_shipped|shop|orders|" + std::to_string(i) + "|" + std::to_string(i);
  j.source = "shop";
  j.mapping = "order_shipped";
  j.entity_table = "orders";
  j.entity_id = std::to_string(i);
  j.recipient_raw = "600 700 800";
  j.recipient = "+48600700800";
  j.sender = "DemoShop";
  j.body = "Hi Anna, your order SO-" + std::to_string(i) + " has shipped. Total: 129.90 EUR.";
  j.segments = 1;
  j.route = "default";
  j.created_at = std::chrono::system_clock::now();
  j.not_before = j.created_at;
  return j;
}

// The same rows through the bare SQLite API: what the disk and SQLite allow at best.
double rawInsertRate(const std::string& path, int jobs, int batch) {
  auto db = sqlite::Database::open(path, sqlite::Database::OpenMode::kCreateIfMissing,
                                   std::chrono::milliseconds(5000));
  if (!db) die(db.error());
  auto& d = **db;
  if (Status s = d.exec("PRAGMA journal_mode=WAL"); !s.isOk()) die(s);
  if (Status s = d.exec("PRAGMA synchronous=FULL"); !s.isOk()) die(s);
  if (Status s = d.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, a TEXT, b TEXT, "
                        "c TEXT, d TEXT, e TEXT, f TEXT, g INTEGER)");
      !s.isOk())
    die(s);
  auto start = Clock::now();
  for (int i = 0; i < jobs; i += batch) {
    if (Status s = d.beginWrite(); !s.isOk()) die(s);
    auto st = d.prepare("INSERT INTO t (k, a, b, c, d, e, f, g) VALUES (?,?,?,?,?,?,?,?)");
    if (!st) die(st.error());
    for (int k = i; k < std::min(jobs, i + batch); ++k) {
      SmsJob j = makeJob(k);
      st->reset();
      st->bind(1, j.dedup_key)
          .bind(2, j.source)
          .bind(3, j.mapping)
          .bind(4, j.recipient)
          .bind(5, j.body)
          .bind(6, j.sender)
          .bind(7, j.route)
          .bind(8, j.segments);
      if (Status s = st->run(); !s.isOk()) die(s);
    }
    if (Status s = d.commit(); !s.isOk()) die(s);
  }
  return jobs / secondsSince(start);
}

Mapping orderMapping() {
  MappingSpec spec;
  spec.name = "order_shipped";
  spec.source = "shop";
  spec.table = "orders";
  spec.on = {"update"};
  spec.when = "status == 'shipped' and old.status != 'shipped'";
  spec.to = "{{ phone }}";
  spec.region = "{{ country }}";
  spec.text =
      "Hi {{ name }}, your order {{ number }} has shipped. Total: {{ total | round(2) }} EUR.";
  MappingDefaults defaults;
  defaults.region = "PL";
  auto m = Mapping::compile(spec, defaults, [](std::string_view key, std::size_t, std::string msg) {
    std::fprintf(stderr, "mapping %s: %s\n", std::string(key).c_str(), msg.c_str());
  });
  if (!m) std::exit(1);
  return std::move(*m);
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = argc > 1 ? std::atoi(argv[1]) : 20000;
  int batch = argc > 2 ? std::atoi(argv[2]) : 50;
  auto dir =
      std::filesystem::temp_directory_path() / ("smsbridge-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);

  std::printf("smsbridge store_bench: %d jobs, batches of %d, SQLite WAL + synchronous=FULL\n",
              jobs, batch);
  // Measured before and after the store runs, keeping the better: the first writes to a fresh
  // file are often slower, and a ceiling must not be understated.
  double ceiling = rawInsertRate((dir / "raw1.db").string(), jobs, batch);

  auto store = sqlite::SqliteStore::create((dir / "store.db").string(), "smsbridge_",
                                           std::chrono::milliseconds(5000));
  if (!store) die(store.error());
  if (Status s = (*store)->migrate(); !s.isOk()) die(s);
  auto start = Clock::now();
  for (int i = 0; i < jobs; i += batch) {
    std::vector<SmsJob> chunk;
    for (int k = i; k < std::min(jobs, i + batch); ++k) chunk.push_back(makeJob(k));
    auto r = (*store)->enqueue(chunk, {"shop", std::to_string(i + batch)});
    if (!r) die(r.error());
  }
  double enqueue = jobs / secondsSince(start);
  ceiling = std::max(ceiling, rawInsertRate((dir / "raw2.db").string(), jobs, batch));
  std::printf("  ceiling  raw INSERT, same rows and batch size     %10.0f rows/s\n", ceiling);
  std::printf(
      "  enqueue  jobs + checkpoint per transaction        %10.0f jobs/s  (%.2f of ceiling)\n",
      enqueue, enqueue / ceiling);

  start = Clock::now();
  int done = 0;
  while (done < jobs) {
    auto now = std::chrono::system_clock::now();
    auto claimed =
        (*store)->claimDue(Lane::kTransactional, batch, "bench", std::chrono::seconds(60), now);
    if (!claimed) die(claimed.error());
    if (claimed->empty()) break;
    std::vector<JobOutcome> outcomes;
    for (const SmsJob& j : *claimed) {
      JobOutcome o;
      o.job_id = j.id;
      o.status = JobStatus::kSent;
      o.provider = "sandbox";
      o.provider_message_id = "p-" + std::to_string(j.id);
      o.attempts.resize(1);
      o.attempts[0].provider = "sandbox";
      o.attempts[0].outcome = "accepted";
      outcomes.push_back(std::move(o));
    }
    for (const Status& s : (*store)->recordOutcomes(outcomes, "bench", now)) {
      if (!s.isOk()) die(s);
    }
    done += static_cast<int>(outcomes.size());
  }
  double dispatch = done / secondsSince(start);
  std::printf(
      "  dispatch claim + record outcomes per round      %10.0f jobs/s  (%.2f of ceiling)\n",
      dispatch, dispatch / ceiling);

  Mapping mapping = orderMapping();
  ChangeEvent event;
  event.source = "shop";
  event.table = "orders";
  event.op = Op::kUpdate;
  event.pk = "1001";
  event.before =
      Row{{"id", 1001},      {"number", "SO-1001"},    {"name", "Anna"}, {"phone", "600 700 800"},
          {"country", "PL"}, {"status", "processing"}, {"total", 129.9}};
  event.after = *event.before;
  event.after->set("status", "shipped");
  const int kEvents = 200000;
  start = Clock::now();
  std::size_t produced = 0;
  for (int i = 0; i < kEvents; ++i) {
    event.position = std::to_string(i);
    if (auto job = mapping.apply(event, std::chrono::system_clock::now()))
      produced += job->segments;
  }
  double mapped = kEvents / secondsSince(start);
  std::printf(
      "  mapping  when + template + phone + segments      %10.0f events/s (target >= "
      "100000 per core; %.2fx)\n",
      mapped, mapped / 100000.0);
  if (produced != static_cast<std::size_t>(kEvents)) std::fprintf(stderr, "unexpected jobs\n");
  std::filesystem::remove_all(dir);
  return 0;
}
