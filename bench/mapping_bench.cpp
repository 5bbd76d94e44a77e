// Mapping throughput: a typical order mapping (a `when` on the status transition, a template of
// four fields with filters, phone normalisation of varied national and international numbers,
// segment counting), run through MappingEngine::map in batches, as the capture thread calls it.
// One thread, so the figures are events/s per core. Target (issue 5): >= 100,000/s.
//
// Two workloads: orders from 1,000 returning customers (numbers repeat, core/phone's cache
// answers), and every order a new number (each is classified afresh: by core/phone's fast path,
// libphonenumber's metadata compiled with RE2, for the common shapes, by libphonenumber itself for
// the rest, here the national numbers starting with the calling code). Three ceilings are
// measured in the same run, so the figures can be read on a noisy machine:
//   - copy: copying the same events, the least any per-event work costs (memory traffic);
//   - libphonenumber: its Parse + IsValidNumber + GetNumberType + Format on the same numbers with
//     no cache, what every new number cost before the fast path (ICU regular expressions);
//   - fast path: core/phone's fast path alone on the same numbers, no cache, no fallback.
//
// Usage: build/bench/mapping_bench [--benchmark_min_time=2] [other Google Benchmark flags]

#include <benchmark/benchmark.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/mapping.h"
#include "core/phone_fast_path.h"

namespace {

using namespace smsbridge;

constexpr std::size_t kBatch = 100;  // events per map() call, a busy capture batch
constexpr double kTarget = 100'000;  // events/s per core

// Numbers as shops store them: national with spaces or dashes, international with + or 00,
// national already prefixed with the country code. `%` is replaced by the event's digits.
struct NumberPattern {
  const char* country;
  const char* raw;
};
constexpr NumberPattern kNumbers[] = {
    {"PL", "600 %%% %%%"},       {"PL", "+48 512-%%%-%%%"},  {"PL", "0048 50% %%% %%%"},
    {"PL", "48 66%%%%%%%"},      {"DE", "0151 2%%%%%%%"},    {"DE", "+49 170 %%%%%%%"},
    {"GB", "07400 1%%%%%"},      {"GB", "+44 7400 %%%%%%"},  {"FR", "06 1% %% %% %%"},
    {"FR", "+33 6 4% %% %% %%"}, {"CZ", "+420 601 %%% %%%"}, {"US", "+1 (201) 555-%%%%"},
    {"ES", "6%% %%% %%%"},       {"IT", "+39 347 %%% %%%%"}, {"NL", "06-1%%%%%%%"},
    {"PL", "(+48) 601 %%% %%%"},
};
constexpr const char* kNames[] = {"anna",  "JONAS", "Łukasz", "emily", "Zoë",
                                  "marek", "Chloé", "Piotr",  "Ewa",   "José"};

std::string fill(std::string pattern, unsigned seed) {
  for (char& c : pattern) {
    if (c != '%') continue;
    c = static_cast<char>('0' + seed % 10);
    seed = seed / 10 + seed % 7 * 1000003u;  // different digits per position and per event
  }
  return pattern;
}

// `count` updates of distinct orders to 'shipped'. `customers` == 0: every order has its own
// number; otherwise the orders come from that many customers, numbers repeating.
std::vector<ChangeEvent> makeEvents(std::size_t count, std::size_t customers) {
  std::vector<ChangeEvent> events;
  events.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t customer = customers == 0 ? i : i * 7 % customers;
    const NumberPattern& number = kNumbers[customer % std::size(kNumbers)];
    const auto id = static_cast<std::int64_t>(100000 + i);
    ChangeEvent e;
    e.source = "shop";
    e.table = "orders";
    e.op = Op::kUpdate;
    e.pk = std::to_string(id);
    e.position = "0/" + std::to_string(0x1000000 + i * 512);
    e.before = Row{{"id", id},
                   {"number", "SO-" + std::to_string(id)},
                   {"name", kNames[customer % std::size(kNames)]},
                   {"phone", fill(number.raw, static_cast<unsigned>(customer * 7919 + 13))},
                   {"country", number.country},
                   {"status", "processing"},
                   {"total", std::to_string(20 + i % 400) + "." + std::to_string(i % 10) + "9"},
                   {"currency", i % 3 == 0 ? "EUR" : "PLN"},
                   {"updated_at", "2026-11-20 10:15:00"}};
    e.after = *e.before;
    e.after->set("status", "shipped");
    events.push_back(std::move(e));
  }
  return events;
}

MappingEngine orderEngine() {
  MappingSpec spec;
  spec.name = "order_shipped";
  spec.source = "shop";
  spec.table = "orders";
  spec.on = {"update"};
  spec.when = "status == 'shipped' and old.status != 'shipped'";
  spec.to = "{{ phone }}";
  spec.region = "{{ country }}";
  spec.text =
      "Hi {{ name | capitalize }}, your order {{ number }} has shipped. "
      "Total: {{ total | money(2) }} {{ currency }}.";
  MappingDefaults defaults;
  defaults.region = "PL";
  defaults.sender = "DemoShop";
  auto m = Mapping::compile(spec, defaults, [](std::string_view key, std::size_t, std::string msg) {
    std::fprintf(stderr, "mapping_bench: %s: %s\n", std::string(key).c_str(), msg.c_str());
  });
  if (!m) std::exit(1);
  std::vector<Mapping> mappings;
  mappings.push_back(std::move(*m));
  return MappingEngine(std::move(mappings));
}

constexpr std::size_t kEvents = 20 * 1024;  // more numbers than core/phone's cache holds
constexpr std::size_t kReturningCustomers = 1000;

// Worst case: every order a new number, so none is answered by core/phone's cache.
const std::vector<ChangeEvent>& distinctNumbers() {
  static const std::vector<ChangeEvent> all = makeEvents(kEvents, 0);
  return all;
}

// A shop whose orders come from returning customers: the phone cache answers most numbers.
const std::vector<ChangeEvent>& returningCustomers() {
  static const std::vector<ChangeEvent> all = makeEvents(kEvents, kReturningCustomers);
  return all;
}

const TimePoint kNow =
    std::chrono::sys_days{std::chrono::November / 20 / 2026} + std::chrono::hours(10);

// Every event must make a queued job, or the benchmark would time rejections.
void checkEveryEventIsSent(const MappingEngine& engine, const std::vector<ChangeEvent>& all) {
  std::vector<SmsJob> jobs = engine.map(all, kNow);
  std::size_t queued = 0;
  for (const SmsJob& job : jobs) {
    if (job.status == JobStatus::kQueued) {
      ++queued;
    } else {
      std::fprintf(stderr, "mapping_bench: %s %s: %s\n", job.recipient_raw.c_str(),
                   std::string(statusName(job.status)).c_str(), job.status_reason.c_str());
    }
  }
  if (queued != all.size()) {
    std::fprintf(stderr, "mapping_bench: %zu of %zu events made a queued job\n", queued,
                 all.size());
    std::exit(1);
  }
}

void mapBatches(benchmark::State& state, const std::vector<ChangeEvent>& all) {
  const MappingEngine engine = orderEngine();
  checkEveryEventIsSent(engine, all);
  std::size_t offset = 0;
  for (auto _ : state) {
    std::span<const ChangeEvent> batch(all.data() + offset, kBatch);
    std::vector<SmsJob> jobs = engine.map(batch, kNow);
    benchmark::DoNotOptimize(jobs.data());
    offset = (offset + kBatch) % (all.size() - kBatch);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
void BM_MapDistinctNumbers(benchmark::State& state) { mapBatches(state, distinctNumbers()); }
BENCHMARK(BM_MapDistinctNumbers);

void BM_MapReturningCustomers(benchmark::State& state) { mapBatches(state, returningCustomers()); }
BENCHMARK(BM_MapReturningCustomers);

// Ceiling: copying the batch's events (the rows the mapping reads, its strings) costs this.
void BM_CeilingCopyEvents(benchmark::State& state) {
  const auto& all = distinctNumbers();
  std::size_t offset = 0;
  for (auto _ : state) {
    std::vector<ChangeEvent> copy(all.begin() + static_cast<std::ptrdiff_t>(offset),
                                  all.begin() + static_cast<std::ptrdiff_t>(offset + kBatch));
    benchmark::DoNotOptimize(copy.data());
    offset = (offset + kBatch) % (all.size() - kBatch);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_CeilingCopyEvents);

// Ceiling: libphonenumber alone on the same numbers, each parsed afresh.
void BM_CeilingPhoneLibrary(benchmark::State& state) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  const auto& all = distinctNumbers();
  std::size_t i = 0;
  for (auto _ : state) {
    const Row& row = *all[i].after;
    PhoneNumber parsed;
    std::string e164;
    util.Parse(row.find("phone")->asString(), row.find("country")->asString(), &parsed);
    benchmark::DoNotOptimize(util.IsValidNumber(parsed));
    benchmark::DoNotOptimize(util.GetNumberType(parsed));
    util.Format(parsed, PhoneNumberUtil::E164, &e164);
    benchmark::DoNotOptimize(e164.data());
    i = (i + 1) % all.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CeilingPhoneLibrary);

// Ceiling: core/phone's fast path alone on the same numbers, each classified afresh. The numbers
// it leaves to libphonenumber cost only the look that defers them here.
void BM_CeilingPhoneFastPath(benchmark::State& state) {
  const auto& all = distinctNumbers();
  std::size_t i = 0;
  for (auto _ : state) {
    const Row& row = *all[i].after;
    auto answer =
        classifyCommonPhoneShape(row.find("phone")->asString(), row.find("country")->asString());
    benchmark::DoNotOptimize(answer);
    i = (i + 1) % all.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CeilingPhoneFastPath);

// Keeps each benchmark's events/s for the summary under the usual table.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates_[run.benchmark_name()] = it->second.value;
    }
  }
  double rate(const std::string& name) const {
    auto it = rates_.find(name);
    return it == rates_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const double distinct = reporter.rate("BM_MapDistinctNumbers");
  const double returning = reporter.rate("BM_MapReturningCustomers");
  const double copy = reporter.rate("BM_CeilingCopyEvents");
  const double phone = reporter.rate("BM_CeilingPhoneLibrary");
  const double fast = reporter.rate("BM_CeilingPhoneFastPath");
  std::printf(
      "\nmapping  when + template + phone + segments, batches of %zu, 1 thread, target >= %.0f "
      "events/s per core\n",
      kBatch, kTarget);
  const auto line = [&](const char* what, double rate) {
    if (rate <= 0) return;
    std::printf("  %-40s %10.0f events/s  (%.2fx target, %.3f of copy ceiling)\n", what, rate,
                rate / kTarget, copy > 0 ? rate / copy : 0.0);
  };
  line("returning customers (1,000 numbers)", returning);
  line("every number new (fast path + fallback)", distinct);
  if (copy > 0) std::printf("  %-40s %10.0f events/s\n", "ceiling: copying the events", copy);
  if (phone > 0) {
    std::printf("  %-40s %10.0f numbers/s\n", "ceiling: libphonenumber alone, no cache", phone);
  }
  if (fast > 0) {
    std::printf("  %-40s %10.0f numbers/s\n", "ceiling: phone fast path alone, no cache", fast);
  }
  return 0;
}
