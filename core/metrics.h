#pragma once

// Counters, gauges and histograms for /metrics, rendered in the Prometheus text exposition
// format 0.0.4.
//
// A series is looked up once (by name and label values, under the registry's mutex) and then
// updated through the returned reference with atomics only: the dispatcher updates several
// series per SMS at thousands of SMS per second, and a scrape must not stall it. References stay
// valid for the registry's lifetime; series are never removed.
//
// Values that are cheaper to read when scraped than to keep current (jobs by status from the
// store) come from collectors: callbacks run by render() on the scraping thread.
//
// Threading: every method is thread-safe. Collectors run on the thread that calls render(),
// outside the registry's mutex, so they may take their own locks.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smsbridge {

// Label names and values of one series, in the order given at registration; names must be
// valid Prometheus label names (the registry does not check programmer errors at runtime).
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: upper bounds of the buckets, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);

  void observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then the +Inf count; and the sum. Read at scrape time, so a
  // concurrent observe() may be half visible — Prometheus tolerates that.
  std::vector<std::uint64_t> cumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // one per bound, then +Inf
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, from a few milliseconds (a local send) to five minutes (a retry).
const std::vector<double>& latencyBuckets();

// One sample a collector reports: a gauge value for a label set.
struct MetricSample {
  MetricLabels labels;
  double value = 0;
};

class MetricsRegistry {
 public:
  // Each returns the series for `labels`, creating the family and the series on first use.
  // `help` is taken from the first call for a name. Asking for an existing name with another
  // type (or other histogram buckets) is a programmer error.
  Counter& counter(const std::string& name, const std::string& help, const MetricLabels& labels);
  Gauge& gauge(const std::string& name, const std::string& help, const MetricLabels& labels);
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds, const MetricLabels& labels);

  // A gauge family whose samples `collect` produces at every render().
  void collector(const std::string& name, const std::string& help,
                 std::function<std::vector<MetricSample>()> collect);

  // The whole registry in the text exposition format, families sorted by name.
  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> bounds;  // histograms
    // Keyed by the rendered label set, so output order is stable.
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::function<std::vector<MetricSample>()> collect;
  };

  Family& family(const std::string& name, Type type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// `{name="value",...}` with values escaped (\\, \", \n); empty for no labels.
std::string renderLabels(const MetricLabels& labels);
// A sample value as Prometheus reads it: integers without a fraction, +Inf/-Inf/NaN spelled out.
std::string formatMetricValue(double value);

}  // namespace smsbridge
