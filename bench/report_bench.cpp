// Delivery-report ingest on the PostgreSQL store: reports/s that JobStore::applyDeliveryReports
// moves from `sent` to a final status, in batches as a webhook server would hand them over,
// next to the ceiling measured in the same run: one bare UPDATE ... FROM unnest per batch over
// the same rows, without matching, locking or parking. Target (issue 7): >= 5,000 reports/s.
//
// Each round enqueues and sends `reports` jobs through the store (not timed), then applies one
// report per job: half by provider message id, a quarter by a differently-cased id (the
// normalised match), a quarter by our job id (SMSAPI idx), plus 2% unknown ids that are parked.
//
// The database comes from $SMSBRIDGE_TEST_PG_DSN (scripts/test-services.sh start writes it to
// build/test-services.env). Usage: build/bench/report_bench [reports=20000] [batch=200]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "connectors/postgres/pg_store.h"

namespace {

using namespace smsbridge;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void die(const std::string& message) {
  std::fprintf(stderr, "report_bench: %s\n", message.c_str());
  std::exit(1);
}

SmsJob makeJob(int i) {
  SmsJob j;
  j.dedup_key = "bench|" + std::to_string(i);
  j.source = "shop";
  j.mapping = "order_shipped";
  j.entity_table = "orders";
  j.entity_id = std::to_string(i);
  j.recipient = "+48600" + std::to_string(100000 + i % 900000);
  j.body = "Your order " + std::to_string(i) + " has shipped.";
  j.segments = 1;
  j.route = "default";
  j.created_at = std::chrono::system_clock::now();
  j.not_before = j.created_at;
  return j;
}

// Enqueues, claims and records `count` jobs (numbered from `first`) as sent by smsapi with ids
// "MSG-<job id>".
std::vector<std::int64_t> sendJobs(JobStore& store, int first, int count) {
  std::vector<std::int64_t> ids;
  for (int i = first; i < first + count; i += 500) {
    std::vector<SmsJob> jobs;
    for (int k = i; k < std::min(first + count, i + 500); ++k) jobs.push_back(makeJob(k));
    if (auto r = store.enqueue(jobs, {"shop", ""}); !r) die(r.error().toString());
    auto claimed = store.claimDue(Lane::kTransactional, 500, "bench", std::chrono::minutes(5),
                                  std::chrono::system_clock::now());
    if (!claimed) die(claimed.error().toString());
    std::vector<JobOutcome> outcomes;
    for (const SmsJob& job : *claimed) {
      JobOutcome o;
      o.job_id = job.id;
      o.status = JobStatus::kSent;
      o.provider = "smsapi";
      o.provider_message_id = "MSG-" + std::to_string(job.id);
      outcomes.push_back(o);
      ids.push_back(job.id);
    }
    for (const Status& s :
         store.recordOutcomes(outcomes, "bench", std::chrono::system_clock::now())) {
      if (!s.isOk()) die(s.toString());
    }
  }
  return ids;
}

std::vector<DeliveryReport> reportsFor(const std::vector<std::int64_t>& ids) {
  std::vector<DeliveryReport> reports;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    DeliveryReport r;
    r.provider = "smsapi";
    r.status = JobStatus::kDelivered;
    r.provider_status = "DELIVERED";
    r.reported_at = std::chrono::system_clock::now();
    switch (i % 4) {
      case 0:
      case 1:
        r.provider_message_id = "MSG-" + std::to_string(ids[i]);
        break;
      case 2:
        r.provider_message_id = "msg-" + std::to_string(ids[i]) + " ";
        break;
      default:
        r.job_id = ids[i];
        break;
    }
    reports.push_back(r);
    if (i % 50 == 0) {
      DeliveryReport unknown = r;
      unknown.job_id = 0;
      unknown.provider_message_id = "UNKNOWN-" + std::to_string(ids[i]);
      reports.push_back(unknown);
    }
  }
  return reports;
}

void dropTables(const std::string& dsn, const std::string& prefix) {
  pqxx::connection conn(dsn);
  pqxx::nontransaction txn(conn);
  txn.exec("SET client_min_messages = warning");
  for (const char* t : {"attempts", "messages", "checkpoints", "shadow", "optouts", "inbound",
                        "reports_parked", "schema"}) {
    txn.exec("DROP TABLE IF EXISTS " + prefix + t + " CASCADE");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 200;
  const char* env = std::getenv("SMSBRIDGE_TEST_PG_DSN");
  if (!env || !*env) {
    die("set SMSBRIDGE_TEST_PG_DSN (e.g. source build/test-services.env after "
        "scripts/test-services.sh start)");
  }
  const std::string dsn = env;
  std::random_device random;
  const std::string prefix = "rbench" + std::to_string(random() % 1'000'000) + "_";
  auto store = postgres::PostgresStore::create(dsn, prefix, std::chrono::seconds(5));
  if (!store) die(store.error().toString());
  if (Status s = (*store)->migrate(); !s.isOk()) die(s.toString());

  // The store's path.
  std::vector<std::int64_t> ids = sendJobs(**store, 0, count);
  std::vector<DeliveryReport> reports = reportsFor(ids);
  auto start = Clock::now();
  std::size_t applied = 0, parked = 0;
  for (std::size_t i = 0; i < reports.size(); i += batch) {
    std::span<const DeliveryReport> slice(reports.data() + i,
                                          std::min<std::size_t>(batch, reports.size() - i));
    auto effects = (*store)->applyDeliveryReports(slice, std::chrono::system_clock::now());
    if (!effects) die(effects.error().toString());
    for (ReportEffect e : *effects) {
      applied += e == ReportEffect::kApplied;
      parked += e == ReportEffect::kParked;
    }
  }
  const double store_seconds = secondsSince(start);

  // The ceiling: the same number of rows moved by one bare statement per batch.
  std::vector<std::int64_t> ceiling_ids = sendJobs(**store, count, count);
  pqxx::connection conn(dsn);
  start = Clock::now();
  for (std::size_t i = 0; i < ceiling_ids.size(); i += batch) {
    std::string list;
    for (std::size_t k = i; k < std::min(ceiling_ids.size(), i + batch); ++k) {
      list += (list.empty() ? "" : ",") + std::to_string(ceiling_ids[k]);
    }
    pqxx::work txn(conn);
    txn.exec("UPDATE " + prefix + "messages m SET status = 'delivered', updated_at = now(), " +
             "final_at = now() FROM unnest('{" + list +
             "}'::bigint[]) AS c(id) WHERE m.id = " + "c.id AND m.status = 'sent'");
    txn.commit();
  }
  const double ceiling_seconds = secondsSince(start);
  dropTables(dsn, prefix);

  if (applied != ids.size()) {
    die("expected " + std::to_string(ids.size()) + " applied reports, got " +
        std::to_string(applied));
  }
  std::printf("delivery reports: %zu in batches of %d (%zu applied, %zu parked)\n", reports.size(),
              batch, applied, parked);
  std::printf("  store:   %8.0f reports/s  (applyDeliveryReports, target >= 5000)\n",
              reports.size() / store_seconds);
  std::printf("  ceiling: %8.0f rows/s     (one bare UPDATE ... FROM unnest per batch)\n",
              ceiling_ids.size() / ceiling_seconds);
  return 0;
}
