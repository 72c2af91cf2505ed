// SPDX-License-Identifier: Apache-2.0
// Walks every family the collector exposes and checks the naming rules of STYLE.md section 7
// and the Prometheus conventions (CoreDNS test/metric_naming_test.go does the same).
#include <algorithm>
#include <chrono>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/check_names.h>

#include "resolver/report/metrics.h"

namespace steadfast::report {
namespace {

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.ends_with(suffix);
}

std::vector<prometheus::MetricFamily> everyFamily(const pipeline::StatsRegistry& stats) {
  MetricsCollector collector(stats);
  return collector.Collect();
}

class MetricNamingTest : public ::testing::Test {
 protected:
  MetricNamingTest() {
    // Something in every histogram, so each family has samples with every label.
    for (size_t s = 0; s < pipeline::kSources; ++s) {
      stats_.worker(0).duration[s].observe(std::chrono::milliseconds{1});
    }
    stats_.upstream("primary", "udp://192.0.2.1:53")
        .per_worker[0]
        .rtt.observe(std::chrono::milliseconds{1});
    stats_.worker(0).countResponse(0, pipeline::Source::Cache);
  }
  pipeline::StatsRegistry stats_{1};
};

TEST_F(MetricNamingTest, EveryFamilyFollowsTheConventions) {
  const std::regex name_re("^steadfast_[a-z0-9_]+$");
  const std::regex label_re("^[a-z][a-z0-9_]*$");
  std::set<std::string> seen;
  for (const auto& f : everyFamily(stats_)) {
    SCOPED_TRACE(f.name);
    EXPECT_TRUE(std::regex_match(f.name, name_re));
    EXPECT_TRUE(prometheus::CheckMetricName(f.name));
    EXPECT_TRUE(seen.insert(f.name).second) << "duplicate family";
    EXPECT_FALSE(f.help.empty());
    EXPECT_NE(f.type, prometheus::MetricType::Untyped);
    EXPECT_EQ(f.name.find("__"), std::string::npos);
    switch (f.type) {
      case prometheus::MetricType::Counter:
        EXPECT_TRUE(endsWith(f.name, "_total"));
        break;
      case prometheus::MetricType::Histogram:
        EXPECT_TRUE(endsWith(f.name, "_seconds") || endsWith(f.name, "_bytes"));
        break;
      default:
        EXPECT_FALSE(endsWith(f.name, "_total"));
        break;
    }
    // Units are base units, spelled out, at the end (before _total).
    for (const char* bad : {"_ms", "_milliseconds", "_us", "_kb", "_mb", "_millis"}) {
      EXPECT_EQ(f.name.find(bad), std::string::npos) << bad;
    }
    const bool has_seconds = f.name.find("seconds") != std::string::npos;
    if (has_seconds) {
      EXPECT_TRUE(endsWith(f.name, "_seconds") || endsWith(f.name, "_seconds_total"));
    }
    if (f.name.find("duration") != std::string::npos || f.name.find("rtt") != std::string::npos ||
        f.name.find("latency") != std::string::npos) {
      EXPECT_TRUE(has_seconds);
    }
    if (f.name.find("bytes") != std::string::npos) {
      EXPECT_TRUE(endsWith(f.name, "_bytes") || endsWith(f.name, "_bytes_total"));
    }
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        EXPECT_TRUE(std::regex_match(l.name, label_re)) << l.name;
        EXPECT_TRUE(prometheus::CheckLabelName(l.name)) << l.name;
        EXPECT_NE(l.name, "le");
      }
    }
  }
}

TEST_F(MetricNamingTest, SpecFamiliesArePresentWithTheirLabels) {
  struct Expected {
    const char* name;
    prometheus::MetricType type;
    std::set<std::string> labels;
  };
  using T = prometheus::MetricType;
  const std::vector<Expected> expected = {
      {"steadfast_queries_total", T::Counter, {"transport"}},
      {"steadfast_responses_total", T::Counter, {"rcode", "source"}},
      {"steadfast_query_duration_seconds", T::Histogram, {"source"}},
      {"steadfast_cache_entries", T::Gauge, {}},
      {"steadfast_cache_bytes", T::Gauge, {}},
      {"steadfast_cache_inserts_skipped_total", T::Counter, {}},
      {"steadfast_overload_dropped_total", T::Counter, {}},
      {"steadfast_cache_hits_total", T::Counter, {}},
      {"steadfast_cache_misses_total", T::Counter, {}},
      {"steadfast_upstream_queries_total", T::Counter, {"tier", "upstream"}},
      {"steadfast_upstream_errors_total", T::Counter, {"tier", "upstream", "kind"}},
      {"steadfast_upstream_rtt_seconds", T::Histogram, {"tier", "upstream"}},
      {"steadfast_refused_total", T::Counter, {"reason"}},
      {"steadfast_malformed_queries_total", T::Counter, {}},
      {"steadfast_dropped_queries_total", T::Counter, {}},
      {"steadfast_tcp_connections", T::Gauge, {"transport"}},
      {"steadfast_tcp_connections_rejected_total", T::Counter, {}},
      {"steadfast_build_info", T::Gauge, {"version"}},
  };
  const auto families = everyFamily(stats_);
  for (const auto& e : expected) {
    SCOPED_TRACE(e.name);
    auto it = std::find_if(families.begin(), families.end(),
                           [&](const prometheus::MetricFamily& f) { return f.name == e.name; });
    ASSERT_NE(it, families.end());
    EXPECT_EQ(it->type, e.type);
    ASSERT_FALSE(it->metric.empty());
    for (const auto& m : it->metric) {
      std::set<std::string> labels;
      for (const auto& l : m.label) {
        labels.insert(l.name);
      }
      EXPECT_EQ(labels, e.labels);
    }
  }
}

}  // namespace
}  // namespace steadfast::report
