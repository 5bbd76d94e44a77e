#include "core/metrics.h"

#include <cmath>
#include <limits>
#include <thread>

#include <gtest/gtest.h>

namespace smsbridge {
namespace {

TEST(MetricsTest, CountersAndGaugesRenderInTheExpositionFormat) {
  MetricsRegistry registry;
  registry.counter("smsbridge_events_captured_total", "Changes read.", {{"source", "shop"}}).inc(3);
  registry.counter("smsbridge_events_captured_total", "ignored", {{"source", "crm"}}).inc();
  registry.gauge("smsbridge_breaker_state", "Breaker.", {{"provider", "twilio"}}).set(2);

  EXPECT_EQ(registry.render(),
            "# HELP smsbridge_breaker_state Breaker.\n"
            "# TYPE smsbridge_breaker_state gauge\n"
            "smsbridge_breaker_state{provider=\"twilio\"} 2\n"
            "# HELP smsbridge_events_captured_total Changes read.\n"
            "# TYPE smsbridge_events_captured_total counter\n"
            "smsbridge_events_captured_total{source=\"crm\"} 1\n"
            "smsbridge_events_captured_total{source=\"shop\"} 3\n");
}

TEST(MetricsTest, TheSameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry registry;
  Counter& a = registry.counter("c_total", "C.", {{"x", "1"}});
  Counter& b = registry.counter("c_total", "C.", {{"x", "1"}});
  EXPECT_EQ(&a, &b);
  a.inc();
  b.inc(2);
  EXPECT_EQ(a.value(), 3u);
}

TEST(MetricsTest, SeriesWithoutLabelsHaveNoBraces) {
  MetricsRegistry registry;
  registry.gauge("g", "A gauge.", {}).set(0.25);
  EXPECT_EQ(registry.render(), "# HELP g A gauge.\n# TYPE g gauge\ng 0.25\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.counter("c_total", "Back\\slash and\nnewline.", {{"v", "a\"b\\c\nd"}}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP c_total Back\\\\slash and\\nnewline.\n"
            "# TYPE c_total counter\n"
            "c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry registry;
  Histogram& h = registry.histogram("lat_seconds", "Latency.", {0.5, 1, 10}, {{"lane", "otp"}});
  h.observe(0.25);
  h.observe(0.5);  // on the bound: counts in that bucket (le is "less or equal")
  h.observe(5);
  h.observe(100);

  EXPECT_EQ(registry.render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{lane=\"otp\",le=\"0.5\"} 2\n"
            "lat_seconds_bucket{lane=\"otp\",le=\"1\"} 2\n"
            "lat_seconds_bucket{lane=\"otp\",le=\"10\"} 3\n"
            "lat_seconds_bucket{lane=\"otp\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{lane=\"otp\"} 105.75\n"
            "lat_seconds_count{lane=\"otp\"} 4\n");
}

TEST(MetricsTest, HistogramWithoutLabelsGetsOnlyTheLeLabel) {
  MetricsRegistry registry;
  registry.histogram("h", "H.", {1}, {}).observe(2);
  EXPECT_EQ(registry.render(),
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum 2\nh_count 1\n");
}

TEST(MetricsTest, CollectorsRunAtEveryRender) {
  MetricsRegistry registry;
  int calls = 0;
  registry.collector("jobs", "Jobs by status.", [&] {
    ++calls;
    return std::vector<MetricSample>{{{{"status", "sent"}}, double(calls)}};
  });
  EXPECT_EQ(registry.render(),
            "# HELP jobs Jobs by status.\n# TYPE jobs gauge\n"
            "jobs{status=\"sent\"} 1\n");
  EXPECT_NE(registry.render().find("jobs{status=\"sent\"} 2\n"), std::string::npos);
}

TEST(MetricsTest, SpecialValuesAreSpelledTheWayPrometheusReadsThem) {
  EXPECT_EQ(formatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatMetricValue(std::nan("")), "NaN");
  EXPECT_EQ(formatMetricValue(1e20), "1e+20");
  EXPECT_EQ(formatMetricValue(-3), "-3");
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  MetricsRegistry registry;
  Counter& c = registry.counter("c_total", "C.", {});
  Histogram& h = registry.histogram("h", "H.", {1}, {});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40'000u);
  EXPECT_EQ(h.cumulativeCounts().back(), 40'000u);
  EXPECT_DOUBLE_EQ(h.sum(), 20'000);
}

}  // namespace
}  // namespace smsbridge
