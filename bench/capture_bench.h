#pragma once

// What the capture benchmarks (pg_capture_bench, mysql_capture_bench) share, so that both
// measure the same thing: the bridge's capture loop as app/run.cpp runs it, the order-status
// mapping it feeds, and how the figures are summarised next to their targets.

#include <errno.h>  // program_invocation_short_name
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/connector.h"
#include "core/job_store.h"
#include "core/mapping.h"

namespace smsbridge::bench {

using SteadyClock = std::chrono::steady_clock;

inline double secondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

inline const char* verdict(bool met) { return met ? "MET" : "MISSED"; }

// One order-status SMS per status change of `table` (id, status, phone, ...): the `when`,
// template and phone normalisation a shop's mapping would run on every captured UPDATE.
inline std::shared_ptr<MappingEngine> orderStatusMappings(const std::string& table) {
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

// Peak resident set of this process so far (VmHWM), in kB; -1 if /proc does not say.
inline long peakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string field = "VmHWM:";
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + field.size());
  }
  return -1;
}

// CPU seconds the calling thread has used.
inline double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The p-quantile (0..1) of ascending `sorted`; 0 when empty.
inline double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

// The bridge's capture loop as app/run.cpp runs it (poll, map, enqueue with the checkpoint,
// acknowledge), on its own thread. `on_enqueued` hears of every batch right after its enqueue
// returned, on the capture thread: the benchmarks take their "enqueued" moment there.
class CaptureThread {
 public:
  using OnEnqueued = std::function<void(const ChangeBatch&)>;

  CaptureThread(Source& source, JobStore& store, const MappingEngine& engine)
      : source_(source), store_(store), engine_(engine) {}
  ~CaptureThread() { stop(); }

  void start(OnEnqueued on_enqueued) {
    on_enqueued_ = std::move(on_enqueued);
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits until `total` jobs are enqueued since the loop was created. Woken per batch rather
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
      auto t0 = SteadyClock::now();
      auto batch = source_.poll(std::chrono::milliseconds(100));
      auto t1 = SteadyClock::now();
      if (!batch) {
        std::fprintf(stderr, "poll: %s\n", batch.error().toString().c_str());
        fail();
        return;
      }
      if (batch->position.empty()) continue;
      auto jobs = engine_.map(batch->events, std::chrono::system_clock::now());
      auto t2 = SteadyClock::now();
      auto r = store_.enqueue(jobs, Checkpoint{source_.name(), batch->position});
      auto t3 = SteadyClock::now();
      if (!r) {
        std::fprintf(stderr, "enqueue: %s\n", r.error().toString().c_str());
        fail();
        return;
      }
      if (on_enqueued_) on_enqueued_(*batch);
      ++batches_;
      cpu_seconds_ = threadCpuSeconds();
      enqueued_ += r->inserted;
      ++progress_;
      progress_.notify_all();
      auto t4 = SteadyClock::now();
      if (Status s = source_.acknowledge(batch->position); !s.isOk()) {
        std::fprintf(stderr, "acknowledge: %s\n", s.toString().c_str());
      }
      poll_ns_ += (t1 - t0).count();
      map_ns_ += (t2 - t1).count();
      enqueue_ns_ += (t3 - t2).count();
      ack_ns_ += (SteadyClock::now() - t4).count();
    }
  }

  void fail() {
    failed_ = true;
    ++progress_;
    progress_.notify_all();
  }

  Source& source_;
  JobStore& store_;
  const MappingEngine& engine_;
  OnEnqueued on_enqueued_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> failed_{false};
  std::atomic<long> enqueued_{0};
  std::atomic<long> batches_{0};
  std::atomic<long> progress_{0};  // bumped after every batch and on failure, for waitFor()
  std::atomic<double> cpu_seconds_{0};
  std::atomic<long long> poll_ns_{0}, map_ns_{0}, enqueue_ns_{0}, ack_ns_{0};
};

// The command line both capture benchmarks share:
// [updates=100000] [clients=4] [rate=1000] [seconds=5] [batch_size=500], and the DSN of the test
// database from `dsn_var` (set by sourcing build/test-services.env).
struct CaptureArgs {
  int updates = 100000;
  int clients = 4;
  int rate = 1000;
  int latency_seconds = 5;
  int batch_size = 500;  // the sources' batch_size default
  int rows = 1000;
  std::string dsn;
};

inline CaptureArgs parseCaptureArgs(int argc, char** argv, const char* dsn_var) {
  CaptureArgs args;
  int* positional[] = {&args.updates, &args.clients, &args.rate, &args.latency_seconds,
                       &args.batch_size};
  for (int i = 1; i < argc && i <= 5; ++i) *positional[i - 1] = std::atoi(argv[i]);
  const char* env = std::getenv(dsn_var);
  if (env == nullptr || *env == '\0') {
    die(std::string("set ") + dsn_var +
        " (e.g. source build/test-services.env after scripts/test-services.sh start)");
  }
  args.dsn = env;
  return args;
}

}  // namespace smsbridge::bench
