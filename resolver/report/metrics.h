// SPDX-License-Identifier: Apache-2.0
// The Prometheus view of the hot-path counters. MetricsCollector reads every worker's
// pipeline::WorkerStats at scrape time and sums them into the steadfast_* families of
// spec/interface.md "Metrics"; nothing on the hot path touches prometheus-cpp. Later
// subsystems (failover, feeds, sinks) contribute families through addSource().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "resolver/pipeline/runtime.h"
#include "resolver/pipeline/stats.h"

namespace steadfast::report {

/// Content-Type of the Prometheus text exposition format.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Size of the packet cache at scrape time.
struct CacheSize {
  double entries = 0;
  double bytes = 0;
  uint64_t inserts_skipped = 0;  // answers not stored: shard busy or memory held by readers
};

/// Called at scrape time on an HTTP thread; must be thread-safe.
using CacheSizeFn = std::function<CacheSize()>;

/// Appends more families at scrape time. Called on an HTTP thread; must be thread-safe.
using FamilySource = std::function<void(std::vector<prometheus::MetricFamily>&)>;

/// Collects the steadfast_* families of the hot-path counters. Collect() may run on any
/// thread, concurrently with the workers that write the counters (they are relaxed atomics)
/// and with setCacheSize()/addSource().
class MetricsCollector final : public prometheus::Collectable {
 public:
  /// `stats` must outlive the collector. build_info reports buildVersion().
  explicit MetricsCollector(const pipeline::StatsRegistry& stats);
  MetricsCollector(const pipeline::StatsRegistry& stats, std::string version);

  /// The version compiled into this binary (the CMake project version).
  [[nodiscard]] static std::string_view buildVersion() noexcept;

  /// Supplies steadfast_cache_entries / steadfast_cache_bytes; both read 0 without it.
  void setCacheSize(CacheSizeFn fn);
  /// Adds a contributor of further families, appended after the built-in ones.
  void addSource(FamilySource source);

  /// Every family, built-in first, then the sources in the order they were added.
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  void collectWorkers(std::vector<prometheus::MetricFamily>& out) const;
  void collectUpstreams(std::vector<prometheus::MetricFamily>& out) const;

  const pipeline::StatsRegistry& stats_;
  std::string version_;
  mutable std::mutex mu_;  // guards cache_size_ and sources_
  CacheSizeFn cache_size_;
  std::vector<FamilySource> sources_;
};

/// The failover plan's families from the published Runtime (null: none): steadfast_upstream_up,
/// steadfast_active_tier (with tier="last_resort"), and steadfast_failovers_total from
/// `failovers` (tier changes by (from, to) name, kept across reloads).
void appendPlanFamilies(const std::shared_ptr<const pipeline::Runtime>& runtime,
                        const std::map<std::pair<std::string, std::string>, uint64_t>& failovers,
                        std::vector<prometheus::MetricFamily>& out);

/// The text exposition of `primary` followed by `extra` (e.g. a prometheus::Registry), for
/// GET /metrics and tests. Family names of the two must not overlap.
[[nodiscard]] std::string renderMetrics(const prometheus::Collectable& primary,
                                        const prometheus::Collectable* extra = nullptr);

}  // namespace steadfast::report
