// SPDX-License-Identifier: Apache-2.0
// Runtime: the immutable snapshot of configuration that query handling reads. The control
// thread publishes a new one on reload; each worker checks one atomic generation number per
// batch and only then takes the holder's mutex to fetch the new snapshot (the dnsdist
// "sholder" idea), so the per-query path reads its own shared_ptr without locking.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "failover/plan_config.h"
#include "resolver/pipeline/pipeline_config.h"
#include "resolver/pipeline/stats.h"

namespace steadfast::pipeline {

struct UpstreamTarget {
  failover::UpstreamUri uri;
  std::string tier;
  UpstreamStats* stats = nullptr;  // owned by StatsRegistry, never freed
};

struct Runtime {
  PipelineConfig config;
  /// The failover order: tiers in order, each tier's upstreams in order (policy "ordered";
  /// health-driven selection arrives with the failover issue).
  std::vector<UpstreamTarget> upstreams;
  /// After this long without a valid answer the next upstream is tried as well; the earlier
  /// attempts keep listening until the budget ends (a late answer still wins).
  Nanos attempt_timeout = Millis{500};
};

/// Derives the attempt timeout from the budget: a third of it, at least 100 ms.
Nanos attemptTimeoutFor(Nanos query_budget) noexcept;

class RuntimeHolder {
 public:
  void publish(std::shared_ptr<const Runtime> runtime);
  [[nodiscard]] uint64_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::shared_ptr<const Runtime> get() const;

 private:
  mutable std::mutex mu_;  // guards current_
  std::shared_ptr<const Runtime> current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace steadfast::pipeline
