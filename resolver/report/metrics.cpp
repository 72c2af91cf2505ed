// SPDX-License-Identifier: Apache-2.0
// MetricsCollector: sums the per-worker counters of pipeline::StatsRegistry into Prometheus
// families at scrape time, and renderMetrics(), the text exposition of GET /metrics.
#include "resolver/report/metrics.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <utility>

#include <prometheus/text_serializer.h>

#ifndef STEADFAST_VERSION
#define STEADFAST_VERSION "unknown"
#endif

namespace steadfast::report {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr size_t kBuckets = pipeline::kLatencyBuckets.size() + 1;  // with +Inf
using BucketCounts = std::array<uint64_t, kBuckets>;

/// One histogram summed over workers: per-bucket counts (not cumulative) and the sum.
struct HistogramSum {
  BucketCounts buckets{};
  uint64_t sum_ns = 0;

  void add(const pipeline::Histogram& h) noexcept {
    for (size_t i = 0; i < kBuckets; ++i) {
      buckets[i] += h.bucket(i);
    }
    sum_ns += h.sumNanos();
  }
  [[nodiscard]] uint64_t count() const noexcept {
    uint64_t n = 0;
    for (uint64_t b : buckets) {
      n += b;
    }
    return n;
  }
};

/// Every worker counter summed; one snapshot per scrape.
struct WorkerTotals {
  std::array<uint64_t, pipeline::kTransports> queries{};
  std::array<std::array<uint64_t, pipeline::kSources>, pipeline::kRcodeSlots> responses{};
  std::array<HistogramSum, pipeline::kSources> duration{};
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t refused_acl = 0;
  uint64_t refused_rate_limit = 0;
  uint64_t malformed = 0;
  uint64_t dropped = 0;
  uint64_t overloaded = 0;
  uint64_t tcp_rejected = 0;
  std::array<int64_t, pipeline::kTransports> tcp_connections{};

  void add(const pipeline::WorkerStats& w) noexcept {
    for (size_t t = 0; t < pipeline::kTransports; ++t) {
      queries[t] += w.queries[t].get();
      tcp_connections[t] += w.tcp_connections[t].get();
    }
    for (size_t r = 0; r < pipeline::kRcodeSlots; ++r) {
      for (size_t s = 0; s < pipeline::kSources; ++s) {
        responses[r][s] += w.responses[r][s].get();
      }
    }
    for (size_t s = 0; s < pipeline::kSources; ++s) {
      duration[s].add(w.duration[s]);
    }
    cache_hits += w.cache_hits.get();
    cache_misses += w.cache_misses.get();
    refused_acl += w.refused_acl.get();
    refused_rate_limit += w.refused_rate_limit.get();
    malformed += w.malformed.get();
    dropped += w.dropped.get();
    overloaded += w.overloaded.get();
    tcp_rejected += w.tcp_rejected.get();
  }
};

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric::Label label(std::string name, std::string_view value) {
  return ClientMetric::Label{std::move(name), std::string(value)};
}

void addCounter(MetricFamily& f, Labels labels, uint64_t value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = static_cast<double>(value);
  f.metric.push_back(std::move(m));
}

void addGauge(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void addHistogram(MetricFamily& f, Labels labels, const HistogramSum& h) {
  ClientMetric m;
  m.label = std::move(labels);
  uint64_t cumulative = 0;
  m.histogram.bucket.reserve(kBuckets);
  for (size_t i = 0; i < kBuckets; ++i) {
    cumulative += h.buckets[i];
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < pipeline::kLatencyBuckets.size() ? pipeline::kLatencyBuckets[i]
                                                         : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
  f.metric.push_back(std::move(m));
}

MetricFamily counterFamily(std::string name, std::string help, uint64_t value) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Counter);
  addCounter(f, {}, value);
  return f;
}

MetricFamily gaugeFamily(std::string name, std::string help, double value) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Gauge);
  addGauge(f, {}, value);
  return f;
}

}  // namespace

MetricsCollector::MetricsCollector(const pipeline::StatsRegistry& stats)
    : MetricsCollector(stats, std::string(buildVersion())) {}

MetricsCollector::MetricsCollector(const pipeline::StatsRegistry& stats, std::string version)
    : stats_(stats), version_(std::move(version)) {}

std::string_view MetricsCollector::buildVersion() noexcept {
  return STEADFAST_VERSION;
}

void MetricsCollector::setCacheSize(CacheSizeFn fn) {
  std::lock_guard lock(mu_);
  cache_size_ = std::move(fn);
}

void MetricsCollector::addSource(FamilySource source) {
  std::lock_guard lock(mu_);
  sources_.push_back(std::move(source));
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  // Copy the callbacks so none of them runs under mu_.
  CacheSizeFn cache_size;
  std::vector<FamilySource> sources;
  {
    std::lock_guard lock(mu_);
    cache_size = cache_size_;
    sources = sources_;
  }

  std::vector<MetricFamily> out;
  MetricFamily build = family("steadfast_build_info", "Build information; the value is always 1.",
                              MetricType::Gauge);
  addGauge(build, {label("version", version_)}, 1);
  out.push_back(std::move(build));

  collectWorkers(out);

  const CacheSize cache = cache_size ? cache_size() : CacheSize{};
  out.push_back(
      gaugeFamily("steadfast_cache_entries", "Entries in the packet cache.", cache.entries));
  out.push_back(gaugeFamily("steadfast_cache_bytes", "Approximate memory held by the packet cache.",
                            cache.bytes));
  out.push_back(counterFamily("steadfast_cache_inserts_skipped_total",
                              "Answers not stored in the cache because another thread held the "
                              "shard or the memory bound was reached with entries still in use.",
                              cache.inserts_skipped));

  collectUpstreams(out);

  for (const auto& source : sources) {
    source(out);
  }
  return out;
}

void MetricsCollector::collectWorkers(std::vector<MetricFamily>& out) const {
  WorkerTotals t;
  for (size_t i = 0; i < stats_.workers(); ++i) {
    t.add(stats_.worker(i));
  }

  MetricFamily queries = family("steadfast_queries_total",
                                "DNS queries received, by client transport.", MetricType::Counter);
  for (size_t i = 0; i < pipeline::kTransports; ++i) {
    addCounter(queries,
               {label("transport", pipeline::transportName(static_cast<pipeline::Transport>(i)))},
               t.queries[i]);
  }
  out.push_back(std::move(queries));

  MetricFamily responses = family("steadfast_responses_total",
                                  "DNS responses sent, by rcode and by where the answer came from.",
                                  MetricType::Counter);
  for (size_t r = 0; r < pipeline::kRcodeSlots; ++r) {
    for (size_t s = 0; s < pipeline::kSources; ++s) {
      if (t.responses[r][s] == 0) {
        continue;
      }
      addCounter(responses,
                 {label("rcode", pipeline::rcodeName(r)),
                  label("source", pipeline::sourceName(static_cast<pipeline::Source>(s)))},
                 t.responses[r][s]);
    }
  }
  out.push_back(std::move(responses));

  MetricFamily duration =
      family("steadfast_query_duration_seconds",
             "Time from receiving a query to sending its response, by answer source.",
             MetricType::Histogram);
  for (size_t s = 0; s < pipeline::kSources; ++s) {
    if (t.duration[s].count() == 0) {
      continue;
    }
    addHistogram(duration,
                 {label("source", pipeline::sourceName(static_cast<pipeline::Source>(s)))},
                 t.duration[s]);
  }
  out.push_back(std::move(duration));

  out.push_back(counterFamily("steadfast_cache_hits_total",
                              "Queries answered from the packet cache.", t.cache_hits));
  out.push_back(counterFamily("steadfast_cache_misses_total",
                              "Queries not found in the packet cache.", t.cache_misses));

  MetricFamily refused = family("steadfast_refused_total", "Queries answered REFUSED, by reason.",
                                MetricType::Counter);
  addCounter(refused, {label("reason", "acl")}, t.refused_acl);
  addCounter(refused, {label("reason", "rate_limit")}, t.refused_rate_limit);
  out.push_back(std::move(refused));

  out.push_back(counterFamily("steadfast_malformed_queries_total",
                              "Malformed queries answered FORMERR.", t.malformed));
  out.push_back(counterFamily(
      "steadfast_dropped_queries_total",
      "Packets dropped unanswered: shorter than a DNS header, or with the QR bit set.", t.dropped));
  out.push_back(counterFamily("steadfast_overload_dropped_total",
                              "Cache misses dropped unanswered because the worker already had its "
                              "maximum of queries outstanding upstream (and no stale answer).",
                              t.overloaded));

  MetricFamily connections = family("steadfast_tcp_connections",
                                    "Open client connections, by transport.", MetricType::Gauge);
  for (pipeline::Transport tr : {pipeline::Transport::Tcp, pipeline::Transport::Tls}) {
    addGauge(connections, {label("transport", pipeline::transportName(tr))},
             static_cast<double>(t.tcp_connections[static_cast<size_t>(tr)]));
  }
  out.push_back(std::move(connections));

  out.push_back(counterFamily("steadfast_tcp_connections_rejected_total",
                              "Client connections closed at once because max_tcp_connections "
                              "were open.",
                              t.tcp_rejected));
}

void MetricsCollector::collectUpstreams(std::vector<MetricFamily>& out) const {
  MetricFamily queries = family("steadfast_upstream_queries_total", "Queries sent to an upstream.",
                                MetricType::Counter);
  MetricFamily errors = family("steadfast_upstream_errors_total",
                               "Failed upstream queries, by kind of failure.", MetricType::Counter);
  MetricFamily rtt = family("steadfast_upstream_rtt_seconds",
                            "Round-trip time of answered upstream queries.", MetricType::Histogram);
  MetricFamily opened =
      family("steadfast_upstream_connections_opened_total",
             "Kept-open connections started to a tcp:// or tls:// upstream.", MetricType::Counter);
  MetricFamily probes =
      family("steadfast_health_probes_total",
             "Active health probes sent to an upstream, by outcome.", MetricType::Counter);

  stats_.forEachUpstream([&](const pipeline::UpstreamStats& u) {
    uint64_t sent = 0;
    std::array<uint64_t, pipeline::kUpstreamErrors> kinds{};
    HistogramSum hist;
    for (const auto& w : u.per_worker) {
      sent += w.queries.get();
      for (size_t k = 0; k < pipeline::kUpstreamErrors; ++k) {
        kinds[k] += w.errors[k].get();
      }
      hist.add(w.rtt);
    }
    addCounter(queries, {label("tier", u.tier), label("upstream", u.uri)}, sent);
    if (u.uri.starts_with("tcp://") || u.uri.starts_with("tls://")) {
      uint64_t conns = 0;
      for (const auto& w : u.per_worker) {
        conns += w.connections_opened.get();
      }
      addCounter(
          opened,
          {label("tier", u.tier), label("upstream", u.uri), label("transport", u.uri.substr(0, 3))},
          conns);
    }
    // Slot 0 is Outcome::Ok: a success, never an error.
    for (size_t k = 1; k < pipeline::kUpstreamErrors; ++k) {
      addCounter(
          errors,
          {label("tier", u.tier), label("upstream", u.uri),
           label("kind", pipeline::upstreamErrorName(static_cast<pipeline::UpstreamError>(k)))},
          kinds[k]);
    }
    addHistogram(rtt, {label("tier", u.tier), label("upstream", u.uri)}, hist);
    for (size_t k = 0; k < failover::kOutcomes; ++k) {
      const uint64_t n = u.probes[k].get();
      if (n != 0 || k == 0) {
        addCounter(probes,
                   {label("tier", u.tier), label("upstream", u.uri),
                    label("outcome", failover::outcomeName(static_cast<failover::Outcome>(k)))},
                   n);
      }
    }
  });

  out.push_back(std::move(opened));
  out.push_back(std::move(queries));
  out.push_back(std::move(errors));
  out.push_back(std::move(rtt));
  out.push_back(std::move(probes));
}

void appendPlanFamilies(const std::shared_ptr<const pipeline::Runtime>& runtime,
                        const std::map<std::pair<std::string, std::string>, uint64_t>& failovers,
                        std::vector<MetricFamily>& out) {
  MetricFamily up = family("steadfast_upstream_up",
                           "1 while the upstream is healthy (or not yet probed), 0 while it is "
                           "unhealthy.",
                           MetricType::Gauge);
  MetricFamily active =
      family("steadfast_active_tier", "1 for the tier that serves queries now, 0 for the others.",
             MetricType::Gauge);
  MetricFamily changes = family("steadfast_failovers_total",
                                "Changes of the active tier, by the tier left and the tier taken "
                                "(failbacks included).",
                                MetricType::Counter);
  if (runtime != nullptr) {
    const auto* plan = runtime->plan.get();
    for (size_t u = 0; u < runtime->upstreams.size(); ++u) {
      const bool healthy = plan == nullptr || u >= plan->health.size() ||
                           plan->health[u] != failover::Health::Unhealthy;
      addGauge(up,
               {label("tier", runtime->upstreams[u].tier),
                label("upstream", runtime->upstreams[u].uri.text)},
               healthy ? 1 : 0);
    }
    const int active_tier = runtime->view().active_tier;
    for (size_t t = 0; t < runtime->tier_names.size(); ++t) {
      addGauge(active, {label("tier", runtime->tier_names[t])},
               static_cast<int>(t) == active_tier ? 1 : 0);
    }
    for (const auto& from : runtime->tier_names) {
      for (const auto& to : runtime->tier_names) {
        if (from != to && failovers.find({from, to}) == failovers.end()) {
          addCounter(changes, {label("from", from), label("to", to)}, 0);
        }
      }
    }
  }
  // The last resort is the active tier while no tier has a usable upstream.
  const bool last_resort = runtime != nullptr && runtime->config.last_resort.enabled &&
                           runtime->plan != nullptr && runtime->view().active_tier < 0;
  addGauge(active, {label("tier", "last_resort")}, last_resort ? 1 : 0);
  for (const auto& [key, n] : failovers) {
    addCounter(changes, {label("from", key.first), label("to", key.second)}, n);
  }
  out.push_back(std::move(up));
  out.push_back(std::move(active));
  out.push_back(std::move(changes));
}

std::string renderMetrics(const prometheus::Collectable& primary,
                          const prometheus::Collectable* extra) {
  std::vector<MetricFamily> families = primary.Collect();
  if (extra != nullptr) {
    std::vector<MetricFamily> more = extra->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();
}

}  // namespace steadfast::report
