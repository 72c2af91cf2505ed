// SPDX-License-Identifier: Apache-2.0
#include "failover/rtt_estimator.h"

#include <algorithm>
#include <cmath>

namespace steadfast::failover {

void RttEstimator::sample(Nanos rtt, MonoTime now) noexcept {
  const int64_t r = std::max<int64_t>(0, rtt.count());
  if (samples_ == 0) {
    // RFC 6298 2.2: SRTT <- R, RTTVAR <- R/2.
    srtt_ns_ = r;
    rttvar_ns_ = r / 2;
  } else {
    // RFC 6298 2.3: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT <- 7/8 SRTT + 1/8 R.
    const int64_t diff = srtt_ns_ > r ? srtt_ns_ - r : r - srtt_ns_;
    rttvar_ns_ = (3 * rttvar_ns_ + diff) / 4;
    srtt_ns_ = (7 * srtt_ns_ + r) / 8;
  }
  ++samples_;
  last_ = now;
}

void RttEstimator::atLeast(Nanos waited, MonoTime now) noexcept {
  if (samples_ == 0 || srtt_ns_ < waited.count()) {
    sample(waited, now);
  }
}

Nanos RttEstimator::hedgeWait(const HedgeBounds& b) const noexcept {
  if (samples_ == 0) {
    return std::clamp(b.unmeasured, b.floor, std::max(b.floor, b.ceiling));
  }
  const Nanos rto{srtt_ns_ + 4 * rttvar_ns_};
  return std::clamp(rto, b.floor, std::max(b.floor, b.ceiling));
}

Nanos RttEstimator::rankingRtt(MonoTime now) const noexcept {
  if (samples_ == 0) {
    return Nanos{0};
  }
  if (now <= last_) {
    return Nanos{srtt_ns_};
  }
  const double age = std::chrono::duration<double>(now - last_).count();
  const double half = std::chrono::duration<double>(kDecayHalfLife).count();
  return Nanos{static_cast<int64_t>(static_cast<double>(srtt_ns_) * std::exp2(-age / half))};
}

}  // namespace steadfast::failover
