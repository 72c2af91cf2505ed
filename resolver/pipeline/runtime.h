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

#include "failover/plan.h"
#include "failover/plan_config.h"
#include "failover/rtt_estimator.h"
#include "failover/selection.h"
#include "resolver/pipeline/pipeline_config.h"
#include "resolver/pipeline/stats.h"

namespace steadfast::pipeline {

class BlockHolder;

struct UpstreamTarget {
  failover::UpstreamUri uri;
  std::string tier;
  UpstreamStats* stats = nullptr;  // owned by StatsRegistry, never freed
};

struct Runtime {
  PipelineConfig config;
  /// Every upstream, flattened: tiers in config order, each tier's upstreams in order.
  std::vector<UpstreamTarget> upstreams;
  /// The tiers as ranges of `upstreams`, with their selection policy.
  std::vector<failover::TierLayout> tiers;
  std::vector<std::string> tier_names;
  /// Identifies this upstream list: changes when a reload changes it (health snapshots and
  /// passive events carry it so that indices are never applied to the wrong list).
  uint64_t plan_id = 0;
  /// Bounds of the adaptive wait before the next candidate is asked too.
  failover::HedgeBounds hedge;
  /// The health of the plan as the control thread last published it; null before the first
  /// publication (then every upstream counts as usable and the first tier as active).
  std::shared_ptr<const failover::PlanSnapshot> plan;
  /// 1 for every upstream, 0 for none: the view while `plan` is null.
  std::vector<uint8_t> all_usable;
  std::vector<uint8_t> none_drained;
  /// Where the threat-feed block policy is published (block_policy.h); null: no block stage.
  /// The holder outlives every Runtime; copies of this Runtime keep the pointer.
  BlockHolder* block = nullptr;

  /// What selection reads: the published plan, or "everything usable" without one.
  [[nodiscard]] failover::SelectionView view() const noexcept {
    if (plan != nullptr && plan->usable.size() == upstreams.size()) {
      return failover::SelectionView{tiers, plan->usable, plan->drained, plan->active_tier};
    }
    int first = -1;
    for (size_t t = 0; t < tiers.size(); ++t) {
      if (tiers[t].count > 0) {
        first = static_cast<int>(t);
        break;
      }
    }
    return failover::SelectionView{tiers, all_usable, none_drained, first};
  }
  /// Fills tiers/all_usable/none_drained from `upstreams` grouped by tier name (in order).
  void layoutTiers(const std::vector<failover::TierConfig>& config_tiers);
};

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
