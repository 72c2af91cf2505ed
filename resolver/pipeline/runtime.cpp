// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/runtime.h"

#include <algorithm>

namespace steadfast::pipeline {

Nanos attemptTimeoutFor(Nanos query_budget) noexcept {
  return std::max<Nanos>(query_budget / 3, Millis{100});
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
