// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/fetch/schedule.h"

#include <algorithm>

namespace steadfast::fetch {

FeedSchedule::FeedSchedule(const Clock& clock, Random& random, ScheduleConfig config)
    : clock_(clock), random_(random), config_(config), next_(clock.now()) {}

Nanos FeedSchedule::refreshFor(const std::optional<SoaTimers>& soa) const {
  if (config_.refresh) {
    return *config_.refresh;
  }
  if (soa && soa->refresh > 0) {
    return std::max<Nanos>(std::chrono::seconds(soa->refresh), config_.min_interval);
  }
  return config_.default_refresh;
}

Nanos FeedSchedule::backoffFor(uint32_t failures, const std::optional<SoaTimers>& soa) const {
  Nanos cap = config_.max_backoff;
  if (config_.refresh) {
    cap = std::min(cap, *config_.refresh);
  } else if (soa && soa->retry > 0) {
    cap = std::max<Nanos>(std::chrono::seconds(soa->retry), config_.min_interval);
  }
  Nanos d = config_.initial_backoff;
  for (uint32_t i = 1; i < failures && d < cap; ++i) {
    d *= 2;
  }
  return std::min(d, cap);
}

Nanos FeedSchedule::jitter(Nanos d) {
  // Factor in [0.8, 1.2).
  const double f = 0.8 + 0.4 * random_.unit();
  return Nanos(static_cast<int64_t>(static_cast<double>(d.count()) * f));
}

void FeedSchedule::onSuccess(const std::optional<SoaTimers>& soa) {
  failures_ = 0;
  next_ = clock_.now() + jitter(refreshFor(soa));
}

void FeedSchedule::onFailure(const std::optional<SoaTimers>& soa) {
  ++failures_;
  next_ = clock_.now() + jitter(backoffFor(failures_, soa));
}

}  // namespace steadfast::fetch
