// SPDX-License-Identifier: Apache-2.0
// Selection: the per-query order of upstreams. rankTier() orders one tier's usable upstreams
// by its policy (CoreDNS Policy.List without the allocation; `fastest` is epsilon-greedy like
// Knot's select_transport). buildCandidates() strings the tiers together into the order one
// client query walks: the active tier first, then the tiers below, then tiers above that are
// still held down, then what is left (unusable upstreams, a last hope), with a cap per tier
// so that every tier is reached within the budget. Pure and allocation-free: runs on a worker
// for every cache miss.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "failover/plan_config.h"
#include "failover/rtt_estimator.h"

namespace steadfast::failover {

inline constexpr size_t kMaxCandidates = 12;  // upstreams one query may ask, all tiers
inline constexpr size_t kMaxPerTier = 4;      // of one tier
/// Share of queries that `fastest` sends to another usable upstream first, so that every
/// upstream's RTT stays measured (epsilon of the epsilon-greedy choice).
inline constexpr double kExploreShare = 0.05;

struct RankEntry {
  uint16_t upstream = 0;  // index into the flattened upstream list
  Nanos rtt{0};           // ranking RTT (RttEstimator::rankingRtt)
};

/// Orders `entries` in place by `policy`; the result is always a permutation of the input.
///  ordered:     unchanged (config order);
///  round-robin: rotated left by `rotation` % size;
///  fastest:     ascending rtt (stable), then with probability kExploreShare (`explore` < it,
///               a uniform draw in [0,1)) a random other entry (`pick`) is moved to the front.
/// Returns true when `fastest` explored: put another entry first, or ranked an unmeasured
/// entry (rtt 0) before a measured one.
bool rankTier(SelectionPolicyKind policy, std::span<RankEntry> entries, uint64_t rotation,
              double explore, uint64_t pick) noexcept;

/// The static shape of the plan: which upstreams form which tier (contiguous ranges of the
/// flattened list, tiers in config order).
struct TierLayout {
  uint16_t first = 0;
  uint16_t count = 0;
  SelectionPolicyKind policy = SelectionPolicyKind::Ordered;
};

/// What one query needs of the published plan state.
struct SelectionView {
  std::span<const TierLayout> tiers;
  std::span<const uint8_t> usable;   // per upstream: 1 = Unknown/Healthy and not drained
  std::span<const uint8_t> drained;  // per upstream: 1 = taken out by the operator
  int active_tier = -1;              // -1: no tier has a usable upstream
};

struct CandidateList {
  std::array<uint16_t, kMaxCandidates> upstream{};
  size_t count = 0;
  /// The first candidate is there to be measured (`fastest` explored), not because it is
  /// the best: the caller should not wait longer for it than for the second one, and an
  /// answer that the second one beats says nothing against its health.
  bool explored = false;
};

/// Per-query randomness and rotation (drawn by the caller from its own sources).
struct SelectionDraw {
  uint64_t rotation = 0;  // round-robin position (a per-worker counter)
  double explore = 1.0;   // uniform [0,1)
  uint64_t pick = 0;      // uniform 64-bit
};

/// Fills `out` with the order one query asks upstreams in: the active tier's usable upstreams
/// by its policy, then the usable ones of the tiers after it, then of the tiers before it
/// (usable but still held down by the failback rules), then every undrained unusable one in
/// tier order. At most kMaxPerTier per tier and kMaxCandidates in all. Drained upstreams are
/// never asked. `rtt` holds the caller's estimator per upstream (same indexing).
void buildCandidates(const SelectionView& view, std::span<const RttEstimator> rtt, MonoTime now,
                     const SelectionDraw& draw, CandidateList& out) noexcept;

}  // namespace steadfast::failover
