// SPDX-License-Identifier: Apache-2.0
// RttEstimator: smoothed round-trip time and its variation, RFC 6298 section 2 (alpha 1/8,
// beta 1/4), as Unbound's util/rtt.c keeps per server. Two uses:
//  * the wait before the next candidate is asked too (hedgeWait: srtt + 4 * rttvar, the
//    RFC 6298 RTO without its 1 s floor, clamped to bounds that suit DNS), and
//  * the ranking of the `fastest` policy (rankingRtt), where an estimate that has not been
//    refreshed for a while decays, so a once-slow upstream is asked, and re-measured, again.
// Pure value type; the caller passes the time. One instance per upstream per worker thread.
#pragma once

#include <cstdint>

#include "resolver/base/clock.h"

namespace steadfast::failover {

/// Bounds of the adaptive wait before the next candidate (docs/architecture.md explains the
/// numbers).
struct HedgeBounds {
  Nanos floor = Millis{50};        // Unbound's minimum RTT (infra-cache-min-rtt) is 50 ms too
  Nanos ceiling = Millis{400};     // [health] timeout: past it an upstream counts as timed out
  Nanos unmeasured = Millis{100};  // before the first answer from this upstream
};

class RttEstimator {
 public:
  /// Half-life of the ranking decay: an estimate not refreshed for this long counts half.
  static constexpr Nanos kDecayHalfLife = Seconds{10};

  /// One measured round trip (a valid answer `rtt` after the query was sent).
  void sample(Nanos rtt, MonoTime now) noexcept;
  /// A lower bound: no answer after `waited` (the attempt was abandoned because another
  /// upstream answered first). Counted as a sample only if srtt is below `waited`, which
  /// raises srtt, so a slower-than-thought upstream ranks lower and, called as the pipeline
  /// does once its wait has passed, gets a longer wait next time instead of being hedged
  /// forever on a stale small srtt. (Just above srtt it can shrink rttvar.)
  void atLeast(Nanos waited, MonoTime now) noexcept;

  [[nodiscard]] bool measured() const noexcept { return samples_ > 0; }
  [[nodiscard]] Nanos srtt() const noexcept { return Nanos{srtt_ns_}; }
  [[nodiscard]] Nanos rttvar() const noexcept { return Nanos{rttvar_ns_}; }
  [[nodiscard]] MonoTime lastUpdate() const noexcept { return last_; }
  [[nodiscard]] uint64_t samples() const noexcept { return samples_; }

  /// srtt + 4 * rttvar clamped to [floor, ceiling]; `unmeasured` before any sample.
  [[nodiscard]] Nanos hedgeWait(const HedgeBounds& b) const noexcept;
  /// srtt halved for every kDecayHalfLife since the last update: what `fastest` ranks by.
  /// 0 when never measured (an unmeasured upstream is tried first, to measure it).
  [[nodiscard]] Nanos rankingRtt(MonoTime now) const noexcept;

 private:
  int64_t srtt_ns_ = 0;
  int64_t rttvar_ns_ = 0;
  uint64_t samples_ = 0;
  MonoTime last_{};
};

}  // namespace steadfast::failover
