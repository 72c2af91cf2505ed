// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/runtime.h"

#include <algorithm>

namespace steadfast::pipeline {

void Runtime::layoutTiers(const std::vector<failover::TierConfig>& config_tiers) {
  tiers.clear();
  tier_names.clear();
  size_t u = 0;
  for (const auto& t : config_tiers) {
    const size_t first = u;
    while (u < upstreams.size() && upstreams[u].tier == t.name) {
      ++u;
    }
    tiers.push_back(failover::TierLayout{static_cast<uint16_t>(first),
                                         static_cast<uint16_t>(u - first), t.policy});
    tier_names.push_back(t.name);
  }
  all_usable.assign(upstreams.size(), 1);
  none_drained.assign(upstreams.size(), 0);
}

void RuntimeHolder::publish(std::shared_ptr<const Runtime> runtime) {
  {
    std::lock_guard lock(mu_);
    current_ = std::move(runtime);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const Runtime> RuntimeHolder::get() const {
  std::lock_guard lock(mu_);
  return current_;
}

}  // namespace steadfast::pipeline
