// SPDX-License-Identifier: Apache-2.0
// MetricsCollector and renderMetrics: exact sample lines for known counter values summed
// over two workers and two upstreams.
#include "resolver/report/metrics.h"

#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

namespace steadfast::report {
namespace {

using pipeline::Source;
using pipeline::Transport;
using pipeline::UpstreamError;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

size_t idx(Transport t) {
  return static_cast<size_t>(t);
}
size_t idx(Source s) {
  return static_cast<size_t>(s);
}
size_t idx(UpstreamError e) {
  return static_cast<size_t>(e);
}

class MetricsTest : public ::testing::Test {
 protected:
  MetricsTest() {
    auto& w0 = stats_.worker(0);
    auto& w1 = stats_.worker(1);
    w0.queries[idx(Transport::Udp)].inc(3);
    w0.queries[idx(Transport::Tcp)].inc(1);
    w1.queries[idx(Transport::Udp)].inc(2);
    w1.queries[idx(Transport::Tls)].inc(4);

    w0.countResponse(0, Source::Cache);
    w0.countResponse(0, Source::Cache);
    w1.countResponse(0, Source::Cache);
    w1.countResponse(3, Source::Upstream);
    w1.countResponse(4095, Source::Local);  // beyond the named rcodes: OTHER

    w0.duration[idx(Source::Cache)].observe(microseconds{50});     // le 0.0001
    w1.duration[idx(Source::Cache)].observe(microseconds{300});    // le 0.0005
    w1.duration[idx(Source::Cache)].observe(seconds{3});           // +Inf
    w0.duration[idx(Source::Upstream)].observe(milliseconds{20});  // le 0.025

    w0.cache_hits.inc(3);
    w1.cache_misses.inc(2);
    w0.refused_acl.inc(1);
    w1.refused_rate_limit.inc(6);
    w0.malformed.inc(2);
    w1.dropped.inc(7);
    w1.tcp_rejected.inc(1);
    w0.tcp_connections[idx(Transport::Tcp)].add(3);
    w1.tcp_connections[idx(Transport::Tcp)].add(1);
    w1.tcp_connections[idx(Transport::Tcp)].add(-1);
    w1.tcp_connections[idx(Transport::Tls)].add(2);

    auto& primary = stats_.upstream("primary", "udp://192.0.2.1:53");
    primary.per_worker[0].queries.inc(5);
    primary.per_worker[1].queries.inc(2);
    primary.per_worker[0].errors[idx(UpstreamError::Timeout)].inc(1);
    primary.per_worker[1].errors[idx(UpstreamError::Timeout)].inc(2);
    primary.per_worker[1].errors[idx(UpstreamError::ServFail)].inc(1);
    primary.per_worker[0].rtt.observe(milliseconds{1});   // le 0.001 (bounds are inclusive)
    primary.per_worker[1].rtt.observe(milliseconds{30});  // le 0.05
    stats_.upstream("fallback", "tls://192.0.2.2:853");   // no traffic yet

    collector_.setCacheSize([] { return CacheSize{42, 4096, 7}; });
  }

  pipeline::StatsRegistry stats_{2};
  MetricsCollector collector_{stats_, "1.2.3"};
};

TEST_F(MetricsTest, QueriesAreSummedOverWorkersAndEveryTransportIsPresent) {
  const std::string text = renderMetrics(collector_);
  EXPECT_THAT(text, HasSubstr("# HELP steadfast_queries_total "));
  EXPECT_THAT(text, HasSubstr("# TYPE steadfast_queries_total counter\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_queries_total{transport=\"udp\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_queries_total{transport=\"tcp\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_queries_total{transport=\"tls\"} 4\n"));
}

TEST_F(MetricsTest, ResponsesListOnlyNonZeroCombinations) {
  const std::string text = renderMetrics(collector_);
  EXPECT_THAT(text,
              HasSubstr("\nsteadfast_responses_total{rcode=\"NOERROR\",source=\"cache\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("\nsteadfast_responses_total{rcode=\"NXDOMAIN\",source=\"upstream\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_responses_total{rcode=\"OTHER\",source=\"local\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("rcode=\"SERVFAIL\"")));
  EXPECT_THAT(text, Not(HasSubstr("source=\"stale\"")));
}

TEST_F(MetricsTest, DurationHistogramIsCumulativeWithCountAndSumInSeconds) {
  const std::string text = renderMetrics(collector_);
  EXPECT_THAT(text, HasSubstr("# TYPE steadfast_query_duration_seconds histogram\n"));
  const std::string b = "\nsteadfast_query_duration_seconds_bucket{source=\"cache\",le=";
  EXPECT_THAT(text, HasSubstr(b + "\"0.0001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"0.00025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"0.0005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"0.001\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"2.5\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_query_duration_seconds_count{source=\"cache\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("\nsteadfast_query_duration_seconds_sum{source=\"cache\"} 3.00035\n"));

  const std::string u = "\nsteadfast_query_duration_seconds_bucket{source=\"upstream\",le=";
  EXPECT_THAT(text, HasSubstr(u + "\"0.01\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(u + "\"0.025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(u + "\"+Inf\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("\nsteadfast_query_duration_seconds_sum{source=\"upstream\"} 0.02\n"));
  // Sources without observations are left out.
  EXPECT_THAT(text, Not(HasSubstr("steadfast_query_duration_seconds_count{source=\"stale\"}")));
}

TEST_F(MetricsTest, CacheAndSimpleCounters) {
  const std::string text = renderMetrics(collector_);
  EXPECT_THAT(text, HasSubstr("\nsteadfast_cache_entries 42\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_cache_bytes 4096\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_cache_inserts_skipped_total 7\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_cache_hits_total 3\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_cache_misses_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_refused_total{reason=\"acl\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_refused_total{reason=\"rate_limit\"} 6\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_malformed_queries_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_dropped_queries_total 7\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_tcp_connections{transport=\"tcp\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_tcp_connections{transport=\"tls\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_tcp_connections_rejected_total 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_build_info{version=\"1.2.3\"} 1\n"));
}

TEST_F(MetricsTest, CacheGaugesReadZeroWithoutCallback) {
  MetricsCollector bare(stats_);
  const std::string text = renderMetrics(bare);
  EXPECT_THAT(text, HasSubstr("\nsteadfast_cache_entries 0\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_cache_bytes 0\n"));
  EXPECT_THAT(text, HasSubstr("steadfast_build_info{version=\"" +
                              std::string(MetricsCollector::buildVersion()) + "\"} 1\n"));
}

TEST_F(MetricsTest, UpstreamCountersErrorsAndRtt) {
  const std::string text = renderMetrics(collector_);
  const std::string p = "tier=\"primary\",upstream=\"udp://192.0.2.1:53\"";
  const std::string f = "tier=\"fallback\",upstream=\"tls://192.0.2.2:853\"";
  EXPECT_THAT(text, HasSubstr("\nsteadfast_upstream_queries_total{" + p + "} 7\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_upstream_queries_total{" + f + "} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_upstream_errors_total{" + p + ",kind=\"timeout\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("\nsteadfast_upstream_errors_total{" + p + ",kind=\"servfail\"} 1\n"));
  for (const char* kind : {"timeout", "servfail", "refused", "network", "tls", "mismatch"}) {
    EXPECT_THAT(
        text, HasSubstr("\nsteadfast_upstream_errors_total{" + f + ",kind=\"" + kind + "\"} 0\n"));
  }
  const std::string b = "\nsteadfast_upstream_rtt_seconds_bucket{" + p + ",le=";
  EXPECT_THAT(text, HasSubstr(b + "\"0.0005\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"0.001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"0.025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"0.05\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(b + "\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_upstream_rtt_seconds_count{" + p + "} 2\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_upstream_rtt_seconds_sum{" + p + "} 0.031\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_upstream_rtt_seconds_count{" + f + "} 0\n"));
}

TEST_F(MetricsTest, SourcesAndExtraRegistryAreAppended) {
  collector_.addSource([](std::vector<prometheus::MetricFamily>& out) {
    prometheus::MetricFamily f;
    f.name = "steadfast_active_tier";
    f.help = "Tier in use.";
    f.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.label = {{"tier", "primary"}};
    m.gauge.value = 1;
    f.metric.push_back(m);
    out.push_back(f);
  });
  prometheus::Registry registry;
  prometheus::BuildCounter()
      .Name("steadfast_extra_total")
      .Help("Extra.")
      .Register(registry)
      .Add({})
      .Increment(2);

  const std::string text = renderMetrics(collector_, &registry);
  EXPECT_THAT(text, HasSubstr("\nsteadfast_active_tier{tier=\"primary\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nsteadfast_extra_total 2\n"));
  EXPECT_LT(text.find("steadfast_queries_total"), text.find("steadfast_active_tier"));
}

TEST_F(MetricsTest, ScrapesSeeLaterIncrements) {
  stats_.worker(1).queries[idx(Transport::Udp)].inc(10);
  EXPECT_THAT(renderMetrics(collector_),
              HasSubstr("\nsteadfast_queries_total{transport=\"udp\"} 15\n"));
}

}  // namespace
}  // namespace steadfast::report
