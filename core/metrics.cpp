#include "core/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include <fmt/format.h>

namespace smsbridge {

namespace {

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// HELP text escapes only backslash and newline (exposition format 0.0.4).
std::string escapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string renderLabels(const MetricLabels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    out += escapeLabelValue(labels[i].second);
    out += '"';
  }
  out += '}';
  return out;
}

std::string formatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<std::int64_t>(value));
  }
  return fmt::format("{}", value);  // shortest text that reads back as the same double
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void Histogram::observe(double v) {
  // Buckets are stored non-cumulatively, so an observation touches one counter; render() sums.
  std::size_t i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                           bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulativeCounts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

const std::vector<double>& latencyBuckets() {
  static const std::vector<double> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                            1,     2.5,  5,     10,   30,  60,   300};
  return kBuckets;
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, Type type,
                                                 const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  }
  assert(it->second.type == type && "metric registered twice with different types");
  return it->second;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, Type::kCounter, help).counters[renderLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, Type::kGauge, help).gauges[renderLabels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const std::vector<double>& bounds,
                                      const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, Type::kHistogram, help);
  if (f.histograms.empty()) f.bounds = bounds;
  assert(f.bounds == bounds && "histogram registered twice with different buckets");
  // Keyed by the rendered label set like every series; render() appends `le` to it.
  auto& slot = f.histograms[renderLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void MetricsRegistry::collector(const std::string& name, const std::string& help,
                                std::function<std::vector<MetricSample>()> collect) {
  std::lock_guard lock(mu_);
  family(name, Type::kGauge, help).collect = std::move(collect);
}

namespace {

// `{a="1"}` + `le="0.5"` → `{a="1",le="0.5"}`.
std::string appendLabel(const std::string& rendered, const std::string& label) {
  if (rendered.empty()) return "{" + label + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + label + "}";
}

std::string header(const std::string& name, std::string_view help, std::string_view type) {
  return fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escapeHelp(help), name, type);
}

}  // namespace

std::string MetricsRegistry::render() const {
  std::map<std::string, std::string> text;  // by family name
  struct Collected {
    std::string name;
    std::string help;
    std::function<std::vector<MetricSample>()> collect;
  };
  std::vector<Collected> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, f] : families_) {
      if (f.collect) {
        collectors.push_back({name, f.help, f.collect});
        continue;
      }
      std::string& out = text[name];
      switch (f.type) {
        case Type::kCounter:
          out = header(name, f.help, "counter");
          for (const auto& [labels, c] : f.counters) {
            out += fmt::format("{}{} {}\n", name, labels, c->value());
          }
          break;
        case Type::kGauge:
          out = header(name, f.help, "gauge");
          for (const auto& [labels, g] : f.gauges) {
            out += fmt::format("{}{} {}\n", name, labels, formatMetricValue(g->value()));
          }
          break;
        case Type::kHistogram:
          out = header(name, f.help, "histogram");
          for (const auto& [labels, h] : f.histograms) {
            std::vector<std::uint64_t> counts = h->cumulativeCounts();
            for (std::size_t i = 0; i < h->bounds().size(); ++i) {
              out += fmt::format(
                  "{}_bucket{} {}\n", name,
                  appendLabel(labels, "le=\"" + formatMetricValue(h->bounds()[i]) + "\""),
                  counts[i]);
            }
            out += fmt::format("{}_bucket{} {}\n", name, appendLabel(labels, "le=\"+Inf\""),
                               counts.back());
            out += fmt::format("{}_sum{} {}\n", name, labels, formatMetricValue(h->sum()));
            out += fmt::format("{}_count{} {}\n", name, labels, counts.back());
          }
          break;
      }
    }
  }
  for (const Collected& c : collectors) {
    std::string out = header(c.name, c.help, "gauge");
    for (const MetricSample& s : c.collect()) {
      out += fmt::format("{}{} {}\n", c.name, renderLabels(s.labels), formatMetricValue(s.value));
    }
    text[c.name] = std::move(out);
  }
  std::string all;
  for (const auto& [name, t] : text) all += t;
  return all;
}

}  // namespace smsbridge
