// SPDX-License-Identifier: Apache-2.0
// Hot-path counters. Each worker thread owns one WorkerStats and is the only writer of it
// (relaxed load+store, no locked instruction); the metrics endpoint sums all workers at
// scrape time (DESIGN.md "Threads and the hot path"). resolver/report turns a snapshot of
// these into Prometheus families.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "failover/health_state.h"
#include "resolver/base/clock.h"

namespace steadfast::pipeline {

enum class Transport : uint8_t { Udp, Tcp, Tls, kCount };
enum class Source : uint8_t { Cache, Upstream, Stale, LastResort, Blocked, Local, kCount };
/// The kinds of upstream failure are the failover outcomes (Ok is never counted as an error).
using UpstreamError = failover::Outcome;

inline constexpr size_t kTransports = static_cast<size_t>(Transport::kCount);
inline constexpr size_t kSources = static_cast<size_t>(Source::kCount);
inline constexpr size_t kUpstreamErrors = failover::kOutcomes;
/// rcodes 0..22 are counted individually; slot 23 collects every other value.
inline constexpr size_t kRcodeSlots = 24;

std::string_view transportName(Transport t) noexcept;          // "udp", "tcp", "tls"
std::string_view sourceName(Source s) noexcept;                // "cache", "upstream", "stale", ...
std::string_view upstreamErrorName(UpstreamError e) noexcept;  // failover::outcomeName
std::string_view rcodeName(size_t slot) noexcept;              // "NOERROR", ..., "OTHER"

/// A counter with a single writer thread: increments are a relaxed load and store, so the
/// hot path pays no locked instruction; readers on other threads see a recent value.
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

/// A gauge with a single writer thread.
class Gauge {
 public:
  void add(int64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] int64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

/// Upper bounds (seconds) of the latency histogram buckets; +Inf is implicit.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

/// A histogram with a single writer thread. Bucket counts are per bucket (not cumulative);
/// the last slot is +Inf.
class Histogram {
 public:
  void observe(Nanos d) noexcept;
  [[nodiscard]] uint64_t bucket(size_t i) const noexcept { return buckets_[i].get(); }
  [[nodiscard]] uint64_t sumNanos() const noexcept { return sum_ns_.get(); }

 private:
  std::array<Counter, kLatencyBuckets.size() + 1> buckets_;
  Counter sum_ns_;
};

/// Everything one worker counts. Cache-line aligned so workers do not share lines.
struct alignas(64) WorkerStats {
  std::array<Counter, kTransports> queries;
  std::array<std::array<Counter, kSources>, kRcodeSlots> responses;  // [rcode][source]
  std::array<Histogram, kSources> duration;
  Counter cache_hits;
  Counter cache_misses;
  Counter refused_acl;
  Counter refused_rate_limit;
  Counter malformed;
  Counter dropped;       // shorter than a header, or QR set: not answered
  Counter overloaded;    // misses dropped: the worker had too many queries outstanding upstream
  Counter tcp_rejected;  // connections closed at max_tcp_connections
  std::array<Gauge, kTransports> tcp_connections;

  void countResponse(uint16_t rcode, Source s) noexcept {
    size_t slot = rcode < kRcodeSlots - 1 ? rcode : kRcodeSlots - 1;
    responses[slot][static_cast<size_t>(s)].inc();
  }
};

/// One upstream's counters as kept by one worker.
struct alignas(64) UpstreamWorkerStats {
  Counter queries;
  std::array<Counter, kUpstreamErrors> errors;
  Histogram rtt;
  Counter connections_opened;  // kept-open tcp:// and tls:// connections started
};

/// Counters of one upstream (tier name + URI), one slot per worker. Outlives reloads: an
/// upstream that stays in the config keeps its counters.
struct UpstreamStats {
  UpstreamStats(std::string tier_name, std::string upstream_uri, size_t workers)
      : tier(std::move(tier_name)), uri(std::move(upstream_uri)), per_worker(workers) {}
  std::string tier;
  std::string uri;
  std::vector<UpstreamWorkerStats> per_worker;
  /// Health probes by outcome; written by the control thread only.
  std::array<Counter, failover::kOutcomes> probes;
};

/// All counters of the process. Worker slots are fixed at startup. Upstream entries are
/// created by the control thread (startup, reload) and never removed, so pointers stay valid.
class StatsRegistry {
 public:
  explicit StatsRegistry(size_t workers);
  [[nodiscard]] size_t workers() const noexcept { return workers_.size(); }
  [[nodiscard]] WorkerStats& worker(size_t i) noexcept { return workers_[i]; }
  [[nodiscard]] const WorkerStats& worker(size_t i) const noexcept { return workers_[i]; }
  /// Finds or creates the counters for (tier, uri). Thread-safe.
  UpstreamStats& upstream(std::string_view tier, std::string_view uri);
  /// Visits every upstream's counters. Thread-safe.
  template <class F>
  void forEachUpstream(F&& f) const {
    std::lock_guard lock(mu_);
    for (const auto& u : upstreams_) {
      f(*u);
    }
  }

 private:
  std::vector<WorkerStats> workers_;
  mutable std::mutex mu_;  // guards upstreams_
  std::deque<std::unique_ptr<UpstreamStats>> upstreams_;
};

}  // namespace steadfast::pipeline
